//! The producer-certificate CN conventions (`middleware::server::identity::CnPatterns`) with
//! the patterns of the shipped regional profiles, checked against a plain reading of each
//! convention: Puglia `<11-digit VAT>.<name>[.<name>…].it`, Toscana
//! `A<digits>#<3 digits>#<VAT or fiscal code><code>`.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use middleware::server::identity::CnPatterns;

const PUGLIA: &str = r"^[0-9]{11}\.[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.it$";
const TOSCANA: &str = r"^A[0-9]+#[0-9]{3}#([0-9]{11}|[A-Z0-9]{16})[A-Z0-9]+$";

static P: LazyLock<CnPatterns> =
    LazyLock::new(|| CnPatterns::new(&[PUGLIA.to_string()]).expect("pattern"));
static T: LazyLock<CnPatterns> =
    LazyLock::new(|| CnPatterns::new(&[TOSCANA.to_string()]).expect("pattern"));

fn puglia(cn: &str) -> bool {
    let b = cn.as_bytes();
    if b.len() < 12 || !b[..11].iter().all(u8::is_ascii_digit) || b[11] != b'.' {
        return false;
    }
    let labels: Vec<&str> = cn[12..].split('.').collect();
    labels.len() >= 2
        && labels.last() == Some(&"it")
        && labels
            .iter()
            .all(|l| !l.is_empty() && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-'))
}

fn toscana(cn: &str) -> bool {
    let fields: Vec<&str> = cn.split('#').collect();
    let [a, three, rest] = fields[..] else {
        return false;
    };
    let upper_or_digit = |s: &str| {
        s.bytes()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
    };
    a.len() >= 2
        && a.starts_with('A')
        && a[1..].bytes().all(|c| c.is_ascii_digit())
        && three.len() == 3
        && three.bytes().all(|c| c.is_ascii_digit())
        && upper_or_digit(rest)
        && ((rest.len() >= 12 && rest[..11].bytes().all(|c| c.is_ascii_digit()))
            || rest.len() >= 17)
}

fuzz_target!(|data: &[u8]| {
    let Ok(cn) = std::str::from_utf8(data) else {
        return;
    };
    assert_eq!(P.accepts(cn), puglia(cn), "Puglia, {cn:?}");
    assert_eq!(T.accepts(cn), toscana(cn), "Toscana, {cn:?}");
});
