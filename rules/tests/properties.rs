//! Property tests of Sigma's value modifiers and conditions: random values, needles, patterns
//! and condition expressions, each checked three ways: against what the Sigma specification
//! says the result is (computed here, independently of the crate), against the reference
//! interpreter (`RuleSet::matches`), and against the compiled matcher with the prefilter on
//! (`RuleSet::matches_with`; 64 filler rules make the rule set large enough to have one).

use base64::Engine as _;
use proptest::prelude::*;
use vigil_parsers::{Event, InputFormat, ParseContext};
use vigil_rules::{RuleSet, RuleSource};

/// Enough rules that never match for the prefilter to be built (it starts at 64 rules).
const FILLERS: usize = 64;

/// Compiles `detection` (the lines under `detection:`, indented by two) with the fillers.
fn rule_set(detection: &str) -> RuleSet {
    let mut sources = vec![RuleSource::new(
        "under_test.yml",
        format!("title: under test\nid: under-test\nlogsource:\n  product: test\ndetection:\n{detection}"),
    )];
    for i in 0..FILLERS {
        sources.push(RuleSource::new(
            format!("filler{i}.yml"),
            format!(
                "title: filler {i}\nid: filler-{i}\nlogsource:\n  product: test\ndetection:\n  sel:\n    f|contains: \
                 'qqfiller{i}zz'\n  condition: sel\n"
            ),
        ));
    }
    let (set, diagnostics) = RuleSet::compile(sources);
    assert!(diagnostics.is_empty(), "{detection}\n{diagnostics:?}");
    assert_eq!(set.len(), FILLERS + 1);
    set
}

/// An event of product `test` with the given JSON fields.
fn event(fields: serde_json::Value) -> Event {
    let line = fields.to_string();
    let ctx = ParseContext::new(chrono::Utc::now());
    let mut event = vigil_parsers::parse_text(&line, &ctx, InputFormat::Json).unwrap_or_else(|e| panic!("{line}: {e}"));
    event.logsource.product = Some("test".into());
    event
}

/// Whether the rule under test (index 0) matches, by the reference interpreter and by the
/// compiled matcher; the two must agree.
fn hit(set: &RuleSet, event: &Event) -> bool {
    let (mut reference, mut compiled) = (Vec::new(), Vec::new());
    set.matches(event, &mut reference);
    let mut scratch = set.scratch();
    set.matches_with(event, &mut scratch, &mut compiled);
    assert_eq!(reference, compiled, "the compiled matcher disagrees with the reference on {:?}", event.fields);
    assert!(reference.iter().all(|&i| i == 0), "a filler matched: {reference:?}");
    reference == [0]
}

/// A YAML single-quoted scalar.
fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A Sigma string whose characters are all literal: `*`, `?` and `\` escaped.
fn escaped(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if matches!(c, '*' | '?' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Text from a small alphabet, so that needles often occur: ASCII letters of both cases, the
/// characters SQL engines treat as wildcards (`_`, `%`), separators, `\`, and Vietnamese
/// letters whose case differs outside ASCII.
fn text(max: usize) -> impl Strategy<Value = String> {
    text_in(0, max)
}

/// [`text`] of at least `min` characters.
fn text_in(min: usize, max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop::sample::select(vec!['a', 'b', 'A', 'B', '_', '%', '.', '-', '/', ' ', '\\', 'đ', 'Đ', 'ă', 'Ă']),
        min..max,
    )
    .prop_map(|cs| cs.into_iter().collect())
}

fn lower(s: &str) -> String {
    s.to_lowercase()
}

/// One element of a wildcard pattern.
#[derive(Clone, Debug)]
enum Glob {
    Char(char),
    Star,
    Question,
}

/// Sigma wildcard matching, written from the specification: `*` any sequence, `?` one
/// character, everything else literal, case-insensitive.
fn glob_matches(pattern: &[Glob], hay: &[char]) -> bool {
    match pattern.split_first() {
        None => hay.is_empty(),
        Some((Glob::Star, rest)) => (0..=hay.len()).any(|i| glob_matches(rest, &hay[i..])),
        Some((Glob::Question, rest)) => !hay.is_empty() && glob_matches(rest, &hay[1..]),
        Some((Glob::Char(c), rest)) => {
            hay.first().is_some_and(|h| lower(&h.to_string()) == lower(&c.to_string())) && glob_matches(rest, &hay[1..])
        }
    }
}

fn glob() -> impl Strategy<Value = Vec<Glob>> {
    proptest::collection::vec(
        prop_oneof![
            6 => prop::sample::select(vec!['a', 'B', '_', '%', '\\', 'đ', 'Ă', '*', '?']).prop_map(Glob::Char),
            2 => Just(Glob::Star),
            1 => Just(Glob::Question),
        ],
        0..6,
    )
}

fn render(pattern: &[Glob]) -> String {
    pattern
        .iter()
        .map(|g| match g {
            Glob::Char(c) => escaped(&c.to_string()),
            Glob::Star => "*".into(),
            Glob::Question => "?".into(),
        })
        .collect()
}

/// A condition over the selections `s0`..`s3`.
#[derive(Clone, Debug)]
enum Cond {
    Sel(usize),
    Not(Box<Cond>),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    OneOf,
    AllOf,
}

fn cond() -> impl Strategy<Value = Cond> {
    let leaf = prop_oneof![6 => (0..4usize).prop_map(Cond::Sel), 1 => Just(Cond::OneOf), 1 => Just(Cond::AllOf)];
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|c| Cond::Not(Box::new(c))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Cond::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner).prop_map(|(a, b)| Cond::Or(Box::new(a), Box::new(b))),
        ]
    })
}

fn cond_text(c: &Cond) -> String {
    match c {
        Cond::Sel(i) => format!("s{i}"),
        Cond::Not(c) => format!("not {}", cond_text(c)),
        Cond::And(a, b) => format!("({} and {})", cond_text(a), cond_text(b)),
        Cond::Or(a, b) => format!("({} or {})", cond_text(a), cond_text(b)),
        Cond::OneOf => "1 of s*".into(),
        Cond::AllOf => "all of them".into(),
    }
}

fn cond_value(c: &Cond, sel: &[bool; 4]) -> bool {
    match c {
        Cond::Sel(i) => sel[*i],
        Cond::Not(c) => !cond_value(c, sel),
        Cond::And(a, b) => cond_value(a, sel) && cond_value(b, sel),
        Cond::Or(a, b) => cond_value(a, sel) || cond_value(b, sel),
        Cond::OneOf => sel.iter().any(|&s| s),
        Cond::AllOf => sel.iter().all(|&s| s),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// `contains`, `startswith`, `endswith` and plain equality, with and without `|cased`.
    #[test]
    fn string_comparisons(hay in text_in(1, 12), needle in text(4), cased in any::<bool>(), how in 0..4usize) {
        let modifier = ["", "|contains", "|startswith", "|endswith"][how];
        let cased_modifier = if cased { "|cased" } else { "" };
        let set = rule_set(&format!(
            "  sel:\n    f{modifier}{cased_modifier}: {}\n  condition: sel\n",
            quoted(&escaped(&needle))
        ));
        let (h, n) = if cased { (hay.clone(), needle.clone()) } else { (lower(&hay), lower(&needle)) };
        let expected = match how {
            0 => h == n,
            1 => h.contains(&n),
            2 => h.starts_with(&n),
            _ => h.ends_with(&n),
        };
        prop_assert_eq!(hit(&set, &event(serde_json::json!({ "f": hay }))), expected, "{:?} {} {:?}", hay, modifier, needle);
    }

    /// `*` and `?` are the only wildcards, `\` escapes, and matching is case-insensitive.
    #[test]
    fn wildcards(hay in text_in(1, 8), pattern in glob()) {
        let set = rule_set(&format!("  sel:\n    f: {}\n  condition: sel\n", quoted(&render(&pattern))));
        let chars: Vec<char> = hay.chars().collect();
        let expected = glob_matches(&pattern, &chars);
        prop_assert_eq!(hit(&set, &event(serde_json::json!({ "f": hay }))), expected, "{:?} vs {}", hay, render(&pattern));
    }

    /// A list of values is any of them; with `|all`, every one. (In the compiled matcher two
    /// or more `contains` values are one automaton, and four or more exact, `startswith` or
    /// `endswith` values hash sets by length.)
    #[test]
    fn value_lists(
        hay in text_in(1, 16),
        needles in proptest::collection::vec(text_in(1, 4), 1..9),
        all in any::<bool>(),
        how in 0..4usize,
    ) {
        let values: Vec<String> = needles.iter().map(|n| quoted(&escaped(n))).collect();
        let modifier = ["|contains", "|startswith", "|endswith", ""][how];
        let all_modifier = if all { "|all" } else { "" };
        let set = rule_set(&format!("  sel:\n    f{modifier}{all_modifier}: [{}]\n  condition: sel\n", values.join(", ")));
        let h = lower(&hay);
        let one = |n: &String| {
            let n = lower(n);
            [h.contains(&n), h.starts_with(&n), h.ends_with(&n), h == n][how]
        };
        let expected = if all { needles.iter().all(one) } else { needles.iter().any(one) };
        prop_assert_eq!(hit(&set, &event(serde_json::json!({ "f": hay }))), expected, "{:?} {} {:?}", hay, modifier, needles);
    }

    /// Keywords: the values searched in the message.
    #[test]
    fn keywords(message in text_in(1, 16), needles in proptest::collection::vec(text(3), 1..4)) {
        let values: Vec<String> = needles.iter().map(|n| format!("    - {}", quoted(&escaped(n)))).collect();
        let set = rule_set(&format!("  keywords:\n{}\n  condition: keywords\n", values.join("\n")));
        let m = lower(&message);
        let expected = needles.iter().any(|n| m.contains(&lower(n)));
        prop_assert_eq!(hit(&set, &event(serde_json::json!({ "message": message }))), expected);
    }

    /// Numbers compare as values, never as substrings, whether the event has a number or text.
    #[test]
    fn numbers(wanted in 0..5000i64, value in 0..5000i64, as_text in any::<bool>()) {
        let set = rule_set(&format!("  sel:\n    n: {wanted}\n  condition: sel\n"));
        let field = if as_text { serde_json::json!(value.to_string()) } else { serde_json::json!(value) };
        prop_assert_eq!(hit(&set, &event(serde_json::json!({ "n": field }))), wanted == value);
    }

    /// `lt`, `lte`, `gt`, `gte` compare numbers.
    #[test]
    fn numeric_comparisons(bound in -100..100i64, value in -100..100i64, how in 0..4usize) {
        let modifier = ["lt", "lte", "gt", "gte"][how];
        let set = rule_set(&format!("  sel:\n    n|{modifier}: {bound}\n  condition: sel\n"));
        let expected = [value < bound, value <= bound, value > bound, value >= bound][how];
        prop_assert_eq!(hit(&set, &event(serde_json::json!({ "n": value }))), expected);
    }

    /// A field the event lacks makes its comparison false, so `not` of it is true; `exists`
    /// says whether it is there.
    #[test]
    fn absent_fields(present in any::<bool>(), value in text_in(1, 6), needle in text(3)) {
        let set = rule_set(&format!(
            "  sel:\n    f|contains: {}\n  condition: not sel\n",
            quoted(&escaped(&needle))
        ));
        let fields = if present { serde_json::json!({ "f": value }) } else { serde_json::json!({ "g": value }) };
        let expected = !(present && lower(&value).contains(&lower(&needle)));
        prop_assert_eq!(hit(&set, &event(fields.clone())), expected);
        let set = rule_set(&format!("  sel:\n    f|exists: {present}\n  condition: sel\n"));
        prop_assert!(hit(&set, &event(fields)));
    }

    /// `base64offset|contains` finds a text wherever it sits in the encoded bytes.
    #[test]
    fn base64offset(needle in "[a-zA-Z0-9 ]{3,12}", prefix in "[a-z]{0,5}", suffix in "[a-z]{0,5}") {
        let set = rule_set(&format!(
            "  sel:\n    f|base64offset|contains: {}\n  condition: sel\n",
            quoted(&needle)
        ));
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{prefix}{needle}{suffix}"));
        prop_assert!(hit(&set, &event(serde_json::json!({ "f": encoded }))), "{} in {}", needle, encoded);
    }

    /// `|windash` is symmetric: whichever of `-`, `/`, en dash, em dash and horizontal bar the
    /// rule writes at the start of each option, it matches the command line whichever of them
    /// the event has there; a dash inside a word stays as written.
    #[test]
    fn windash_is_symmetric(
        words in proptest::collection::vec("[a-d]{1,3}", 1..4),
        rule_dashes in proptest::collection::vec(0..5usize, 4),
        event_dashes in proptest::collection::vec(0..5usize, 4),
        prefix in "[wxyz ]{0,4}",
        suffix in "[wxyz ]{0,4}",
    ) {
        const DASHES: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];
        let options = |dashes: &[usize]| -> String {
            words.iter().zip(dashes).map(|(w, &d)| format!(" {}{w}", DASHES[d])).collect()
        };
        let set = rule_set(&format!(
            "  sel:\n    f|windash|contains: {}\n  condition: sel\n",
            quoted(&options(&rule_dashes))
        ));
        let hay = format!("{prefix}tool.exe{}{suffix}", options(&event_dashes));
        prop_assert!(hit(&set, &event(serde_json::json!({ "f": hay }))), "{:?} vs {:?}", options(&rule_dashes), hay);
        // Not a dash: no match.
        let other: String = words.iter().map(|w| format!(" +{w}")).collect();
        let plus = event(serde_json::json!({ "f": format!("tool.exe{other}") }));
        prop_assert!(!hit(&set, &plus), "{:?}", other);
        // Inside a word, a dash is literal.
        let inner = format!("{}{}{}", words[0], DASHES[rule_dashes[0]], words[0]);
        let set = rule_set(&format!("  sel:\n    f|windash|contains: {}\n  condition: sel\n", quoted(&inner)));
        let swapped = format!("{}{}{}", words[0], DASHES[(rule_dashes[0] + 1) % 5], words[0]);
        let written = event(serde_json::json!({ "f": format!("x {inner} y") }));
        prop_assert!(hit(&set, &written), "{}", inner);
        prop_assert!(!hit(&set, &event(serde_json::json!({ "f": format!("x {swapped} y") }))), "{} vs {}", inner, swapped);
    }

    /// `|re`: whatever a pattern matches, embedded in other text (ASCII or not, so that the
    /// prefilter sees it as written or lowercased), the rule hits, and the prefiltered matcher
    /// agrees (the literals read from the pattern occur in what it scans). The patterns are
    /// SigmaHQ's shapes, and ones where case folding reaches outside ASCII (`(?i)k` matches
    /// the Kelvin sign, `(?i)s` the long s, `(?i)σ` the final sigma).
    #[test]
    fn regular_expressions(
        (pattern, hay) in prop::sample::select(vec![
            r"ipconfig\s+/all",
            r#"(?i)\.exe["']?\s+[^"]{0,8}werfaultsecure\.exe["']?\s+\d{2,10}"#,
            r"(?i)echo.*clip.*&&.*(?:Clipboard|i`?n`?v`?o`?k`?e`?)",
            r#"(?i)(?:set).*&&\s?set.*(?:environment|invoke|\$\{?input).*&&.*""#,
            r"\$env:ComSpec\[(?:\s*\d{1,3}\s*,){2}",
            r"(?i)kes|ask",
            r"(?i)maσk[ab]{2}",
            r"(?i)ΣΣx|Đăng nhập",
            r"(?i)(?:ab){2}c",
            r"Ωmega\d+|xyzΣ",
        ])
        .prop_flat_map(|p| (Just(p), proptest::string::string_regex(p).expect("a pattern proptest can generate from"))),
        prefix in "[a-zA-Z ]{0,4}",
        suffix in "[a-zA-Z ]{0,4}",
        non_ascii in any::<bool>(),
    ) {
        let set = rule_set(&format!("  sel:\n    f|re: {}\n  condition: sel\n", quoted(pattern)));
        let marker = if non_ascii { "đ" } else { "" };
        let value = format!("{marker}{prefix}{hay}{suffix}");
        prop_assert!(hit(&set, &event(serde_json::json!({ "f": value }))), "{} vs {:?}", pattern, value);
    }

    /// A list-valued field (Windows' unnamed `Data`, a JSON array) matches a value when any
    /// element does; with `|all`, each value may match another element; `not` of it holds
    /// when no element matches.
    #[test]
    fn list_valued_fields(
        elements in proptest::collection::vec(text_in(1, 8), 0..5),
        needles in proptest::collection::vec(text_in(1, 3), 1..6),
        all in any::<bool>(),
        negated in any::<bool>(),
    ) {
        let values: Vec<String> = needles.iter().map(|n| quoted(&escaped(n))).collect();
        let all_modifier = if all { "|all" } else { "" };
        let condition = if negated { "not sel" } else { "sel" };
        let set = rule_set(&format!(
            "  sel:\n    f|contains{all_modifier}: [{}]\n  condition: {condition}\n",
            values.join(", ")
        ));
        let found = |n: &String| elements.iter().any(|e| lower(e).contains(&lower(n)));
        let matched = if all { needles.iter().all(found) } else { needles.iter().any(found) };
        prop_assert_eq!(
            hit(&set, &event(serde_json::json!({ "f": elements }))),
            matched != negated,
            "{:?} {} {:?}", elements, condition, needles
        );
    }

    /// Conditions: and, or, not, parentheses, `1 of`, `all of them`, over selections whose
    /// results are known.
    #[test]
    fn conditions(c in cond(), sel in any::<[bool; 4]>()) {
        let mut detection = String::new();
        for i in 0..4 {
            detection.push_str(&format!("  s{i}:\n    f{i}: 'yes'\n"));
        }
        detection.push_str(&format!("  condition: {}\n", cond_text(&c)));
        let set = rule_set(&detection);
        let mut fields = serde_json::Map::new();
        for (i, s) in sel.iter().enumerate() {
            fields.insert(format!("f{i}"), if *s { "YES" } else { "no" }.into());
        }
        prop_assert_eq!(hit(&set, &event(serde_json::Value::Object(fields))), cond_value(&c, &sel), "{}", cond_text(&c));
    }
}
