//! A chunk's name: keyed BLAKE3 of its bytes (docs/dedup-choices.md: 2.3x
//! SHA-256's speed here even with SHA extensions).
//!
//! The key is fixed for the format, not a secret of one server: it
//! separates combstore's fingerprints from any other use of BLAKE3, and
//! two servers must name a chunk alike for a copy between them to send
//! only what the target lacks. A chunk's bytes are stored unencrypted
//! beside its fingerprint, so a secret key would hide nothing.
//!
//! The fingerprint is also the final check of every read: the bytes a
//! read returns hash to the fingerprint their chunk was stored under, so a
//! damaged or swapped index row can make a read fail, never return other
//! bytes (docs/format.md, "Chunk index").

/// Key of the keyed BLAKE3 (format 2).
const KEY: [u8; 32] = *b"combstore chunk fingerprint key.";

/// Length of a fingerprint in bytes.
pub const LEN: usize = 32;

/// The fingerprint of a chunk's (uncompressed) bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; LEN]);

impl Fingerprint {
    /// The fingerprint of `data`.
    pub fn of(data: &[u8]) -> Fingerprint {
        Fingerprint(*blake3::keyed_hash(&KEY, data).as_bytes())
    }

    /// From stored bytes; `None` unless exactly [`LEN`] bytes.
    pub fn from_slice(b: &[u8]) -> Option<Fingerprint> {
        b.try_into().ok().map(Fingerprint)
    }

    /// Whether `data` has this fingerprint.
    pub fn matches(&self, data: &[u8]) -> bool {
        Fingerprint::of(data) == *self
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8; LEN] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_keyed_and_stable() {
        let f = Fingerprint::of(b"abc");
        assert_ne!(f.0, *blake3::hash(b"abc").as_bytes(), "keyed, not plain BLAKE3");
        assert_eq!(f, Fingerprint::of(b"abc"));
        assert_ne!(f, Fingerprint::of(b"abd"));
        assert!(f.matches(b"abc"));
        assert_eq!(Fingerprint::from_slice(&f.0), Some(f));
        assert_eq!(Fingerprint::from_slice(&f.0[..31]), None);
    }
}
