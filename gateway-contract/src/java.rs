//! Orders the gateway's Java code produces without saying so: a `java.util.HashMap`
//! iterates its keys by bucket of their spread `String.hashCode`, then by insertion. Used
//! where the gateway walks such a map (GovWay's openapi4j keywords and properties, the
//! dispatcher's embedded files).

/// `String.hashCode()`: 31-based over UTF-16 code units, wrapping.
pub fn string_hash(s: &str) -> u32 {
    s.encode_utf16()
        .fold(0u32, |h, c| h.wrapping_mul(31).wrapping_add(u32::from(c)))
}

/// The order a `HashMap` built with the default capacity (16) and load factor (0.75)
/// iterates `keys` put in this order (each key once).
pub fn hash_order<'a>(keys: &[&'a str]) -> Vec<&'a str> {
    let mut capacity = 16usize;
    while keys.len() * 4 > capacity * 3 {
        capacity *= 2;
    }
    let mut placed: Vec<(usize, usize, &str)> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let h = string_hash(k);
            (((h ^ (h >> 16)) as usize) & (capacity - 1), i, *k)
        })
        .collect();
    placed.sort_unstable();
    placed.into_iter().map(|(_, _, k)| k).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_and_buckets_as_java_computes_them() {
        // "type".hashCode() = 3575610 in Java.
        assert_eq!(string_hash("type"), 3_575_610);
        assert_eq!(
            hash_order(&["maxLength", "minLength", "type"]),
            ["minLength", "type", "maxLength"]
        );
        let many: Vec<String> = (0..20).map(|i| format!("k{i}")).collect();
        let keys: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(
            hash_order(&keys).len(),
            20,
            "a resized table keeps every key"
        );
    }
}
