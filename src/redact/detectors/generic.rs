//! Shapes that belong to no one vendor: JWTs, private keys (PEM of every
//! type, OpenSSH, PGP, PuTTY), passwords in URLs, `Authorization` values,
//! signatures in signed URLs, `password=` pairs and secrets assigned to a
//! name that says so (`DB_PASSWORD=…`, `api_key: …`).
//!
//! None of these values may contain `"` or end inside an escape, so that
//! removing them from a JSON text leaves it JSON.

use super::spec::{Spec, checked, jwt_header, looks_random, not_a_reference, re};

pub(crate) const SPECS: &[Spec] = &[
    checked(
        "jwt",
        &["eyJ"],
        r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
        jwt_header,
    ),
    // Header, body and footer; without a footer, as far as the body goes.
    re(
        "pem_private_key",
        &["PRIVATE KEY"],
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----(?:[^\x22]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s\\:,.-]*)",
    ),
    re(
        "putty_private_key",
        &["PuTTY-User-Key-File-"],
        r"PuTTY-User-Key-File-[0-9]+:[^\x22]*?Private-MAC:\s*[0-9a-f]{40,64}",
    ),
    // `scheme://user:password@` (the user may be empty); only the password goes.
    re(
        "url_password",
        &["://"],
        r#"\b[a-zA-Z][a-zA-Z0-9+.-]{1,15}://[^/\s:@"\\]{0,128}:([^/\s@"?#\\]{1,256})@"#,
    ),
    re(
        "authorization_header",
        &["authorization"],
        r#"(?i)\bauthorization\\?["']?\s*[:=]\s*\\?["']?(?:(?:bearer|basic|token|digest|negotiate|apikey|bot|sso-key)\s+)?([^\s"',;}{\\]{6,})"#,
    ),
    re(
        "aws_signature",
        &["x-amz-signature"],
        r"(?i)X-Amz-Signature=([0-9a-f]{64})",
    ),
    re(
        "gcs_signature",
        &["x-goog-signature"],
        r"(?i)X-Goog-Signature=([0-9a-f]{64,})",
    ),
    re(
        "sas_signature",
        &["sig="],
        r"(?i)[?&]sig=([A-Za-z0-9%+/=_-]{16,})",
    ),
    checked(
        "password_pair",
        &[
            "password=",
            "passwd=",
            "pwd=",
            "secret=",
            "token=",
            "api_key=",
            "apikey=",
            "client_secret=",
            "access_token=",
            "refresh_token=",
        ],
        r#"(?i)\b(?:password|passwd|pwd|secret|[a-z_]*token|api_?key|client_secret)=([^&\s"'<>;\\]{3,})"#,
        not_a_reference,
    ),
    // `NAME=value`, `name: value`, `"name": "value"` where the name says
    // secret and the value looks generated.
    checked(
        "secret_assignment",
        &[
            "secret",
            "token",
            "api_key",
            "apikey",
            "api-key",
            "password",
            "passwd",
            "private_key",
            "privatekey",
            "access_key",
            "accesskey",
            "credential",
        ],
        r#"(?i)\b[a-z0-9_.-]*(?:secret|token|api_?key|api-key|password|passwd|private_?key|access_?key|credential)[a-z0-9_.-]*\\?["']?\s*[:=]\s*\\?["']?([A-Za-z0-9_~+/.=-]{16,512})"#,
        looks_random,
    ),
];
