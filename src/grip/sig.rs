//! Grip-Sig: the HS256 JWT that proves to an origin that a request came through ringpin.
//!
//! Owns: reading the `sig_key` setting, signing `{"iss":ISS,"exp":NOW+3600}`, and verifying
//! a token (an upstream proxy's Grip-Sig, or a publisher's Bearer token).
//! Must not: read the clock; `now_unix_secs` is passed in.
//! Invariants: the header is exactly `{"typ":"JWT","alg":"HS256"}` (PUSHPIN.md §1.4, as
//! Pushpin 1.36 sends it); parts are base64url without padding; signatures are compared in
//! constant time; a token without `exp`, or whose `exp` is not after `now`, is refused.

use crate::limits::GRIP_SIG_TOKEN_LIFETIME_SECS;
use base64::alphabet;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// The JOSE header of every token ringpin signs.
const HEADER_JSON: &str = r#"{"typ":"JWT","alg":"HS256"}"#;

/// Standard base64 with or without padding, for `base64:` keys.
const BASE64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
/// base64url that also accepts padded input, for tokens made by other libraries.
const BASE64URL_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

type HmacSha256 = Hmac<Sha256>;

/// Why a key or token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigError {
    /// A `base64:` key whose rest is not base64.
    #[error("sig key after \"base64:\" is not valid base64")]
    KeyBase64,
    /// A `file:` key (a PEM for ES256/RS256 in Pushpin), which ringpin does not support.
    #[error("sig key {key:?} names a file; only plain and base64: keys are supported")]
    KeyFile {
        /// The key setting as written.
        key: String,
    },
    /// Not three base64url parts with JSON objects in the first two.
    #[error("malformed token: {problem}")]
    Malformed {
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A header whose `alg` is not HS256.
    #[error("token algorithm {alg:?} is not HS256")]
    Algorithm {
        /// The `alg` the token names (empty when missing).
        alg: String,
    },
    /// The signature does not match the key.
    #[error("token signature does not match")]
    Signature,
    /// No `exp` claim.
    #[error("token has no exp claim")]
    MissingExp,
    /// `exp` is not after now.
    #[error("token expired at {exp}, now is {now}")]
    Expired {
        /// The token's `exp`.
        exp: u64,
        /// The time it was checked at.
        now: u64,
    },
}

/// The claims ringpin reads from a verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// `iss`, when present and a string.
    pub iss: Option<String>,
    /// `exp` in Unix seconds; `verify` only succeeds when it is present.
    pub exp: Option<u64>,
}

/// Reads a `sig_key` setting: `base64:...` is decoded, anything else is the key's bytes.
pub fn parse_key(text: &str) -> Result<Vec<u8>, SigError> {
    if let Some(encoded) = text.strip_prefix("base64:") {
        return BASE64_LENIENT
            .decode(encoded.trim())
            .map_err(|_| SigError::KeyBase64);
    }
    if text.starts_with("file:") {
        return Err(SigError::KeyFile {
            key: text.to_string(),
        });
    }
    Ok(text.as_bytes().to_vec())
}

/// A Grip-Sig token for `iss`, valid for an hour from `now_unix_secs`.
pub fn sign(key: &[u8], iss: &str, now_unix_secs: u64) -> String {
    // Written by hand to keep Pushpin's claim order, iss then exp.
    let claims = format!(
        r#"{{"iss":{},"exp":{}}}"#,
        Value::String(iss.to_string()),
        now_unix_secs.saturating_add(GRIP_SIG_TOKEN_LIFETIME_SECS),
    );
    let mut token = URL_SAFE_NO_PAD.encode(HEADER_JSON);
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(claims));
    let signature = mac(key, token.as_bytes()).finalize().into_bytes();
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(signature));
    token
}

/// Checks `token` against `key` at `now_unix_secs`: HS256, a matching signature, and an
/// `exp` after now.
pub fn verify(token: &str, key: &[u8], now_unix_secs: u64) -> Result<Claims, SigError> {
    let token = token.trim();
    let parts = token
        .rsplit_once('.')
        .and_then(|(signed, signature)| Some((signed, signed.split_once('.')?, signature)));
    let Some((signed, (header, claims), signature)) = parts else {
        return Err(malformed("not three dot-separated parts"));
    };
    if claims.contains('.') {
        return Err(malformed("not three dot-separated parts"));
    }
    let header = decode_json(header, "header is not base64url JSON")?;
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    if alg != "HS256" {
        return Err(SigError::Algorithm {
            alg: alg.to_string(),
        });
    }
    let signature = BASE64URL_LENIENT
        .decode(signature)
        .map_err(|_| malformed("signature is not base64url"))?;
    mac(key, signed.as_bytes())
        .verify_slice(&signature)
        .map_err(|_| SigError::Signature)?;
    let claims = decode_json(claims, "claims are not base64url JSON")?;
    let found = Claims {
        iss: claims
            .get("iss")
            .and_then(Value::as_str)
            .map(str::to_string),
        exp: claims.get("exp").and_then(Value::as_u64),
    };
    match found.exp {
        None => Err(SigError::MissingExp),
        Some(exp) if exp <= now_unix_secs => Err(SigError::Expired {
            exp,
            now: now_unix_secs,
        }),
        Some(_) => Ok(found),
    }
}

/// An HMAC-SHA256 over `data`.
fn mac(key: &[u8], data: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac
}

/// A base64url part holding a JSON object.
fn decode_json(part: &str, problem: &'static str) -> Result<Value, SigError> {
    let bytes = BASE64URL_LENIENT
        .decode(part)
        .map_err(|_| malformed(problem))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(malformed(problem)),
    }
}

/// A structural error.
fn malformed(problem: &'static str) -> SigError {
    SigError::Malformed { problem }
}

#[cfg(test)]
mod tests;
