//! Admin session tokens: JWTs signed with HS256 under a server secret.
//!
//! The admin-api both issues and checks these tokens, so a shared secret (HMAC) is all it
//! needs; there is no third party that should verify them without being able to sign. The
//! choices that matter:
//!
//! - **One algorithm.** A token must say `"alg":"HS256"` in its header, and [`JwtKeys::verify`]
//!   looks at the header itself before `jsonwebtoken` does: `none`, other HMAC sizes and
//!   public-key algorithms (the old "RS256 header, HMAC with the public key" confusion) are
//!   [`JwtError::WrongAlgorithm`], whatever the rest of the token says.
//! - **Every claim is required** and checked: `iss` must be [`ISSUER`], `aud` [`AUDIENCE`] (so
//!   a token minted for some other service that happens to share the secret is refused),
//!   `exp` must not have passed, `iat` must not lie in the future, and `sub`, `role`, `jti`
//!   must be there. Clocks may disagree by [`LEEWAY_SECS`], no more.
//! - **A strong secret.** [`JwtKeys::new`] refuses secrets shorter than 32 bytes (the size of
//!   HS256's output); [`generate_secret`] makes one for an operator who set none.
//! - **Nothing secret in text.** Neither the secret nor a token appears in a `Debug` output or
//!   an error message, so neither ends up in a log.
//!
//! `jsonwebtoken` runs on its RustCrypto backend (pure Rust, no system library).
//! [`JwtKeys::new`] installs that backend as the process default unless one is installed
//! already, so enabling another backend elsewhere in the dependency tree cannot leave
//! `jsonwebtoken` without one.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use data_encoding::BASE64URL_NOPAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The `iss` of every token Herald issues and accepts.
pub const ISSUER: &str = "herald";

/// The `aud` of every token Herald issues and accepts: the admin API.
pub const AUDIENCE: &str = "herald-admin-api";

/// The shortest secret [`JwtKeys::new`] accepts, in bytes.
pub const MIN_SECRET_LEN: usize = 32;

/// How far apart two clocks may be, in seconds: a token is still accepted this long after its
/// `exp`, and refused only when its `iat` is more than this far in the future.
pub const LEEWAY_SECS: u64 = 5;

/// The longest token [`JwtKeys::verify`] reads, in bytes; Herald's own are about 400.
pub const MAX_TOKEN_LEN: usize = 4096;

/// What a staff member may do: `herald_domain`'s [`StaffRole`](herald_domain::StaffRole),
/// as tokens carry it.
pub use herald_domain::StaffRole as Role;

/// What a session token says. All fields are required in a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The admin user's id.
    pub sub: Uuid,
    /// What the user may do.
    pub role: Role,
    /// When the token was issued, Unix seconds.
    pub iat: i64,
    /// When the token stops being accepted, Unix seconds.
    pub exp: i64,
    /// Who issued it: always [`ISSUER`].
    pub iss: String,
    /// Whom it is for: always [`AUDIENCE`].
    pub aud: String,
    /// The token's own id, to revoke one session or find it in the audit log.
    pub jti: Uuid,
}

/// A freshly signed token and what it says.
#[derive(Clone)]
pub struct IssuedToken {
    /// The token, to hand to the client. A bearer credential: never log it.
    pub token: String,
    /// When it stops being accepted (its `exp`).
    pub expires_at: DateTime<Utc>,
    /// Its claims.
    pub claims: Claims,
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .field("claims", &self.claims)
            .finish()
    }
}

/// Why a token was not issued or not accepted. The messages are short and never contain the
/// token or the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// Its `exp` has passed (by more than [`LEEWAY_SECS`]).
    #[error("token expired")]
    Expired,
    /// It was not signed with this server's secret, or was altered.
    #[error("bad token signature")]
    BadSignature,
    /// Its header names an algorithm other than HS256 (including `none`).
    #[error("token algorithm not accepted")]
    WrongAlgorithm,
    /// Its `aud` is not [`AUDIENCE`].
    #[error("token audience not accepted")]
    WrongAudience,
    /// Its `iss` is not [`ISSUER`].
    #[error("token issuer not accepted")]
    WrongIssuer,
    /// It is not a well-formed token with all of Herald's claims.
    #[error("malformed token")]
    Malformed,
    /// It claims to be issued in the future (`iat`), or not to be valid yet (`nbf`).
    #[error("token not valid yet")]
    ImmatureOrFuture,
    /// The signing secret is shorter than [`MIN_SECRET_LEN`] bytes.
    #[error("JWT secret too short: at least {MIN_SECRET_LEN} bytes needed")]
    WeakSecret,
    /// The requested lifetime is not positive, or ends beyond what a timestamp can hold.
    #[error("token lifetime out of range")]
    BadLifetime,
    /// Signing failed (not expected with an HMAC key).
    #[error("could not sign token")]
    Signing,
}

impl JwtError {
    /// A stable name for the audit and security logs, e.g. `expired_token`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Expired => "expired_token",
            Self::BadSignature => "bad_signature",
            Self::WrongAlgorithm => "wrong_algorithm",
            Self::WrongAudience => "wrong_audience",
            Self::WrongIssuer => "wrong_issuer",
            Self::Malformed => "malformed_token",
            Self::ImmatureOrFuture => "token_not_valid_yet",
            Self::WeakSecret | Self::BadLifetime | Self::Signing => "invalid_token",
        }
    }
}

/// The server's signing secret, ready to issue and verify tokens. The secret never appears
/// in `Debug` output.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtKeys")
            .field("algorithm", &"HS256")
            .field("issuer", &ISSUER)
            .field("audience", &AUDIENCE)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl JwtKeys {
    /// Keys for `secret`, which must be at least [`MIN_SECRET_LEN`] bytes.
    pub fn new(secret: &[u8]) -> Result<Self, JwtError> {
        if secret.len() < MIN_SECRET_LEN {
            return Err(JwtError::WeakSecret);
        }
        // Err means a provider is installed already: that one is used, which is fine.
        let _ = jsonwebtoken::crypto::CryptoProvider::install_default(
            &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER,
        );
        let encoding = EncodingKey::from_secret(secret).map_err(|_| JwtError::WeakSecret)?;
        let decoding = DecodingKey::from_secret(secret).map_err(|_| JwtError::WeakSecret)?;

        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        // `jsonwebtoken` enforces the presence of exp, iss, aud and sub; `iat` (and every
        // other claim) is required by `Claims` having no optional fields.
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.reject_tokens_expiring_in_less_than = 0;

        Ok(Self {
            encoding,
            decoding,
            validation,
        })
    }

    /// Signs a token for user `sub` with `role`, issued at `now` and accepted for `lifetime`.
    pub fn issue(
        &self,
        sub: Uuid,
        role: Role,
        now: DateTime<Utc>,
        lifetime: Duration,
    ) -> Result<IssuedToken, JwtError> {
        if lifetime <= Duration::zero() {
            return Err(JwtError::BadLifetime);
        }
        let iat = now.timestamp();
        let exp = iat
            .checked_add(lifetime.num_seconds())
            .ok_or(JwtError::BadLifetime)?;
        let expires_at = DateTime::from_timestamp(exp, 0).ok_or(JwtError::BadLifetime)?;
        let claims = Claims {
            sub,
            role,
            iat,
            exp,
            iss: ISSUER.to_string(),
            aud: AUDIENCE.to_string(),
            jti: Uuid::new_v4(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|_| JwtError::Signing)?;
        Ok(IssuedToken {
            token,
            expires_at,
            claims,
        })
    }

    /// Checks `token` as the module documentation describes, against the wall clock, and
    /// returns its claims.
    pub fn verify(&self, token: &str) -> Result<Claims, JwtError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(JwtError::Malformed);
        }
        check_header(token)?;
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| map_error(e.kind()))?;
        let claims = data.claims;
        // `jsonwebtoken` checks exp and nbf, not iat.
        let latest_iat = Utc::now().timestamp().saturating_add(LEEWAY_SECS as i64);
        if claims.iat > latest_iat {
            return Err(JwtError::ImmatureOrFuture);
        }
        if claims.iss != ISSUER {
            return Err(JwtError::WrongIssuer);
        }
        if claims.aud != AUDIENCE {
            return Err(JwtError::WrongAudience);
        }
        Ok(claims)
    }
}

/// Refuses a token whose header does not say exactly `"alg":"HS256"`, before any other
/// parsing: `jsonwebtoken` would refuse most of them too, but `none` only as an unreadable
/// header, and this way every algorithm other than HS256 gets the same answer.
fn check_header(token: &str) -> Result<(), JwtError> {
    #[derive(Deserialize)]
    struct Alg {
        alg: String,
    }
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let header = BASE64URL_NOPAD
        .decode(header.as_bytes())
        .map_err(|_| JwtError::Malformed)?;
    let Alg { alg } = serde_json::from_slice(&header).map_err(|_| JwtError::Malformed)?;
    if alg == "HS256" {
        Ok(())
    } else {
        Err(JwtError::WrongAlgorithm)
    }
}

/// Our name for one of `jsonwebtoken`'s refusals.
fn map_error(kind: &ErrorKind) -> JwtError {
    match kind {
        ErrorKind::ExpiredSignature => JwtError::Expired,
        ErrorKind::InvalidSignature => JwtError::BadSignature,
        ErrorKind::InvalidAlgorithm
        | ErrorKind::InvalidAlgorithmName
        | ErrorKind::UnsupportedAlgorithm
        | ErrorKind::MissingAlgorithm => JwtError::WrongAlgorithm,
        ErrorKind::InvalidAudience => JwtError::WrongAudience,
        ErrorKind::InvalidIssuer => JwtError::WrongIssuer,
        ErrorKind::ImmatureSignature => JwtError::ImmatureOrFuture,
        _ => JwtError::Malformed,
    }
}

/// A fresh signing secret: 32 random bytes, hex (64 characters). For when the operator has
/// configured none; it must then be stored, or every restart signs everyone out.
pub fn generate_secret() -> String {
    let mut bytes = [0u8; MIN_SECRET_LEN];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
#[path = "jwt_tests.rs"]
mod tests;
