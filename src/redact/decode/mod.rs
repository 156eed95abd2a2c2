//! Decoding what is scanned: percent-escapes, JSON string escapes, HTML
//! character references, quoted-printable and base64 are decoded into
//! *views* of the text, each with a map from its bytes back to the bytes
//! of the text they were decoded from, so that a known value found in a
//! view is replaced where it stands in the original. Views are built only
//! when the text holds what starts an escape (`%`, `\`, `&`, `=` before
//! two hex digits or a line break, `+` when a known value holds a space, a
//! base64 blob long enough to hold a value), so text without one costs a
//! few scans. Each decoder also runs over each view, up to [`DEPTH`]
//! decodings deep (JSON-escaped inside HTML, base64 of percent-encoded).
//! UTF-16 and UTF-32 bodies are decoded before all of these (`wide`).

mod base64;
mod html;
mod json;
mod percent;
mod qp;
#[cfg(test)]
mod tests;
mod wide;

pub(crate) use wide::Wide;

/// How many decodings may stand one over another.
pub(crate) const DEPTH: usize = 2;

/// The most bytes of the scanned text one byte of a view can stand for:
/// ten per decoding (`&#x10FFFF;`, `&lowbar;`), [`DEPTH`] decodings deep
/// (line breaks and soft breaks, which stand for nothing, aside).
pub(crate) const MAX_EXPANSION: usize = 100;

/// How a piece of a view maps to the scanned text.
#[derive(Clone, Copy)]
enum Map {
    /// The bytes one escape stands for: all of them map to the whole escape.
    Escape,
    /// Groups of `view` bytes, each decoded from `src` bytes in turn (a
    /// literal run is 1 for 1; base64 3 for 4; ASCII in UTF-16 1 for 2).
    Units { src: u8, view: u8 },
}

const LITERAL: Map = Map::Units { src: 1, view: 1 };

/// A piece of a view: where it starts in the view and in the scanned text,
/// and how its bytes map there.
#[derive(Clone, Copy)]
struct Piece {
    view: usize,
    src: usize,
    map: Map,
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
        let start = match first.map {
            Map::Units { src, view } => {
                first.src + (a - first.view) / usize::from(view) * usize::from(src)
            }
            Map::Escape => first.src,
        };
        let i = self.piece(b - 1);
        let last = self.pieces[i];
        let end = match last.map {
            Map::Units { src, view } => (last.src
                + ((b - 1 - last.view) / usize::from(view) + 1) * usize::from(src))
            .min(self.next_src(i)),
            Map::Escape => self.next_src(i),
        };
        (start, end)
    }

    /// Which escapes' first bytes ([`Decoder::bit`]) some decoded piece
    /// holds or follows within [`REACH`] bytes: only a decoder whose escapes
    /// start with one of them can read this view differently from the text
    /// it was decoded from.
    fn decoded_near(&self) -> u8 {
        let mut found = 0;
        for (i, p) in self.pieces.iter().enumerate() {
            if let Map::Escape = p.map {
                let end = self.pieces.get(i + 1).map_or(self.text.len(), |x| x.view);
                for &b in &self.text[p.view.saturating_sub(REACH)..end] {
                    found |= starter(b);
                }
            }
        }
        found
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
                map: LITERAL,
            });
            self.text.extend_from_slice(&src[from..to]);
        }
    }

    /// The bytes an escape starting at `at` stands for.
    fn decoded(&mut self, bytes: &[u8], at: usize) {
        self.pieces.push(Piece {
            view: self.text.len(),
            src: at,
            map: Map::Escape,
        });
        self.text.extend_from_slice(bytes);
        self.decoded = true;
    }

    /// The first group of a run of groups starting at `at`: every
    /// `view` bytes from here on decoded from the next `src` bytes.
    fn units(&mut self, bytes: &[u8], at: usize, src: u8, view: u8) {
        self.pieces.push(Piece {
            view: self.text.len(),
            src: at,
            map: Map::Units { src, view },
        });
        self.text.extend_from_slice(bytes);
        self.decoded = true;
    }

    /// The next group of the current run of groups.
    fn more(&mut self, bytes: &[u8]) {
        self.text.extend_from_slice(bytes);
    }

    /// An escape at `at` that stands for nothing (a soft line break): a
    /// piece of no bytes, so what stands on either side is known not to
    /// have been side by side.
    fn skipped(&mut self, at: usize) {
        self.pieces.push(Piece {
            view: self.text.len(),
            src: at,
            map: Map::Escape,
        });
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

/// What a scan decodes: `+` as a space (when a known value holds one),
/// and base64 blobs of at least `min_b64` characters (the shortest a
/// known value's base64 can be).
#[derive(Clone, Copy)]
pub(crate) struct Scan {
    pub(crate) plus: bool,
    pub(crate) min_b64: usize,
}

/// The longest escape (`\uD83D\uDE00`, `&#x000002B;`): how far after an
/// escape's first byte a decoded byte may stand in it.
const REACH: usize = 12;

/// The bit of the escapes `b` may start ([`Decoder::bit`]), or 0.
fn starter(b: u8) -> u8 {
    match b {
        b'%' => 1,
        b'+' => 2,
        b'\\' => 4,
        b'&' => 8,
        b'=' => 16,
        _ => 0,
    }
}

/// The decoders.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Decoder {
    Percent,
    Plus,
    Json,
    Html,
    Qp,
    Base64,
}

const ALL: [Decoder; 6] = [
    Decoder::Percent,
    Decoder::Plus,
    Decoder::Json,
    Decoder::Html,
    Decoder::Qp,
    Decoder::Base64,
];

impl Decoder {
    /// The bits ([`starter`]) of the bytes its escapes start with.
    fn bit(self) -> u8 {
        match self {
            Decoder::Percent => 1,
            Decoder::Plus => 1 | 2,
            Decoder::Json => 4,
            Decoder::Html => 8,
            Decoder::Qp => 16,
            Decoder::Base64 => 0,
        }
    }

    /// The view of `text` this decoder gives, if it changes anything, and
    /// whether that view is worth decoding further.
    fn run(self, text: &[u8], scan: Scan) -> Option<(View, bool)> {
        match self {
            Decoder::Percent => memchr::memchr(b'%', text)
                .and_then(|_| percent::decode(text, false))
                .map(|v| (v, true)),
            Decoder::Plus => (scan.plus && memchr::memchr2(b'%', b'+', text).is_some())
                .then(|| percent::decode(text, true))
                .flatten()
                .map(|v| (v, true)),
            Decoder::Json => memchr::memchr(b'\\', text)
                .and_then(|_| json::decode(text))
                .map(|v| (v, true)),
            Decoder::Html => memchr::memchr(b'&', text)
                .and_then(|_| html::decode(text))
                .map(|v| (v, true)),
            Decoder::Qp => qp::present(text)
                .then(|| qp::decode(text))
                .flatten()
                .map(|v| (v, true)),
            Decoder::Base64 => base64::decode(text, scan.min_b64),
        }
    }
}

/// One view, the view it was decoded from, the decoder, and whether it is
/// worth decoding further.
struct Entry {
    view: View,
    parent: Option<usize>,
    by: Decoder,
    nest: bool,
    /// [`View::decoded_near`], for the views decoded further.
    near: u8,
}

/// The views of a text: each decoding of it, then each decoding of those,
/// to [`DEPTH`]; each remembers the view it was decoded from.
pub(crate) struct Views {
    list: Vec<Entry>,
}

impl Views {
    /// The views of `text`.
    pub(crate) fn of(text: &[u8], scan: Scan) -> Views {
        let mut list: Vec<Entry> = Vec::new();
        // One scan rules out the three most common decoders at once.
        let escapes = memchr::memchr3(b'%', b'\\', b'&', text).is_some();
        for d in ALL {
            let ruled_out = matches!(d, Decoder::Percent | Decoder::Json | Decoder::Html);
            if ruled_out && !escapes {
                continue;
            }
            if let Some((view, nest)) = d.run(text, scan) {
                let near = if DEPTH > 1 { view.decoded_near() } else { 0 };
                list.push(Entry {
                    view,
                    parent: None,
                    by: d,
                    nest,
                    near,
                });
            }
        }
        let mut level = 0..list.len();
        for _ in 1..DEPTH {
            let next = list.len();
            for parent in level.clone() {
                if !list[parent].nest {
                    continue;
                }
                for d in ALL {
                    if !Self::worth(&list, parent, d) {
                        continue;
                    }
                    if let Some((view, nest)) = d.run(&list[parent].view.text, scan) {
                        list.push(Entry {
                            view,
                            parent: Some(parent),
                            by: d,
                            nest,
                            near: 0,
                        });
                    }
                }
            }
            level = next..list.len();
        }
        Views { list }
    }

    /// Whether decoding `list[parent]` with `d` can find what no other view
    /// shows: unless a decoded byte of the parent may begin or complete an
    /// escape of `d`, `d`'s view of it is the parent's decoder's view of
    /// `d`'s view of the text — the same bytes in the other order, which is
    /// built when that order depends on it, or else here for one order only.
    fn worth(list: &[Entry], parent: usize, d: Decoder) -> bool {
        let e = &list[parent];
        if e.by == Decoder::Base64 || d == Decoder::Base64 {
            return true;
        }
        if e.near & d.bit() != 0 {
            return true;
        }
        // Independent of the parent: the same view as `e.by` over `d`'s,
        // unless that one depends on `d`'s decoded bytes.
        let sibling = list[..parent]
            .iter()
            .chain(&list[parent + 1..])
            .find(|x| x.parent == e.parent && x.by == d);
        match sibling {
            // `d` did not change the text: `e.by`'s view is all there is.
            None => false,
            Some(s) => s.near & e.by.bit() != 0 || (e.by as u8) < (d as u8),
        }
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
            .map(|(i, e)| (i, e.view.text.as_slice()))
    }

    /// The span of the scanned text that `view`'s `a..b` was decoded from.
    pub(crate) fn source(&self, view: usize, a: usize, b: usize) -> (usize, usize) {
        let e = &self.list[view];
        let (a, b) = e.view.source(a, b);
        match e.parent {
            Some(p) => self.source(p, a, b),
            None => (a, b),
        }
    }
}
