//! Field names read from the input (JSON keys), interned: a Windows event has thirty-odd
//! fields, and the same thirty names come in every event. Allocating each name for every event,
//! then again for every alert's copy of the fields, and freeing it twice was a tenth of the
//! JSON path's time (BENCHMARKS.md, 2026-12-05). An interned name is a `&'static str`, so a
//! [`FieldName`] that holds it is `Cow::Borrowed`: no allocation to make, copy or free.
//!
//! Names are the senders' to choose, so what is interned is bounded: names longer than
//! [`MAX_LEN`] are never interned, and once [`BUDGET`] bytes of names have been interned in
//! the process, new names are allocated per event as before (the common names came first).
//! Each thread keeps its own table (the detection threads parse in parallel; no lock on the
//! per-event path), counted against the one budget.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::FieldName;

/// Bytes of names interned over the whole process, all threads together, at most.
pub const BUDGET: usize = 1 << 20;

/// Longer names are not interned.
pub const MAX_LEN: usize = 96;

static USED: AtomicUsize = AtomicUsize::new(0);

type Table = HashSet<&'static str, foldhash::fast::FixedState>;

thread_local! {
    static NAMES: RefCell<Table> = RefCell::new(Table::default());
}

/// `name` as a field name: interned (borrowed, static) when it is short and the budget allows,
/// owned otherwise.
pub fn field_name(name: &str) -> FieldName {
    if name.len() > MAX_LEN {
        return Cow::Owned(name.to_owned());
    }
    NAMES.with_borrow_mut(|names| {
        if let Some(&known) = names.get(name) {
            return Cow::Borrowed(known);
        }
        // Reserve the bytes before leaking them: threads racing for the last of the budget
        // cannot overshoot it.
        let reserved = USED.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
            let after = used.checked_add(name.len().max(1))?;
            (after <= BUDGET).then_some(after)
        });
        if reserved.is_err() {
            return Cow::Owned(name.to_owned());
        }
        let leaked: &'static str = Box::leak(Box::from(name));
        names.insert(leaked);
        Cow::Borrowed(leaked)
    })
}

/// A name's identity when it is static (interned, or a name a parser knows): its address and
/// length. Two static names with one identity are the same name, so a cache keyed by the
/// identities of an event's names (the order that sorts them, their prefilter field ids) holds
/// for every event with the same names. `None` for an owned name.
pub fn identity(name: &FieldName) -> Option<(usize, usize)> {
    match name {
        Cow::Borrowed(s) => Some((s.as_ptr() as usize, s.len())),
        Cow::Owned(_) => None,
    }
}

/// Bytes of names interned so far (for tests and diagnostics).
pub fn interned_bytes() -> usize {
    USED.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_are_borrowed_and_shared() {
        let a = field_name("CommandLine");
        let b = field_name("CommandLine");
        let (Cow::Borrowed(a), Cow::Borrowed(b)) = (a, b) else { panic!("not interned") };
        assert_eq!(a, "CommandLine");
        // One copy per thread, not one per call.
        assert!(std::ptr::eq(a, b));
    }

    #[test]
    fn long_names_are_owned() {
        let long = "x".repeat(MAX_LEN + 1);
        assert!(matches!(field_name(&long), Cow::Owned(ref s) if *s == long));
        assert!(matches!(field_name(&"y".repeat(MAX_LEN)), Cow::Borrowed(_)));
    }
}
