//! The password hash scrubbed users get: the "portable" phpass format
//! (`$P$B…`), which every WordPress release verifies (those from 6.8 on
//! rehash it to bcrypt at the first login). MD5 rounds from the `md-5`
//! crate; only the framing of the format is written here.

use md5::{Digest, Md5};

/// A `user_pass` no password matches: WordPress compares a value of 32
/// characters or fewer with the password's MD5 in hex, which never
/// contains `*`.
pub const UNUSABLE: &str = "*wfuwp-scrubbed*";

const ITOA64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// log2 of the MD5 rounds: WordPress's own choice (8 + 5, written `B`).
const COUNT_LOG2: usize = 13;

/// phpass's base-64 of `input` (its own alphabet and bit order).
fn encode64(input: &[u8]) -> String {
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let mut value = chunk[0] as u32;
        if let Some(b) = chunk.get(1) {
            value |= (*b as u32) << 8;
        }
        if let Some(b) = chunk.get(2) {
            value |= (*b as u32) << 16;
        }
        let digits = chunk.len() + 1;
        for k in 0..digits {
            out.push(ITOA64[((value >> (6 * k)) & 0x3f) as usize] as char);
        }
    }
    out
}

/// The portable phpass hash of `password` with `salt`.
pub fn phpass(password: &[u8], salt: &[u8; 6]) -> String {
    let salt = encode64(salt);
    let mut hash = Md5::new_with_prefix(salt.as_bytes())
        .chain_update(password)
        .finalize();
    for _ in 0..(1u32 << COUNT_LOG2) {
        hash = Md5::new_with_prefix(hash).chain_update(password).finalize();
    }
    format!("$P${}{salt}{}", ITOA64[COUNT_LOG2] as char, encode64(&hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_is_phpass_portable() {
        let h = phpass(b"secret", &[1, 2, 3, 4, 5, 6]);
        assert_eq!(h.len(), 34);
        assert!(h.starts_with("$P$B"));
        assert_eq!(h, phpass(b"secret", &[1, 2, 3, 4, 5, 6]));
        assert_ne!(h, phpass(b"secret2", &[1, 2, 3, 4, 5, 6]));
    }

    #[test]
    fn encode64_matches_phpass_for_partial_chunks() {
        // phpass writes 2 digits for 1 byte, 3 for 2, 4 for 3.
        assert_eq!(encode64(&[0]).len(), 2);
        assert_eq!(encode64(&[0, 0]).len(), 3);
        assert_eq!(encode64(&[0; 16]).len(), 22);
        assert_eq!(encode64(&[0xff, 0xff, 0xff]), "zzzz");
    }
}
