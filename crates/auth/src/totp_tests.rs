//! TOTP against RFC 6238's own test vectors, the skew window, replays, the base32 form, the
//! enrolment URI and the terminal QR code.

use super::*;

/// RFC 6238 appendix B's SHA-1 secret: the ASCII digits "1234567890" twice.
fn rfc_secret() -> TotpSecret {
    TotpSecret::from_bytes(b"12345678901234567890").expect("20 bytes")
}

fn at(unix_secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(unix_secs, 0).expect("in range")
}

#[test]
fn rfc_6238_sha1_vectors() {
    // The RFC lists 8-digit codes; a 6-digit code is the same number modulo 10^6.
    let secret = rfc_secret();
    for (t, eight_digits) in [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ] {
        assert_eq!(secret.code_at(t), eight_digits[2..], "T = {t}");
    }
}

#[test]
fn codes_are_zero_padded() {
    // 1111111109 gives 07081804: six digits "081804", leading zero kept.
    assert_eq!(rfc_secret().code_at(1_111_111_109), "081804");
    assert_eq!(rfc_secret().code_at(1_234_567_890), "005924");
}

#[test]
fn the_current_step_and_one_either_side_are_accepted() {
    let secret = rfc_secret();
    let now = 1_234_567_890;
    let step = now / STEP_SECS;
    for offset in [-1, 0, 1] {
        let code = secret.code_at(now + offset * STEP_SECS);
        assert_eq!(
            secret.verify(&code, at(now), None),
            Some(step + offset),
            "offset {offset}"
        );
    }
    for offset in [-3, -2, 2, 3] {
        let code = secret.code_at(now + offset * STEP_SECS);
        assert_eq!(secret.verify(&code, at(now), None), None, "offset {offset}");
    }
}

#[test]
fn a_used_step_cannot_be_replayed() {
    let secret = rfc_secret();
    let now = 1_234_567_890;
    let code = secret.code_at(now);
    let step = secret.verify(&code, at(now), None).expect("first use");
    assert_eq!(secret.verify(&code, at(now), Some(step)), None);
    // Still refused when replayed within the skew window, seconds later.
    assert_eq!(secret.verify(&code, at(now + 20), Some(step)), None);
    // An older code (the previous step) is refused after a newer one was used.
    let previous = secret.code_at(now - STEP_SECS);
    assert_eq!(secret.verify(&previous, at(now), Some(step)), None);
    // The next step's code is fine.
    let next = secret.code_at(now + STEP_SECS);
    assert_eq!(
        secret.verify(&next, at(now + STEP_SECS), Some(step)),
        Some(step + 1)
    );
}

#[test]
fn only_six_ascii_digits_are_checked() {
    let secret = rfc_secret();
    let now = 1_234_567_890;
    let code = secret.code_at(now);
    assert_eq!(code, "005924");
    for wrong in [
        "",
        "05924",
        "0005924",
        " 005924",
        "005924 ",
        "00592a",
        "００５９２４", // full-width digits
        "+05924",
        "-05924",
        "89005924", // the 8-digit form
    ] {
        assert_eq!(secret.verify(wrong, at(now), None), None, "{wrong:?}");
    }
    assert_eq!(secret.verify("000000", at(now), None), None);
}

#[test]
fn base32_round_trips_and_forgives_case_spaces_and_padding() {
    let secret = TotpSecret::generate();
    let text = secret.to_base32();
    assert_eq!(text.len(), 32);
    assert!(
        text.bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
    );
    let again = TotpSecret::from_base32(&text).expect("round trip");
    assert_eq!(again.to_base32(), text);
    assert_eq!(again.code_at(1_000_000), secret.code_at(1_000_000));

    let spaced: String = text
        .to_ascii_lowercase()
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(
        TotpSecret::from_base32(&spaced)
            .expect("spaced")
            .to_base32(),
        text
    );

    // The RFC secret's base32, with padding as some tools write it (16 bytes: 26 characters
    // plus 6 '=').
    let rfc = rfc_secret().to_base32();
    assert_eq!(rfc, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    let sixteen = TotpSecret::from_bytes(&[0xAB; 16]).expect("16 bytes");
    let padded = format!("{}======", sixteen.to_base32());
    assert_eq!(
        TotpSecret::from_base32(&padded)
            .expect("padded")
            .to_base32(),
        sixteen.to_base32()
    );
}

#[test]
fn bad_secrets_are_refused() {
    assert_eq!(
        TotpSecret::from_base32("not base32!").map(|_| ()),
        Err(TotpError::InvalidBase32)
    );
    assert_eq!(
        TotpSecret::from_base32("GEZDGNBV1").map(|_| ()),
        Err(TotpError::InvalidBase32)
    );
    // 10 bytes: too short.
    assert_eq!(
        TotpSecret::from_base32("GEZDGNBVGY3TQOJQ").map(|_| ()),
        Err(TotpError::SecretLength(10))
    );
    assert_eq!(
        TotpSecret::from_base32("").map(|_| ()),
        Err(TotpError::SecretLength(0))
    );
    assert_eq!(
        TotpSecret::from_bytes(&[1; 65]).map(|_| ()),
        Err(TotpError::SecretLength(65))
    );
    assert!(TotpSecret::from_bytes(&[1; 64]).is_ok());
}

#[test]
fn generated_secrets_differ() {
    assert_ne!(
        TotpSecret::generate().to_base32(),
        TotpSecret::generate().to_base32()
    );
}

#[test]
fn debug_hides_the_secret() {
    let secret = rfc_secret();
    let shown = format!("{secret:?}");
    assert!(!shown.contains("GEZDGNBV"), "{shown}");
    assert!(!shown.contains("12345678"), "{shown}");
    assert!(!shown.contains("49, 50"), "{shown}"); // the bytes as numbers
    assert!(shown.contains("redacted"), "{shown}");
}

#[test]
fn otpauth_uri_has_the_expected_shape() {
    let secret = rfc_secret();
    assert_eq!(
        secret.otpauth_uri("alice@example.com", "Herald"),
        "otpauth://totp/Herald:alice%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
         &issuer=Herald&algorithm=SHA1&digits=6&period=30"
    );
    // Spaces, colons and ampersands in either part cannot break the URI apart.
    assert_eq!(
        secret.otpauth_uri("ops:bob", "Herald Prod & Co"),
        "otpauth://totp/Herald%20Prod%20%26%20Co:ops%3Abob?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
         &issuer=Herald%20Prod%20%26%20Co&algorithm=SHA1&digits=6&period=30"
    );
    // Non-ASCII is UTF-8, percent-encoded.
    assert!(
        secret
            .otpauth_uri("zoë", "Herald")
            .starts_with("otpauth://totp/Herald:zo%C3%AB?")
    );
}

#[test]
fn qr_renders_as_lines_of_half_blocks() {
    let uri = TotpSecret::generate().otpauth_uri("alice", "Herald");
    let qr = qr_for_terminal(&uri).expect("fits");
    let lines: Vec<&str> = qr.lines().collect();
    assert!(lines.len() > 10, "{} lines", lines.len());
    let width = lines[0].chars().count();
    assert!(lines.iter().all(|l| l.chars().count() == width));
    assert!(
        qr.chars()
            .all(|c| matches!(c, ' ' | '\u{2580}' | '\u{2584}' | '\u{2588}' | '\n'))
    );
    // Inverted, with a quiet zone: the first line is the light border, all full blocks.
    assert!(lines[0].chars().all(|c| c == '\u{2588}'), "{}", lines[0]);
    // Each row of characters is two rows of modules, so the code is about twice as wide
    // as it is tall.
    assert!(width > lines.len() * 3 / 2, "{width} x {}", lines.len());
}

#[test]
fn qr_refuses_text_too_long_for_a_code() {
    let huge = "x".repeat(10_000);
    assert!(matches!(qr_for_terminal(&huge), Err(TotpError::Qr(_))));
}
