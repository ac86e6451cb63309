//! Building XDS.b messages as Italian senders write them, and reading answers,
//! independently of the product's own SOAP and MTOM code.

use std::collections::HashMap;

/// Patient of the test submissions (`<CF>^^^&<MEF OID>&ISO`).
pub const PATIENT: &str = "RSSMRA75C03F839K^^^&2.16.840.1.113883.2.9.4.3.2&ISO";

/// The author institution of the test submissions (ASL Bari).
pub const AUTHOR_INSTITUTION: &str = "ASL BARI^^^^^&2.16.840.1.113883.2.9.4.1.3&ISO^^^^160114";
/// The author of the test submissions.
pub const AUTHOR_PERSON: &str = "PROVAX00X00X000Y^^^^^^^^&2.16.840.1.113883.2.9.4.3.2&ISO";

/// XML-escapes a value.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn slot(name: &str, value: &str) -> String {
    format!(
        "<rim:Slot name=\"{name}\"><rim:ValueList><rim:Value>{}</rim:Value></rim:ValueList></rim:Slot>",
        esc(value)
    )
}

fn coded(id: &str, scheme: &str, object: &str, code: &str, system: &str, name: &str) -> String {
    format!(
        "<rim:Classification id=\"{id}\" classificationScheme=\"{scheme}\" classifiedObject=\"{object}\" nodeRepresentation=\"{code}\">{}<rim:Name><rim:LocalizedString value=\"{name}\"/></rim:Name></rim:Classification>",
        slot("codingScheme", system)
    )
}

/// What differs between test DocumentEntries.
#[derive(Debug, Clone)]
pub struct EntrySpec {
    /// ExtrinsicObject id (symbolic or UUID).
    pub id: String,
    /// `lid`, for ITI-57.
    pub lid: Option<String>,
    /// `XDSDocumentEntry.uniqueId`.
    pub unique_id: String,
    /// Patient.
    pub patient: String,
    /// `repositoryUniqueId`, `hash`, `size` (ITI-42 carries them; ITI-41 may not).
    pub stored: Option<(String, String, usize)>,
    /// typeCode.
    pub type_code: String,
    /// Leave out the classCode (a metadata error).
    pub without_class_code: bool,
    /// An eventCodeList value (`P99`: obscured by the patient).
    pub event_code: Option<String>,
}

impl EntrySpec {
    /// A lab report of the test patient.
    pub fn lab(id: &str, unique_id: &str) -> Self {
        Self {
            id: id.into(),
            lid: None,
            unique_id: unique_id.into(),
            patient: PATIENT.into(),
            stored: None,
            type_code: "11502-2".into(),
            without_class_code: false,
            event_code: None,
        }
    }
}

/// A DocumentEntry with the Italian Affinity Domain metadata.
pub fn document_entry(e: &EntrySpec) -> String {
    let id = &e.id;
    let mut s = format!(
        "<rim:ExtrinsicObject id=\"{id}\"{} mimeType=\"application/pdf+text/x-cda-r2+xml\" objectType=\"urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1\">",
        e.lid
            .as_ref()
            .map(|l| format!(" lid=\"{l}\""))
            .unwrap_or_default()
    );
    s += &slot("creationTime", "20261125101400");
    s += &slot("languageCode", "it-IT");
    s += &slot("sourcePatientId", &e.patient);
    s += &slot(
        "urn:ita:2017:repository-type",
        "CONS^^^&2.16.840.1.113883.2.9.3.3.6.1.7&ISO",
    );
    s += &slot("urn:ita:2022:documentSigned", "true^Documento firmato");
    s += &slot("urn:ita:2022:administrativeRequest", "SSN^Regime SSN");
    s += &slot(
        "urn:ihe:iti:xds:2024:SubjectApplication",
        "LABDEMO^FSEMW DEMO^1.0",
    );
    if let Some((repo, hash, size)) = &e.stored {
        s += &slot("repositoryUniqueId", repo);
        s += &slot("hash", hash);
        s += &slot("size", &size.to_string());
    }
    s += "<rim:Name><rim:LocalizedString value=\"Referto di Laboratorio\"/></rim:Name>";
    s += &format!(
        "<rim:Classification id=\"{id}_author\" classificationScheme=\"urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d\" classifiedObject=\"{id}\" nodeRepresentation=\"\">{}{}{}</rim:Classification>",
        slot("authorRole", "AAS"),
        slot("authorInstitution", AUTHOR_INSTITUTION),
        slot("authorPerson", AUTHOR_PERSON),
    );
    if !e.without_class_code {
        s += &coded(
            &format!("{id}_class"),
            "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a",
            id,
            "REF",
            "2.16.840.1.113883.2.9.3.3.6.1.5",
            "Referto",
        );
    }
    if let Some(ev) = &e.event_code {
        s += &coded(
            &format!("{id}_event"),
            "urn:uuid:2c6b8cb7-8b2a-4051-b291-b1ae6a575ef4",
            id,
            ev,
            "2.16.840.1.113883.2.9.3.3.6.1.3",
            ev,
        );
    }
    s += &coded(
        &format!("{id}_conf"),
        "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f",
        id,
        "N",
        "2.16.840.1.113883.5.25",
        "Normal",
    );
    s += &coded(
        &format!("{id}_format"),
        "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d",
        id,
        "2.16.840.1.113883.2.9.10.1.1",
        "2.16.840.1.113883.2.9.3.3.6.1.6",
        "Referto di Laboratorio",
    );
    s += &coded(
        &format!("{id}_facility"),
        "urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1",
        id,
        "Ospedale",
        "2.16.840.1.113883.2.9.3.3.6.1.1",
        "Ospedale",
    );
    s += &coded(
        &format!("{id}_practice"),
        "urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead",
        id,
        "AD_PSC001",
        "2.16.840.1.113883.2.9.3.3.6.1.2",
        "Allergologia",
    );
    s += &coded(
        &format!("{id}_type"),
        "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983",
        id,
        &e.type_code,
        "2.16.840.1.113883.6.1",
        "Referto di laboratorio",
    );
    s += &format!(
        "<rim:ExternalIdentifier id=\"{id}_pid\" identificationScheme=\"urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427\" registryObject=\"{id}\" value=\"{}\"><rim:Name><rim:LocalizedString value=\"XDSDocumentEntry.patientId\"/></rim:Name></rim:ExternalIdentifier>",
        esc(&e.patient)
    );
    s += &format!(
        "<rim:ExternalIdentifier id=\"{id}_uid\" identificationScheme=\"urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab\" registryObject=\"{id}\" value=\"{}\"><rim:Name><rim:LocalizedString value=\"XDSDocumentEntry.uniqueId\"/></rim:Name></rim:ExternalIdentifier>",
        esc(&e.unique_id)
    );
    s + "</rim:ExtrinsicObject>"
}

/// A SubmissionSet `SubmissionSet01` for the test patient, with its marker.
pub fn submission_set(unique_id: &str, patient: &str) -> String {
    let mut s = String::from("<rim:RegistryPackage id=\"SubmissionSet01\">");
    s += &slot("submissionTime", "20261125101500");
    s += &format!(
        "<rim:Classification id=\"ss_author\" classificationScheme=\"urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d\" classifiedObject=\"SubmissionSet01\" nodeRepresentation=\"\">{}{}</rim:Classification>",
        slot("authorInstitution", AUTHOR_INSTITUTION),
        slot("authorPerson", AUTHOR_PERSON),
    );
    s += &coded(
        "ss_content",
        "urn:uuid:aa543740-bdda-424e-8c96-df4873be8500",
        "SubmissionSet01",
        "ERP",
        "2.16.840.1.113883.2.9.3.3.6.1.4",
        "Erogazione Prestazione Prenotata",
    );
    for (scheme, value, name) in [
        (
            "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446",
            patient,
            "patientId",
        ),
        (
            "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832",
            "2.16.840.1.113883.2.9.2.160",
            "sourceId",
        ),
        (
            "urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8",
            unique_id,
            "uniqueId",
        ),
    ] {
        s += &format!(
            "<rim:ExternalIdentifier id=\"ss_{name}\" identificationScheme=\"{scheme}\" registryObject=\"SubmissionSet01\" value=\"{}\"><rim:Name><rim:LocalizedString value=\"XDSSubmissionSet.{name}\"/></rim:Name></rim:ExternalIdentifier>",
            esc(value)
        );
    }
    s += "</rim:RegistryPackage>";
    s += "<rim:Classification id=\"ss_marker\" classificationNode=\"urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd\" classifiedObject=\"SubmissionSet01\"/>";
    s
}

/// An association from `source` to `target` with optional slots.
pub fn association(
    id: &str,
    kind: &str,
    source: &str,
    target: &str,
    slots: &[(&str, &str)],
) -> String {
    let mut s = format!(
        "<rim:Association id=\"{id}\" associationType=\"{kind}\" sourceObject=\"{source}\" targetObject=\"{target}\">"
    );
    for (n, v) in slots {
        s += &slot(n, v);
    }
    s + "</rim:Association>"
}

/// `HasMember` with `SubmissionSetStatus=Original`.
pub fn has_member(id: &str, target: &str) -> String {
    association(
        id,
        "urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember",
        "SubmissionSet01",
        target,
        &[("SubmissionSetStatus", "Original")],
    )
}

/// A SubmitObjectsRequest around `objects`.
pub fn submit(objects: &str) -> String {
    format!(
        "<lcm:SubmitObjectsRequest xmlns:lcm=\"urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0\" xmlns:rim=\"urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0\"><rim:RegistryObjectList>{objects}</rim:RegistryObjectList></lcm:SubmitObjectsRequest>"
    )
}

/// A SOAP 1.2 envelope with WS-Addressing, as IHE clients send it.
pub fn soap12(action: &str, body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soap:Envelope xmlns:soap=\"http://www.w3.org/2003/05/soap-envelope\" xmlns:wsa=\"http://www.w3.org/2005/08/addressing\"><soap:Header><wsa:Action soap:mustUnderstand=\"1\">{action}</wsa:Action><wsa:MessageID>urn:uuid:{}</wsa:MessageID><wsa:To>https://regione.example/xds</wsa:To></soap:Header><soap:Body>{body}</soap:Body></soap:Envelope>",
        uuid::Uuid::new_v4()
    )
}

/// An MTOM package laid out as Apache CXF writes it: `(content type, body)`.
pub fn mtom(envelope: &str, parts: &[(&str, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "uuid:7c7a0a0e-1111-4c4c-9e9e-mtomtest";
    let mut body = format!(
        "--{boundary}\r\nContent-Type: application/xop+xml; charset=UTF-8; type=\"application/soap+xml\"\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <root.message@cxf.apache.org>\r\n\r\n{envelope}"
    )
    .into_bytes();
    for (cid, mime, data) in parts {
        body.extend_from_slice(
            format!("\r\n--{boundary}\r\nContent-Type: {mime}\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <{cid}>\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(data);
    }
    body.extend_from_slice(format!("\r\n--{boundary}--").as_bytes());
    (
        format!(
            "multipart/related; type=\"application/xop+xml\"; boundary=\"{boundary}\"; start=\"<root.message@cxf.apache.org>\"; start-info=\"application/soap+xml\""
        ),
        body,
    )
}

/// Splits a multipart/related answer: `(root text, parts by Content-ID)`.
pub fn split_multipart(content_type: &str, body: &[u8]) -> (String, HashMap<String, Vec<u8>>) {
    let boundary = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
        .expect("boundary")
        .trim_matches('"')
        .to_string();
    let delimiter = format!("--{boundary}");
    let mut chunks = Vec::new();
    let mut rest = body;
    while let Some(pos) = find(rest, delimiter.as_bytes()) {
        chunks.push(&rest[..pos]);
        rest = &rest[pos + delimiter.len()..];
    }
    let mut root = None;
    let mut parts = HashMap::new();
    for chunk in chunks.into_iter().skip(1) {
        let chunk = chunk.strip_prefix(b"\r\n").unwrap_or(chunk);
        let split = find(chunk, b"\r\n\r\n").expect("part headers");
        let headers = String::from_utf8_lossy(&chunk[..split]).to_string();
        let mut data = &chunk[split + 4..];
        if data.ends_with(b"\r\n") {
            data = &data[..data.len() - 2];
        }
        let cid = headers
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case("content-id")
                    .then(|| v.trim().trim_matches(['<', '>']).to_string())
            })
            .unwrap_or_default();
        if root.is_none() {
            root = Some(String::from_utf8(data.to_vec()).expect("UTF-8 root"));
        } else {
            parts.insert(cid, data.to_vec());
        }
    }
    (root.expect("root part"), parts)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The `errorCode`s in an answer.
pub fn error_codes(xml: &str) -> Vec<String> {
    xml.split("errorCode=\"")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap_or(0)].to_string())
        .collect()
}

/// The `status` of the RegistryResponse / AdhocQueryResponse in an answer.
pub fn response_status(xml: &str) -> String {
    let doc = roxmltree::Document::parse(xml).expect("answer XML");
    doc.descendants()
        .find(|n| {
            matches!(
                n.tag_name().name(),
                "RegistryResponse" | "AdhocQueryResponse"
            )
        })
        .and_then(|n| n.attribute("status"))
        .unwrap_or_default()
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The `faultcode` of a SOAP 1.1 fault (empty when the answer is not a fault).
pub fn fault_code(text: &str) -> String {
    text.split("<faultcode>")
        .nth(1)
        .map(|s| s[..s.find('<').unwrap_or(0)].to_string())
        .unwrap_or_default()
}
