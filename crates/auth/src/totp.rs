//! TOTP (RFC 6238), the admins' second factor: the 6-digit codes of an authenticator app.
//!
//! Parameters are the ones every authenticator app assumes when the enrolment URI says
//! nothing else: HMAC-SHA-1, 6 digits, 30-second steps, counting from the Unix epoch. The
//! HOTP core (RFC 4226: HMAC of the big-endian step number, dynamic truncation, modulo 10^6)
//! is a dozen lines here rather than a dependency, so what is checked is plain to see.
//!
//! [`TotpSecret::verify`] accepts the current step and one on either side (a phone's clock
//! may be off by up to ~30 s, and a code typed at the end of its step arrives in the next),
//! compares in constant time, and refuses any step at or before the last one the user has
//! already used, so an observed code cannot be replayed. The caller stores the step it
//! returns as the user's new `last_used_step`.
//!
//! Enrolment: [`TotpSecret::otpauth_uri`] is what an app scans, and [`qr_for_terminal`] draws
//! it as text for the `herald` command line (no image libraries involved).

use std::fmt;

use chrono::{DateTime, Utc};
use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;
use rand::RngCore;
use sha1::Sha1;

use crate::codes::constant_time_eq;

/// Digits in a code.
pub const DIGITS: usize = 6;

/// Seconds per step: a code is good for this long (plus the skew window).
pub const STEP_SECS: i64 = 30;

/// How many steps either side of the current one are accepted.
pub const SKEW_STEPS: i64 = 1;

/// The length of a generated secret, in bytes (160 bits, RFC 4226's recommendation).
pub const SECRET_LEN: usize = 20;

/// The shortest secret accepted from elsewhere, in bytes (128 bits, RFC 4226's minimum).
pub const MIN_SECRET_LEN: usize = 16;

/// The longest secret accepted, in bytes.
pub const MAX_SECRET_LEN: usize = 64;

/// SHA-1's block size: HMAC keys up to this long are used as they are.
const SHA1_BLOCK_LEN: usize = 64;
const _: () = assert!(MAX_SECRET_LEN <= SHA1_BLOCK_LEN);

/// 10^[`DIGITS`].
const MODULUS: u32 = 1_000_000;

/// Characters escaped in the otpauth URI: everything but RFC 3986's unreserved ones.
const URI_ESCAPED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Why a secret could not be read, or a QR code not drawn.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TotpError {
    /// The text is not base32 (RFC 4648).
    #[error("TOTP secret is not valid base32")]
    InvalidBase32,
    /// The secret is shorter than [`MIN_SECRET_LEN`] or longer than [`MAX_SECRET_LEN`] bytes.
    #[error("TOTP secret of {0} bytes: between {MIN_SECRET_LEN} and {MAX_SECRET_LEN} bytes needed")]
    SecretLength(usize),
    /// The text does not fit in a QR code.
    #[error("cannot draw a QR code: {0}")]
    Qr(String),
}

/// A user's TOTP secret. Its bytes never appear in `Debug` output; store it with
/// [`Self::to_base32`] (and encrypted, or wherever other server secrets go).
#[derive(Clone)]
pub struct TotpSecret {
    bytes: Vec<u8>,
    /// HMAC-SHA-1 keyed with `bytes`, ready to be cloned for each code.
    mac: Hmac<Sha1>,
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TotpSecret")
            .field("len", &self.bytes.len())
            .field("bytes", &"<redacted>")
            .finish()
    }
}

impl TotpSecret {
    /// A fresh random secret of [`SECRET_LEN`] bytes.
    pub fn generate() -> Self {
        let mut bytes = [0u8; SECRET_LEN];
        rand::rng().fill_bytes(&mut bytes);
        Self::from_checked_bytes(&bytes)
    }

    /// A secret from its bytes, [`MIN_SECRET_LEN`] to [`MAX_SECRET_LEN`] of them.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TotpError> {
        if !(MIN_SECRET_LEN..=MAX_SECRET_LEN).contains(&bytes.len()) {
            return Err(TotpError::SecretLength(bytes.len()));
        }
        Ok(Self::from_checked_bytes(bytes))
    }

    /// [`Self::from_bytes`] for a length known to be within bounds.
    fn from_checked_bytes(bytes: &[u8]) -> Self {
        // RFC 2104: a key shorter than the hash's block is zero-padded to the block, so
        // padding it here is the same key; MAX_SECRET_LEN keeps every secret within a block.
        let mut block = [0u8; SHA1_BLOCK_LEN];
        let len = bytes.len().min(SHA1_BLOCK_LEN);
        block[..len].copy_from_slice(&bytes[..len]);
        Self {
            bytes: bytes[..len].to_vec(),
            mac: <Hmac<Sha1> as KeyInit>::new(&block.into()),
        }
    }

    /// A secret from base32 text as apps and [`Self::to_base32`] write it: case, spaces and
    /// `=` padding do not matter.
    pub fn from_base32(text: &str) -> Result<Self, TotpError> {
        let cleaned: String = text
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '=')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let bytes = BASE32_NOPAD
            .decode(cleaned.as_bytes())
            .map_err(|_| TotpError::InvalidBase32)?;
        Self::from_bytes(&bytes)
    }

    /// The secret in base32 (RFC 4648 alphabet, upper case, no padding), as the otpauth URI
    /// carries it and a user may type it.
    pub fn to_base32(&self) -> String {
        BASE32_NOPAD.encode(&self.bytes)
    }

    /// The code for the step containing `unix_secs`: 6 digits, zero-padded.
    pub fn code_at(&self, unix_secs: i64) -> String {
        self.code_for_step(unix_secs.div_euclid(STEP_SECS))
    }

    /// Checks `code` against the steps around `now`. Returns the step it matched, which the
    /// caller must store as the user's `last_used_step`; `None` when it matches none, is not
    /// exactly 6 ASCII digits, or matches only a step at or before `last_used_step`.
    pub fn verify(
        &self,
        code: &str,
        now: DateTime<Utc>,
        last_used_step: Option<i64>,
    ) -> Option<i64> {
        if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let current = now.timestamp().div_euclid(STEP_SECS);
        let mut matched = None;
        // Every candidate is computed and compared, and the latest match wins: if one code
        // happened to be right for two steps, returning the earlier would leave the later
        // open to a replay.
        for step in current - SKEW_STEPS..=current + SKEW_STEPS {
            if last_used_step.is_some_and(|last| step <= last) {
                continue;
            }
            if constant_time_eq(self.code_for_step(step).as_bytes(), code.as_bytes()) {
                matched = Some(step);
            }
        }
        matched
    }

    /// The otpauth URI an authenticator app scans: `otpauth://totp/ISSUER:ACCOUNT?secret=…`
    /// with the issuer and account percent-encoded and every parameter spelt out.
    pub fn otpauth_uri(&self, account: &str, issuer: &str) -> String {
        let issuer = utf8_percent_encode(issuer, URI_ESCAPED);
        let account = utf8_percent_encode(account, URI_ESCAPED);
        format!(
            "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}\
             &algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
            secret = self.to_base32(),
        )
    }

    /// HOTP (RFC 4226) with the step number as counter. Steps before the epoch (which no
    /// real clock produces) all count as step 0.
    fn code_for_step(&self, step: i64) -> String {
        let counter = u64::try_from(step).unwrap_or(0);
        let mut mac = self.mac.clone();
        mac.update(&counter.to_be_bytes());
        let digest = mac.finalize().into_bytes();
        // Dynamic truncation: the low 4 bits of the last byte pick 4 bytes (offset <= 15 of
        // a 20-byte digest), whose low 31 bits are the number.
        let offset = usize::from(digest[digest.len() - 1] & 0x0f);
        let number = u32::from_be_bytes([
            digest[offset],
            digest[offset + 1],
            digest[offset + 2],
            digest[offset + 3],
        ]) & 0x7fff_ffff;
        format!("{:0width$}", number % MODULUS, width = DIGITS)
    }
}

/// Draws `text` as a QR code for a terminal: two modules per character with Unicode half
/// blocks, with the 4-module quiet zone scanners need.
///
/// Colours are inverted for a dark terminal, the common kind: the code's light modules and
/// its quiet zone are printed as blocks (drawn in the bright text colour) and its dark
/// modules as blanks (showing the dark background), so a phone sees dark modules on a light
/// field, as a printed code. On a light-background terminal the code appears inverted, which
/// most scanners read as well.
pub fn qr_for_terminal(text: &str) -> Result<String, TotpError> {
    let code = QrCode::new(text.as_bytes()).map_err(|e| TotpError::Qr(e.to_string()))?;
    Ok(code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .module_dimensions(1, 1)
        .build())
}

#[cfg(test)]
#[path = "totp_tests.rs"]
mod tests;
