//! The XDS.b messages the registry and repositories read (ebRIM 3.0): ITI-41 Provide and
//! Register, ITI-42 Register (SubmitObjectsRequest), ITI-18 stored queries, ITI-43 retrieve,
//! ITI-62 remove — each parser given the same payload, after the hardened XML parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use soap_wsdl::hardened;
use xds::messages::{query, remove, retrieve, submit};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(doc) = hardened::parse(text, hardened::Limits::default()) else {
        return;
    };
    let root = doc.root_element();
    let _ = submit::parse_provide_and_register(root);
    let _ = submit::parse_submit(root);
    if let Ok(q) = query::parse_query(root) {
        let _ = q.stored();
    }
    let _ = retrieve::parse_retrieve(root);
    let _ = remove::parse_remove(root);
    let _ = xds::rim::parse_object_list(root);
});
