//! Decoding what is scanned: percent-escapes, JSON string escapes and HTML
//! character references are decoded into *views* of the text, each with a
//! map from its bytes back to the bytes of the text they were decoded from,
//! so that a known value found in a view is replaced where it stands in the
//! original. Views are built only when the text holds a byte that starts an
//! escape (`%`, `\`, `&`, and `+` when a known value holds a space), so text
//! without one costs a single scan. Each decoder also runs over each view,
//! up to [`DEPTH`] decodings deep (JSON-escaped inside HTML, percent-encoding
//! of percent-encoding).

mod html;
mod json;
mod percent;
#[cfg(test)]
mod tests;

/// How many decodings may stand one over another.
pub(crate) const DEPTH: usize = 2;

/// The most bytes of the scanned text one byte of a view can stand for:
/// ten per decoding (`&#x10FFFF;`, `&lowbar;`), [`DEPTH`] decodings deep.
pub(crate) const MAX_EXPANSION: usize = 100;

/// A piece of a view: where it starts in the view and in the scanned text,
/// and whether it is a literal run (its bytes map one to one) or the bytes
/// one escape stands for.
#[derive(Clone, Copy)]
struct Piece {
    view: usize,
    src: usize,
    literal: bool,
}

/// A decoded text and its offset map: the pieces it is made of, in order
/// (literal runs and decoded escapes, which cover the scanned text).
pub(crate) struct View {
    pub(crate) text: Vec<u8>,
    pieces: Vec<Piece>,
    /// The scanned text's length.
    len: usize,
}

impl View {
    /// The piece `text[p]` belongs to.
    fn piece(&self, p: usize) -> usize {
        self.pieces.partition_point(|x| x.view <= p) - 1
    }

    /// Where, in the scanned text, the piece after `i` starts.
    fn next_src(&self, i: usize) -> usize {
        self.pieces.get(i + 1).map_or(self.len, |x| x.src)
    }

    /// The span of the scanned text that `text[a..b]` was decoded from
    /// (whole escapes: it never starts or ends inside one). `a < b`.
    pub(crate) fn source(&self, a: usize, b: usize) -> (usize, usize) {
        let first = self.pieces[self.piece(a)];
        let start = if first.literal {
            first.src + (a - first.view)
        } else {
            first.src
        };
        let i = self.piece(b - 1);
        let last = self.pieces[i];
        let end = if last.literal {
            last.src + (b - last.view)
        } else {
            self.next_src(i)
        };
        (start, end)
    }
}

/// A view under construction.
struct Out {
    text: Vec<u8>,
    pieces: Vec<Piece>,
    decoded: bool,
}

impl Out {
    fn new(len: usize) -> Out {
        Out {
            text: Vec::with_capacity(len),
            pieces: Vec::new(),
            decoded: false,
        }
    }

    /// `src[from..to]`, copied as it is.
    fn literal(&mut self, src: &[u8], from: usize, to: usize) {
        if from < to {
            self.pieces.push(Piece {
                view: self.text.len(),
                src: from,
                literal: true,
            });
            self.text.extend_from_slice(&src[from..to]);
        }
    }

    /// The bytes an escape starting at `at` stands for.
    fn decoded(&mut self, bytes: &[u8], at: usize) {
        self.pieces.push(Piece {
            view: self.text.len(),
            src: at,
            literal: false,
        });
        self.text.extend_from_slice(bytes);
        self.decoded = true;
    }

    fn char(&mut self, c: char, at: usize) {
        let mut buf = [0u8; 4];
        self.decoded(c.encode_utf8(&mut buf).as_bytes(), at);
    }

    /// The view, or `None` if nothing was decoded.
    fn finish(self, len: usize) -> Option<View> {
        if !self.decoded {
            return None;
        }
        Some(View {
            text: self.text,
            pieces: self.pieces,
            len,
        })
    }
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Whether `text` holds a byte that may start an escape.
pub(crate) fn may_be_encoded(text: &[u8], plus: bool) -> bool {
    memchr::memchr3(b'%', b'\\', b'&', text).is_some()
        || (plus && memchr::memchr(b'+', text).is_some())
}

/// Every single decoding of `text` that changes it.
fn decodings(text: &[u8], plus: bool, out: &mut Vec<View>) {
    let pct = memchr::memchr(b'%', text).is_some();
    if pct {
        out.extend(percent::decode(text, false));
    }
    if plus && (pct || memchr::memchr(b'+', text).is_some()) {
        out.extend(percent::decode(text, true));
    }
    if memchr::memchr(b'\\', text).is_some() {
        out.extend(json::decode(text));
    }
    if memchr::memchr(b'&', text).is_some() {
        out.extend(html::decode(text));
    }
}

/// The views of a text: each decoding of it, then each decoding of those,
/// to [`DEPTH`]; each remembers the view it was decoded from.
pub(crate) struct Views {
    list: Vec<(View, Option<usize>)>,
}

impl Views {
    /// The views of `text`; `plus`: also read `+` as a space.
    pub(crate) fn of(text: &[u8], plus: bool) -> Views {
        let mut list: Vec<(View, Option<usize>)> = Vec::new();
        if !may_be_encoded(text, plus) {
            return Views { list };
        }
        let mut found = Vec::new();
        decodings(text, plus, &mut found);
        list.extend(found.drain(..).map(|v| (v, None)));
        let mut level = 0..list.len();
        for _ in 1..DEPTH {
            let next = list.len();
            for parent in level.clone() {
                let t = &list[parent].0.text;
                if may_be_encoded(t, plus) {
                    decodings(t, plus, &mut found);
                    list.extend(found.drain(..).map(|v| (v, Some(parent))));
                }
            }
            level = next..list.len();
        }
        Views { list }
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Each view's text, by index.
    pub(crate) fn texts(&self) -> impl Iterator<Item = (usize, &[u8])> {
        self.list
            .iter()
            .enumerate()
            .map(|(i, (v, _))| (i, v.text.as_slice()))
    }

    /// The span of the scanned text that `view`'s `a..b` was decoded from.
    pub(crate) fn source(&self, view: usize, a: usize, b: usize) -> (usize, usize) {
        let (v, parent) = &self.list[view];
        let (a, b) = v.source(a, b);
        match parent {
            Some(p) => self.source(*p, a, b),
            None => (a, b),
        }
    }
}
