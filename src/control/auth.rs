//! Publish authentication, opt-in (`--publish-key`/`--publish-iss`, `--publish-token`): what
//! a request to `/publish/`, `/recover` or `/metrics` must carry, as pubcontrol and
//! gripcontrol send it.
//!
//! Owns: reading `Authorization: Bearer …` and deciding whether it is a valid credential,
//! with the time passed in; which paths need one.
//! Must not: write replies or count refusals (`connection.rs` does), or read the clock.
//! Invariants: a static token is compared in constant time; a JWT must be HS256, signed with
//! the key, unexpired (`exp` required) and, when an issuer is configured, carry it as `iss`.
//! pubcontrol sends `Bearer <JWT {iss, exp}>` when given `iss` and `key`, and `Bearer <key>`
//! when given only `key`; the two settings match those two forms.

use crate::config::PublishAuth;
use crate::grip::sig;

/// Why a request was refused; its `Display` goes to the log, never to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum AuthRefusal {
    /// No `Authorization` header.
    #[error("no Authorization header")]
    Missing,
    /// An `Authorization` header of another scheme, or an empty token.
    #[error("Authorization is not a Bearer token")]
    NotBearer,
    /// A Bearer token that is neither the token nor a valid JWT.
    #[error("bad Bearer token: {0}")]
    Invalid(String),
}

impl AuthRefusal {
    /// The `WWW-Authenticate` value for the 401 (RFC 6750 §3).
    pub(super) fn challenge(&self) -> &'static str {
        match self {
            AuthRefusal::Missing => "Bearer realm=\"ringpin\"",
            _ => "Bearer realm=\"ringpin\", error=\"invalid_token\"",
        }
    }
}

/// True when a request to `path` needs a credential under `auth`. `GET /` (Pushpin's
/// liveness reply) stays open so health checks need no secret.
pub(super) fn is_protected(auth: &PublishAuth, path: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path);
    auth.is_required() && path != "/"
}

/// The `access_token` query parameter of a `/status` page or events request (RFC 6750 §2.3):
/// a browser's `EventSource` cannot send an `Authorization` header. Other paths take none,
/// so a publish credential never has to appear in a URL.
pub(super) fn status_query_token(path: &str) -> Option<&str> {
    let (path, query) = path.split_once('?')?;
    if !matches!(
        path,
        "/status" | "/status/" | "/status/events" | "/status/events/"
    ) {
        return None;
    }
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("access_token="))
        .filter(|token| !token.is_empty())
}

/// Checks a request's `Authorization` value against `auth` at `now_unix_secs`.
pub(super) fn check(
    auth: &PublishAuth,
    authorization: Option<&str>,
    now_unix_secs: u64,
) -> Result<(), AuthRefusal> {
    if !auth.is_required() {
        return Ok(());
    }
    let value = authorization.ok_or(AuthRefusal::Missing)?.trim();
    let token = match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => return Err(AuthRefusal::NotBearer),
    };
    if token.is_empty() {
        return Err(AuthRefusal::NotBearer);
    }
    if let Some(expected) = &auth.token {
        if constant_time_eq(token.as_bytes(), expected.as_bytes()) {
            return Ok(());
        }
    }
    let Some(key) = &auth.key else {
        return Err(AuthRefusal::Invalid("not the publish token".to_owned()));
    };
    let claims = sig::verify(token, key, now_unix_secs)
        .map_err(|err| AuthRefusal::Invalid(err.to_string()))?;
    match &auth.iss {
        Some(iss) if claims.iss.as_deref() != Some(iss.as_str()) => Err(AuthRefusal::Invalid(
            format!("iss {:?} is not {iss:?}", claims.iss.unwrap_or_default()),
        )),
        _ => Ok(()),
    }
}

/// Equal bytes, in time that depends only on the lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn auth(key: Option<&str>, iss: Option<&str>, token: Option<&str>) -> PublishAuth {
        PublishAuth {
            key: key.map(|k| k.as_bytes().to_vec()),
            iss: iss.map(str::to_owned),
            token: token.map(str::to_owned),
        }
    }

    fn bearer(token: &str) -> String {
        format!("Bearer {token}")
    }

    #[test]
    fn without_settings_everything_passes() {
        let open = PublishAuth::default();
        assert_eq!(check(&open, None, NOW), Ok(()));
        assert!(!is_protected(&open, "/publish/"));
    }

    #[test]
    fn a_jwt_must_be_signed_with_the_key_unexpired_and_from_the_issuer() {
        let a = auth(Some("secret"), Some("backend"), None);
        let good = sig::sign(b"secret", "backend", NOW);
        assert_eq!(check(&a, Some(&bearer(&good)), NOW), Ok(()));
        assert_eq!(check(&a, Some(&format!("bearer  {good} ")), NOW), Ok(()));
        let wrong_key = sig::sign(b"other", "backend", NOW);
        assert!(matches!(
            check(&a, Some(&bearer(&wrong_key)), NOW),
            Err(AuthRefusal::Invalid(_))
        ));
        let wrong_iss = sig::sign(b"secret", "someone", NOW);
        assert!(matches!(
            check(&a, Some(&bearer(&wrong_iss)), NOW),
            Err(AuthRefusal::Invalid(_))
        ));
        // sign() makes tokens valid for an hour.
        let later = NOW + 3600;
        assert!(matches!(
            check(&a, Some(&bearer(&good)), later),
            Err(AuthRefusal::Invalid(_))
        ));
        let any_iss = auth(Some("secret"), None, None);
        assert_eq!(check(&any_iss, Some(&bearer(&wrong_iss)), NOW), Ok(()));
    }

    #[test]
    fn a_static_token_is_compared_whole() {
        let a = auth(None, None, Some("tok-123"));
        assert_eq!(check(&a, Some("Bearer tok-123"), NOW), Ok(()));
        for bad in ["Bearer tok-12", "Bearer tok-1234", "Bearer TOK-123"] {
            assert!(
                matches!(check(&a, Some(bad), NOW), Err(AuthRefusal::Invalid(_))),
                "{bad}"
            );
        }
        // A JWT is no use when only a token is configured.
        let jwt = sig::sign(b"tok-123", "x", NOW);
        assert!(check(&a, Some(&bearer(&jwt)), NOW).is_err());
        // Both configured: either form passes.
        let both = auth(Some("k"), None, Some("tok-123"));
        assert_eq!(check(&both, Some("Bearer tok-123"), NOW), Ok(()));
        let jwt = sig::sign(b"k", "x", NOW);
        assert_eq!(check(&both, Some(&bearer(&jwt)), NOW), Ok(()));
    }

    #[test]
    fn missing_or_other_schemes_are_refused_with_their_challenge() {
        let a = auth(None, None, Some("t"));
        assert_eq!(check(&a, None, NOW), Err(AuthRefusal::Missing));
        assert_eq!(AuthRefusal::Missing.challenge(), "Bearer realm=\"ringpin\"");
        for bad in ["Basic dTpw", "Bearer", "Bearer   ", "t", ""] {
            assert_eq!(
                check(&a, Some(bad), NOW),
                Err(AuthRefusal::NotBearer),
                "{bad:?}"
            );
        }
        assert!(AuthRefusal::NotBearer.challenge().contains("invalid_token"));
    }

    #[test]
    fn only_status_requests_may_carry_the_token_in_their_query() {
        assert_eq!(status_query_token("/status?access_token=abc"), Some("abc"));
        assert_eq!(
            status_query_token("/status/events?x=1&access_token=j.w.t"),
            Some("j.w.t")
        );
        for path in [
            "/publish/?access_token=abc",
            "/status",
            "/status?access_token=",
            "/metrics?access_token=a",
        ] {
            assert_eq!(status_query_token(path), None, "{path}");
        }
    }

    #[test]
    fn every_path_but_the_root_is_protected() {
        let a = auth(None, None, Some("t"));
        for path in [
            "/publish",
            "/publish/",
            "/recover",
            "/metrics",
            "/nope",
            "/?x",
        ] {
            assert_eq!(is_protected(&a, path), path != "/?x", "{path}");
        }
        assert!(!is_protected(&a, "/"));
    }
}
