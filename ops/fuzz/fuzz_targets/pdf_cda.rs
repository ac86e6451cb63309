//! CDA extraction from a PDF (`gateway_contract::cda::extract_cda`, both modes and the fallback)
//! and the signature check (`is_signed`): the producer's PDF, as uploaded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use gateway_contract::cda::pdf::is_signed;
use gateway_contract::cda::{ExtractionMode, extract_cda};

fuzz_target!(|data: &[u8]| {
    for mode in [
        None,
        Some(ExtractionMode::Attachment),
        Some(ExtractionMode::Resource),
    ] {
        let _ = extract_cda(data, mode);
    }
    let _ = is_signed(data);
});
