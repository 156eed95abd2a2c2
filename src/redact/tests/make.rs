//! Random samples of each documented token format, built from the format's
//! description (prefix, alphabet, lengths, checksum, inner structure) and
//! never from the detectors' patterns, for the vectors and the corpus.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::Rng;

pub(crate) const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
pub(crate) const HEX: &[u8] = b"0123456789abcdef";
pub(crate) const UPPER_ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
pub(crate) const LOWER_ALNUM: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
pub(crate) const LETTERS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
pub(crate) const B64URL: &[u8] =
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_";
pub(crate) const DIGITS: &[u8] = b"0123456789";
/// RFC 4648 base32 (AWS key ids).
pub(crate) const BASE32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/// Bech32's data alphabet, upper-case (age keys).
pub(crate) const BECH32: &[u8] = b"QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L";

pub(crate) fn pick(alphabet: &[u8], n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
        .collect()
}

pub(crate) fn alnum(n: usize) -> String {
    pick(ALNUM, n)
}

pub(crate) fn hex(n: usize) -> String {
    pick(HEX, n)
}

pub(crate) fn between(lo: usize, hi: usize) -> usize {
    rand::rng().random_range(lo..=hi)
}

pub(crate) fn bytes(n: usize) -> Vec<u8> {
    let mut rng = rand::rng();
    (0..n).map(|_| rng.random()).collect()
}

pub(crate) fn b64(n_bytes: usize) -> String {
    STANDARD.encode(bytes(n_bytes))
}

pub(crate) fn b64url_of(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

pub(crate) fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The standard CRC-32 (IEEE, reflected), written here apart from the
/// detectors' own.
fn crc32(data: &[u8]) -> u32 {
    let table: Vec<u32> = (0..256u32)
        .map(|n| {
            (0..8).fold(n, |c, _| {
                if c & 1 == 1 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                }
            })
        })
        .collect();
    !data.iter().fold(!0u32, |c, &b| {
        table[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8)
    })
}

fn base62(mut v: u64, width: usize) -> String {
    let mut out = vec![b'0'; width];
    for slot in out.iter_mut().rev() {
        *slot = ALNUM[(v % 62) as usize];
        v /= 62;
    }
    String::from_utf8(out).expect("ASCII")
}

/// `prefix` + 30 random base62 + their CRC-32 in 6 base62 characters.
pub(crate) fn crc_token(prefix: &str) -> String {
    let body = alnum(30);
    let sum = base62(u64::from(crc32(body.as_bytes())), 6);
    format!("{prefix}{body}{sum}")
}

/// The same with the checksum off by one.
pub(crate) fn bad_crc_token(prefix: &str) -> String {
    let body = alnum(30);
    let sum = base62(u64::from(crc32(body.as_bytes())) ^ 1, 6);
    format!("{prefix}{body}{sum}")
}

/// A JWT: a JSON header naming its algorithm, a JSON payload, a signature.
pub(crate) fn jwt() -> String {
    let alg = ["HS256", "RS256", "ES256", "EdDSA"][between(0, 3)];
    let header = format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#);
    let payload = format!(
        r#"{{"sub":"{}","iat":{},"exp":{},"scope":"read write"}}"#,
        uuid(),
        between(1_600_000_000, 1_700_000_000),
        between(1_700_000_000, 1_800_000_000)
    );
    format!(
        "{}.{}.{}",
        b64url_of(header.as_bytes()),
        b64url_of(payload.as_bytes()),
        b64url_of(&bytes(32))
    )
}

/// A Discord bot token: the bot's id (17–19 digits) in base64, a
/// timestamp part of 6, an HMAC part of 38.
pub(crate) fn discord_bot_token() -> String {
    let id = format!("{}{}", between(1, 9), pick(DIGITS, between(16, 18)));
    format!(
        "{}.{}.{}",
        b64url_of(id.as_bytes()),
        pick(B64URL, 6),
        pick(B64URL, 38)
    )
}

/// A PEM block of `label` with `lines` lines of 64 base64 characters.
pub(crate) fn pem(label: &str, headers: &str, lines: usize) -> String {
    let body: Vec<String> = (0..lines).map(|_| b64(48)).collect();
    format!(
        "-----BEGIN {label}-----\n{headers}{}\n-----END {label}-----",
        body.join("\n")
    )
}

/// A Kubernetes Secret manifest in YAML and the values it holds.
pub(crate) fn kube_yaml() -> (String, Vec<String>) {
    let values: Vec<String> = (0..between(1, 3)).map(|_| b64(between(12, 40))).collect();
    let data: String = values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("  key{i}.txt: {v}\n"))
        .collect();
    (
        format!(
            "apiVersion: v1\ndata:\n{data}kind: Secret\nmetadata:\n  name: app-{}\n  namespace: default\ntype: Opaque\n",
            pick(LOWER_ALNUM, 5)
        ),
        values,
    )
}

/// The same Secret as `kubectl get -o json` writes it.
pub(crate) fn kube_json() -> (String, Vec<String>) {
    let values: Vec<String> = (0..between(1, 3)).map(|_| b64(between(12, 40))).collect();
    let data: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("\"key{i}\": \"{v}\""))
        .collect();
    (
        format!(
            "{{\n  \"apiVersion\": \"v1\",\n  \"data\": {{{}}},\n  \"kind\": \"Secret\",\n  \"metadata\": {{\"name\": \"app\"}},\n  \"type\": \"Opaque\"\n}}",
            data.join(", ")
        ),
        values,
    )
}

pub(crate) struct Sample {
    pub text: String,
    /// What must be gone from the redacted text.
    pub secrets: Vec<String>,
}

pub(crate) struct Format {
    pub name: &'static str,
    pub detector: &'static str,
    /// The documented variable the value sits under, for formats that have
    /// no structure of their own.
    pub var: Option<&'static str>,
    pub make: fn() -> Sample,
}

pub(crate) fn whole(token: String) -> Sample {
    Sample {
        secrets: vec![token.clone()],
        text: token,
    }
}

pub(crate) fn part(text: String, secret: String) -> Sample {
    Sample {
        text,
        secrets: vec![secret],
    }
}

pub(crate) const fn f(name: &'static str, detector: &'static str, make: fn() -> Sample) -> Format {
    Format {
        name,
        detector,
        var: None,
        make,
    }
}

pub(crate) const fn named(
    name: &'static str,
    detector: &'static str,
    var: &'static str,
    make: fn() -> Sample,
) -> Format {
    Format {
        name,
        detector,
        var: Some(var),
        make,
    }
}

pub(crate) fn url_password(scheme: &str, user: &str, port: u16) -> Sample {
    let pw = pick(B64URL, between(12, 32));
    part(
        format!("{scheme}://{user}:{pw}@db-{}.internal:{port}/app", hex(4)),
        pw,
    )
}
