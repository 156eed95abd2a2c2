//! The `data` of a server-sent event stream, event by event: how toolgate
//! streams an answer (progress notifications, then the response).

/// The most a single answer (or event) may hold.
pub(super) const MAX_MESSAGE_BYTES: usize = 16 << 20;

/// A server-sent event stream's `data`, event by event (the `event`, `id`
/// and `retry` fields and comments are not needed here).
#[derive(Debug, Default)]
pub(super) struct Events {
    buf: Vec<u8>,
    data: Option<String>,
}

impl Events {
    /// Feed bytes; the data of every event they complete. `Err` when a line
    /// or an event grows past [`MAX_MESSAGE_BYTES`].
    pub(super) fn push(&mut self, bytes: &[u8]) -> Result<Vec<String>, ()> {
        self.buf.extend_from_slice(bytes);
        let mut done = Vec::new();
        while let Some(end) = self.buf.iter().position(|b| *b == b'\n' || *b == b'\r') {
            // A CR LF pair is one line end; a CR at the very end may be half of one.
            let cr = self.buf[end] == b'\r';
            if cr && end + 1 == self.buf.len() {
                break;
            }
            let skip = if cr && self.buf[end + 1] == b'\n' {
                2
            } else {
                1
            };
            let line: Vec<u8> = self.buf.drain(..end + skip).take(end).collect();
            self.line(&String::from_utf8_lossy(&line), &mut done);
        }
        let pending = self.data.as_ref().map_or(0, String::len);
        if self.buf.len() + pending > MAX_MESSAGE_BYTES {
            return Err(());
        }
        Ok(done)
    }

    /// The end of the stream: a last event without its blank line counts.
    pub(super) fn finish(&mut self) -> Vec<String> {
        let mut done = Vec::new();
        if !self.buf.is_empty() {
            let rest = String::from_utf8_lossy(&std::mem::take(&mut self.buf)).into_owned();
            self.line(rest.trim_end_matches('\r'), &mut done);
        }
        self.line("", &mut done);
        done
    }

    fn line(&mut self, line: &str, done: &mut Vec<String>) {
        if line.is_empty() {
            if let Some(d) = self.data.take() {
                done.push(d);
            }
            return;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        if field != "data" {
            return;
        }
        let value = value.strip_prefix(' ').unwrap_or(value);
        match &mut self.data {
            Some(d) => {
                d.push('\n');
                d.push_str(value);
            }
            None => self.data = Some(value.to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_split_on_blank_lines_whatever_the_line_ends_and_chunks() {
        let stream = b": comment\r\nevent: message\r\nid: 1\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\ndata: two\n\ndata:three\r\rdata: last";
        for size in [1, 2, 3, 7, stream.len()] {
            let mut events = Events::default();
            let mut got = Vec::new();
            for chunk in stream.chunks(size) {
                got.extend(events.push(chunk).unwrap());
            }
            got.extend(events.finish());
            assert_eq!(
                got,
                ["{\"a\":\n1}", "two", "three", "last"],
                "chunks of {size}"
            );
        }
    }

    #[test]
    fn an_event_past_the_cap_is_refused() {
        let mut events = Events::default();
        events.push(b"data: ").unwrap();
        assert!(events.push(&vec![b'x'; MAX_MESSAGE_BYTES + 1]).is_err());
    }
}
