//! Small, stable hashing helpers (FNV-1a and splitmix64) behind every synthetic number.
//!
//! `std`'s `DefaultHasher` is deliberately not used: its output may change between Rust
//! releases, and the sandbox promises the same numbers for the same fixture forever.

/// 64-bit FNV-1a of a byte string.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// FNV-1a of a string.
pub fn fnv(s: &str) -> u64 {
    fnv1a(s.as_bytes())
}

/// One splitmix64 step: a strong 64-bit mixer.
pub fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Mixes several seeds into one hash, order-sensitively.
pub fn mix(parts: &[u64]) -> u64 {
    parts
        .iter()
        .fold(0x5eed_5a4d_b0c5_u64, |acc, p| splitmix(acc ^ splitmix(*p)))
}

/// Uniform float in `[0, 1)` from a hash.
pub fn unit(h: u64) -> f64 {
    // 53 random bits are exactly representable in an f64 mantissa.
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// Uniform float in `[-1, 1)` from a hash.
pub fn signed(h: u64) -> f64 {
    unit(h) * 2.0 - 1.0
}

/// Uniform float in `[lo, hi)` from a hash.
pub fn range(h: u64, lo: f64, hi: f64) -> f64 {
    lo + unit(h) * (hi - lo)
}

/// Hex encoding of bytes (lower case).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Decodes lower- or upper-case hex; `None` on odd length or a non-hex digit.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    };
    bytes
        .chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_matches_reference_vectors() {
        // Published FNV-1a 64-bit test vectors.
        assert_eq!(fnv(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv("foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn unit_stays_in_range_and_is_stable() {
        for i in 0..1000u64 {
            let u = unit(splitmix(i));
            assert!((0.0..1.0).contains(&u));
        }
        assert_eq!(mix(&[1, 2, 3]), mix(&[1, 2, 3]));
        assert_ne!(mix(&[1, 2, 3]), mix(&[3, 2, 1]));
    }

    #[test]
    fn hex_round_trips() {
        let data = [0u8, 1, 127, 128, 255];
        assert_eq!(unhex(&hex(&data)), Some(data.to_vec()));
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
    }
}
