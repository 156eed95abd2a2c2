//! HTML character references: decimal (`&#43;`) and hexadecimal
//! (`&#x2B;`, `&#X2b;`) for any character, the semicolon optional as
//! browsers read them, at most seven digits; named ones for the ASCII
//! punctuation, the space and a few Latin letters (HTML defines over two
//! thousand; the rest are not decoded), the semicolon required except for
//! the legacy `&amp`, `&lt`, `&gt` and `&quot`.

use super::{Out, View};

const NAMED: &[(&str, char)] = &[
    ("amp", '&'),
    ("lt", '<'),
    ("gt", '>'),
    ("quot", '"'),
    ("apos", '\''),
    ("nbsp", '\u{a0}'),
    ("excl", '!'),
    ("num", '#'),
    ("dollar", '$'),
    ("percnt", '%'),
    ("lpar", '('),
    ("rpar", ')'),
    ("ast", '*'),
    ("plus", '+'),
    ("comma", ','),
    ("period", '.'),
    ("sol", '/'),
    ("colon", ':'),
    ("semi", ';'),
    ("equals", '='),
    ("quest", '?'),
    ("commat", '@'),
    ("lsqb", '['),
    ("lbrack", '['),
    ("bsol", '\\'),
    ("rsqb", ']'),
    ("rbrack", ']'),
    ("Hat", '^'),
    ("lowbar", '_'),
    ("grave", '`'),
    ("lcub", '{'),
    ("lbrace", '{'),
    ("verbar", '|'),
    ("vert", '|'),
    ("rcub", '}'),
    ("rbrace", '}'),
    ("NewLine", '\n'),
    ("Tab", '\t'),
    ("aring", 'å'),
    ("Aring", 'Å'),
    ("auml", 'ä'),
    ("Auml", 'Ä'),
    ("ouml", 'ö'),
    ("Ouml", 'Ö'),
    ("uuml", 'ü'),
    ("Uuml", 'Ü'),
    ("eacute", 'é'),
    ("Eacute", 'É'),
    ("egrave", 'è'),
    ("agrave", 'à'),
    ("ccedil", 'ç'),
    ("ntilde", 'ñ'),
    ("szlig", 'ß'),
    ("oslash", 'ø'),
    ("aelig", 'æ'),
];

const LEGACY: &[(&str, char)] = &[("amp", '&'), ("quot", '"'), ("lt", '<'), ("gt", '>')];

/// The character of the reference at `at` (an `&`) and its length.
fn reference(src: &[u8], at: usize) -> Option<(char, usize)> {
    let rest = &src[at + 1..];
    if let Some(num) = rest.strip_prefix(b"#") {
        let (digits, radix, skip) = match num.first() {
            Some(b'x' | b'X') => (&num[1..], 16, 2),
            _ => (num, 10, 1),
        };
        let n = digits
            .iter()
            .take(8)
            .take_while(|b| char::from(**b).is_digit(radix))
            .count();
        if n == 0 || n > 7 {
            return None;
        }
        let text = std::str::from_utf8(&digits[..n]).ok()?;
        let c = char::from_u32(u32::from_str_radix(text, radix).ok()?)?;
        let semi = usize::from(digits.get(n) == Some(&b';'));
        return Some((c, 1 + skip + n + semi));
    }
    let n = rest
        .iter()
        .take(9)
        .take_while(|b| b.is_ascii_alphabetic())
        .count();
    let name = &rest[..n];
    if rest.get(n) == Some(&b';')
        && let Some(&(_, c)) = NAMED.iter().find(|(k, _)| k.as_bytes() == name)
    {
        return Some((c, 1 + n + 1));
    }
    LEGACY
        .iter()
        .find(|(k, _)| rest.starts_with(k.as_bytes()))
        .map(|&(k, c)| (c, 1 + k.len()))
}

pub(super) fn decode(src: &[u8]) -> Option<View> {
    let mut out = Out::new(src.len());
    let (mut i, mut lit) = (0, 0);
    while let Some(k) = memchr::memchr(b'&', &src[i..]) {
        let at = i + k;
        match reference(src, at) {
            Some((c, len)) => {
                out.literal(src, lit, at);
                out.char(c, at);
                i = at + len;
                lit = i;
            }
            None => i = at + 1,
        }
    }
    out.literal(src, lit, src.len());
    out.finish(src.len())
}
