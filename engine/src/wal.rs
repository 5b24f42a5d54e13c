//! The write-ahead log: every accepted message is appended here before it is matched, so a
//! crash loses nothing that was accepted, and a restart matches exactly what was not finished.
//!
//! Layout: `<data_dir>/wal/<first sequence number, 20 digits>.wal`, append-only segments of
//! records. A record is `[payload length: u32 LE][CRC-32 of the payload: u32 LE][payload]`, and
//! a payload is `[sequence number: u64 LE][kind: u8][...]`:
//! - kind 1, a message: `[received, ns since the epoch: i64 LE]`, then three short strings
//!   (`[length: u16 LE][UTF-8]`, length `0xFFFF` for none): the configured source the sender
//!   was attributed to, the transport, the peer address; then the message bytes to the end;
//! - kind 2, a flush mark: the input was quiet, so correlation took what was waiting (written
//!   so that a replay takes it at the same point of the stream).
//!
//! Sequence numbers start at 1 and grow by one per record, across segments and restarts. The
//! position up to which everything has been matched, its alerts committed to the index and
//! its correlation state saved is the *checkpoint*; it is kept by its owners (the index
//! commit's payload and the correlation snapshot), not here. At start, what follows the
//! checkpoint is read back ([`Wal::replay`]); segments wholly at or before it are deleted
//! ([`Wal::release`]).
//!
//! A torn record at the end of the last segment (a crash mid-write) is cut off at open; a bad
//! record elsewhere ends the reading of its segment. Both are counted in [`Recovery`].

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum WalError {
    #[error("write-ahead log {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> WalError + '_ {
    move |source| WalError::Io { path: path.to_owned(), source }
}

/// When appended records are made durable (`fsync`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// After every append (every batch the listeners hand over).
    Always,
    /// At most this long after an append; at once when a sender waits for its
    /// acknowledgement (RELP). The default: a crash of the machine (not of vigil) loses at
    /// most this much of what plain TCP and UDP senders sent.
    Interval(Duration),
    /// Left to the operating system (a crash of vigil loses nothing, one of the machine may).
    Never,
}

#[derive(Clone, Debug)]
pub struct WalOptions {
    /// A segment is closed and a new one started past this size.
    pub segment_bytes: u64,
    /// Past this total size, appends wait for the checkpoint to free segments (backpressure),
    /// rather than delete data not yet matched.
    pub max_bytes: u64,
    pub fsync: FsyncPolicy,
}

/// One message as the log keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalMessage {
    pub received: DateTime<Utc>,
    /// The configured source its sender was attributed to on receipt.
    pub sender: Option<String>,
    pub transport: Option<String>,
    pub peer: Option<String>,
    pub bytes: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    Message(WalMessage),
    Flush,
}

/// What opening the log found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    pub segments: usize,
    /// The last sequence number in the log (0: empty).
    pub last_seq: u64,
    /// Bytes cut off the end of the last segment: a record torn by a crash.
    pub torn_bytes: u64,
}

#[derive(Debug)]
struct Segment {
    first: u64,
    path: PathBuf,
    bytes: u64,
}

/// An open log: appends go to the last segment.
#[derive(Debug)]
pub struct Wal {
    dir: PathBuf,
    options: WalOptions,
    /// Closed segments, oldest first, then the active one (last).
    segments: Vec<Segment>,
    file: File,
    next_seq: u64,
    /// The last sequence number made durable by [`Wal::sync`] (or on disk at open).
    durable_seq: u64,
    /// The active segment has appends no [`SyncJob`] covers yet.
    unsynced: bool,
    /// Segments closed with appends no [`SyncJob`] covers yet.
    rotated: Vec<SyncJob>,
    last_sync: Instant,
    total_bytes: u64,
    buf: Vec<u8>,
}

const HEADER: usize = 8;
const KIND_MESSAGE: u8 = 1;
const KIND_FLUSH: u8 = 2;
const NONE: u16 = u16::MAX;
/// Larger than any message vigil accepts (`max_message_bytes` is capped at 16 MiB): a length
/// beyond it is corruption, not a record.
const MAX_PAYLOAD: u32 = 64 << 20;

/// An fsync to do, made by [`Wal::take_sync`]: once [`SyncJob::run`] returns, every record up to
/// [`SyncJob::upto`] in its segment is durable. The log thread appends while another thread
/// syncs: an fsync waits for whatever the disk is busy with (an index merge writing hundreds of
/// megabytes), and appends must not wait with it.
#[derive(Debug)]
pub struct SyncJob {
    /// A closed segment's own handle. For the active segment the job opens its path when it
    /// runs, so that jobs queued behind a slow fsync hold no file descriptors.
    file: Option<File>,
    path: PathBuf,
    upto: u64,
    /// `false` under `fsync = never`: the job only reports [`SyncJob::upto`].
    fsync: bool,
}

impl SyncJob {
    /// The last sequence number this job makes durable.
    pub fn upto(&self) -> u64 {
        self.upto
    }

    /// Syncs the segment's data; returns [`SyncJob::upto`]. A segment deleted meanwhile needs
    /// nothing: the log deletes only segments whose records are matched and committed.
    pub fn run(&self) -> Result<u64, WalError> {
        if !self.fsync {
            return Ok(self.upto);
        }
        match &self.file {
            Some(file) => file.sync_data().map_err(io(&self.path))?,
            None => match File::open(&self.path) {
                Ok(file) => file.sync_data().map_err(io(&self.path))?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(&self.path)(e)),
            },
        }
        Ok(self.upto)
    }
}

/// Merges jobs for the same segment that follow each other into the last of them: one fsync
/// covers every record appended before it. For jobs queued behind a slow fsync.
pub fn coalesce(jobs: &mut Vec<SyncJob>) {
    jobs.dedup_by(|later, earlier| {
        let same = later.path == earlier.path;
        if same {
            std::mem::swap(later, earlier);
            if earlier.file.is_none() {
                earlier.file = later.file.take();
            }
        }
        same
    });
}

fn segment_name(first: u64) -> String {
    format!("{first:020}.wal")
}

impl Wal {
    /// Opens (creating) the log in `dir`. Its sequence numbers continue after both its own
    /// last record and `floor` (the newest checkpoint known: a log whose files were removed
    /// must not reuse numbers the checkpoints have passed).
    pub fn open(dir: &Path, options: WalOptions, floor: u64) -> Result<(Wal, Recovery), WalError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let mut segments = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io(dir))? {
            let entry = entry.map_err(io(dir))?;
            let name = entry.file_name();
            let Some(first) = name.to_str().and_then(|n| n.strip_suffix(".wal")).and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            let bytes = entry.metadata().map_err(io(&entry.path()))?.len();
            segments.push(Segment { first, path: entry.path(), bytes });
        }
        segments.sort_by_key(|s| s.first);
        let mut recovery = Recovery { segments: segments.len(), ..Recovery::default() };
        // The last segment's end: scan it, and cut a torn record off.
        if let Some(last) = segments.last_mut() {
            let (valid, last_seq) = scan(&last.path)?;
            if valid < last.bytes {
                recovery.torn_bytes = last.bytes - valid;
                let file = OpenOptions::new().write(true).open(&last.path).map_err(io(&last.path))?;
                file.set_len(valid).map_err(io(&last.path))?;
                file.sync_all().map_err(io(&last.path))?;
                last.bytes = valid;
            }
            recovery.last_seq = last_seq.unwrap_or(last.first.saturating_sub(1));
        }
        let next_seq = recovery.last_seq.max(floor) + 1;
        // Appends go to a new segment (or the last one, when it is empty).
        if segments.last().is_some_and(|s| s.bytes == 0)
            && let Some(s) = segments.pop()
        {
            std::fs::remove_file(&s.path).map_err(io(&s.path))?;
        }
        let path = dir.join(segment_name(next_seq));
        let file = OpenOptions::new().create(true).append(true).open(&path).map_err(io(&path))?;
        sync_dir(dir)?;
        segments.push(Segment { first: next_seq, path, bytes: 0 });
        let total_bytes = segments.iter().map(|s| s.bytes).sum();
        let wal = Wal {
            dir: dir.to_owned(),
            options,
            segments,
            file,
            next_seq,
            durable_seq: next_seq - 1,
            unsynced: false,
            rotated: Vec::new(),
            last_sync: Instant::now(),
            total_bytes,
            buf: Vec::with_capacity(1 << 20),
        };
        Ok((wal, recovery))
    }

    /// Appends messages; returns the sequence number of the last (or of the last record, if
    /// `messages` is empty). Durable only after [`Wal::sync`] (see [`Wal::sync_due`]).
    pub fn append<'a>(&mut self, messages: impl IntoIterator<Item = MessageRef<'a>>) -> Result<u64, WalError> {
        self.buf.clear();
        for m in messages {
            let seq = self.next_seq;
            self.next_seq += 1;
            encode(&mut self.buf, seq, Some(&m));
        }
        self.write_buf()
    }

    /// Appends a flush mark; returns its sequence number.
    pub fn append_flush(&mut self) -> Result<u64, WalError> {
        self.buf.clear();
        let seq = self.next_seq;
        self.next_seq += 1;
        encode(&mut self.buf, seq, None);
        self.write_buf()
    }

    fn write_buf(&mut self) -> Result<u64, WalError> {
        if !self.buf.is_empty() {
            let active = self.segments.len() - 1;
            let path = &self.segments[active].path;
            self.file.write_all(&self.buf).map_err(io(path))?;
            self.segments[active].bytes += self.buf.len() as u64;
            self.total_bytes += self.buf.len() as u64;
            self.unsynced = true;
            if self.segments[active].bytes >= self.options.segment_bytes {
                self.rotate()?;
            }
        }
        Ok(self.next_seq - 1)
    }

    /// Closes the active segment (its sync is left to the next [`Wal::take_sync`]) and starts
    /// the next.
    fn rotate(&mut self) -> Result<(), WalError> {
        let path = self.dir.join(segment_name(self.next_seq));
        let file = OpenOptions::new().create(true).append(true).open(&path).map_err(io(&path))?;
        sync_dir(&self.dir)?;
        let closed = std::mem::replace(&mut self.file, file);
        if self.unsynced {
            let closed_path = self.segments[self.segments.len() - 1].path.clone();
            let fsync = self.options.fsync != FsyncPolicy::Never;
            self.rotated.push(SyncJob { file: Some(closed), path: closed_path, upto: self.next_seq - 1, fsync });
            self.unsynced = false;
        }
        self.segments.push(Segment { first: self.next_seq, path, bytes: 0 });
        Ok(())
    }

    /// The fsyncs that make every record appended so far durable, to run in order (on another
    /// thread: see [`SyncJob`]); empty when there is nothing new to sync.
    pub fn take_sync(&mut self) -> Vec<SyncJob> {
        let mut jobs = std::mem::take(&mut self.rotated);
        if self.unsynced {
            let path = self.segments[self.segments.len() - 1].path.clone();
            let fsync = self.options.fsync != FsyncPolicy::Never;
            jobs.push(SyncJob { file: None, path, upto: self.next_seq - 1, fsync });
            self.unsynced = false;
        }
        self.last_sync = Instant::now();
        jobs
    }

    /// Makes every appended record durable, here and now. Jobs taken before with
    /// [`Wal::take_sync`] must have run.
    pub fn sync(&mut self) -> Result<(), WalError> {
        for job in self.take_sync() {
            job.run()?;
        }
        self.durable_seq = self.next_seq - 1;
        Ok(())
    }

    /// Whether the policy wants a sync now; `waiting`: a sender waits for an acknowledgement.
    pub fn sync_due(&self, waiting: bool) -> bool {
        if !self.rotated.is_empty() {
            return true;
        }
        if !self.unsynced {
            return false;
        }
        match self.options.fsync {
            FsyncPolicy::Always | FsyncPolicy::Never => true,
            FsyncPolicy::Interval(every) => waiting || self.last_sync.elapsed() >= every,
        }
    }

    /// The last sequence number made durable by [`Wal::sync`], or on disk at open (jobs run
    /// elsewhere report their own [`SyncJob::upto`]).
    pub fn durable_seq(&self) -> u64 {
        self.durable_seq
    }

    /// The last sequence number appended.
    pub fn last_seq(&self) -> u64 {
        self.next_seq - 1
    }

    /// Bytes in all segments.
    pub fn bytes(&self) -> u64 {
        self.total_bytes
    }

    pub fn segments(&self) -> usize {
        self.segments.len()
    }

    /// Whether the log is past its size cap (appends should wait for the checkpoint).
    pub fn full(&self) -> bool {
        self.total_bytes >= self.options.max_bytes
    }

    /// Deletes the segments whose records are all at or before `checkpoint`. When the active
    /// segment is among them and not empty, a new one is started first, so that a log under
    /// its cap can always shrink. Returns how many were deleted.
    pub fn release(&mut self, checkpoint: u64) -> Result<usize, WalError> {
        let active_done = self.next_seq - 1 <= checkpoint;
        if active_done && self.segments.last().is_some_and(|s| s.bytes > 0) && self.full() {
            self.rotate()?;
        }
        let mut deleted = 0;
        // A segment ends where the next begins; the active one (last) is never deleted.
        while self.segments.len() > 1 && self.segments[1].first <= checkpoint.saturating_add(1) {
            let s = self.segments.remove(0);
            std::fs::remove_file(&s.path).map_err(io(&s.path))?;
            self.total_bytes -= s.bytes;
            deleted += 1;
        }
        Ok(deleted)
    }

    /// Reads every record after `checkpoint`, in order, handing them to `each` in batches of
    /// at most `batch` entries. Returns how many bad records ended a segment's reading early.
    pub fn replay(
        &self,
        checkpoint: u64,
        batch: usize,
        mut each: impl FnMut(Vec<(u64, Entry)>),
    ) -> Result<u64, WalError> {
        let mut bad = 0;
        let mut out = Vec::with_capacity(batch);
        for (i, segment) in self.segments.iter().enumerate() {
            let end = self.segments.get(i + 1).map_or(u64::MAX, |n| n.first);
            if end <= checkpoint.saturating_add(1) || segment.bytes == 0 {
                continue;
            }
            let file = File::open(&segment.path).map_err(io(&segment.path))?;
            let mut reader = BufReader::with_capacity(1 << 20, file.take(segment.bytes));
            loop {
                match read_record(&mut reader).map_err(io(&segment.path))? {
                    Read_::End => break,
                    Read_::Bad => {
                        bad += 1;
                        break;
                    }
                    Read_::Record(seq, entry) => {
                        if seq > checkpoint {
                            out.push((seq, entry));
                            if out.len() >= batch {
                                each(std::mem::replace(&mut out, Vec::with_capacity(batch)));
                            }
                        }
                    }
                }
            }
        }
        if !out.is_empty() {
            each(out);
        }
        Ok(bad)
    }
}

fn sync_dir(dir: &Path) -> Result<(), WalError> {
    // A new file's name is durable once its directory is synced.
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// A message to append, borrowed.
#[derive(Clone, Copy, Debug)]
pub struct MessageRef<'a> {
    pub received: DateTime<Utc>,
    pub sender: Option<&'a str>,
    pub transport: Option<&'a str>,
    pub peer: Option<&'a str>,
    pub bytes: &'a [u8],
}

fn put_str(buf: &mut Vec<u8>, s: Option<&str>) {
    match s {
        // Longer strings than a u16 length can say are cut (names and addresses never are).
        Some(s) => {
            let mut end = s.len().min(usize::from(NONE) - 1);
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            buf.extend_from_slice(&(end as u16).to_le_bytes());
            buf.extend_from_slice(&s.as_bytes()[..end]);
        }
        None => buf.extend_from_slice(&NONE.to_le_bytes()),
    }
}

fn encode(buf: &mut Vec<u8>, seq: u64, message: Option<&MessageRef<'_>>) {
    let start = buf.len();
    buf.extend_from_slice(&[0; HEADER]);
    buf.extend_from_slice(&seq.to_le_bytes());
    match message {
        None => buf.push(KIND_FLUSH),
        Some(m) => {
            buf.push(KIND_MESSAGE);
            let received =
                m.received.timestamp_nanos_opt().unwrap_or(m.received.timestamp_micros().saturating_mul(1000));
            buf.extend_from_slice(&received.to_le_bytes());
            put_str(buf, m.sender);
            put_str(buf, m.transport);
            put_str(buf, m.peer);
            buf.extend_from_slice(m.bytes);
        }
    }
    let payload = &buf[start + HEADER..];
    let len = payload.len() as u32;
    let crc = crc32fast::hash(payload);
    buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
    buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

enum Read_ {
    Record(u64, Entry),
    /// A clean end of the data.
    End,
    /// A torn or corrupt record.
    Bad,
}

fn read_record(reader: &mut impl Read) -> std::io::Result<Read_> {
    let mut header = [0u8; HEADER];
    let mut got = 0;
    while got < HEADER {
        match reader.read(&mut header[got..])? {
            0 if got == 0 => return Ok(Read_::End),
            0 => return Ok(Read_::Bad),
            n => got += n,
        }
    }
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if !(9..=MAX_PAYLOAD).contains(&len) {
        return Ok(Read_::Bad);
    }
    let mut payload = vec![0u8; len as usize];
    if let Err(e) = reader.read_exact(&mut payload) {
        return if e.kind() == std::io::ErrorKind::UnexpectedEof { Ok(Read_::Bad) } else { Err(e) };
    }
    if crc32fast::hash(&payload) != crc {
        return Ok(Read_::Bad);
    }
    Ok(decode(payload).map_or(Read_::Bad, |(seq, e)| Read_::Record(seq, e)))
}

fn decode(payload: Vec<u8>) -> Option<(u64, Entry)> {
    let seq = u64::from_le_bytes(payload.get(..8)?.try_into().ok()?);
    match *payload.get(8)? {
        KIND_FLUSH => Some((seq, Entry::Flush)),
        KIND_MESSAGE => {
            let mut at = 9;
            let received = i64::from_le_bytes(payload.get(at..at + 8)?.try_into().ok()?);
            at += 8;
            let mut string = || -> Option<Option<String>> {
                let len = u16::from_le_bytes(payload.get(at..at + 2)?.try_into().ok()?);
                at += 2;
                if len == NONE {
                    return Some(None);
                }
                let s = std::str::from_utf8(payload.get(at..at + usize::from(len))?).ok()?.to_owned();
                at += usize::from(len);
                Some(Some(s))
            };
            let (sender, transport, peer) = (string()?, string()?, string()?);
            let mut bytes = payload;
            bytes.drain(..at);
            Some((
                seq,
                Entry::Message(WalMessage {
                    received: DateTime::from_timestamp_nanos(received),
                    sender,
                    transport,
                    peer,
                    bytes,
                }),
            ))
        }
        _ => None,
    }
}

/// The length of the valid prefix of a segment, and its last sequence number.
fn scan(path: &Path) -> Result<(u64, Option<u64>), WalError> {
    let file = File::open(path).map_err(io(path))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let (mut valid, mut last) = (0u64, None);
    loop {
        match read_record(&mut reader).map_err(io(path))? {
            Read_::Record(seq, entry) => {
                valid += HEADER as u64 + encoded_len(&entry);
                last = Some(seq);
            }
            Read_::End | Read_::Bad => return Ok((valid, last)),
        }
    }
}

fn encoded_len(entry: &Entry) -> u64 {
    let s = |s: &Option<String>| 2 + s.as_ref().map_or(0, |s| s.len() as u64);
    match entry {
        Entry::Flush => 9,
        Entry::Message(m) => 9 + 8 + s(&m.sender) + s(&m.transport) + s(&m.peer) + m.bytes.len() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> WalOptions {
        WalOptions { segment_bytes: 1024, max_bytes: 1 << 30, fsync: FsyncPolicy::Always }
    }

    fn message(i: u64) -> WalMessage {
        WalMessage {
            received: DateTime::from_timestamp_nanos(1_700_000_000_000_000_000 + i as i64),
            sender: i.is_multiple_of(3).then(|| format!("src-{i}")),
            transport: Some("tcp".into()),
            peer: i.is_multiple_of(2).then(|| "127.0.0.1:5000".into()),
            bytes: format!("<13>message number {i} with some text").into_bytes(),
        }
    }

    fn refs(m: &[WalMessage]) -> Vec<MessageRef<'_>> {
        m.iter()
            .map(|m| MessageRef {
                received: m.received,
                sender: m.sender.as_deref(),
                transport: m.transport.as_deref(),
                peer: m.peer.as_deref(),
                bytes: &m.bytes,
            })
            .collect()
    }

    fn all(wal: &Wal, after: u64) -> Vec<(u64, Entry)> {
        let mut out = Vec::new();
        let bad = wal.replay(after, 7, |b| out.extend(b)).expect("replay");
        assert_eq!(bad, 0);
        out
    }

    #[test]
    fn appends_read_back_across_segments_and_restarts() {
        let dir = tempfile::tempdir().expect("temp dir");
        let msgs: Vec<WalMessage> = (0..100).map(message).collect();
        let (mut wal, rec) = Wal::open(dir.path(), options(), 0).expect("open");
        assert_eq!(rec.last_seq, 0);
        // A batch goes into one segment; segments rotate between batches.
        for chunk in msgs[..40].chunks(8) {
            wal.append(refs(chunk)).expect("append");
        }
        assert_eq!(wal.last_seq(), 40);
        assert_eq!(wal.append_flush().expect("flush"), 41);
        for chunk in msgs[40..].chunks(8) {
            wal.append(refs(chunk)).expect("append");
        }
        assert_eq!(wal.last_seq(), 101);
        wal.sync().expect("sync");
        assert!(wal.segments() > 3, "1 KiB segments: {}", wal.segments());
        drop(wal);
        let (wal, rec) = Wal::open(dir.path(), options(), 0).expect("reopen");
        assert_eq!((rec.last_seq, rec.torn_bytes), (101, 0));
        let got = all(&wal, 0);
        assert_eq!(got.len(), 101);
        assert_eq!(got[40], (41, Entry::Flush));
        assert_eq!(got[0], (1, Entry::Message(msgs[0].clone())));
        assert_eq!(got[100], (101, Entry::Message(msgs[99].clone())));
        assert!(got.iter().enumerate().all(|(i, (seq, _))| *seq == i as u64 + 1));
        // After a checkpoint, only what follows it.
        let tail = all(&wal, 90);
        assert_eq!(tail.first().map(|r| r.0), Some(91));
        assert_eq!(tail.len(), 11);
        assert_eq!(wal.last_seq(), 101);
    }

    #[test]
    fn syncs_taken_cover_closed_segments_then_the_active_one_in_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        let msgs: Vec<WalMessage> = (0..60).map(message).collect();
        let (mut wal, _) = Wal::open(dir.path(), options(), 0).expect("open");
        assert!(!wal.sync_due(false) && wal.take_sync().is_empty());
        for chunk in msgs.chunks(6) {
            wal.append(refs(chunk)).expect("append");
        }
        assert!(wal.segments() > 2 && wal.sync_due(false));
        let jobs = wal.take_sync();
        // One job per segment written since the last sync: closed ones first, oldest first.
        assert_eq!(jobs.len(), wal.segments());
        assert!(jobs.windows(2).all(|w| w[0].upto() < w[1].upto()));
        assert_eq!(jobs.last().map(SyncJob::upto), Some(60));
        // Appends go on while the jobs run elsewhere.
        wal.append(refs(&msgs[..2])).expect("append");
        for job in &jobs {
            assert_eq!(job.run().expect("sync"), job.upto());
        }
        let mut more = wal.take_sync();
        assert_eq!(more.iter().map(SyncJob::upto).collect::<Vec<_>>(), vec![62]);
        // Jobs queued behind a slow fsync: one per segment, the last of each run.
        wal.append(refs(&msgs[..1])).expect("append");
        more.extend(wal.take_sync());
        coalesce(&mut more);
        assert_eq!(more.iter().map(SyncJob::upto).collect::<Vec<_>>(), vec![63]);
        assert_eq!(more[0].run().expect("sync"), 63);
        assert!(!wal.sync_due(true), "nothing left to sync");
        // The synchronous sync is the same, done here.
        wal.append(refs(&msgs[..1])).expect("append");
        wal.sync().expect("sync");
        assert_eq!(wal.durable_seq(), 64);
        assert!(wal.take_sync().is_empty());
    }

    #[test]
    fn release_deletes_only_what_the_checkpoint_passed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let msgs: Vec<WalMessage> = (0..200).map(message).collect();
        let (mut wal, _) = Wal::open(dir.path(), options(), 0).expect("open");
        for chunk in msgs.chunks(10) {
            wal.append(refs(chunk)).expect("append");
        }
        wal.sync().expect("sync");
        let (segments, bytes) = (wal.segments(), wal.bytes());
        let deleted = wal.release(100).expect("release");
        assert!(deleted > 0 && wal.segments() == segments - deleted);
        assert!(wal.bytes() < bytes);
        // Everything after the checkpoint is still there.
        let rest = all(&wal, 100);
        assert_eq!(rest.len(), 100);
        assert_eq!(rest[0].0, 101);
        wal.release(200).expect("release");
        assert!(all(&wal, 200).is_empty());
        assert_eq!(wal.segments(), 1, "the active segment stays");
    }

    #[test]
    fn a_torn_tail_is_cut_and_numbering_continues() {
        let dir = tempfile::tempdir().expect("temp dir");
        let msgs: Vec<WalMessage> = (0..5).map(message).collect();
        let opts = WalOptions { segment_bytes: 1 << 20, ..options() };
        let (mut wal, _) = Wal::open(dir.path(), opts.clone(), 0).expect("open");
        wal.append(refs(&msgs)).expect("append");
        wal.sync().expect("sync");
        drop(wal);
        // Tear the last record: drop its last 3 bytes.
        let path = dir.path().join(segment_name(1));
        let len = std::fs::metadata(&path).expect("meta").len();
        OpenOptions::new().write(true).open(&path).and_then(|f| f.set_len(len - 3)).expect("truncate");
        let (mut wal, rec) = Wal::open(dir.path(), opts.clone(), 0).expect("reopen");
        assert_eq!(rec.last_seq, 4);
        assert!(rec.torn_bytes > 0);
        assert_eq!(wal.append(refs(&msgs[..1])).expect("append"), 5);
        wal.sync().expect("sync");
        let got = all(&wal, 0);
        assert_eq!(got.iter().map(|r| r.0).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5]);
        // A floor above the log's end (its files were removed): numbers continue past it.
        drop(wal);
        let other = tempfile::tempdir().expect("temp dir");
        let (mut wal, _) = Wal::open(other.path(), opts, 1000).expect("open");
        assert_eq!(wal.append(refs(&msgs[..1])).expect("append"), 1001);
    }

    #[test]
    fn a_corrupt_byte_ends_its_segment_and_is_counted() {
        let dir = tempfile::tempdir().expect("temp dir");
        let msgs: Vec<WalMessage> = (0..60).map(message).collect();
        let (mut wal, _) = Wal::open(dir.path(), options(), 0).expect("open");
        for chunk in msgs.chunks(5) {
            wal.append(refs(chunk)).expect("append");
        }
        wal.sync().expect("sync");
        drop(wal);
        // Flip a byte in the middle of the first segment.
        let path = dir.path().join(segment_name(1));
        let mut bytes = std::fs::read(&path).expect("read");
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x55;
        std::fs::write(&path, bytes).expect("write");
        let (wal, _) = Wal::open(dir.path(), options(), 0).expect("reopen");
        let mut got = Vec::new();
        let bad = wal.replay(0, 100, |b| got.extend(b)).expect("replay");
        assert_eq!(bad, 1);
        assert!(got.len() < 60 && got.len() > 10, "{}", got.len());
        assert_eq!(got.last().map(|r| r.0), Some(60), "later segments are read");
    }

    #[test]
    fn the_cap_is_reported_and_release_frees_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let msgs: Vec<WalMessage> = (0..100).map(message).collect();
        let opts = WalOptions {
            segment_bytes: 1 << 20,
            max_bytes: 2000,
            fsync: FsyncPolicy::Interval(Duration::from_secs(60)),
        };
        let (mut wal, _) = Wal::open(dir.path(), opts, 0).expect("open");
        wal.append(refs(&msgs)).expect("append");
        assert!(wal.full());
        assert!(!wal.sync_due(false), "the interval has not passed");
        assert!(wal.sync_due(true), "a waiting sender forces it");
        wal.sync().expect("sync");
        assert_eq!(wal.durable_seq(), 100);
        // All of it in the active segment: release rotates, then deletes it.
        wal.release(100).expect("release");
        assert!(!wal.full(), "{} bytes", wal.bytes());
        assert_eq!(wal.append(refs(&msgs[..1])).expect("append"), 101);
    }
}
