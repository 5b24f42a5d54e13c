#![no_main]
//! See `vigil_parsers_fuzz::framing` (parsers/fuzz/src/lib.rs) for the input layout and the
//! invariants checked.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| vigil_parsers_fuzz::framing(data));
