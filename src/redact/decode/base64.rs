//! Base64 blobs, decoded: standard and URL-safe alphabets (in any mix),
//! padded or not, wrapped in lines (MIME's 76 columns, PEM's 64, CRLF or
//! LF, indented or not). A blob is decoded from its first character, so a
//! value at any byte alignment inside it comes out whole.
//!
//! A blob is a run of at least `min` alphabet characters (line breaks
//! aside) holding one that is not a hex digit or `-` (hex digests and
//! UUIDs are not decoded). The view holds only the decoded blobs, one after
//! another with a NUL between them; each group of four characters maps to
//! the three bytes it stands for.

use super::{Out, View};

const NO: u8 = 0xFF;

/// Each byte's value in either alphabet, or [`NO`].
static VALUE: [u8; 256] = {
    let mut t = [NO; 256];
    let mut i = 0;
    while i < 26 {
        t[b'A' as usize + i] = i as u8;
        t[b'a' as usize + i] = 26 + i as u8;
        i += 1;
    }
    let mut d = 0;
    while d < 10 {
        t[b'0' as usize + d] = 52 + d as u8;
        d += 1;
    }
    t[b'+' as usize] = 62;
    t[b'-' as usize] = 62;
    t[b'/' as usize] = 63;
    t[b'_' as usize] = 63;
    t
};

fn is_b64(b: u8) -> bool {
    VALUE[usize::from(b)] != NO
}

/// Where the run of alphabet characters that ends at `end` starts.
fn run_back(src: &[u8], mut end: usize) -> usize {
    while end > 0 && is_b64(src[end - 1]) {
        end -= 1;
    }
    end
}

/// Skip spaces and tabs back from `at`.
fn indent_back(src: &[u8], mut at: usize) -> usize {
    while at > 0 && matches!(src[at - 1], b' ' | b'\t') {
        at -= 1;
    }
    at
}

/// The start of the blob holding `src[at]`: back over whole lines of the
/// alphabet, across line breaks and indentation, each at least as long as
/// the one after it (a wrapped blob's lines are all as long but the last).
fn blob_start(src: &[u8], at: usize) -> usize {
    let mut start = run_back(src, at);
    let mut end = at;
    while end < src.len() && is_b64(src[end]) {
        end += 1;
    }
    let mut len = end - start;
    loop {
        // This line's run must start the line (after its indentation)…
        let line = indent_back(src, start);
        if line == 0 || src[line - 1] != b'\n' {
            return start;
        }
        let mut prev_end = line - 1;
        if prev_end > 0 && src[prev_end - 1] == b'\r' {
            prev_end -= 1;
        }
        // …and the line before must be the alphabet alone.
        let prev = run_back(src, prev_end);
        let prev_line = indent_back(src, prev);
        if prev_end - prev < len.max(1) || (prev_line > 0 && src[prev_line - 1] != b'\n') {
            return start;
        }
        len = prev_end - prev;
        start = prev;
    }
}

/// The end of the blob holding `src[at]`: forward across line breaks and
/// indentation while the next line starts with the alphabet; padding is
/// taken in.
fn blob_end(src: &[u8], mut at: usize) -> usize {
    loop {
        while at < src.len() && is_b64(src[at]) {
            at += 1;
        }
        let mut next = at;
        if src.get(next) == Some(&b'\r') {
            next += 1;
        }
        if src.get(next) != Some(&b'\n') {
            break;
        }
        next += 1;
        while matches!(src.get(next), Some(b' ' | b'\t')) {
            next += 1;
        }
        match src.get(next) {
            Some(&b) if is_b64(b) => at = next,
            // Padding wrapped onto a line of its own.
            Some(b'=') => {
                at = next;
                break;
            }
            _ => break,
        }
    }
    while at < src.len() && src[at] == b'=' {
        at += 1;
    }
    at
}

/// Whether `src[a..b]` holds at least `min` alphabet characters and one
/// that is not a hex digit or `-`.
fn worth_decoding(src: &[u8], a: usize, b: usize, min: usize) -> bool {
    let run = &src[a..b];
    run.iter().filter(|&&c| is_b64(c)).count() >= min
        && run
            .iter()
            .any(|&c| is_b64(c) && !c.is_ascii_hexdigit() && c != b'-')
}

/// Whether `b` is in either alphabet, without a branch (so that a loop of
/// it over a block is vectorized).
fn in_alphabet(b: u8) -> bool {
    let letter = (b | 0x20).wrapping_sub(b'a') < 26;
    let digit = b.wrapping_sub(b'0') < 10;
    letter | digit | (b == b'+') | (b == b'/') | (b == b'-') | (b == b'_')
}

/// The blocks looked at: `N` bytes at each multiple of `S`, which every run
/// of `S + N - 1` characters covers — as long as the shortest blob worth
/// decoding, and never longer than 63, so that PEM's 64-column and MIME's
/// 76-column lines are always seen.
fn blocks(min: usize) -> (usize, usize) {
    match min {
        63.. => (16, 48),
        47..=62 => (16, 32),
        31..=46 => (16, 16),
        15..=30 => (8, 8),
        _ => (4, 4),
    }
}

/// Whether `b` is an alphabet character that is not a hex digit or `-`.
fn past_hex(b: u8) -> bool {
    let letter = (b | 0x20).wrapping_sub(b'g') < 20;
    letter | (b == b'+') | (b == b'/') | (b == b'_')
}

/// The first block of `N` bytes at a multiple of `stride`, at or after
/// `from`, that is all alphabet and not all hex digits (a block of a
/// digest or a UUID starts no closer look; a real blob has other blocks).
fn first_block_of<const N: usize>(src: &[u8], from: usize, stride: usize) -> Option<usize> {
    let mut i = from.next_multiple_of(stride);
    while i + N <= src.len() {
        let block: &[u8; N] = src[i..i + N].try_into().ok()?;
        let (all, past) = block.iter().fold((true, false), |(all, past), &b| {
            (all & in_alphabet(b), past | past_hex(b))
        });
        if all & past {
            return Some(i);
        }
        i += stride;
    }
    None
}

/// The first block at or after `from` (as [`blocks`] places them for
/// `min`) that is all alphabet.
fn first_block(src: &[u8], from: usize, min: usize) -> Option<usize> {
    match blocks(min) {
        (16, stride) => first_block_of::<16>(src, from, stride),
        (8, stride) => first_block_of::<8>(src, from, stride),
        (_, stride) => first_block_of::<4>(src, from, stride),
    }
}

/// The next blob at or after `from`.
fn next_blob(src: &[u8], from: usize, min: usize) -> Option<(usize, usize)> {
    let (step, _) = blocks(min);
    let mut at = from;
    while let Some(i) = first_block(src, at, min) {
        let (a, b) = (blob_start(src, i).max(from), blob_end(src, i + step));
        if worth_decoding(src, a, b, min) {
            return Some((a, b));
        }
        at = b.max(i + step);
    }
    None
}

/// Decode the blob `src[a..b]` into `out`: contiguous groups of four as
/// one piece, a group across a line break as one escape, a last group of
/// two or three characters as one escape.
fn blob(src: &[u8], a: usize, b: usize, out: &mut Out) {
    let (mut vals, mut pos, mut n) = ([0u8; 4], [0usize; 4], 0);
    let mut expect = usize::MAX;
    for (k, &c) in src.iter().enumerate().take(b).skip(a) {
        let v = VALUE[usize::from(c)];
        if v == NO {
            continue;
        }
        vals[n] = v;
        pos[n] = k;
        n += 1;
        if n < 4 {
            continue;
        }
        n = 0;
        let bytes = [
            vals[0] << 2 | vals[1] >> 4,
            vals[1] << 4 | vals[2] >> 2,
            vals[2] << 6 | vals[3],
        ];
        let contiguous = pos[3] == pos[0] + 3;
        if contiguous && pos[0] == expect {
            out.more(&bytes);
        } else if contiguous {
            out.units(&bytes, pos[0], 4, 3);
        } else {
            out.decoded(&bytes, pos[0]);
        }
        expect = if contiguous { pos[3] + 1 } else { usize::MAX };
    }
    if n >= 2 {
        let bytes = [vals[0] << 2 | vals[1] >> 4, vals[1] << 4 | vals[2] >> 2];
        out.decoded(&bytes[..n - 1], pos[0]);
    }
}

/// Whether decoded bytes look like text (worth decoding further): almost no
/// control bytes in their first 256, as random binary data has one in eight.
fn text_like(bytes: &[u8]) -> bool {
    let bytes = &bytes[..bytes.len().min(256)];
    let control = bytes
        .iter()
        .filter(|&&b| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || b == 0x7F)
        .count();
    control * 64 <= bytes.len()
}

/// The decoded blobs of `src` with at least `min` characters, and whether
/// any of them reads as text.
pub(super) fn decode(src: &[u8], min: usize) -> Option<(View, bool)> {
    let mut out = Out::new(0);
    let mut text = false;
    let mut at = 0;
    while let Some((a, b)) = next_blob(src, at, min) {
        let before = out.text.len();
        blob(src, a, b, &mut out);
        text |= text_like(&out.text[before..]);
        // A separator, so no match joins two blobs.
        out.decoded(&[0], b);
        at = b;
    }
    out.finish(src.len()).map(|v| (v, text))
}
