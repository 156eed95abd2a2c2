//! The documented token formats, one generator each: what a real token of
//! the format looks like (prefix, alphabet, lengths, checksum, structure),
//! and which part of it must not survive redaction. Formats with no
//! structure of their own carry the variable name their vendor documents.

use super::make::Format;
use super::{platforms, services};

pub(crate) fn formats() -> Vec<Format> {
    let mut all = platforms::list();
    all.extend(services::list());
    all
}
