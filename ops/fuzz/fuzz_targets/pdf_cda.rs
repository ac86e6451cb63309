//! CDA extraction from a PDF (`middleware::cda::extract_cda`, both modes and the fallback)
//! and the signature check (`is_signed`): the producer's PDF, as uploaded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use middleware::cda::pdf::is_signed;
use middleware::cda::{ExtractionMode, extract_cda};

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
