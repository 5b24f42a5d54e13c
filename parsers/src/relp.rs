//! RELP, the Reliable Event Logging Protocol of rsyslog's `omrelp`/`imrelp`: a sans-IO codec
//! for the server side.
//!
//! Every RELP message is a frame (librelp `doc/relp.md`, "RELP FRAME"):
//!
//! ```text
//! RELP-FRAME = TXNR SP COMMAND SP DATALEN [SP DATA] LF
//! TXNR       = 1*9DIGIT      ; 1..999999999, 0 is reserved for hints
//! COMMAND    = 1*32ALPHA     ; "open", "syslog", "close", ...
//! DATALEN    = 1*9DIGIT      ; the number of octets in DATA
//! ```
//!
//! A [`RelpDecoder`] cuts the bytes a client sends into [`RelpFrame`]s; the `rsp_*` functions
//! and [`serverclose`] encode what the server sends back. The session itself (answer `open`
//! before anything else, ack each `syslog` in order, close after `close`) is the caller's:
//!
//! | client sends       | server answers                                                  |
//! |--------------------|-----------------------------------------------------------------|
//! | `open` + offers    | [`rsp_open`], or on error [`rsp_error`] + [`serverclose`], close |
//! | `syslog` + message | [`rsp_ok`] once the message is safely taken                     |
//! | `close`            | [`rsp_close`], then [`serverclose`], then close the connection  |
//! | anything else      | [`rsp_error`] (librelp simply drops the connection)             |
//!
//! Architecture invariant: like the rest of this crate, this module does no IO.
//!
//! Error handling follows the protocol, not the lenient newline/octet framing of
//! [`crate::framing`]: RELP has no way to resynchronise inside a stream, so a framing error ends
//! the connection. The client resends every unacknowledged message on its next connection.

use nom::Parser;
use nom::bytes::streaming::take_while_m_n;
use nom::character::streaming::{char, one_of};
use nom::sequence::terminated;
use thiserror::Error;

/// Default largest DATA of a frame, in bytes: librelp's default `maxDataSize` (128 KiB).
pub const DEFAULT_MAX_DATA: usize = 128 * 1024;

/// The largest transaction number; the one after it is 1.
pub const MAX_TXNR: u64 = 999_999_999;

/// The RELP protocol version we speak: librelp's current one.
const RELP_VERSION: &str = "0";

/// A RELP protocol problem. Every one of them ends the connection (RELP "ERROR HANDLING": the
/// peer that detects a problem closes the connection; the client resends what was not acked).
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum RelpError {
    #[error("frame does not start with a transaction number of 1 to 9 digits and a space")]
    BadTxnr,
    #[error("transaction number {got} out of sequence, expected {expected}")]
    TxnrOutOfSequence { expected: u64, got: u64 },
    #[error("command is not 1 to 32 ASCII letters followed by a space")]
    BadCommand,
    #[error("data length is not 1 to 9 digits followed by a space or, when 0, a line feed")]
    BadDatalen,
    #[error("data length {len} exceeds the maximum of {max}")]
    DataTooLong { len: usize, max: usize },
    #[error("frame data is not followed by a line feed")]
    MissingTrailer,
    #[error("stream ended inside a frame")]
    Truncated,
    #[error("invalid offer: {0}")]
    BadOffer(&'static str),
    // The words librelp's server answers with (copen.c).
    #[error("required command not supported by client")]
    SyslogNotOffered,
}

impl RelpError {
    /// A stable reason code, for counters.
    pub fn reason(&self) -> &'static str {
        match self {
            RelpError::BadTxnr => "bad_txnr",
            RelpError::TxnrOutOfSequence { .. } => "txnr_out_of_sequence",
            RelpError::BadCommand => "bad_command",
            RelpError::BadDatalen => "bad_datalen",
            RelpError::DataTooLong { .. } => "data_too_long",
            RelpError::MissingTrailer => "missing_trailer",
            RelpError::Truncated => "truncated_frame",
            RelpError::BadOffer(_) => "bad_offer",
            RelpError::SyslogNotOffered => "syslog_not_offered",
        }
    }
}

/// A frame's command. Commands are case sensitive, as in librelp.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RelpCommand {
    /// Opens a session; DATA holds the client's offers.
    Open,
    /// DATA holds one syslog message.
    Syslog,
    /// Ends the session; DATA is empty.
    Close,
    /// Any other command (`rsp`, `serverclose`, `starttls`, ...): 1 to 32 ASCII letters.
    Other(String),
}

impl RelpCommand {
    /// The command as it appears on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            RelpCommand::Open => "open",
            RelpCommand::Syslog => "syslog",
            RelpCommand::Close => "close",
            RelpCommand::Other(name) => name,
        }
    }

    fn from_letters(letters: &[u8]) -> Self {
        match letters {
            b"open" => RelpCommand::Open,
            b"syslog" => RelpCommand::Syslog,
            b"close" => RelpCommand::Close,
            // ASCII letters only, so this is the text itself.
            other => RelpCommand::Other(String::from_utf8_lossy(other).into_owned()),
        }
    }
}

/// One complete frame from a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelpFrame {
    /// The transaction number: 1 to [`MAX_TXNR`], or 0 for a hint, which is never answered.
    pub txnr: u64,
    pub command: RelpCommand,
    /// Exactly DATALEN bytes, without the separating space and the trailer.
    pub data: Vec<u8>,
}

impl RelpFrame {
    /// Whether this is a hint (TXNR 0): a command that must not be answered.
    pub fn is_hint(&self) -> bool {
        self.txnr == 0
    }

    /// The frame on the wire, as librelp writes it: no space after a DATALEN of 0. The fields
    /// are written as they are: a decoded frame encodes back to its bytes (`0 SP LF` as `0 LF`).
    pub fn encode(&self) -> Vec<u8> {
        encode(self.txnr, self.command.as_str().as_bytes(), &self.data)
    }
}

/// `TXNR SP COMMAND SP DATALEN [SP DATA] LF`.
fn encode(txnr: u64, command: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(24 + command.len() + data.len());
    out.extend_from_slice(txnr.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(command);
    out.push(b' ');
    out.extend_from_slice(data.len().to_string().as_bytes());
    if !data.is_empty() {
        out.push(b' ');
        out.extend_from_slice(data);
    }
    out.push(b'\n');
    out
}

/// The transaction number after `txnr`: they go up to [`MAX_TXNR`], then start again at 1.
pub fn next_txnr(txnr: u64) -> u64 {
    if txnr >= MAX_TXNR { 1 } else { txnr + 1 }
}

/// Cuts the bytes a RELP client sends into frames. Feed it bytes as they arrive, split anywhere;
/// call [`RelpDecoder::finish`] when the client closes the connection.
///
/// The decoder checks the frame grammar, the maximum data length and that transaction numbers
/// follow each other (1, 2, 3, ... as librelp's server requires; hints, TXNR 0, are not
/// counted). The first problem is returned as an error and the decoder stays failed: the caller
/// must close the connection (it may first send [`serverclose`]). Frames decoded before the
/// error are complete and valid; the caller may answer them before closing.
#[derive(Debug)]
pub struct RelpDecoder {
    max: usize,
    buf: Vec<u8>,
    /// The transaction number the next command must carry.
    expected: u64,
    failed: Option<RelpError>,
}

impl RelpDecoder {
    /// A decoder that accepts frames with up to `max_frame` bytes of DATA (librelp's
    /// `maxDataSize`; see [`DEFAULT_MAX_DATA`]).
    pub fn new(max_frame: usize) -> Self {
        RelpDecoder { max: max_frame, buf: Vec::new(), expected: 1, failed: None }
    }

    /// Adds bytes and appends every complete frame to `out`. On a protocol error, the frames
    /// before it are in `out` and the error is returned, now and on every later call.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<RelpFrame>) -> Result<(), RelpError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        self.buf.extend_from_slice(bytes);
        let mut pos = 0;
        let result = loop {
            match next_frame(&self.buf[pos..], self.max) {
                Ok(Some((frame, used))) => {
                    if frame.txnr != 0 {
                        if frame.txnr != self.expected {
                            break Err(RelpError::TxnrOutOfSequence { expected: self.expected, got: frame.txnr });
                        }
                        self.expected = next_txnr(self.expected);
                    }
                    out.push(frame);
                    pos += used;
                }
                Ok(None) => break Ok(()),
                Err(err) => break Err(err),
            }
        };
        match result {
            Ok(()) => {
                self.buf.drain(..pos);
                Ok(())
            }
            Err(err) => {
                self.buf = Vec::new();
                self.failed = Some(err.clone());
                Err(err)
            }
        }
    }

    /// Ends the stream: an error if it ended inside a frame (or the decoder had failed).
    pub fn finish(&mut self) -> Result<(), RelpError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        if self.buf.is_empty() { Ok(()) } else { Err(RelpError::Truncated) }
    }

    /// Whether the decoder has seen a protocol error (the connection must be closed).
    pub fn is_failed(&self) -> bool {
        self.failed.is_some()
    }
}

/// Why a frame could not be read yet.
enum Stop {
    Incomplete,
    Bad(RelpError),
}

/// A streaming nom result as "go on", "wait for more bytes" or "this error".
fn step<T>(result: nom::IResult<&[u8], T>, err: RelpError) -> Result<(&[u8], T), Stop> {
    match result {
        Ok(ok) => Ok(ok),
        Err(nom::Err::Incomplete(_)) => Err(Stop::Incomplete),
        Err(nom::Err::Error(_) | nom::Err::Failure(_)) => Err(Stop::Bad(err)),
    }
}

/// `1*9DIGIT`, streaming: a 10th digit is left for the next parser to reject.
fn number(input: &[u8]) -> nom::IResult<&[u8], &[u8]> {
    take_while_m_n(1, 9, |b: u8| b.is_ascii_digit())(input)
}

/// The value of 1 to 9 ASCII digits (at most 999,999,999: no overflow, even in 32 bits).
fn digits_value(digits: &[u8]) -> usize {
    digits.iter().fold(0, |n, d| n * 10 + usize::from(d - b'0'))
}

/// The first frame of `input` and the number of bytes it took; `None` when more bytes are
/// needed.
fn next_frame(input: &[u8], max: usize) -> Result<Option<(RelpFrame, usize)>, RelpError> {
    match frame(input, max) {
        Ok(done) => Ok(Some(done)),
        Err(Stop::Incomplete) => Ok(None),
        Err(Stop::Bad(err)) => Err(err),
    }
}

fn frame(input: &[u8], max: usize) -> Result<(RelpFrame, usize), Stop> {
    let (rest, txnr) = step(terminated(number, char(' ')).parse(input), RelpError::BadTxnr)?;
    let (rest, command) = step(
        terminated(take_while_m_n(1, 32, |b: u8| b.is_ascii_alphabetic()), char(' ')).parse(rest),
        RelpError::BadCommand,
    )?;
    let (rest, len) = step(number(rest), RelpError::BadDatalen)?;
    let (rest, delimiter) = step(one_of(" \n").parse(rest), RelpError::BadDatalen)?;
    let len = digits_value(len);
    if len > max {
        return Err(Stop::Bad(RelpError::DataTooLong { len, max }));
    }
    let (data, rest) = match delimiter {
        // `0 LF`: no data. A length without data is not a frame.
        '\n' if len == 0 => (&rest[..0], rest),
        '\n' => return Err(Stop::Bad(RelpError::BadDatalen)),
        // `SP DATA LF`; `0 SP LF` is accepted too, though librelp never sends it.
        _ => match (rest.get(..len), rest.get(len)) {
            (Some(data), Some(b'\n')) => (data, &rest[len + 1..]),
            (Some(_), Some(_)) => return Err(Stop::Bad(RelpError::MissingTrailer)),
            _ => return Err(Stop::Incomplete),
        },
    };
    let frame =
        RelpFrame { txnr: digits_value(txnr) as u64, command: RelpCommand::from_letters(command), data: data.to_vec() };
    Ok((frame, input.len() - rest.len()))
}

/// One offer of an `open` command's data: `NAME[=VALUE*(,VALUE)]`, one per line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offer {
    pub name: String,
    pub values: Vec<String>,
}

/// The offers in an `open` command's data (or an `open` response's, after its status line).
/// Empty lines are skipped; bytes that are not UTF-8 are replaced by U+FFFD.
pub fn parse_offers(data: &[u8]) -> Vec<Offer> {
    data.split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| {
            let line = String::from_utf8_lossy(line);
            let (name, values) = match line.split_once('=') {
                Some((name, values)) => {
                    (name, values.split(',').filter(|v| !v.is_empty()).map(str::to_owned).collect())
                }
                None => (&*line, Vec::new()),
            };
            Offer { name: name.to_owned(), values }
        })
        .collect()
}

/// `TXNR rsp 6 200 OK\n`: the answer to a `syslog` command whose message was taken.
pub fn rsp_ok(txnr: u64) -> Vec<u8> {
    encode(txnr, b"rsp", b"200 OK")
}

/// The answer to an `open` command whose data is `client_offers`:
///
/// ```text
/// TXNR rsp LEN 200 OK\nrelp_version=0\nrelp_software=vigil,VERSION\ncommands=syslog\n
/// ```
///
/// We speak librelp's protocol version 0 whatever version the client offers (a librelp client
/// accepts any version up to its own), and only the `syslog` command. The client must offer
/// `commands=syslog` ([`RelpError::SyslogNotOffered`] otherwise) and, if it offers
/// `relp_version`, a number ([`RelpError::BadOffer`]); other offers are ignored, as librelp
/// does. On an error, answer `rsp_error(txnr, &err.to_string())`, send [`serverclose`] and
/// close the connection.
pub fn rsp_open(txnr: u64, client_offers: &[u8]) -> Result<Vec<u8>, RelpError> {
    let offers = parse_offers(client_offers);
    let mut syslog = false;
    for offer in &offers {
        match offer.name.as_str() {
            "relp_version" => match offer.values.first() {
                None => return Err(RelpError::BadOffer("relp_version without a value")),
                Some(v) if !v.bytes().all(|b| b.is_ascii_digit()) => {
                    return Err(RelpError::BadOffer("relp_version is not a number"));
                }
                Some(_) => {}
            },
            "commands" => syslog |= offer.values.iter().any(|v| v == "syslog"),
            _ => {}
        }
    }
    if !syslog {
        return Err(RelpError::SyslogNotOffered);
    }
    let data = format!(
        "200 OK\nrelp_version={RELP_VERSION}\nrelp_software=vigil,{}\ncommands=syslog",
        env!("CARGO_PKG_VERSION")
    );
    Ok(encode(txnr, b"rsp", data.as_bytes()))
}

/// `TXNR rsp LEN 500 MSG\n`: a failed command. Line breaks in `msg` become spaces (the human
/// message of a response has none).
pub fn rsp_error(txnr: u64, msg: &str) -> Vec<u8> {
    let data = format!("500 {}", msg.replace(['\r', '\n'], " "));
    encode(txnr, b"rsp", data.as_bytes())
}

/// `TXNR rsp 0\n`: librelp's answer to `close`. Send [`serverclose`] after it, then close the
/// connection.
pub fn rsp_close(txnr: u64) -> Vec<u8> {
    encode(txnr, b"rsp", b"")
}

/// `0 serverclose 0\n`: the hint a server sends before it closes a connection (librelp sends it
/// whenever it tears a session down: after `close`, on errors, at shutdown). Never answered.
pub fn serverclose() -> Vec<u8> {
    encode(0, b"serverclose", b"")
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// What librelp 1.11.0 (omrelp) sends first: its offers, without a final line feed.
    const OMRELP_OFFERS: &[u8] =
        b"relp_version=0\nrelp_software=librelp,1.11.0,http://librelp.adiscon.com\ncommands=syslog";

    fn decode(chunks: &[&[u8]], max: usize) -> (Vec<RelpFrame>, Result<(), RelpError>) {
        let mut dec = RelpDecoder::new(max);
        let mut out = Vec::new();
        for chunk in chunks {
            if let Err(e) = dec.feed(chunk, &mut out) {
                return (out, Err(e));
            }
        }
        let end = dec.finish();
        (out, end)
    }

    fn frame(txnr: u64, command: RelpCommand, data: &[u8]) -> RelpFrame {
        RelpFrame { txnr, command, data: data.to_vec() }
    }

    fn err_reason(input: &[u8], max: usize) -> Result<(), &'static str> {
        decode(&[input], max).1.map_err(|e| e.reason())
    }

    #[test]
    fn omrelp_session_decodes() {
        let mut stream = b"1 open 86 ".to_vec();
        assert_eq!(OMRELP_OFFERS.len(), 86);
        stream.extend_from_slice(OMRELP_OFFERS);
        stream.extend_from_slice(b"\n2 syslog 28 <13>1 - host app - - - hello\n3 close 0\n");
        let (frames, end) = decode(&[&stream], DEFAULT_MAX_DATA);
        assert_eq!(end, Ok(()));
        assert_eq!(
            frames,
            vec![
                frame(1, RelpCommand::Open, OMRELP_OFFERS),
                frame(2, RelpCommand::Syslog, b"<13>1 - host app - - - hello"),
                frame(3, RelpCommand::Close, b""),
            ]
        );
        assert_eq!(frames.iter().flat_map(RelpFrame::encode).collect::<Vec<u8>>(), stream);
    }

    #[test]
    fn frames_split_at_every_byte_position() {
        let stream: &[u8] = b"1 open 14 relp_version=0\n2 syslog 5 hello\n3 syslog 0\n4 close 0 \n";
        let (whole, end) = decode(&[stream], 64);
        assert_eq!(end, Ok(()));
        assert_eq!(whole.len(), 4);
        for i in 0..=stream.len() {
            for j in i..=stream.len() {
                let (frames, end) = decode(&[&stream[..i], &stream[i..j], &stream[j..]], 64);
                assert_eq!((&frames, &end), (&whole, &Ok(())), "split at {i} and {j}");
            }
        }
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(decode(&bytes, 64), (whole, Ok(())));
    }

    #[test]
    fn several_frames_in_one_buffer_and_a_partial_one() {
        let mut dec = RelpDecoder::new(64);
        let mut out = Vec::new();
        assert_eq!(dec.feed(b"1 syslog 1 a\n2 syslog 2 bc\n3 sys", &mut out), Ok(()));
        assert_eq!(out, vec![frame(1, RelpCommand::Syslog, b"a"), frame(2, RelpCommand::Syslog, b"bc")]);
        assert_eq!(dec.feed(b"log 3 d\nf\n", &mut out), Ok(()));
        assert_eq!(out[2], frame(3, RelpCommand::Syslog, b"d\nf"));
        assert_eq!(dec.finish(), Ok(()));
    }

    #[test]
    fn datalen_zero_with_and_without_space() {
        let (frames, end) = decode(&[b"1 close 0\n2 close 0 \n"], 64);
        assert_eq!(end, Ok(()));
        assert_eq!(frames, vec![frame(1, RelpCommand::Close, b""), frame(2, RelpCommand::Close, b"")]);
        // Data after a length of 0 is not a trailer.
        assert_eq!(err_reason(b"1 close 0 x\n", 64), Err("missing_trailer"));
    }

    #[test]
    fn data_may_be_binary_and_exactly_the_maximum() {
        let (frames, end) = decode(&[b"1 syslog 4 \0\n\xff \n"], 4);
        assert_eq!(end, Ok(()));
        assert_eq!(frames, vec![frame(1, RelpCommand::Syslog, b"\0\n\xff ")]);
        assert_eq!(err_reason(b"1 syslog 5 ", 4), Err("data_too_long"));
    }

    #[test]
    fn other_commands_and_hints() {
        let (frames, end) = decode(&[b"1 starttls 0\n0 abort 0\n2 SYSLOG 1 x\n"], 64);
        assert_eq!(end, Ok(()));
        assert_eq!(frames[0].command, RelpCommand::Other("starttls".into()));
        assert!(frames[1].is_hint());
        assert_eq!(frames[2].command, RelpCommand::Other("SYSLOG".into()));
        let longest = format!("1 {} 0\n", "a".repeat(32));
        assert_eq!(decode(&[longest.as_bytes()], 64).1, Ok(()));
    }

    #[test]
    fn txnr_must_follow_and_wraps_after_the_maximum() {
        assert_eq!(err_reason(b"2 syslog 1 a\n", 64), Err("txnr_out_of_sequence"));
        let (frames, end) = decode(&[b"1 syslog 1 a\n1 syslog 1 a\n"], 64);
        assert_eq!((frames.len(), end), (1, Err(RelpError::TxnrOutOfSequence { expected: 2, got: 1 })));
        assert_eq!(next_txnr(MAX_TXNR), 1);
        let mut dec = RelpDecoder::new(64);
        dec.expected = MAX_TXNR;
        let mut out = Vec::new();
        assert_eq!(dec.feed(b"999999999 syslog 1 a\n1 syslog 1 b\n", &mut out), Ok(()));
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn bad_input_gives_its_reason() {
        let cases: &[(&[u8], &str)] = &[
            (b"x syslog 1 a\n", "bad_txnr"),
            (b" 1 syslog 1 a\n", "bad_txnr"),
            (b"1234567890 syslog 1 a\n", "bad_txnr"),
            (b"1\tsyslog 1 a\n", "bad_txnr"),
            (b"\n", "bad_txnr"),
            (b"1  syslog 1 a\n", "bad_command"),
            (b"1 sys-log 1 a\n", "bad_command"),
            (b"1 syslog2 1 a\n", "bad_command"),
            (b"1 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 0\n", "bad_command"),
            (b"1 syslog x\n", "bad_datalen"),
            (b"1 syslog \n", "bad_datalen"),
            (b"1 syslog 1234567890 a\n", "bad_datalen"),
            (b"1 syslog 5\n", "bad_datalen"),
            (b"1 syslog 1\ta\n", "bad_datalen"),
            (b"1 syslog 65 ", "data_too_long"),
            (b"1 syslog 999999999 ", "data_too_long"),
            (b"1 syslog 1 ab\n", "missing_trailer"),
            (b"1 syslog 1 a\r\n", "missing_trailer"),
            (b"1 syslog 2 a", "truncated_frame"),
            (b"1 sysl", "truncated_frame"),
            (b"1 syslog 1 a\n2", "truncated_frame"),
            (b"0 serverclose 0\n5 syslog 1 a\n", "txnr_out_of_sequence"),
        ];
        for (input, reason) in cases {
            assert_eq!(err_reason(input, 64), Err(*reason), "{}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn decoder_stays_failed() {
        let mut dec = RelpDecoder::new(64);
        let mut out = Vec::new();
        assert_eq!(dec.feed(b"1 syslog 1 a\nbad", &mut out).map_err(|e| e.reason()), Err("bad_txnr"));
        assert_eq!(out.len(), 1);
        assert!(dec.is_failed());
        assert_eq!(dec.feed(b"2 syslog 1 a\n", &mut out), Err(RelpError::BadTxnr));
        assert_eq!(dec.finish(), Err(RelpError::BadTxnr));
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn responses_bytes() {
        assert_eq!(rsp_ok(7), b"7 rsp 6 200 OK\n");
        assert_eq!(rsp_close(3), b"3 rsp 0\n");
        assert_eq!(serverclose(), b"0 serverclose 0\n");
        assert_eq!(rsp_error(2, "command disabled"), b"2 rsp 20 500 command disabled\n");
        assert_eq!(rsp_error(2, "a\nb"), b"2 rsp 7 500 a b\n");
        let data =
            format!("200 OK\nrelp_version=0\nrelp_software=vigil,{}\ncommands=syslog", env!("CARGO_PKG_VERSION"));
        let expected = format!("1 rsp {} {data}\n", data.len());
        assert_eq!(rsp_open(1, OMRELP_OFFERS), Ok(expected.into_bytes()));
    }

    #[test]
    fn open_response_is_a_frame_a_librelp_client_reads() {
        let rsp = rsp_open(1, OMRELP_OFFERS).unwrap_or_default();
        let (frames, end) = decode(&[&rsp], 1024);
        assert_eq!(end, Ok(()));
        assert_eq!(frames[0].command, RelpCommand::Other("rsp".into()));
        let body = frames[0].data.strip_prefix(b"200 OK\n").unwrap_or_default();
        let offers = parse_offers(body);
        let names: Vec<&str> = offers.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["relp_version", "relp_software", "commands"]);
        assert_eq!(offers[0].values, ["0"]);
        assert_eq!(offers[2].values, ["syslog"]);
    }

    #[test]
    fn open_negotiation() {
        // A newer client, extra commands, unknown offers and a final line feed are fine.
        let ok = rsp_open(1, b"relp_version=1\ncommands=eventlog,syslog\nfuture=x\n");
        assert!(ok.is_ok_and(|r| r.windows(15).any(|w| w == b"relp_version=0\n")));
        assert!(rsp_open(1, b"commands=syslog").is_ok());
        let reason = |offers: &[u8]| rsp_open(1, offers).map_err(|e| e.reason()).map(|_| ());
        assert_eq!(reason(b"relp_version=0\ncommands=eventlog"), Err("syslog_not_offered"));
        assert_eq!(reason(b"relp_version=0\ncommands="), Err("syslog_not_offered"));
        assert_eq!(reason(b"relp_version=0"), Err("syslog_not_offered"));
        assert_eq!(reason(b"relp_version=x\ncommands=syslog"), Err("bad_offer"));
        assert_eq!(reason(b"relp_version\ncommands=syslog"), Err("bad_offer"));
        let err = rsp_open(4, b"relp_version=0").err().unwrap_or(RelpError::Truncated);
        assert_eq!(rsp_error(4, &err.to_string()), b"4 rsp 44 500 required command not supported by client\n");
    }

    #[test]
    fn offers_parse() {
        let offers = parse_offers(OMRELP_OFFERS);
        assert_eq!(offers[1].name, "relp_software");
        assert_eq!(offers[1].values, ["librelp", "1.11.0", "http://librelp.adiscon.com"]);
        assert_eq!(parse_offers(b"\n\nflag\n"), vec![Offer { name: "flag".into(), values: vec![] }]);
    }

    fn arb_frame() -> impl Strategy<Value = (RelpCommand, Vec<u8>)> {
        let command = prop_oneof![
            Just(RelpCommand::Open),
            Just(RelpCommand::Syslog),
            Just(RelpCommand::Close),
            "[a-zA-Z]{1,32}".prop_map(|s| RelpCommand::from_letters(s.as_bytes())),
        ];
        (command, proptest::collection::vec(any::<u8>(), 0..80))
    }

    /// Feeds `stream` cut at `cuts` (offsets, in any order, clamped to the stream).
    fn decode_cut(stream: &[u8], cuts: &[usize], max: usize) -> (Vec<RelpFrame>, Result<(), RelpError>) {
        let mut cuts: Vec<usize> = cuts.iter().map(|&c| c % (stream.len() + 1)).collect();
        cuts.sort_unstable();
        let mut chunks = Vec::new();
        let mut start = 0;
        for c in cuts {
            chunks.push(&stream[start..c]);
            start = c;
        }
        chunks.push(&stream[start..]);
        decode(&chunks, max)
    }

    proptest! {
        #[test]
        fn encoded_frames_decode_back_in_any_chunks(
            frames in proptest::collection::vec(arb_frame(), 0..12),
            cuts in proptest::collection::vec(any::<usize>(), 0..16),
        ) {
            let frames: Vec<RelpFrame> = frames
                .into_iter()
                .enumerate()
                .map(|(i, (command, data))| RelpFrame { txnr: i as u64 + 1, command, data })
                .collect();
            let stream: Vec<u8> = frames.iter().flat_map(RelpFrame::encode).collect();
            let (decoded, end) = decode_cut(&stream, &cuts, 80);
            prop_assert_eq!(end, Ok(()));
            prop_assert_eq!(decoded, frames);
        }

        #[test]
        fn random_bytes_never_panic_and_do_not_depend_on_chunks(
            bytes in proptest::collection::vec(any::<u8>(), 0..200),
            cuts in proptest::collection::vec(any::<usize>(), 0..16),
        ) {
            let whole = decode(&[&bytes], 16);
            if let Err(e) = &whole.1 {
                prop_assert!(!e.reason().is_empty());
            }
            prop_assert_eq!(decode_cut(&bytes, &cuts, 16), whole);
        }

        #[test]
        fn corrupted_streams_never_panic_and_do_not_depend_on_chunks(
            frames in proptest::collection::vec(arb_frame(), 1..6),
            at in any::<usize>(),
            byte in any::<u8>(),
            insert in any::<bool>(),
            cuts in proptest::collection::vec(any::<usize>(), 0..16),
        ) {
            let mut stream: Vec<u8> = frames
                .into_iter()
                .enumerate()
                .flat_map(|(i, (command, data))| RelpFrame { txnr: i as u64 + 1, command, data }.encode())
                .collect();
            let at = at % stream.len();
            if insert { stream.insert(at, byte) } else { stream[at] = byte }
            let whole = decode(&[&stream], 80);
            prop_assert_eq!(decode_cut(&stream, &cuts, 80), whole);
        }
    }
}
