//! Checking an ID token (OpenID Connect Core §3.1.3.7): its signature by
//! one of the provider's keys (RS256/384/512, PS256/384/512, ES256/384;
//! never `none` or a shared secret), `iss` the configured issuer, `aud`
//! holding the client (and `azp` the client when it is there or `aud`
//! names several), `exp` not passed, `nbf` (if any) reached and `iat` not
//! before the sign-in began (a minute's leeway each), and the `nonce` of
//! this sign-in.

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use subtle::ConstantTimeEq;

/// Leeway on `exp` and `iat`, for clocks that differ a little.
pub(crate) const LEEWAY_SECS: u64 = 60;

/// What a checked ID token says of the person.
#[derive(Debug)]
pub(crate) struct Person {
    pub sub: String,
    pub email: Option<String>,
    pub email_verified: bool,
}

/// What the token must match.
pub(crate) struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
    /// When this sign-in began (seconds since the epoch).
    pub started_secs: u64,
    pub now_secs: u64,
}

/// Why a token was refused (for the log; the person is told nothing more
/// than that sign-in was refused).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Its header names no key the provider has (fetch the keys again).
    UnknownKey,
    Other(String),
}

fn other(why: impl Into<String>) -> Refused {
    Refused::Other(why.into())
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Aud {
    Many(Vec<String>),
    /// One audience (jsonwebtoken checked it is the client).
    One(serde::de::IgnoredAny),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Verified {
    Bool(bool),
    /// Some providers send `"true"`.
    Text(String),
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    aud: Aud,
    iat: u64,
    azp: Option<String>,
    nonce: Option<String>,
    email: Option<String>,
    email_verified: Option<Verified>,
}

const ALGORITHMS: [Algorithm; 8] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
];

/// Whether `jwk` may check a signature made with `alg`.
fn fits(jwk: &Jwk, alg: Algorithm) -> bool {
    let family = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => matches!(
            alg,
            Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512
        ),
        AlgorithmParameters::EllipticCurve(ec) => matches!(
            (&ec.curve, alg),
            (EllipticCurve::P256, Algorithm::ES256) | (EllipticCurve::P384, Algorithm::ES384)
        ),
        _ => false,
    };
    let usable = !matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption));
    let same_alg = jwk
        .common
        .key_algorithm
        .is_none_or(|a| format!("{a:?}") == format!("{alg:?}"));
    family && usable && same_alg
}

/// The key of `keys` that signed a token with this header.
fn key_for<'k>(keys: &'k JwkSet, kid: Option<&str>, alg: Algorithm) -> Option<&'k Jwk> {
    match kid {
        Some(kid) => keys
            .keys
            .iter()
            .find(|k| k.common.key_id.as_deref() == Some(kid) && fits(k, alg)),
        // Without a kid, only a provider with one such key is understood.
        None => {
            let mut fitting = keys.keys.iter().filter(|k| fits(k, alg));
            let one = fitting.next()?;
            fitting.next().is_none().then_some(one)
        }
    }
}

/// Check `token` against `keys` and `expected`.
pub(crate) fn check(
    token: &str,
    keys: &JwkSet,
    expected: &Expected<'_>,
) -> Result<Person, Refused> {
    let header =
        jsonwebtoken::decode_header(token).map_err(|_| other("the ID token is not a JWS"))?;
    if !ALGORITHMS.contains(&header.alg) {
        return Err(other(format!(
            "the ID token is signed with {:?}, which is not accepted",
            header.alg
        )));
    }
    let jwk = key_for(keys, header.kid.as_deref(), header.alg).ok_or(Refused::UnknownKey)?;
    let key = DecodingKey::from_jwk(jwk).map_err(|_| other("the provider's key is not usable"))?;
    let mut v = Validation::new(header.alg);
    v.leeway = LEEWAY_SECS;
    v.validate_nbf = true;
    v.set_issuer(&[expected.issuer]);
    v.set_audience(&[expected.client_id]);
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let data = jsonwebtoken::decode::<Claims>(token, &key, &v).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind;
        other(match e.kind() {
            ErrorKind::InvalidSignature => "the ID token's signature does not verify".to_owned(),
            ErrorKind::ExpiredSignature => "the ID token has expired".to_owned(),
            ErrorKind::ImmatureSignature => "the ID token is not valid yet".to_owned(),
            ErrorKind::InvalidIssuer => "the ID token is from another issuer".to_owned(),
            ErrorKind::InvalidAudience => "the ID token is for another client".to_owned(),
            ErrorKind::MissingRequiredClaim(c) => format!("the ID token has no {c}"),
            _ => "the ID token is not valid".to_owned(),
        })
    })?;
    let c = data.claims;
    let several = matches!(&c.aud, Aud::Many(a) if a.len() > 1);
    match &c.azp {
        Some(azp) if azp != expected.client_id => {
            return Err(other("the ID token was issued to another party (azp)"));
        }
        None if several => {
            return Err(other("the ID token names several audiences and no azp"));
        }
        _ => {}
    }
    if c.iat > expected.now_secs + LEEWAY_SECS {
        return Err(other("the ID token was issued in the future"));
    }
    if c.iat + LEEWAY_SECS < expected.started_secs {
        return Err(other("the ID token was issued before this sign-in began"));
    }
    let nonce_ok = c
        .nonce
        .as_deref()
        .is_some_and(|n| bool::from(n.as_bytes().ct_eq(expected.nonce.as_bytes())));
    if !nonce_ok {
        return Err(other("the ID token's nonce is not this sign-in's"));
    }
    if c.sub.is_empty() {
        return Err(other("the ID token has an empty sub"));
    }
    let email_verified = match c.email_verified {
        Some(Verified::Bool(b)) => b,
        Some(Verified::Text(t)) => t == "true",
        None => false,
    };
    Ok(Person {
        sub: c.sub,
        email: c.email,
        email_verified,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(json: serde_json::Value) -> JwkSet {
        serde_json::from_value(json).unwrap()
    }

    fn rsa(kid: Option<&str>, extra: serde_json::Value) -> serde_json::Value {
        let mut k = serde_json::json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"});
        if let Some(kid) = kid {
            k["kid"] = kid.into();
        }
        if let (Some(k), serde_json::Value::Object(extra)) = (k.as_object_mut(), extra) {
            k.extend(extra);
        }
        k
    }

    #[test]
    fn a_key_is_chosen_by_kid_and_family_and_never_an_encryption_or_other_alg_key() {
        let set = keys(serde_json::json!({"keys": [
            rsa(Some("a"), serde_json::json!({})),
            rsa(Some("enc"), serde_json::json!({"use": "enc"})),
            rsa(Some("ps"), serde_json::json!({"alg": "PS256"})),
            {"kty": "EC", "crv": "P-256", "x": "AQAB", "y": "AQAB", "kid": "ec"},
        ]}));
        assert!(key_for(&set, Some("a"), Algorithm::RS256).is_some());
        assert!(key_for(&set, Some("a"), Algorithm::ES256).is_none());
        assert!(key_for(&set, Some("enc"), Algorithm::RS256).is_none());
        assert!(key_for(&set, Some("ps"), Algorithm::RS256).is_none());
        assert!(key_for(&set, Some("ps"), Algorithm::PS256).is_some());
        assert!(key_for(&set, Some("ec"), Algorithm::ES256).is_some());
        assert!(key_for(&set, Some("ec"), Algorithm::ES384).is_none());
        assert!(key_for(&set, Some("missing"), Algorithm::RS256).is_none());
        // Without a kid: only when one key fits.
        assert!(key_for(&set, None, Algorithm::ES256).is_some());
        assert!(key_for(&set, None, Algorithm::RS256).is_some());
        let two = keys(serde_json::json!({"keys": [
            rsa(Some("a"), serde_json::json!({})),
            rsa(Some("b"), serde_json::json!({})),
        ]}));
        assert!(key_for(&two, None, Algorithm::RS256).is_none());
    }

    #[test]
    fn an_unsigned_or_shared_secret_token_is_refused_before_any_key_is_looked_up() {
        let expected = Expected {
            issuer: "https://id.example.com",
            client_id: "c",
            nonce: "n",
            started_secs: 0,
            now_secs: 0,
        };
        let set = keys(serde_json::json!({"keys": []}));
        let b64 = |v: serde_json::Value| {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let claims = b64(serde_json::json!({"sub": "s"}));
        for alg in ["HS256", "none"] {
            let token = format!("{}.{claims}.", b64(serde_json::json!({"alg": alg})));
            assert!(
                matches!(check(&token, &set, &expected), Err(Refused::Other(_))),
                "{alg}"
            );
        }
        let token = format!(
            "{}.{claims}.x",
            b64(serde_json::json!({"alg": "RS256", "kid": "k"}))
        );
        assert_eq!(
            check(&token, &set, &expected).err(),
            Some(Refused::UnknownKey)
        );
    }
}
