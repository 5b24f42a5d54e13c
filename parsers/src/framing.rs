//! Syslog stream framing (RFC 6587): octet counting (`LEN SP MSG`) and newline-delimited frames.
//!
//! Framing is kept apart from parsing: a [`FrameDecoder`] only cuts a byte stream into frames
//! and reports framing problems; it never looks inside a message. The framing in use is
//! detected from the first bytes of a connection.

use thiserror::Error;

/// How messages are delimited on a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// RFC 6587 3.4.1: each message is preceded by its length in ASCII digits and a space.
    OctetCounting,
    /// RFC 6587 3.4.2: each message ends with a line feed or a NUL (a trailing CR is dropped).
    NewLine,
}

/// Default largest message, in bytes.
pub const DEFAULT_MAX_FRAME: usize = 64 * 1024;

/// A framing problem. The decoder recovers from each of them and goes on with the stream.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("message of {len} bytes exceeds the maximum of {max}; truncated")]
    TooLong { len: usize, max: usize },
    #[error("octet-counting frame does not start with a length and a space")]
    BadOctetCount,
    #[error("stream ended inside an octet-counted frame ({missing} bytes missing)")]
    Truncated { missing: usize },
}

impl FrameError {
    /// A stable reason code, for counters.
    pub fn reason(&self) -> &'static str {
        match self {
            FrameError::TooLong { .. } => "frame_too_long",
            FrameError::BadOctetCount => "bad_octet_count",
            FrameError::Truncated { .. } => "truncated_frame",
        }
    }
}

/// One output of the decoder: a frame (possibly truncated) or a framing error.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    Message(Vec<u8>),
    /// A message cut at the maximum size; the rest of it was discarded.
    Truncated(Vec<u8>, FrameError),
    Error(FrameError),
}

/// Detects the framing of a stream from its first bytes: `[1-9][0-9]* SP` means octet
/// counting, anything else newline framing. Returns `None` while the bytes seen so far
/// cannot tell (only digits).
pub fn detect(first: &[u8]) -> Option<Framing> {
    let first = first.trim_ascii_start();
    let digits = first.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || first[0] == b'0' || digits > 9 {
        return if first.is_empty() { None } else { Some(Framing::NewLine) };
    }
    match first.get(digits) {
        None => None,
        Some(b' ') => Some(Framing::OctetCounting),
        Some(_) => Some(Framing::NewLine),
    }
}

/// Cuts a byte stream into frames. Feed it bytes as they arrive; call [`FrameDecoder::finish`]
/// at end of stream.
#[derive(Debug)]
pub struct FrameDecoder {
    framing: Option<Framing>,
    max: usize,
    buf: Vec<u8>,
    /// Bytes of an over-long octet-counted frame still to be skipped.
    skip: usize,
    /// Inside an over-long line: discard until the next line feed.
    skip_line: bool,
}

impl FrameDecoder {
    /// A decoder that detects the framing from the first bytes.
    pub fn new(max: usize) -> Self {
        FrameDecoder { framing: None, max: max.max(1), buf: Vec::new(), skip: 0, skip_line: false }
    }

    /// A decoder with a fixed framing.
    pub fn with_framing(framing: Framing, max: usize) -> Self {
        FrameDecoder { framing: Some(framing), ..FrameDecoder::new(max) }
    }

    /// The framing in use, once detected.
    pub fn framing(&self) -> Option<Framing> {
        self.framing
    }

    /// Adds bytes and appends every complete frame to `out`.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<Frame>) {
        self.buf.extend_from_slice(data);
        let mut pos = 0;
        loop {
            if self.framing.is_none() {
                // Whitespace before the first frame tells nothing. Whole lines of it are empty
                // frames: drop them, whether or not the rest of the stream has arrived (so the
                // frames do not depend on where reads end). What follows the last line feed
                // may begin the first frame, so keep it.
                let rest = &self.buf[pos..];
                let blank = rest.iter().take_while(|b| b.is_ascii_whitespace()).count();
                if let Some(nl) = rest[..blank].iter().rposition(|&b| b == b'\n') {
                    pos += nl + 1;
                }
                self.framing = detect(&self.buf[pos..]);
                // Only whitespace so far, longer than a frame: it is lines.
                if self.framing.is_none()
                    && self.buf.len() - pos > self.max
                    && self.buf[pos..].iter().all(u8::is_ascii_whitespace)
                {
                    self.framing = Some(Framing::NewLine);
                }
            }
            let step = match self.framing {
                None => break,
                Some(Framing::NewLine) => self.next_line(pos, out),
                Some(Framing::OctetCounting) => self.next_counted(pos, out),
            };
            match step {
                Some(next) => pos = next,
                None => break,
            }
        }
        self.buf.drain(..pos);
    }

    /// Ends the stream: a final unterminated line is a frame; a partial octet-counted frame is
    /// an error.
    pub fn finish(&mut self, out: &mut Vec<Frame>) {
        if self.framing.is_none() {
            // The stream ended before its framing showed (only digits and whitespace): lines.
            self.framing = Some(Framing::NewLine);
            self.feed(&[], out);
        }
        let rest = std::mem::take(&mut self.buf);
        if self.skip_line || self.skip > 0 {
            return;
        }
        match self.framing {
            Some(Framing::OctetCounting) => {
                let rest = rest.trim_ascii();
                if !rest.is_empty() {
                    let missing = match parse_count(rest) {
                        CountResult::Ok(len, start) => (start + len).saturating_sub(rest.len()),
                        CountResult::Incomplete | CountResult::Bad => 0,
                    };
                    out.push(Frame::Error(FrameError::Truncated { missing }));
                }
            }
            _ => {
                let line = trim_line(&rest);
                if line.len() > self.max {
                    let err = FrameError::TooLong { len: line.len(), max: self.max };
                    out.push(Frame::Truncated(line[..self.max].to_vec(), err));
                } else if !line.is_empty() {
                    out.push(Frame::Message(line.to_vec()));
                }
            }
        }
    }

    /// Newline framing: returns the position after the consumed bytes, or `None` when more
    /// bytes are needed.
    fn next_line(&mut self, pos: usize, out: &mut Vec<Frame>) -> Option<usize> {
        let rest = &self.buf[pos..];
        // A line feed ends a frame; so does NUL, the trailer some senders use instead
        // (RFC 6587 3.4.2; Python's SysLogHandler over TCP).
        match rest.iter().position(|&b| b == b'\n' || b == 0) {
            Some(nl) => {
                if self.skip_line {
                    self.skip_line = false;
                } else {
                    let line = trim_line(&rest[..nl]);
                    if line.len() > self.max {
                        let err = FrameError::TooLong { len: line.len(), max: self.max };
                        out.push(Frame::Truncated(line[..self.max].to_vec(), err));
                    } else if !line.is_empty() {
                        out.push(Frame::Message(line.to_vec()));
                    }
                }
                Some(pos + nl + 1)
            }
            None if self.skip_line => (!rest.is_empty()).then_some(self.buf.len()),
            // A line of exactly the maximum whose CR has come but whose LF has not is not too
            // long yet.
            None if rest.len() > self.max && !(rest.len() == self.max + 1 && rest[self.max] == b'\r') => {
                let err = FrameError::TooLong { len: rest.len(), max: self.max };
                out.push(Frame::Truncated(rest[..self.max].to_vec(), err));
                self.skip_line = true;
                Some(self.buf.len())
            }
            None => None,
        }
    }

    /// Octet-counting framing: returns the position after the consumed bytes, or `None` when
    /// more bytes are needed.
    fn next_counted(&mut self, pos: usize, out: &mut Vec<Frame>) -> Option<usize> {
        if self.skip > 0 {
            let n = self.skip.min(self.buf.len() - pos);
            self.skip -= n;
            return if n == 0 { None } else { Some(pos + n) };
        }
        let rest = &self.buf[pos..];
        // Tolerate stray line feeds between frames, as some senders emit them.
        let ws = rest.iter().take_while(|b| b.is_ascii_whitespace()).count();
        let rest = &rest[ws..];
        if rest.is_empty() {
            return if ws > 0 { Some(pos + ws) } else { None };
        }
        match parse_count(rest) {
            CountResult::Incomplete => None,
            CountResult::Bad => {
                // Resynchronise at the next line feed, or drop what we have.
                out.push(Frame::Error(FrameError::BadOctetCount));
                let skip = rest.iter().position(|&b| b == b'\n').map_or(rest.len(), |nl| nl + 1);
                Some(pos + ws + skip)
            }
            CountResult::Ok(len, start) => {
                let body = &rest[start..];
                if len > self.max {
                    if body.len() < self.max {
                        return None;
                    }
                    let err = FrameError::TooLong { len, max: self.max };
                    out.push(Frame::Truncated(body[..self.max].to_vec(), err));
                    let have = body.len().min(len);
                    self.skip = len - have;
                    return Some(pos + ws + start + have);
                }
                if body.len() < len {
                    return None;
                }
                let msg = trim_line(&body[..len]);
                if !msg.is_empty() {
                    out.push(Frame::Message(msg.to_vec()));
                }
                Some(pos + ws + start + len)
            }
        }
    }
}

enum CountResult {
    Ok(usize, usize),
    Incomplete,
    Bad,
}

/// Reads `LEN SP`: the length and the offset where the message starts.
fn parse_count(rest: &[u8]) -> CountResult {
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 9 {
        return CountResult::Bad;
    }
    match rest.get(digits) {
        None => CountResult::Incomplete,
        Some(b' ') => {
            let len = rest[..digits].iter().fold(0usize, |n, d| n * 10 + usize::from(d - b'0'));
            CountResult::Ok(len, digits + 1)
        }
        Some(_) => CountResult::Bad,
    }
}

/// A message without its line end: trailing CR, LF and NUL bytes.
pub fn trim_line(line: &[u8]) -> &[u8] {
    let mut line = line;
    while let [rest @ .., b'\r' | b'\n' | 0] = line {
        line = rest;
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &[&[u8]]) -> Vec<Frame> {
        let mut dec = FrameDecoder::new(32);
        let mut out = Vec::new();
        for chunk in input {
            dec.feed(chunk, &mut out);
        }
        dec.finish(&mut out);
        out
    }

    fn msg(s: &str) -> Frame {
        Frame::Message(s.as_bytes().to_vec())
    }

    #[test]
    fn detects_framing() {
        assert_eq!(detect(b"12 <13>1 - - -"), Some(Framing::OctetCounting));
        assert_eq!(detect(b"<13>Nov"), Some(Framing::NewLine));
        assert_eq!(detect(b"2026-11-23T10:00:00Z host"), Some(Framing::NewLine));
        assert_eq!(detect(b"123"), None);
        assert_eq!(detect(b""), None);
    }

    #[test]
    fn newline_frames_split_across_reads() {
        let out = frames(&[b"<13>one\r\n<13>tw", b"o\n\n<13>three"]);
        assert_eq!(out, vec![msg("<13>one"), msg("<13>two"), msg("<13>three")]);
    }

    #[test]
    fn octet_counted_frames_split_across_reads() {
        let out = frames(&[b"7 <13>one8 <13>", b"two\n9 <13>thr"]);
        assert_eq!(out[0], msg("<13>one"));
        assert_eq!(out[1], msg("<13>two"));
        assert_eq!(out[2], Frame::Error(FrameError::Truncated { missing: 2 }));
    }

    #[test]
    fn nul_ends_a_newline_frame() {
        let out = frames(&[b"<36>one\0<36>tw", b"o\0"]);
        assert_eq!(out, vec![msg("<36>one"), msg("<36>two")]);
    }

    #[test]
    fn line_of_the_maximum_split_between_cr_and_lf_is_whole() {
        let line = [b'a'; 32];
        let out = frames(&[&line, b"\r", b"\nnext\n"]);
        assert_eq!(out, vec![Frame::Message(line.to_vec()), msg("next")]);
        // One byte more is too long, however the reads fall.
        let out = frames(&[&line, b"b\r", b"\n"]);
        assert!(matches!(&out[0], Frame::Truncated(m, FrameError::TooLong { .. }) if m.len() == 32));
        let out = frames(&[&line, b"\rb", b"\n"]);
        assert!(matches!(&out[0], Frame::Truncated(m, FrameError::TooLong { .. }) if m.len() == 32), "{out:?}");
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn over_long_line_is_truncated_and_stream_goes_on() {
        let long = vec![b'a'; 40];
        let out = frames(&[&long, b"\nnext\n"]);
        assert!(matches!(&out[0], Frame::Truncated(m, FrameError::TooLong { .. }) if m.len() == 32));
        assert_eq!(out[1], msg("next"));
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn over_long_counted_frame_is_skipped_exactly() {
        let mut input = b"40 ".to_vec();
        input.extend(vec![b'x'; 40]);
        input.extend(b"4 next");
        let out = frames(&[&input[..20], &input[20..]]);
        assert!(matches!(&out[0], Frame::Truncated(m, FrameError::TooLong { len: 40, .. }) if m.len() == 32));
        assert_eq!(out[1], msg("next"));
    }

    #[test]
    fn bad_count_resynchronises_at_line_feed() {
        let mut dec = FrameDecoder::with_framing(Framing::OctetCounting, 64);
        let mut out = Vec::new();
        dec.feed(b"xx garbage\n4 good", &mut out);
        assert_eq!(out, vec![Frame::Error(FrameError::BadOctetCount), msg("good")]);
    }
}
