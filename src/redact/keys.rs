//! Sensitive keys: a JSON member (or form field) whose name says it holds a
//! secret has its whole value removed, whatever the value looks like.
//! Names are compared lower-cased with `_` and `-` removed, so `API_KEY`,
//! `api-key` and `apiKey` are one name.

use std::sync::LazyLock;

use aho_corasick::AhoCorasick;

const EXACT: &[&str] = &[
    "authorization",
    "proxyauthorization",
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "clientsecret",
    "token",
    "accesstoken",
    "refreshtoken",
    "idtoken",
    "sessiontoken",
    "authtoken",
    "bearertoken",
    "apikey",
    "xapikey",
    "apisecret",
    "apitoken",
    "privatekey",
    "secretkey",
    "secretaccesskey",
    "cookie",
    "setcookie",
    "credentials",
    "clientassertion",
];

const SUFFIXES: &[&str] = &[
    "password",
    "secret",
    "token",
    "apikey",
    "privatekey",
    "passphrase",
];

fn normalize(k: &str) -> String {
    k.chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

pub(crate) fn is_sensitive_key(k: &str) -> bool {
    if k.len() > 64 {
        return false;
    }
    let n = normalize(k);
    EXACT.contains(&n.as_str()) || SUFFIXES.iter().any(|s| n.ends_with(s))
}

static FRAGMENTS: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build([
            "password",
            "passwd",
            "pwd",
            "passphrase",
            "secret",
            "token",
            "authorization",
            "cookie",
            "apikey",
            "api_key",
            "api-key",
            "privatekey",
            "private_key",
            "private-key",
            "credentials",
            "clientassertion",
            "client_assertion",
        ])
        .expect("fragments compile")
});

/// Whether JSON text might contain a sensitive key (a cheap test that lets
/// clean text skip parsing).
pub(crate) fn may_hold_sensitive_keys(text: &[u8]) -> bool {
    FRAGMENTS.is_match(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_any_spelling() {
        for k in [
            "password",
            "Password",
            "PASSWORD",
            "api_key",
            "API-KEY",
            "apiKey",
            "x-api-key",
            "access_token",
            "refreshToken",
            "client_secret",
            "Set-Cookie",
            "cookie",
            "private_key",
            "github_token",
            "db_password",
            "Authorization",
            "secret",
        ] {
            assert!(is_sensitive_key(k), "{k}");
        }
        for k in [
            "name",
            "email",
            "token_type",
            "expires_in",
            "id",
            "status",
            "tokens_used",
            "author",
        ] {
            assert!(!is_sensitive_key(k), "{k}");
        }
    }
}
