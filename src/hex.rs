//! Lower-case hex, two digits a byte: the crate's one encoder (SHA-1s,
//! OIDs, tokens, binary metadata). A leaf every layer may use: the store
//! names tokens with it, the archive writes binary values with it, and
//! neither should import the other for that.

/// `bytes` as lower-case hex.
pub fn encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn two_lower_case_digits_a_byte() {
        assert_eq!(super::encode(&[0x00, 0xab, 0x7f]), "00ab7f");
        assert_eq!(super::encode(&[]), "");
    }
}
