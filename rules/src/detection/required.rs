//! The literals a regular expression requires: a set of strings one of which occurs in the
//! prefilter's scanned text of every value the expression matches, read from the pattern's
//! syntax tree. A `|re` pattern (`ipconfig\s+/all`, `\$env:ComSpec\[...`) then has a literal
//! set like a `contains` value, and its rule is scanned for instead of being evaluated on
//! every event of its logsource.
//!
//! The scanned text (`crate::prefilter`) keeps an ASCII value as it is and scans it
//! case-insensitively, and lowercases any other value, with `ſ` as `s`. So a character the
//! expression can match at some position stands for what the scan sees of it: its lowercase,
//! which is one string for every character of a class when the class is a case-folding one
//! (`(?i)k` is `[Kk\u{212A}]`: the Kelvin sign lowercases to `k` as well). A character whose
//! lowercase depends on its neighbours (`Σ`, which lowercases to `ς` at the end of a word)
//! stands for nothing, and breaks a literal where it occurs.
//!
//! The analysis is exact or gives up: it never yields a set that a match could miss.

use regex_syntax::hir::{Class, Hir, HirKind};

/// The most strings an exact set holds before the analysis stops growing it.
const MAX_SET: usize = 32;

/// The most characters a class holds for it to be read as a set of strings.
const MAX_CLASS: usize = 16;

/// What is known of a sub-pattern.
#[derive(Clone, Debug, Default)]
struct Info {
    /// Every string the sub-pattern matches, as the scan sees it (`""` for an empty or
    /// zero-width match), when there are few.
    exact: Option<Vec<String>>,
    /// Strings one of which occurs in every match.
    required: Option<Vec<String>>,
}

impl Info {
    fn exact(set: Vec<String>) -> Info {
        Info { exact: Some(set), required: None }
    }

    /// The better of the exact and required sets, as a required set.
    fn best(&self) -> Option<Vec<String>> {
        better(self.exact.clone(), self.required.clone())
    }
}

/// How selective a set is: its shortest string's length (longer is better), then how few
/// strings it has. A set holding `""` is worth nothing.
fn score(set: &[String]) -> (usize, usize) {
    (set.iter().map(String::len).min().unwrap_or(0), usize::MAX - set.len())
}

fn better(a: Option<Vec<String>>, b: Option<Vec<String>>) -> Option<Vec<String>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if score(&b) > score(&a) { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// What the scan sees of `c`, when that does not depend on its neighbours.
fn scanned(c: char) -> Option<String> {
    match c {
        'Σ' => None,
        'ſ' => Some("s".into()),
        c => Some(c.to_lowercase().map(|c| if c == 'ſ' { 's' } else { c }).collect()),
    }
}

/// Every string of `a` followed by every string of `b`, when there are not too many.
fn product(a: &[String], b: &[String]) -> Option<Vec<String>> {
    if a.len() * b.len() > MAX_SET {
        return None;
    }
    let mut out: Vec<String> = a.iter().flat_map(|x| b.iter().map(move |y| format!("{x}{y}"))).collect();
    out.sort();
    out.dedup();
    Some(out)
}

fn class(class: &Class) -> Info {
    let mut set: Vec<String> = Vec::new();
    match class {
        Class::Unicode(c) => {
            let mut count = 0usize;
            for range in c.ranges() {
                count += (range.end() as usize).saturating_sub(range.start() as usize) + 1;
                if count > MAX_CLASS {
                    return Info::default();
                }
                for ch in range.start()..=range.end() {
                    let Some(s) = scanned(ch) else { return Info::default() };
                    set.push(s);
                }
            }
        }
        Class::Bytes(b) => {
            let mut count = 0usize;
            for range in b.ranges() {
                count += usize::from(range.end()).saturating_sub(usize::from(range.start())) + 1;
                if count > MAX_CLASS {
                    return Info::default();
                }
                for byte in range.start()..=range.end() {
                    if !byte.is_ascii() {
                        return Info::default();
                    }
                    set.push(char::from(byte).to_ascii_lowercase().to_string());
                }
            }
        }
    }
    set.sort();
    set.dedup();
    if set.is_empty() || set.len() > MAX_SET { Info::default() } else { Info::exact(set) }
}

/// A concatenation of parts: runs of exact parts are joined into longer strings, and the
/// best run or required set of a part is what the whole requires.
fn concat(parts: impl Iterator<Item = Info>) -> Info {
    let mut run: Option<Vec<String>> = Some(vec![String::new()]);
    let mut whole_exact = true;
    let mut required: Option<Vec<String>> = None;
    for part in parts {
        match (&run, &part.exact) {
            (Some(r), Some(e)) => match product(r, e) {
                Some(joined) => run = Some(joined),
                None => {
                    // Too many strings: the run so far is a candidate, and a new one starts.
                    whole_exact = false;
                    required = better(required, run.take());
                    run = Some(e.clone());
                }
            },
            (_, None) => {
                whole_exact = false;
                required = better(required, run.take());
                required = better(required, part.required.clone());
                run = Some(vec![String::new()]);
            }
            (None, Some(e)) => run = Some(e.clone()),
        }
    }
    if whole_exact {
        return Info { exact: run, required };
    }
    Info { exact: None, required: better(required, run) }
}

fn analyse(hir: &Hir) -> Info {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Info::exact(vec![String::new()]),
        HirKind::Literal(lit) => match std::str::from_utf8(&lit.0) {
            Ok(text) => concat(text.chars().map(|c| match scanned(c) {
                Some(s) => Info::exact(vec![s]),
                None => Info::default(),
            })),
            Err(_) => Info::default(),
        },
        HirKind::Class(c) => class(c),
        HirKind::Capture(c) => analyse(&c.sub),
        HirKind::Repetition(rep) => {
            if rep.min == 0 {
                return Info::default();
            }
            let sub = analyse(&rep.sub);
            if rep.max == Some(rep.min)
                && rep.min <= 8
                && let Some(one) = &sub.exact
            {
                let mut all = Some(vec![String::new()]);
                for _ in 0..rep.min {
                    all = all.and_then(|a| product(&a, one));
                }
                if all.is_some() {
                    return Info { exact: all, required: None };
                }
            }
            Info { exact: None, required: sub.best() }
        }
        HirKind::Concat(parts) => concat(parts.iter().map(analyse)),
        HirKind::Alternation(alternatives) => {
            let infos: Vec<Info> = alternatives.iter().map(analyse).collect();
            let mut exact: Option<Vec<String>> = Some(Vec::new());
            let mut required: Option<Vec<String>> = Some(Vec::new());
            for info in &infos {
                exact = match (exact, &info.exact) {
                    (Some(mut all), Some(e)) if all.len() + e.len() <= MAX_SET => {
                        all.extend(e.iter().cloned());
                        Some(all)
                    }
                    _ => None,
                };
                required = match (required, info.best()) {
                    (Some(mut all), Some(set)) if !set.iter().any(String::is_empty) => {
                        all.extend(set);
                        Some(all)
                    }
                    _ => None,
                };
            }
            for set in [&mut exact, &mut required].into_iter().flatten() {
                set.sort();
                set.dedup();
            }
            Info { exact, required }
        }
    }
}

/// Strings one of which occurs in the scanned text of every value `pattern` matches under
/// these flags (lowercase, as the scan compares them); `None` when the analysis finds no such
/// set (or the pattern does not parse).
pub(crate) fn required_literals(
    pattern: &str,
    (insensitive, multi_line, dot_all): (bool, bool, bool),
) -> Option<Vec<String>> {
    let hir = regex_syntax::ParserBuilder::new()
        .case_insensitive(insensitive)
        .multi_line(multi_line)
        .dot_matches_new_line(dot_all)
        .build()
        .parse(pattern)
        .ok()?;
    analyse(&hir).best().filter(|set| !set.is_empty() && !set.iter().any(String::is_empty))
}

#[cfg(test)]
mod tests {
    use super::required_literals;

    fn req(pattern: &str) -> Option<Vec<String>> {
        required_literals(pattern, (false, false, false))
    }

    fn set(items: &[&str]) -> Option<Vec<String>> {
        Some(items.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn sigmahq_patterns() {
        assert_eq!(req(r"ipconfig\s+/all"), set(&["ipconfig"]));
        assert_eq!(req(r"\$env:ComSpec\[(?:\s*\d{1,3}\s*,){2}"), set(&["$env:comspec["]));
        assert_eq!(
            req(r#"(?i)\.exe["']?\s+[^"]{0,64}werfaultsecure\.exe["']?\s+\d{2,10}"#),
            set(&["werfaultsecure.exe"])
        );
        assert_eq!(req(r"(?i)echo.*clip.*&&.*(?:Clipboard|i`?n`?v`?o`?k`?e`?)"), set(&["echo"]));
        assert_eq!(
            req(r"(?:set).*&&\s?set.*(?:environment|invoke|\$\{?input).*&&"),
            set(&["input", "invoke", "environment"]).map(|mut v| {
                v.sort();
                v
            })
        );
        assert_eq!(req("abc|de"), set(&["abc", "de"]));
        assert_eq!(req("(?i)AbC"), set(&["abc"]));
    }

    #[test]
    fn nothing_required_is_none() {
        assert_eq!(req(r".*"), None);
        assert_eq!(req(r"a*"), None);
        assert_eq!(req(r"abc|x*"), None);
        assert_eq!(req(r"[a-z]+"), None);
        assert_eq!(req(r"[^a]bc"), set(&["bc"]));
        assert_eq!(req(r"("), None);
    }

    #[test]
    fn case_folding_is_what_the_scan_sees() {
        // The Kelvin sign and the long s fold to k and s, and the scan sees them so.
        assert_eq!(required_literals("kes", (true, false, false)), set(&["kes"]));
        // Σ lowercases to σ or ς by its neighbours: it breaks the literal.
        assert_eq!(required_literals("abcΣdefg", (true, false, false)), set(&["defg"]));
        assert_eq!(req("ΣΣ"), None);
        // Non-ASCII text is scanned lowercased.
        assert_eq!(req("ÀÉÎ"), set(&["àéî"]));
        assert_eq!(req("\u{fe0f}\u{20e3}"), set(&["\u{fe0f}\u{20e3}"]));
    }

    #[test]
    fn repetitions_and_classes() {
        assert_eq!(req("(ab){2}c"), set(&["ababc"]));
        assert_eq!(req("x[ab]yz"), set(&["xayz", "xbyz"]));
        assert_eq!(req("(?:abc)+"), set(&["abc"]));
        assert_eq!(req("^abc$"), set(&["abc"]));
    }
}
