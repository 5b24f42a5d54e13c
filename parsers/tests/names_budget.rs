//! The interning budget, in a process of its own: spending it would change what the other
//! tests' threads get.

use std::borrow::Cow;

use vigil_parsers::names::{BUDGET, MAX_LEN, field_name, interned_bytes};

#[test]
fn the_budget_bounds_what_a_sender_can_make_us_keep() {
    // Distinct names until the budget is spent: from then on, names are owned and the
    // interned bytes stop growing.
    let mut n = 0u64;
    while interned_bytes() + MAX_LEN <= BUDGET {
        let _ = field_name(&format!("{n:0>90}"));
        n += 1;
    }
    let mut owned = 0;
    for i in 0..1000 {
        if matches!(field_name(&format!("budget-spent-{i}-{}", "z".repeat(80))), Cow::Owned(_)) {
            owned += 1;
        }
    }
    assert!(interned_bytes() <= BUDGET);
    assert!(owned >= 990, "names interned past the budget: {owned} owned of 1000");
    // A name interned before the budget ran out is still shared.
    assert!(matches!(field_name(&format!("{:0>90}", 0)), Cow::Borrowed(_)));
}
