//! What a detector is (its keywords, its pattern or scanner, an optional
//! check of the match), and the checks: the checksums and fixed structures
//! that some token formats carry, so that a look-alike of the right length
//! is not taken for a token.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A hand-written finder for shapes a regex cannot express: it pushes the
/// spans `(start, end)` to remove.
pub(crate) type Scan = fn(&[u8], &mut Vec<(usize, usize)>);

/// Whether a match (the removed part) really is a token of the format.
pub(crate) type Check = fn(&[u8]) -> bool;

pub(crate) struct Spec {
    pub id: &'static str,
    /// Literals (compared case-insensitively) one of which every match holds.
    pub keywords: &'static [&'static str],
    /// The regex; a capture group, when present, is what is removed.
    pub pattern: &'static str,
    pub check: Option<Check>,
    /// Used instead of `pattern` when present.
    pub scan: Option<Scan>,
}

pub(crate) const fn re(
    id: &'static str,
    keywords: &'static [&'static str],
    pattern: &'static str,
) -> Spec {
    Spec {
        id,
        keywords,
        pattern,
        check: None,
        scan: None,
    }
}

pub(crate) const fn checked(
    id: &'static str,
    keywords: &'static [&'static str],
    pattern: &'static str,
    check: Check,
) -> Spec {
    Spec {
        id,
        keywords,
        pattern,
        check: Some(check),
        scan: None,
    }
}

pub(crate) const fn scanned(
    id: &'static str,
    keywords: &'static [&'static str],
    scan: Scan,
) -> Spec {
    Spec {
        id,
        keywords,
        pattern: "",
        check: None,
        scan: Some(scan),
    }
}

/// CRC-32 (IEEE 802.3, reflected, as zlib computes it).
pub(crate) fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn base62_value(s: &[u8]) -> Option<u64> {
    s.iter().try_fold(0u64, |acc, c| {
        let d = BASE62.iter().position(|x| x == c)? as u64;
        acc.checked_mul(62)?.checked_add(d)
    })
}

/// A `xxx_` token of 30 random base62 characters and 6 more holding the
/// CRC-32 of those 30 in base62 (the format GitHub's and npm's tokens share).
fn base62_crc(body: &[u8]) -> bool {
    body.len() == 36 && base62_value(&body[30..]) == Some(u64::from(crc32(&body[..30])))
}

/// GitHub `gh?_` tokens: 36 characters with the checksum; server-to-server
/// and refresh tokens may be longer (no checksum is documented for those).
pub(crate) fn github_checksum(token: &[u8]) -> bool {
    let body = &token[4..];
    if body.len() == 36 {
        return base62_crc(body);
    }
    body.len() > 36 && (token.starts_with(b"ghs_") || token.starts_with(b"ghr_"))
}

/// npm `npm_` tokens: the same base62 CRC-32 structure.
pub(crate) fn npm_checksum(token: &[u8]) -> bool {
    base62_crc(&token[4..])
}

fn b64url(s: &[u8]) -> Option<Vec<u8>> {
    let s: Vec<u8> = s
        .iter()
        .filter(|&&c| c != b'=')
        .map(|&c| match c {
            b'+' => b'-',
            b'/' => b'_',
            c => c,
        })
        .collect();
    URL_SAFE_NO_PAD.decode(s).ok()
}

/// A Discord bot token's first part is the bot's numeric id in base64.
pub(crate) fn discord_id(token: &[u8]) -> bool {
    let first = token.split(|&c| c == b'.').next().unwrap_or(token);
    b64url(first)
        .is_some_and(|id| (17..=20).contains(&id.len()) && id.iter().all(u8::is_ascii_digit))
}

/// A JWT's first part is a JSON header naming its algorithm.
pub(crate) fn jwt_header(token: &[u8]) -> bool {
    let first = token.split(|&c| c == b'.').next().unwrap_or(token);
    b64url(first).is_some_and(|h| {
        h.first() == Some(&b'{') && h.windows(5).any(|w| w == b"\"alg\"" || w == b"\"typ\"")
    })
}

/// Not a template's reference to a secret kept elsewhere (`${VAR}`,
/// `${{ secrets.X }}`, `{{ .Values.x }}`, `$(cat file)`, `<password>`).
pub(crate) fn not_a_reference(s: &[u8]) -> bool {
    !(s.starts_with(b"${") || s.starts_with(b"{{") || s.starts_with(b"$(") || s.starts_with(b"<"))
}

/// Random-looking: upper- and lower-case letters and digits all occur
/// (base62 secrets of 20+ characters almost always have all three).
pub(crate) fn mixed_case(s: &[u8]) -> bool {
    s.iter().any(u8::is_ascii_uppercase)
        && s.iter().any(u8::is_ascii_lowercase)
        && s.iter().any(u8::is_ascii_digit)
}

/// A value that looks generated rather than written: letters and digits
/// both occur, it is not a path, URL, placeholder or a template reference,
/// and it has enough distinct characters.
pub(crate) fn looks_random(s: &[u8]) -> bool {
    let letters = s.iter().filter(|c| c.is_ascii_alphabetic()).count();
    let digits = s.iter().filter(|c| c.is_ascii_digit()).count();
    let mut seen = [false; 256];
    for &c in s {
        seen[usize::from(c)] = true;
    }
    let distinct = seen.iter().filter(|&&x| x).count();
    let upper = s.iter().filter(|c| c.is_ascii_uppercase()).count();
    let lower = s.iter().filter(|c| c.is_ascii_lowercase()).count();
    // Without digits, only a thorough mix of cases (not camelCase words).
    let mixed = upper * 4 >= s.len() && lower * 4 >= s.len();
    letters > 0
        && (digits > 0 || mixed)
        && distinct >= 10
        && !s.starts_with(b"/")
        && !s.starts_with(b"$")
        && !s.windows(3).any(|w| w == b"://")
        && !s.windows(2).any(|w| w == b"{{" || w == b"${")
        // Identifiers written by people: lower-case words joined by `_`, `-` or `.`.
        && !(s.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"_-.".contains(c))
            && digits * 4 < s.len()
            && s.iter().filter(|c| b"_-.".contains(c)).count() >= 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_is_the_standard_one() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn base62_reads_the_documented_alphabet() {
        assert_eq!(base62_value(b"000010"), Some(62));
        assert_eq!(base62_value(b"00000z"), Some(61));
        assert_eq!(base62_value(b"0000-0"), None);
    }
}
