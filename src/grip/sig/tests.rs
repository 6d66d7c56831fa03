//! Grip-Sig tests: fixed vectors made with Python's hmac + base64, round trips, tampering,
//! expiry and malformed tokens.

use super::*;

/// `sign(b"changeme", "pushpin", 1_700_000_000)`, computed with Python's stdlib:
/// `hmac.new(b"changeme", h + b"." + c, hashlib.sha256)` over base64url-no-padding parts.
const PUSHPIN_TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.\
eyJpc3MiOiJwdXNocGluIiwiZXhwIjoxNzAwMDAzNjAwfQ.\
peoNzXovaO7IPyWazCP8fxwN-UW2nMVvWdjJusj1PiU";

/// Claims `{"iss":"pub","exp":2000000000,"extra":1}` signed with `secret-key`.
const OTHER_TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.\
eyJpc3MiOiJwdWIiLCJleHAiOjIwMDAwMDAwMDAsImV4dHJhIjoxfQ.\
6NQBQnqWuXoAIvUijCdzANY1tl012QIHpeumz6d9cMU";

fn b64url(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(text)
}

#[test]
fn sign_matches_the_python_vector() {
    assert_eq!(sign(b"changeme", "pushpin", 1_700_000_000), PUSHPIN_TOKEN);
}

#[test]
fn verify_accepts_valid_tokens() {
    let claims = verify(PUSHPIN_TOKEN, b"changeme", 1_700_000_000).expect("valid");
    assert_eq!(
        claims,
        Claims {
            iss: Some("pushpin".to_string()),
            exp: Some(1_700_003_600),
        }
    );
    let key = parse_key("base64:c2VjcmV0LWtleQ==").expect("key");
    let claims = verify(OTHER_TOKEN, &key, 1_999_999_999).expect("valid");
    assert_eq!(claims.iss.as_deref(), Some("pub"));
    let round = sign(b"k", "iss \"quoted\" é", 5);
    let claims = verify(&round, b"k", 5).expect("round trip");
    assert_eq!(claims.iss.as_deref(), Some("iss \"quoted\" é"));
    assert_eq!(claims.exp, Some(3605));
}

#[test]
fn verify_refuses_bad_tokens() {
    let [h, c, s]: [&str; 3] = PUSHPIN_TOKEN
        .split('.')
        .collect::<Vec<_>>()
        .try_into()
        .expect("three parts");
    let none_header = b64url(r#"{"typ":"JWT","alg":"none"}"#);
    let rs_header = b64url(r#"{"alg":"RS256"}"#);
    let other_claims = b64url(r#"{"iss":"evil","exp":1700003600}"#);
    let no_exp = sign_raw(&b64url(r#"{"iss":"x"}"#));
    let array_claims = sign_raw(&b64url("[1]"));
    let cases: Vec<(String, SigError)> = vec![
        (
            format!("{h}.{c}"),
            malformed("not three dot-separated parts"),
        ),
        (
            format!("{h}.{c}.{s}.x"),
            malformed("not three dot-separated parts"),
        ),
        (String::new(), malformed("not three dot-separated parts")),
        (
            format!("!!.{c}.{s}"),
            malformed("header is not base64url JSON"),
        ),
        (
            format!("{}.{c}.{s}", b64url("not json")),
            malformed("header is not base64url JSON"),
        ),
        (
            format!("{none_header}.{c}."),
            SigError::Algorithm { alg: "none".into() },
        ),
        (
            format!("{rs_header}.{c}.{s}"),
            SigError::Algorithm {
                alg: "RS256".into(),
            },
        ),
        (
            format!("{h}.{c}.{s}!"),
            malformed("signature is not base64url"),
        ),
        (format!("{h}.{other_claims}.{s}"), SigError::Signature),
        (format!("{h}.{c}.q{}", &s[1..]), SigError::Signature),
        (format!("{h}.{c}."), SigError::Signature),
        (no_exp, SigError::MissingExp),
        (array_claims, malformed("claims are not base64url JSON")),
    ];
    for (token, want) in cases {
        assert_eq!(
            verify(&token, b"changeme", 1_700_000_000),
            Err(want),
            "{token}"
        );
    }
    assert_eq!(verify(PUSHPIN_TOKEN, b"wrong", 0), Err(SigError::Signature));
}

/// A correctly signed token with `claims` (already base64url) and the standard header.
fn sign_raw(claims: &str) -> String {
    let signed = format!("{}.{claims}", b64url(HEADER_JSON));
    let signature = mac(b"changeme", signed.as_bytes()).finalize().into_bytes();
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
}

#[test]
fn expiry_is_exclusive() {
    let at = |now| verify(PUSHPIN_TOKEN, b"changeme", now);
    assert!(at(1_700_003_599).is_ok());
    assert_eq!(
        at(1_700_003_600),
        Err(SigError::Expired {
            exp: 1_700_003_600,
            now: 1_700_003_600
        })
    );
    assert!(at(u64::MAX).is_err());
}

#[test]
fn padded_tokens_from_other_libraries_verify() {
    let [h, c, s]: [&str; 3] = OTHER_TOKEN
        .split('.')
        .collect::<Vec<_>>()
        .try_into()
        .expect("three parts");
    let key = b"secret-key";
    let padded_sig = format!("{s}=");
    // Only the signature can be padded: the signed text is what the signer hashed.
    let token = format!("{h}.{c}.{padded_sig}");
    assert!(verify(&token, key, 0).is_ok());
    assert!(verify(&format!(" {OTHER_TOKEN}\n"), key, 0).is_ok());
}

#[test]
fn keys_are_plain_or_base64() {
    let cases: [(&str, Result<&[u8], SigError>); 6] = [
        ("changeme", Ok(b"changeme")),
        ("", Ok(b"")),
        ("base64:c2VjcmV0LWtleQ==", Ok(b"secret-key")),
        ("base64:c2VjcmV0LWtleQ", Ok(b"secret-key")),
        ("base64:not base64!", Err(SigError::KeyBase64)),
        (
            "file:/etc/key.pem",
            Err(SigError::KeyFile {
                key: "file:/etc/key.pem".into(),
            }),
        ),
    ];
    for (text, want) in cases {
        assert_eq!(parse_key(text), want.map(<[u8]>::to_vec), "{text}");
    }
}

#[test]
fn errors_read_as_log_lines() {
    assert_eq!(
        SigError::Expired { exp: 1, now: 2 }.to_string(),
        "token expired at 1, now is 2"
    );
    assert_eq!(
        SigError::Algorithm { alg: "none".into() }.to_string(),
        "token algorithm \"none\" is not HS256"
    );
}
