//! JWT parsing (`hsm::jwt::Jwt::parse`) and what the middleware reads from a parsed token:
//! the `x5c` leaf, the claims by name. A token comes from the producer's headers.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(jwt) = hsm::jwt::Jwt::parse(text) else {
        return;
    };
    if let Ok(leaf) = jwt.x5c_leaf() {
        let _ = jwt.verify_with(&leaf);
    }
    for name in [
        "sub",
        "iss",
        "person_id",
        "attachment_hash",
        "exp",
        "iat",
        "aud",
    ] {
        let _ = jwt.claims.string(name);
        let _ = jwt.claims.integer(name);
    }
    let _ = jwt.claims.to_json();
});
