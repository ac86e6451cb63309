//! Writing SOAP envelopes and faults.

use std::fmt::Write;

use crate::SoapVersion;
use crate::envelope::WSA;

/// Escapes text for XML content and attributes.
pub fn escape(s: &str) -> String {
    xds::rim::xml_escape(s)
}

/// Escapes character data (quotes stay as they are, as in the observed SIST faults).
pub fn escape_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A business fault of the regional SIST services, in the observed shape: WS-Addressing
/// `Action` (`…/<interface>/<operation>/Fault/SOAPFaultException`), `MessageID` and
/// `RelatesTo` as unprefixed headers; in SOAP 1.1 `faultcode` carries the code as sent
/// (`env:E000231`, prefix undeclared as observed), in SOAP 1.2 it is the `Sender` subcode.
pub fn service_fault(
    version: SoapVersion,
    action: &str,
    relates_to: Option<&str>,
    code: &str,
    reason: &str,
) -> String {
    let mut header = format!(
        "<Action xmlns=\"{WSA}\">{}</Action><MessageID xmlns=\"{WSA}\">urn:uuid:{}</MessageID>",
        escape_text(action),
        uuid::Uuid::new_v4()
    );
    if let Some(r) = relates_to {
        let _ = write!(
            header,
            "<RelatesTo xmlns=\"{WSA}\">{}</RelatesTo>",
            escape_text(r)
        );
    }
    let fault = match version {
        SoapVersion::V11 => format!(
            "<soap:Fault><faultcode>{}</faultcode><faultstring>{}</faultstring></soap:Fault>",
            escape_text(code),
            escape_text(reason)
        ),
        SoapVersion::V12 => format!(
            "<soap:Fault><soap:Code><soap:Value>soap:Sender</soap:Value><soap:Subcode><soap:Value>{}</soap:Value></soap:Subcode></soap:Code><soap:Reason><soap:Text xml:lang=\"it\">{}</soap:Text></soap:Reason></soap:Fault>",
            escape_text(code),
            escape_text(reason)
        ),
    };
    format!(
        "<soap:Envelope xmlns:soap=\"{}\"><soap:Header>{header}</soap:Header><soap:Body>{fault}</soap:Body></soap:Envelope>",
        version.envelope_ns()
    )
}

/// A response envelope: `wsa:Action` and `wsa:RelatesTo` headers, then the body.
pub fn envelope(
    version: SoapVersion,
    action: &str,
    relates_to: Option<&str>,
    body: &str,
) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soap:Envelope xmlns:soap=\"{}\" xmlns:wsa=\"{WSA}\"><soap:Header><wsa:Action soap:mustUnderstand=\"1\">{}</wsa:Action>",
        version.envelope_ns(),
        escape(action)
    );
    let _ = write!(
        out,
        "<wsa:MessageID>urn:uuid:{}</wsa:MessageID>",
        uuid::Uuid::new_v4()
    );
    if let Some(r) = relates_to {
        let _ = write!(out, "<wsa:RelatesTo>{}</wsa:RelatesTo>", escape(r));
    }
    let _ = write!(
        out,
        "</soap:Header><soap:Body>{body}</soap:Body></soap:Envelope>"
    );
    out
}

/// Who is at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultSide {
    /// The request is wrong (`Sender` / `Client`).
    Sender,
    /// The service failed (`Receiver` / `Server`).
    Receiver,
}

/// A SOAP fault: `subcode` is a qualified name such as `wsa:ActionNotSupported`
/// (its prefix must be `wsa` or `wsse`, declared here).
pub fn fault(version: SoapVersion, side: FaultSide, subcode: Option<&str>, reason: &str) -> String {
    let decls = format!(
        "xmlns:soap=\"{}\" xmlns:wsa=\"{WSA}\" xmlns:wsse=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd\"",
        version.envelope_ns()
    );
    let body = match version {
        SoapVersion::V12 => {
            let code = match side {
                FaultSide::Sender => "soap:Sender",
                FaultSide::Receiver => "soap:Receiver",
            };
            let sub = subcode
                .map(|s| {
                    format!(
                        "<soap:Subcode><soap:Value>{}</soap:Value></soap:Subcode>",
                        escape(s)
                    )
                })
                .unwrap_or_default();
            format!(
                "<soap:Fault><soap:Code><soap:Value>{code}</soap:Value>{sub}</soap:Code><soap:Reason><soap:Text xml:lang=\"it\">{}</soap:Text></soap:Reason></soap:Fault>",
                escape(reason)
            )
        }
        SoapVersion::V11 => {
            let code = subcode.map(str::to_string).unwrap_or_else(|| match side {
                FaultSide::Sender => "soap:Client".into(),
                FaultSide::Receiver => "soap:Server".into(),
            });
            format!(
                "<soap:Fault><faultcode>{}</faultcode><faultstring>{}</faultstring></soap:Fault>",
                escape(&code),
                escape(reason)
            )
        }
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soap:Envelope {decls}><soap:Body>{body}</soap:Body></soap:Envelope>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_faults_have_the_observed_shape() {
        let text = service_fault(
            SoapVersion::V11,
            "http://www.sist.puglia.it/Schemas/PDD_SIST/SCATEL/FSE/IDocument/addDocument/Fault/SOAPFaultException",
            Some("uuid:6cc8e147"),
            "env:E000231",
            "Il codice fiscale della smart card non corrisponde a quello dell'operatore.",
        );
        assert!(text.starts_with(
            "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Header><Action xmlns=\"http://www.w3.org/2005/08/addressing\">http://www.sist.puglia.it/Schemas/PDD_SIST/SCATEL/FSE/IDocument/addDocument/Fault/SOAPFaultException</Action><MessageID xmlns=\"http://www.w3.org/2005/08/addressing\">urn:uuid:"
        ));
        assert!(text.ends_with(
            "<RelatesTo xmlns=\"http://www.w3.org/2005/08/addressing\">uuid:6cc8e147</RelatesTo></soap:Header><soap:Body><soap:Fault><faultcode>env:E000231</faultcode><faultstring>Il codice fiscale della smart card non corrisponde a quello dell'operatore.</faultstring></soap:Fault></soap:Body></soap:Envelope>"
        ));
        assert_eq!(escape_text("a<b & 'c'"), "a&lt;b &amp; 'c'");
    }
}
