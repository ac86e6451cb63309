//! A SOAP request as the XDS endpoints and the legacy services read it: the body as a plain
//! envelope or an MTOM package (`soap_wsdl::mtom::parse`), the envelope through the
//! hardened XML parser (no DTD, node and depth limits), then `parse_envelope` (version,
//! WS-Addressing, header, payload) and the action from the HTTP headers.
//!
//! Input: the Content-Type, a newline, the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use soap_wsdl::{envelope, hardened, mtom};

fuzz_target!(|data: &[u8]| {
    let Some(nl) = data.iter().position(|b| *b == b'\n') else {
        return;
    };
    let Ok(content_type) = std::str::from_utf8(&data[..nl]) else {
        return;
    };
    let body = bytes::Bytes::copy_from_slice(&data[nl + 1..]);
    let _ = envelope::action_from_headers(Some(content_type), Some(content_type));
    let root = if mtom::is_multipart(content_type) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        match runtime.block_on(mtom::parse(content_type, body)) {
            Ok(pkg) => pkg.root,
            Err(_) => return,
        }
    } else {
        body
    };
    let Ok(text) = std::str::from_utf8(&root) else {
        return;
    };
    let Ok(doc) = hardened::parse(text, hardened::Limits::default()) else {
        return;
    };
    if let Ok(env) = envelope::parse_envelope(&doc) {
        let _ = (
            env.action,
            env.message_id,
            env.to,
            env.header,
            env.payload.tag_name(),
        );
    }
});
