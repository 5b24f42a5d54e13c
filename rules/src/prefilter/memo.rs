//! What a database's scans found in the values they were given, kept per thread for the next
//! event with the same value. An agency's Windows events repeat their values: the same few
//! hundred `Image`, `ParentImage` and `ParentCommandLine` paths, the same scheduled command
//! lines, thousands of times a day. A value's literals are the same every time it is scanned
//! (the scan is of its bytes alone), so a value seen before is looked up instead of scanned:
//! a hash and a compare instead of a Vectorscan call (BENCHMARKS.md).
//!
//! A memo is bounded (entries, bytes, and the length of a value it keeps: about 200 KiB at
//! most, with the map) and cleared when full: a worker thread keeps one per database it scans,
//! a few dozen at most. A field whose values do not repeat (hashes, GUIDs, times) would only pay for the
//! lookups: a memo whose recent hit rate is low stops keeping values for a while, then tries
//! again.

use std::collections::HashMap;

/// Values longer than this are scanned every time: long values rarely repeat exactly, and
/// hashing them costs more.
const MAX_VALUE: usize = 256;

/// Entries kept at most before the memo is cleared.
const MAX_ENTRIES: usize = 2048;

/// Bytes of values kept at most before the memo is cleared.
const MAX_BYTES: usize = 128 * 1024;

/// Lookups per judgement of the hit rate.
const WINDOW: u32 = 1024;

/// A window with fewer hits than `WINDOW / POOR` turns the memo off ...
const POOR: u32 = 8;

/// ... for this many scans, after which it is tried again.
const REST: u32 = 64 * WINDOW;

/// One database's memo: value -> the ids of the literals found in it.
#[derive(Default)]
pub(super) struct Memo {
    found: HashMap<Box<[u8]>, (u32, u32), foldhash::fast::FixedState>,
    /// The ids of every entry, one after the other: an entry is a range of this.
    ids: Vec<u32>,
    bytes: usize,
    lookups: u32,
    hits: u32,
    /// Scans left before the memo is used again, when it was turned off.
    resting: u32,
}

/// What [`Memo::get`] says about a value.
pub(super) enum Lookup<'m> {
    /// Found before: these literals' ids.
    Known(&'m [u32]),
    /// Not kept: scan it, then [`Memo::keep`] what was found.
    Unknown,
    /// Not to be kept (too long, or the memo is resting): scan it.
    Skip,
}

impl Memo {
    /// The ids found in `value` when it was last scanned, if kept.
    pub(super) fn get(&mut self, value: &[u8]) -> Lookup<'_> {
        if value.len() > MAX_VALUE {
            return Lookup::Skip;
        }
        if self.resting > 0 {
            self.resting -= 1;
            return Lookup::Skip;
        }
        self.lookups += 1;
        if self.lookups == WINDOW {
            if self.hits < WINDOW / POOR {
                // Values of this field do not repeat: stop paying for the lookups.
                self.resting = REST;
                self.clear();
            }
            self.lookups = 0;
            self.hits = 0;
        }
        match self.found.get(value) {
            Some(&(start, end)) => {
                self.hits += 1;
                Lookup::Known(self.ids.get(start as usize..end as usize).unwrap_or_default())
            }
            None => Lookup::Unknown,
        }
    }

    /// Keeps the ids found in `value` (after [`Lookup::Unknown`]).
    pub(super) fn keep(&mut self, value: &[u8], ids: &[u32]) {
        if self.found.len() >= MAX_ENTRIES || self.bytes + value.len() > MAX_BYTES {
            self.clear();
        }
        let start = self.ids.len() as u32;
        self.ids.extend_from_slice(ids);
        self.bytes += value.len();
        self.found.insert(value.into(), (start, self.ids.len() as u32));
    }

    fn clear(&mut self) {
        self.found.clear();
        self.ids.clear();
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(memo: &mut Memo, value: &[u8]) -> Option<Vec<u32>> {
        match memo.get(value) {
            Lookup::Known(ids) => Some(ids.to_vec()),
            Lookup::Unknown | Lookup::Skip => None,
        }
    }

    #[test]
    fn keeps_what_was_found_per_value() {
        let mut memo = Memo::default();
        assert!(matches!(memo.get(b"cmd.exe\n"), Lookup::Unknown));
        memo.keep(b"cmd.exe\n", &[3, 7]);
        memo.keep(b"powershell.exe\n", &[]);
        assert_eq!(known(&mut memo, b"cmd.exe\n"), Some(vec![3, 7]));
        assert_eq!(known(&mut memo, b"powershell.exe\n"), Some(vec![]));
        assert_eq!(known(&mut memo, b"cmd.exe"), None, "the bytes, exactly");
        assert!(matches!(memo.get(&[b'a'; MAX_VALUE + 1]), Lookup::Skip));
    }

    #[test]
    fn bounded_and_rests_when_values_do_not_repeat() {
        let mut memo = Memo::default();
        for i in 0..(MAX_ENTRIES + 10) {
            memo.keep(format!("value {i}\n").as_bytes(), &[i as u32]);
            assert!(memo.found.len() <= MAX_ENTRIES);
        }
        let big = [b'a'; MAX_VALUE];
        for i in 0..(2 * MAX_BYTES / MAX_VALUE) {
            let mut value = big;
            value[..8].copy_from_slice(&(i as u64).to_le_bytes());
            memo.keep(&value, &[]);
            assert!(memo.bytes <= MAX_BYTES);
        }
        let mut memo = Memo::default();
        for i in 0..(2 * WINDOW) {
            let value = format!("value {i}\n");
            if let Lookup::Unknown = memo.get(value.as_bytes()) {
                memo.keep(value.as_bytes(), &[i]);
            }
        }
        // No value repeated: after a window of lookups, the memo rests.
        assert!(memo.resting > 0);
        assert!(matches!(memo.get(b"value 1\n"), Lookup::Skip));
        // Repeating values keep it on.
        let mut memo = Memo::default();
        for i in 0..(4 * WINDOW) {
            let value = format!("value {}\n", i % 16);
            if let Lookup::Unknown = memo.get(value.as_bytes()) {
                memo.keep(value.as_bytes(), &[]);
            }
        }
        assert_eq!(memo.resting, 0);
        assert_eq!(known(&mut memo, b"value 3\n"), Some(vec![]));
    }
}
