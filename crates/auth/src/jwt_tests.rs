//! Session tokens: the round trip, and one refused token for every way a token can be wrong.
//! Tokens with hand-picked claims or headers are signed with `jsonwebtoken` directly, or put
//! together by hand where no library would produce them (`alg: none`, an RS256 header).

use serde_json::{Value, json};

use super::*;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

fn keys() -> JwtKeys {
    JwtKeys::new(SECRET).expect("a 32-byte secret is accepted")
}

fn now_secs() -> i64 {
    Utc::now().timestamp()
}

/// Claims as Herald issues them, valid for the next hour; tests change one field.
fn good_claims() -> Value {
    let now = now_secs();
    json!({
        "sub": Uuid::new_v4(),
        "role": "admin",
        "iat": now,
        "exp": now + 3600,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "jti": Uuid::new_v4(),
    })
}

/// `claims` signed with `alg` under `secret`.
fn sign(alg: Algorithm, secret: &[u8], claims: &Value) -> String {
    let key = EncodingKey::from_secret(secret).expect("key");
    jsonwebtoken::encode(&Header::new(alg), claims, &key).expect("signs")
}

fn b64(json: &Value) -> String {
    BASE64URL_NOPAD.encode(json.to_string().as_bytes())
}

#[test]
fn issued_tokens_verify_to_their_claims() {
    let keys = keys();
    let user = Uuid::new_v4();
    let now = Utc::now();
    let issued = keys
        .issue(user, Role::Viewer, now, Duration::minutes(15))
        .expect("issues");
    assert_eq!(issued.claims.sub, user);
    assert_eq!(issued.claims.role, Role::Viewer);
    assert_eq!(issued.claims.iat, now.timestamp());
    assert_eq!(issued.claims.exp, now.timestamp() + 900);
    assert_eq!(issued.expires_at.timestamp(), issued.claims.exp);
    assert_eq!(issued.claims.iss, ISSUER);
    assert_eq!(issued.claims.aud, AUDIENCE);

    let claims = keys.verify(&issued.token).expect("verifies");
    assert_eq!(claims, issued.claims);

    // Another token for the same user is another session.
    let again = keys
        .issue(user, Role::Viewer, now, Duration::minutes(15))
        .expect("issues");
    assert_ne!(again.claims.jti, issued.claims.jti);
}

#[test]
fn the_header_says_hs256_and_jwt() {
    let issued = keys()
        .issue(Uuid::new_v4(), Role::Admin, Utc::now(), Duration::hours(1))
        .expect("issues");
    let header = jsonwebtoken::decode_header(&issued.token).expect("header");
    assert_eq!(header.alg, Algorithm::HS256);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
}

#[test]
fn non_positive_lifetimes_are_refused() {
    let keys = keys();
    for lifetime in [Duration::zero(), Duration::seconds(-1)] {
        assert_eq!(
            keys.issue(Uuid::new_v4(), Role::Admin, Utc::now(), lifetime)
                .map(|_| ()),
            Err(JwtError::BadLifetime)
        );
    }
}

#[test]
fn expired_tokens_are_refused() {
    let keys = keys();
    // Issued two hours ago for one hour: expired an hour ago, far beyond the leeway.
    let issued = keys
        .issue(
            Uuid::new_v4(),
            Role::Admin,
            Utc::now() - Duration::hours(2),
            Duration::hours(1),
        )
        .expect("issues");
    assert_eq!(keys.verify(&issued.token), Err(JwtError::Expired));
}

#[test]
fn tokens_within_the_leeway_of_expiry_are_accepted() {
    let mut claims = good_claims();
    claims["iat"] = json!(now_secs() - 60);
    claims["exp"] = json!(now_secs() - 1);
    assert!(
        keys()
            .verify(&sign(Algorithm::HS256, SECRET, &claims))
            .is_ok()
    );
}

#[test]
fn tokens_signed_with_another_secret_are_refused() {
    let other = JwtKeys::new(b"another secret, at least 32 bytes long").expect("keys");
    let issued = other
        .issue(Uuid::new_v4(), Role::Admin, Utc::now(), Duration::hours(1))
        .expect("issues");
    assert_eq!(keys().verify(&issued.token), Err(JwtError::BadSignature));
}

#[test]
fn altered_claims_break_the_signature() {
    let keys = keys();
    let issued = keys
        .issue(Uuid::new_v4(), Role::Viewer, Utc::now(), Duration::hours(1))
        .expect("issues");
    let mut claims = serde_json::to_value(&issued.claims).expect("json");
    claims["role"] = json!("admin");
    let parts: Vec<&str> = issued.token.split('.').collect();
    let forged = format!("{}.{}.{}", parts[0], b64(&claims), parts[2]);
    assert_eq!(keys.verify(&forged), Err(JwtError::BadSignature));
}

#[test]
fn alg_none_tokens_are_refused() {
    let header = json!({"alg": "none", "typ": "JWT"});
    let claims = good_claims();
    for token in [
        format!("{}.{}.", b64(&header), b64(&claims)),
        // With a signature that would be right for HS256, in case anything looked at it.
        format!(
            "{}.{}.{}",
            b64(&header),
            b64(&claims),
            sign(Algorithm::HS256, SECRET, &claims)
                .rsplit('.')
                .next()
                .expect("signature")
        ),
    ] {
        assert_eq!(keys().verify(&token), Err(JwtError::WrongAlgorithm));
    }
    for alg in ["None", "NONE", "hs256", ""] {
        let header = json!({"alg": alg, "typ": "JWT"});
        let token = format!("{}.{}.", b64(&header), b64(&claims));
        assert_eq!(
            keys().verify(&token),
            Err(JwtError::WrongAlgorithm),
            "{alg}"
        );
    }
}

#[test]
fn other_hmac_algorithms_with_the_same_secret_are_refused() {
    for alg in [Algorithm::HS384, Algorithm::HS512] {
        let token = sign(alg, SECRET, &good_claims());
        assert_eq!(keys().verify(&token), Err(JwtError::WrongAlgorithm));
    }
}

#[test]
fn public_key_algorithms_are_refused() {
    // The classic confusion: an RS256 header over an HMAC made with the verifier's key.
    let claims = good_claims();
    let hmac_signature = sign(Algorithm::HS256, SECRET, &claims)
        .rsplit('.')
        .next()
        .expect("signature")
        .to_string();
    for alg in ["RS256", "ES256", "PS256", "EdDSA"] {
        let header = json!({"alg": alg, "typ": "JWT"});
        let token = format!("{}.{}.{}", b64(&header), b64(&claims), hmac_signature);
        assert_eq!(
            keys().verify(&token),
            Err(JwtError::WrongAlgorithm),
            "{alg}"
        );
    }
}

#[test]
fn jsonwebtoken_refusals_map_to_our_errors() {
    // Behind the header check, `jsonwebtoken`'s own refusals keep their meaning.
    assert_eq!(
        map_error(&ErrorKind::InvalidAlgorithm),
        JwtError::WrongAlgorithm
    );
    assert_eq!(map_error(&ErrorKind::ExpiredSignature), JwtError::Expired);
    assert_eq!(
        map_error(&ErrorKind::InvalidSignature),
        JwtError::BadSignature
    );
    assert_eq!(
        map_error(&ErrorKind::MissingRequiredClaim("sub".into())),
        JwtError::Malformed
    );
    assert_eq!(
        map_error(&ErrorKind::ImmatureSignature),
        JwtError::ImmatureOrFuture
    );
}

#[test]
fn wrong_audience_is_refused() {
    let mut claims = good_claims();
    claims["aud"] = json!("herald-ingest-api");
    let token = sign(Algorithm::HS256, SECRET, &claims);
    assert_eq!(keys().verify(&token), Err(JwtError::WrongAudience));
}

#[test]
fn wrong_issuer_is_refused() {
    let mut claims = good_claims();
    claims["iss"] = json!("someone-else");
    let token = sign(Algorithm::HS256, SECRET, &claims);
    assert_eq!(keys().verify(&token), Err(JwtError::WrongIssuer));
}

#[test]
fn missing_claims_are_refused() {
    for claim in ["sub", "exp", "iat", "iss", "aud", "role", "jti"] {
        let mut claims = good_claims();
        claims.as_object_mut().expect("object").remove(claim);
        let token = sign(Algorithm::HS256, SECRET, &claims);
        assert!(keys().verify(&token).is_err(), "token without {claim}");
    }
    let mut claims = good_claims();
    claims.as_object_mut().expect("object").remove("sub");
    let token = sign(Algorithm::HS256, SECRET, &claims);
    assert_eq!(keys().verify(&token), Err(JwtError::Malformed));
}

#[test]
fn ill_typed_claims_are_refused() {
    for (claim, value) in [
        ("sub", json!("not-a-uuid")),
        ("role", json!("root")),
        ("exp", json!("tomorrow")),
        ("aud", json!([AUDIENCE, "other"])),
    ] {
        let mut claims = good_claims();
        claims[claim] = value;
        let token = sign(Algorithm::HS256, SECRET, &claims);
        assert_eq!(keys().verify(&token), Err(JwtError::Malformed), "{claim}");
    }
}

#[test]
fn garbage_is_refused() {
    let keys = keys();
    let long = "a".repeat(MAX_TOKEN_LEN + 1);
    for token in [
        "",
        "garbage",
        "a.b",
        "a.b.c",
        "a.b.c.d",
        "...",
        "%%%.e30.abc",
        long.as_str(),
    ] {
        assert_eq!(keys.verify(token), Err(JwtError::Malformed), "{token:.40}");
    }
    // A good header over a payload that is not base64: refused (as a bad signature, which
    // `jsonwebtoken` checks before it reads the payload).
    assert!(keys.verify("eyJhbGciOiJIUzI1NiJ9.%%%.abc").is_err());
    // A good header over a payload that is not JSON.
    let header = json!({"alg": "HS256", "typ": "JWT"});
    let token = format!("{}.{}.sig", b64(&header), BASE64URL_NOPAD.encode(b"nope"));
    assert!(keys.verify(&token).is_err());
}

#[test]
fn tokens_issued_in_the_future_are_refused() {
    let mut claims = good_claims();
    claims["iat"] = json!(now_secs() + 3600);
    claims["exp"] = json!(now_secs() + 7200);
    let token = sign(Algorithm::HS256, SECRET, &claims);
    assert_eq!(keys().verify(&token), Err(JwtError::ImmatureOrFuture));

    // A clock a second or two ahead is within the leeway.
    let mut claims = good_claims();
    claims["iat"] = json!(now_secs() + 2);
    assert!(
        keys()
            .verify(&sign(Algorithm::HS256, SECRET, &claims))
            .is_ok()
    );
}

#[test]
fn tokens_not_valid_yet_are_refused() {
    let mut claims = good_claims();
    claims["nbf"] = json!(now_secs() + 3600);
    let token = sign(Algorithm::HS256, SECRET, &claims);
    assert_eq!(keys().verify(&token), Err(JwtError::ImmatureOrFuture));
}

#[test]
fn short_secrets_are_refused() {
    assert_eq!(JwtKeys::new(b"").map(|_| ()), Err(JwtError::WeakSecret));
    assert_eq!(
        JwtKeys::new(&SECRET[..31]).map(|_| ()),
        Err(JwtError::WeakSecret)
    );
    assert!(JwtKeys::new(&SECRET[..32]).is_ok());
}

#[test]
fn debug_and_errors_hide_the_secret_and_the_token() {
    let keys = keys();
    let shown = format!("{keys:?}");
    assert!(!shown.contains("0123456789abcdef"), "{shown}");
    assert!(!shown.contains(&hex::encode(SECRET)), "{shown}");
    assert!(shown.contains("redacted"), "{shown}");

    let issued = keys
        .issue(Uuid::new_v4(), Role::Admin, Utc::now(), Duration::hours(1))
        .expect("issues");
    let shown = format!("{issued:?}");
    assert!(!shown.contains(&issued.token), "{shown}");

    let tampered = format!("{}x", issued.token);
    let error = keys.verify(&tampered).expect_err("tampered");
    assert!(!error.to_string().contains(&tampered));
    assert!(error.to_string().len() < 60, "{error}");
}

#[test]
fn generated_secrets_are_64_hex_digits_and_usable() {
    let a = generate_secret();
    let b = generate_secret();
    assert_ne!(a, b);
    assert_eq!(a.len(), 64);
    assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
    assert!(JwtKeys::new(a.as_bytes()).is_ok());
}
