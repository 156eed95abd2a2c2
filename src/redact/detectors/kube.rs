//! Kubernetes Secret manifests: the values under `data:` and `stringData:`
//! of a document whose `kind` is `Secret`, in YAML (each `---` document on
//! its own) and in JSON (every `"data"` / `"stringData"` object of a text
//! that holds a `"kind": "Secret"`). Keys stay; values go.

/// Spans of the values to remove.
pub(crate) fn scan(text: &[u8], out: &mut Vec<(usize, usize)>) {
    yaml(text, out);
    json(text, out);
}

/// Lines of `text[from..to]` with their offsets; a line ends at a newline
/// or at a JSON-escaped one (`\n`), as in a manifest inside a JSON string.
fn lines(text: &[u8], from: usize, to: usize) -> impl Iterator<Item = (usize, &[u8])> {
    let mut at = from;
    std::iter::from_fn(move || {
        if at >= to {
            return None;
        }
        let mut end = at;
        let mut sep = 1;
        while end < to {
            if text[end] == b'\n' {
                break;
            }
            if text[end] == b'\\' && text.get(end + 1) == Some(&b'n') && end + 1 < to {
                sep = 2;
                break;
            }
            end += 1;
        }
        let line = (at, &text[at..end]);
        at = end + sep;
        Some(line)
    })
}

fn indent(line: &[u8]) -> usize {
    line.iter().take_while(|&&c| c == b' ').count()
}

fn trim_end(line: &[u8]) -> &[u8] {
    let n = line
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    &line[..n]
}

fn is_secret_kind(line: &[u8]) -> bool {
    let t = trim_end(&line[indent(line)..]);
    let Some(v) = t.strip_prefix(b"kind:") else {
        return false;
    };
    let v = v.trim_ascii();
    matches!(v, b"Secret" | b"\"Secret\"" | b"'Secret'")
}

/// YAML: per document, the `data:` / `stringData:` blocks' values.
fn yaml(text: &[u8], out: &mut Vec<(usize, usize)>) {
    let mut starts = vec![0];
    for (at, line) in lines(text, 0, text.len()) {
        if line.starts_with(b"---") {
            starts.push(at + line.len());
        }
    }
    starts.push(text.len());
    for w in starts.windows(2) {
        let (from, to) = (w[0], w[1]);
        if !lines(text, from, to).any(|(_, l)| is_secret_kind(l)) {
            continue;
        }
        let mut block: Option<usize> = None;
        let mut scalar: Option<usize> = None;
        for (at, line) in lines(text, from, to) {
            let body = trim_end(line);
            let ind = indent(body);
            if body.len() == ind {
                continue;
            }
            if let Some(key_ind) = scalar {
                if ind > key_ind {
                    out.push((at + ind, at + body.len()));
                    continue;
                }
                scalar = None;
            }
            let rest = &body[ind..];
            if let Some(b_ind) = block {
                if ind > b_ind {
                    value(text, at + ind, rest, ind, out, &mut scalar);
                    continue;
                }
                block = None;
            }
            if rest == b"data:" || rest == b"stringData:" {
                block = Some(ind);
            }
        }
    }
}

/// One `key: value` line of a data block (`rest` starts at the key).
fn value(
    text: &[u8],
    at: usize,
    rest: &[u8],
    ind: usize,
    out: &mut Vec<(usize, usize)>,
    scalar: &mut Option<usize>,
) {
    let Some(colon) = rest.windows(2).position(|w| w == b": ") else {
        return;
    };
    let v = &rest[colon + 2..];
    let lead = v.iter().take_while(|&&c| c == b' ').count();
    let v = &v[lead..];
    let start = at + colon + 2 + lead;
    if v.starts_with(b"|") || v.starts_with(b">") {
        *scalar = Some(ind);
        return;
    }
    let (s, e) = if v.len() >= 4 && v.starts_with(b"\\\"") && v.ends_with(b"\\\"") {
        (start + 2, start + v.len() - 2)
    } else {
        match v.first() {
            Some(q @ (b'"' | b'\'')) if v.len() >= 2 && v.last() == Some(q) => {
                (start + 1, start + v.len() - 1)
            }
            _ => (start, start + v.len()),
        }
    };
    if e > s && e <= text.len() {
        out.push((s, e));
    }
}

/// Past whitespace, also written as JSON escapes (`\n`, `\t`, `\r`).
fn skip_ws(text: &[u8], mut i: usize) -> usize {
    loop {
        match text.get(i) {
            Some(c) if c.is_ascii_whitespace() => i += 1,
            Some(b'\\') if matches!(text.get(i + 1), Some(b'n' | b't' | b'r')) => i += 2,
            _ => return i,
        }
    }
}

/// The index of the quote `q` closing a JSON string whose content starts
/// at `i` (`q` is `"`, or `\"` for a document inside a JSON string).
fn string_end(text: &[u8], mut i: usize, q: &[u8]) -> Option<usize> {
    while i < text.len() {
        if text[i..].starts_with(q) {
            return Some(i);
        }
        i += if text[i] == b'\\' && q.len() == 1 {
            2
        } else {
            1
        };
    }
    None
}

fn starts(text: &[u8], i: usize, q: &[u8], word: &[u8]) -> Option<usize> {
    let rest = text
        .get(i..)?
        .strip_prefix(q)?
        .strip_prefix(word)?
        .strip_prefix(q)?;
    Some(text.len() - rest.len())
}

/// JSON: every `"data": {…}` and `"stringData": {…}` object's string values,
/// in a document that holds `"kind": "Secret"`.
fn json(text: &[u8], out: &mut Vec<(usize, usize)>) {
    for q in [&b"\""[..], &b"\\\""[..]] {
        json_quoted(text, q, out);
    }
}

fn json_quoted(text: &[u8], q: &[u8], out: &mut Vec<(usize, usize)>) {
    let secret = (0..text.len()).any(|i| {
        starts(text, i, q, b"kind").is_some_and(|j| {
            let j = skip_ws(text, j);
            text.get(j) == Some(&b':') && starts(text, skip_ws(text, j + 1), q, b"Secret").is_some()
        })
    });
    if !secret {
        return;
    }
    let mut i = 0;
    while i < text.len() {
        let Some(after) = starts(text, i, q, b"data").or_else(|| starts(text, i, q, b"stringData"))
        else {
            i += 1;
            continue;
        };
        i = after;
        let mut j = skip_ws(text, after);
        if text.get(j) != Some(&b':') {
            continue;
        }
        j = skip_ws(text, j + 1);
        if text.get(j) != Some(&b'{') {
            continue;
        }
        j += 1;
        // `"k": "v"` pairs up to the closing brace.
        loop {
            j = skip_ws(text, j);
            if !text[j..].starts_with(q) {
                break;
            }
            let Some(k_end) = string_end(text, j + q.len(), q) else {
                return;
            };
            j = skip_ws(text, k_end + q.len());
            if text.get(j) != Some(&b':') {
                break;
            }
            j = skip_ws(text, j + 1);
            if !text[j..].starts_with(q) {
                break;
            }
            let v = j + q.len();
            let Some(v_end) = string_end(text, v, q) else {
                return;
            };
            if v_end > v {
                out.push((v, v_end));
            }
            j = skip_ws(text, v_end + q.len());
            if text.get(j) != Some(&b',') {
                break;
            }
            j += 1;
        }
        i = j.max(i);
    }
}
