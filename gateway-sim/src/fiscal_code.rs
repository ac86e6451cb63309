//! Italian fiscal codes (codice fiscale): format and check character.

const ODD: [u8; 26] = [
    1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23,
];

/// Whether `cf` is a personal fiscal code as the dispatcher checks one (`CfUtility.validaCF`
/// with special codes not allowed, its default): compared in upper case, 16 characters, the
/// first six letters, every character a digit or a letter, and the check character right.
/// Omocodia letters are therefore accepted anywhere the digits are.
pub fn is_valid(cf: &str) -> bool {
    let upper = cf.to_ascii_uppercase();
    let b = upper.as_bytes();
    if b.len() != 16
        || !b[..6].iter().all(u8::is_ascii_alphabetic)
        || !b.iter().all(u8::is_ascii_alphanumeric)
    {
        return false;
    }
    let value = |c: u8| {
        if c.is_ascii_digit() {
            c - b'0'
        } else {
            c - b'A'
        }
    };
    let sum: u32 = b[..15]
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            if i % 2 == 0 {
                u32::from(ODD[usize::from(value(c))])
            } else {
                u32::from(value(c))
            }
        })
        .sum();
    b[15] == b'A' + (sum % 26) as u8
}

/// Whether a CX value (`CF^^^&authority&ISO`) carries a valid fiscal code where it must: when
/// it is a bare code, or when its assigning authority (the second `&` field) is `mef_oid`;
/// any other authority is not a fiscal code and passes (`JwtSRV.isValidOid`).
pub fn valid_where_required(value: &str, mef_oid: &str) -> bool {
    let mut chunks = value.split("^^^");
    let cf = chunks.next().unwrap_or_default();
    match chunks.next() {
        None => is_valid(cf),
        Some(authority) if authority.split('&').nth(1) == Some(mef_oid) => is_valid(cf),
        Some(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_characters() {
        for ok in [
            "RSSMRA22A01A399Z",
            "PROVAX00X00X000Y",
            "VNTRLA92B26C688M",
            "RMSLSO31M04Z404R",
        ] {
            assert!(is_valid(ok), "{ok}");
        }
        for ko in [
            "LCNLDE90L47H501Q",
            "RSSMRA22A01A399A",
            "RSSMRA22A01A399",
            "RSSMRA22A01A3-9Z",
        ] {
            assert!(!is_valid(ko), "{ko}");
        }
        // Read in upper case, as the dispatcher does.
        assert!(is_valid("rssmra22a01a399z"));
        let mef = "2.16.840.1.113883.2.9.4.3.2";
        assert!(valid_where_required(
            "RSSMRA22A01A399Z^^^&2.16.840.1.113883.2.9.4.3.2&ISO",
            mef
        ));
        assert!(!valid_where_required(
            "RSSMRA22A01A399A^^^&2.16.840.1.113883.2.9.4.3.2&ISO",
            mef
        ));
        assert!(valid_where_required(
            "ANYTHING^^^&2.16.840.1.113883.2.9.4.3.7&ISO",
            mef
        ));
        assert!(!valid_where_required("RSSMRA22A01A399A", mef));
    }
}
