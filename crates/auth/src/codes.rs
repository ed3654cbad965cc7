//! Short codes a person types: comparing them without leaking timing, making them, and
//! storing them.
//!
//! - [`constant_time_eq`] compares secrets in time that depends only on their lengths, so a
//!   caller cannot learn how many leading characters of a guess were right by timing the
//!   answers. TOTP codes and one-time login codes are compared with it.
//! - [`one_time_code`] makes a 6-digit login code, uniform over `000000..=999999` (a
//!   `random_range`, not `random() % 1_000_000`, which would favour some codes).
//! - [`hash_one_time_code`] is how such a code is stored: SHA-256 of a per-code salt, `:` and
//!   the code. A million possible codes is nothing to brute-force offline, so the hash does not
//!   protect a code from someone holding the database; the code's protection is a short
//!   lifetime and a small number of attempts. The hash keeps codes out of logs, backups and
//!   query output, and the salt keeps two equal codes from having equal hashes.

use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// How many digits [`one_time_code`] has.
pub const ONE_TIME_CODE_DIGITS: usize = 6;

/// Whether `a` and `b` are equal, in time that depends on their lengths but not their
/// contents. Unequal lengths are unequal (and say so at once: lengths are not secret here).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// A fresh 6-digit code (`"000000"` to `"999999"`, every one as likely), for one-time logins.
pub fn one_time_code() -> String {
    let n: u32 = rand::rng().random_range(0..1_000_000);
    format!("{n:06}")
}

/// How a one-time code is stored: SHA-256 (hex) of `salt`, `:` and `code`. Check a presented
/// code by hashing it with the same salt and comparing with [`constant_time_eq`]. Use a salt
/// without `:` (e.g. random hex), so that no two (salt, code) pairs hash the same bytes.
pub fn hash_one_time_code(salt: &str, code: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt.as_bytes());
    hasher.update(b":");
    hasher.update(code.as_bytes());
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares_contents_and_lengths() {
        assert!(constant_time_eq(b"123456", b"123456"));
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"123456", b"123457"));
        assert!(!constant_time_eq(b"123456", b"12345"));
        assert!(!constant_time_eq(b"12345", b"123456"));
    }

    #[test]
    fn one_time_codes_are_six_digits_and_vary() {
        let codes: Vec<String> = (0..200).map(|_| one_time_code()).collect();
        for code in &codes {
            assert_eq!(code.len(), ONE_TIME_CODE_DIGITS, "{code}");
            assert!(code.bytes().all(|b| b.is_ascii_digit()), "{code}");
        }
        let distinct: std::collections::HashSet<&String> = codes.iter().collect();
        // 200 draws from a million: a repeat or two is possible, many are not.
        assert!(distinct.len() > 190, "{} distinct", distinct.len());
    }

    #[test]
    fn one_time_codes_cover_the_leading_digits() {
        // Zero-padding works and no leading digit is missing: over 2,000 draws each of the ten
        // leading digits turns up (the chance that one does not is about 10 · 0.9^2000).
        let mut seen = [false; 10];
        for _ in 0..2000 {
            let code = one_time_code();
            seen[usize::from(code.as_bytes()[0] - b'0')] = true;
        }
        assert!(seen.iter().all(|s| *s), "{seen:?}");
    }

    #[test]
    fn hash_is_sha256_of_salt_colon_code() {
        let hash = hash_one_time_code("salt", "123456");
        assert_eq!(hash, hex::encode(Sha256::digest(b"salt:123456")));
        assert_eq!(hash.len(), 64);
        assert_ne!(hash, hash_one_time_code("other", "123456"));
        assert_ne!(hash, hash_one_time_code("salt", "123457"));
        assert_eq!(
            hash_one_time_code("", "x"),
            hex::encode(Sha256::digest(b":x"))
        );
    }
}
