//! Italian fiscal codes (codice fiscale): format and check character.

const ODD: [u8; 26] = [
    1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23,
];

/// Whether `cf` is a 16-character personal fiscal code with a correct check
/// character (omocodia letters accepted in the digit positions).
pub fn is_valid(cf: &str) -> bool {
    let b = cf.as_bytes();
    if b.len() != 16 {
        return false;
    }
    let digit_like = |c: u8| c.is_ascii_digit() || b"LMNPQRSTUV".contains(&c);
    let letters = [0, 1, 2, 3, 4, 5, 8, 11, 15];
    let digits = [6, 7, 9, 10, 12, 13, 14];
    if !letters.iter().all(|&i| b[i].is_ascii_uppercase())
        || !digits.iter().all(|&i| digit_like(b[i]))
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
            "rssmra22a01a399z",
        ] {
            assert!(!is_valid(ko), "{ko}");
        }
    }
}
