//! Windows event log files (`.evtx`), read natively with the `evtx` crate: each record is
//! rendered as the compact JSON evtx_dump writes (`-o jsonl`), so the JSON parser reads it as it
//! reads evtx_dump's output, and a file gives the same events, and alerts, whichever way it
//! comes in.
//!
//! A damaged file is read as far as it can be, and every problem is reported with a stable
//! reason code (counted in [`crate::stats::Stats`] by the caller):
//!
//! | code | what | what is lost |
//! |---|---|---|
//! | `evtx_bad_file` | empty, no EVTX header, or a header the crate does not read | the file |
//! | `evtx_truncated` | the file ends inside a chunk, or holds fewer chunks than its header counts | the cut chunk(s) |
//! | `evtx_bad_chunk` | a chunk that cannot be read (bad magic or header; with checksum validation, a CRC32 mismatch) | the chunk's records |
//! | `evtx_bad_record` | a record that cannot be read or rendered | the record |
//! | `evtx_bad_checksum` | a CRC32 that does not match (file header, chunk header or records), without checksum validation | nothing: read anyway |
//!
//! Checksum validation is off by default, as in evtx_dump, Hayabusa and Chainsaw: a log copied
//! from a live or crashed system can have a chunk whose CRC32 was not yet updated, and its
//! records, often the newest, are still good. The mismatch is reported all the same.

use std::io::{Read, Seek, SeekFrom};

use evtx::err::EvtxError;
use evtx::{EvtxChunkData, EvtxParser, ParserSettings};
use serde::Serialize;

/// The first 8 bytes of every EVTX file.
pub const MAGIC: &[u8; 8] = b"ElfFile\0";
/// The file header block; chunks follow it.
const HEADER_BLOCK: u64 = 4096;
/// Every chunk's size.
const CHUNK: u64 = 65536;

/// How EVTX files are read.
#[derive(Clone, Copy, Debug, Default)]
pub struct EvtxOptions {
    /// Skip chunks whose CRC32s do not match (`evtx_bad_chunk`: their records are lost), as
    /// the crate's validation does, instead of reading them (`evtx_bad_checksum`).
    pub validate_checksums: bool,
}

/// Something wrong with an input file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub file: String,
    /// A stable reason code (`evtx_bad_chunk`, ...), also counted in the run's stats.
    pub reason: &'static str,
    pub message: String,
}

/// Whether `head` (a file's first bytes) starts like an EVTX file.
pub fn has_magic(head: &[u8]) -> bool {
    head.starts_with(MAGIC)
}

/// An error and its causes, as one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string().trim_end_matches('.').to_owned();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(s.to_string().trim_end_matches('.'));
        source = s.source();
    }
    text
}

/// What a panic carried, as text.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_owned())
}

/// Reads the EVTX file in `data` (named `name` in problems) and calls `record` with each
/// record's EventRecordID and compact JSON, in record order (the oldest chunk first, as
/// Windows reads a log that has wrapped around). Chunks are rendered on the rayon pool, several
/// at once. Problems go to `problem` as they are found; reading goes on after each, as far as
/// the file allows. Only an error of `record` stops it, and is returned.
pub fn read<R: Read + Seek, E>(
    mut data: R,
    name: &str,
    options: EvtxOptions,
    problem: &mut dyn FnMut(Problem),
    mut record: impl FnMut(u64, Vec<u8>) -> Result<(), E>,
) -> Result<(), E> {
    let mut report =
        |reason: &'static str, message: String| problem(Problem { file: name.to_owned(), reason, message });
    let len = match data.seek(SeekFrom::End(0)) {
        Ok(len) => len,
        Err(e) => {
            report("evtx_bad_file", format!("cannot read it: {e}"));
            return Ok(());
        }
    };
    if len == 0 {
        report("evtx_bad_file", "the file is empty".to_owned());
        return Ok(());
    }
    let mut head = [0u8; 8];
    let magic = data.seek(SeekFrom::Start(0)).and_then(|_| data.read_exact(&mut head)).is_ok() && has_magic(&head);
    if !magic {
        report("evtx_bad_file", "the file does not start with the EVTX magic `ElfFile\\0`".to_owned());
        return Ok(());
    }
    let whole = len.saturating_sub(HEADER_BLOCK) / CHUNK;
    if !options.validate_checksums {
        check_chunks(&mut data, whole, &mut report);
    }
    if let Err(e) = data.seek(SeekFrom::Start(0)) {
        report("evtx_bad_file", format!("cannot read it: {e}"));
        return Ok(());
    }
    let parser = match EvtxParser::from_read_seek(data) {
        Ok(parser) => parser,
        Err(e) => {
            report("evtx_bad_file", format!("not a readable EVTX file: {}", chain(&e)));
            return Ok(());
        }
    };
    let header = parser.header();
    if !header.validate_checksum() {
        report(
            "evtx_bad_checksum",
            format!(
                "the file header's CRC32 is invalid (stored {:#010x}, computed {:#010x}); read anyway",
                header.checksum, header.computed_checksum
            ),
        );
    }
    // The header block was read whole, so the file is at least that long.
    let cut = len.saturating_sub(HEADER_BLOCK) % CHUNK;
    if cut != 0 {
        report(
            "evtx_truncated",
            format!("the file ends {cut} bytes into chunk {whole}, of {CHUNK}: that chunk's records are not read"),
        );
    } else if u64::from(header.chunk_count) > whole {
        report(
            "evtx_truncated",
            format!(
                "the file header counts {} chunks and the file holds {whole}: the rest are missing",
                header.chunk_count
            ),
        );
    }
    let settings = ParserSettings::new()
        .num_threads(0)
        .validate_checksums(options.validate_checksums)
        .separate_json_attributes(false)
        .indent(false);
    let mut parser = parser.with_configuration(settings);
    let mut records = parser.records_json_bytes();
    loop {
        // The crate renders chunks on the rayon pool and resumes a worker's panic here: a file
        // that makes it panic is reported, never the end of the run.
        let next = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| records.next())) {
            Ok(next) => next,
            Err(panic) => {
                report(
                    "evtx_bad_file",
                    format!("the EVTX reader failed ({}); the rest of the file is not read", panic_text(&*panic)),
                );
                break;
            }
        };
        match next {
            None => break,
            Some(Ok(r)) => record(r.event_record_id, r.data)?,
            Some(Err(e @ EvtxError::FailedToParseChunk { .. })) => {
                report("evtx_bad_chunk", format!("{}; its records are not read", chain(&e)));
            }
            Some(Err(e)) => report("evtx_bad_record", chain(&e)),
        }
    }
    Ok(())
}

/// Reports every chunk whose CRC32s do not match (the crate reads it anyway when it does not
/// validate them). A chunk that is all zeros is unused; one the crate cannot read at all is
/// reported when it is read.
fn check_chunks(data: &mut (impl Read + Seek), chunks: u64, report: &mut impl FnMut(&'static str, String)) {
    let mut buf = vec![0u8; CHUNK as usize];
    for number in 0..chunks {
        let at = HEADER_BLOCK + number * CHUNK;
        if data.seek(SeekFrom::Start(at)).and_then(|_| data.read_exact(&mut buf)).is_err() {
            return;
        }
        if buf.iter().all(|&b| b == 0) {
            continue;
        }
        let chunk = match EvtxChunkData::new(std::mem::take(&mut buf), false) {
            Ok(chunk) => chunk,
            Err(_) => {
                buf = vec![0u8; CHUNK as usize];
                continue;
            }
        };
        let what = match (chunk.validate_header_checksum(), chunk.validate_data_checksum()) {
            (true, true) => None,
            (false, true) => Some("header's CRC32"),
            (true, false) => Some("records' CRC32"),
            (false, false) => Some("header's and records' CRC32s"),
        };
        if let Some(what) = what {
            report(
                "evtx_bad_checksum",
                format!("chunk {number} (file offset {at:#x}): the {what} does not match; read anyway"),
            );
        }
        buf = chunk.data;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `bytes` as an EVTX file: the records' ids and the problems' reasons.
    fn read_bytes(bytes: Vec<u8>, options: EvtxOptions) -> (Vec<u64>, Vec<&'static str>) {
        let (mut ids, mut reasons) = (Vec::new(), Vec::new());
        let result: Result<(), ()> =
            read(std::io::Cursor::new(bytes), "test.evtx", options, &mut |p| reasons.push(p.reason), |id, json| {
                assert!(serde_json::from_slice::<serde_json::Value>(&json).is_ok());
                ids.push(id);
                Ok(())
            });
        assert!(result.is_ok());
        (ids, reasons)
    }

    /// A file header that counts `chunks` chunks, with its CRC32.
    fn header(chunks: u16) -> Vec<u8> {
        let mut h = vec![0u8; HEADER_BLOCK as usize];
        h[..8].copy_from_slice(MAGIC);
        h[32..36].copy_from_slice(&128u32.to_le_bytes()); // header size
        h[36..38].copy_from_slice(&1u16.to_le_bytes()); // minor version
        h[38..40].copy_from_slice(&3u16.to_le_bytes()); // major version
        h[40..42].copy_from_slice(&4096u16.to_le_bytes()); // header block size
        h[42..44].copy_from_slice(&chunks.to_le_bytes());
        let crc = crc32fast::hash(&h[..120]);
        h[124..128].copy_from_slice(&crc.to_le_bytes());
        h
    }

    #[test]
    fn files_that_are_no_evtx_are_reported_as_bad_files() {
        let options = EvtxOptions::default();
        assert_eq!(read_bytes(Vec::new(), options), (vec![], vec!["evtx_bad_file"]));
        assert_eq!(read_bytes(b"not an event log\n".to_vec(), options), (vec![], vec!["evtx_bad_file"]));
        assert_eq!(read_bytes(b"ElfFile\0 and then text\n".to_vec(), options), (vec![], vec!["evtx_bad_file"]));
    }

    #[test]
    fn missing_and_cut_chunks_are_reported_as_truncation() {
        let options = EvtxOptions::default();
        assert_eq!(read_bytes(header(1), options), (vec![], vec!["evtx_truncated"]));
        let mut cut = header(1);
        cut.extend(std::iter::repeat_n(0u8, 1000));
        assert_eq!(read_bytes(cut, options), (vec![], vec!["evtx_truncated"]));
        // An unused (all-zero) chunk is no problem.
        let mut unused = header(1);
        unused.extend(std::iter::repeat_n(0u8, CHUNK as usize));
        assert_eq!(read_bytes(unused, options), (vec![], vec![]));
    }

    #[test]
    fn a_chunk_of_garbage_is_a_bad_chunk_and_a_bad_file_header_crc_is_reported() {
        let mut garbage = header(1);
        garbage.extend(std::iter::repeat_n(0xabu8, CHUNK as usize));
        for validate_checksums in [false, true] {
            let (ids, reasons) = read_bytes(garbage.clone(), EvtxOptions { validate_checksums });
            assert_eq!((ids, reasons), (vec![], vec!["evtx_bad_chunk"]));
        }
        let mut bad_crc = header(1);
        bad_crc[124] ^= 0xff;
        bad_crc.extend(std::iter::repeat_n(0u8, CHUNK as usize));
        assert_eq!(read_bytes(bad_crc, EvtxOptions::default()), (vec![], vec!["evtx_bad_checksum"]));
    }
}
