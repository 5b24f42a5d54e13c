//! The Sigma correlation specification's examples as fixtures: the eight correlation
//! documents of `specification/tests/schema/correlation/` and the specification's inline
//! examples (the brute force chain and the field aliases), each loaded as written from
//! `../shared/corpus` beside single-event rules written here, and run on event streams that
//! must fire and streams that must not. Skips, with a notice, when the corpus is absent.

use std::path::{Path, PathBuf};

use chrono::DateTime;
use sha2::{Digest, Sha256};
use vigil_engine::alert::Alert;
use vigil_engine::correlate::{Correlator, Settings};
use vigil_engine::{Detected, Mark};
use vigil_parsers::{Fields, Value};
use vigil_rules::{RuleSet, RuleSource};

fn spec_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/sigma/specification");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("notice: {} is absent; the correlation specification fixtures are skipped", dir.display());
        None
    }
}

/// A single-event rule that correlations can name by `reference` (used as its id and name).
fn base_rule(reference: &str) -> String {
    format!(
        "title: base {reference}\nid: {reference}\nname: {reference}\nlogsource:\n  product: test\ndetection:\n  sel:\n    \
         never: matched-here\n  condition: sel\n"
    )
}

/// One event: seconds from the start, the rule it hits, its fields.
struct Ev<'a>(i64, &'a str, &'a [(&'a str, Value)]);

fn alert(n: usize, e: &Ev<'_>) -> Alert {
    let mut fields = Fields::new();
    for (k, v) in e.2 {
        fields.insert((*k).to_owned().into(), v.clone());
    }
    Alert::of_fields(
        hex::encode(&Sha256::digest(format!("{n}").as_bytes())[..16]),
        e.1,
        DateTime::from_timestamp(1_796_000_000 + e.0, 0).unwrap_or_default(),
        fields,
    )
}

/// Runs `events` (in order, one batch each) and returns the correlation alerts raised.
fn run(set: &RuleSet, events: &[Ev<'_>]) -> Vec<Alert> {
    let mut correlator = Correlator::new(set, Settings::default());
    let mut raised = Vec::new();
    for (n, e) in events.iter().enumerate() {
        let a = alert(n, e);
        let mark = Mark::at(1, a.time.timestamp_nanos_opt().unwrap_or_default());
        correlator.process(Detected { marks: vec![(mark, 1)], alerts: vec![a], ..Detected::default() }, &mut raised);
    }
    correlator.finish(&mut raised);
    raised.retain(|a| a.correlation.is_some());
    raised
}

fn load(documents: &[String]) -> RuleSet {
    let text = documents.iter().map(|d| format!("{}\n", d.trim_end())).collect::<Vec<_>>().join("---\n");
    let (set, diagnostics) = RuleSet::compile([RuleSource::new("fixture.yml", text)]);
    let errors: Vec<_> = diagnostics.iter().filter(|d| d.severity == vigil_rules::Severity::Error).collect();
    assert!(errors.is_empty(), "{errors:?}");
    set
}

fn s(v: &str) -> Value {
    Value::from(v)
}

/// Fires exactly once, for `title`, with `group`; and the other stream fires nothing.
fn check(set: &RuleSet, title: &str, fire: &[Ev<'_>], silent: &[Ev<'_>], group: &[(&str, &str)]) {
    let got: Vec<Alert> = run(set, fire).into_iter().filter(|a| a.rule.title == title).collect();
    assert_eq!(got.len(), 1, "{title}: {got:#?}");
    let c = got[0].correlation.as_ref().map(|c| c.group.clone()).unwrap_or_default();
    let want: std::collections::BTreeMap<String, String> =
        group.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    assert_eq!(c, want, "{title}");
    let none: Vec<Alert> = run(set, silent).into_iter().filter(|a| a.rule.title == title).collect();
    assert!(none.is_empty(), "{title} must not fire: {none:#?}");
}

fn schema(dir: &Path, name: &str) -> String {
    let path = dir.join("tests/schema/correlation").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

const RULE_5638: &str = "5638f7c0-ac70-491d-8465-2a65075e0d86";

#[test]
fn event_count_examples() {
    let Some(dir) = spec_dir() else { return };
    for (file, field) in [("event_count.yml", "ComputerName"), ("event_count_ecs.yml", "dns.question.name")] {
        let set = load(&[schema(&dir, file), base_rule(RULE_5638)]);
        let on = |host: &'static str| [(field, s(host))];
        let pc1 = on("PC1");
        let pc2 = on("PC2");
        // 100 in 59 minutes on PC1 (and noise on PC2) fires; 100 spread over two hours, or 99, do not.
        let mut fire: Vec<Ev<'_>> = (0..100).map(|i| Ev(i * 35, RULE_5638, &pc1)).collect();
        fire.extend((0..50).map(|i| Ev(i * 30 + 7, RULE_5638, &pc2)));
        fire.sort_by_key(|e| e.0);
        let mut silent: Vec<Ev<'_>> = (0..100).map(|i| Ev(i * 73, RULE_5638, &pc1)).collect();
        silent.extend((0..99).map(|i| Ev(10_000 + i, RULE_5638, &pc2)));
        check(&set, "Many failed logins", &fire, &silent, &[(field, "PC1")]);
    }
}

#[test]
fn value_count_example() {
    let Some(dir) = spec_dir() else { return };
    let set = load(&[schema(&dir, "value_count.yml"), base_rule(RULE_5638)]);
    let users: Vec<[(&str, Value); 3]> = (0..150)
        .map(|i| [("ComputerName", s("DC1")), ("WorkstationName", s("WS7")), ("User", s(&format!("user{i}")))])
        .collect();
    let fire: Vec<Ev<'_>> = (0..100).map(|i| Ev(i * 600, RULE_5638, &users[i as usize])).collect();
    // 200 attempts over 99 users in a day; then 100 users, but over two days.
    let mut silent: Vec<Ev<'_>> = (0..200).map(|i| Ev(i * 60, RULE_5638, &users[(i % 99) as usize])).collect();
    silent.extend((0..100).map(|i| Ev(100_000 + i * 1_800, RULE_5638, &users[(i + 50) as usize])));
    check(&set, "Failed login", &fire, &silent, &[("ComputerName", "DC1"), ("WorkstationName", "WS7")]);
}

#[test]
fn temporal_examples() {
    let Some(dir) = spec_dir() else { return };
    let bases = ["recon_cmd_a", "recon_cmd_b", "recon_cmd_c"].map(base_rule);
    let alice = [("ComputerName", s("PC1")), ("User", s("alice"))];
    let bob = [("ComputerName", s("PC1")), ("User", s("bob"))];
    let temporal = load(&[schema(&dir, "temporal.yml"), bases[0].clone(), bases[1].clone(), bases[2].clone()]);
    // Any order within 5 minutes, by one user on one host.
    let fire = [Ev(0, "recon_cmd_c", &alice), Ev(60, "recon_cmd_a", &alice), Ev(200, "recon_cmd_b", &alice)];
    let silent = [
        Ev(0, "recon_cmd_a", &alice),
        Ev(60, "recon_cmd_b", &bob),
        Ev(100, "recon_cmd_c", &alice),
        Ev(400, "recon_cmd_b", &alice), // a at 0 is more than 5 minutes back
    ];
    check(&temporal, "Recon", &fire, &silent, &[("ComputerName", "PC1"), ("User", "alice")]);

    let ordered = load(&[schema(&dir, "temporal_ordered.yml"), bases[0].clone(), bases[1].clone(), bases[2].clone()]);
    let fire = [Ev(0, "recon_cmd_a", &alice), Ev(60, "recon_cmd_b", &alice), Ev(200, "recon_cmd_c", &alice)];
    let silent = [Ev(0, "recon_cmd_c", &alice), Ev(60, "recon_cmd_b", &alice), Ev(200, "recon_cmd_a", &alice)];
    check(&ordered, "Recon ordered", &fire, &silent, &[("ComputerName", "PC1"), ("User", "alice")]);
    // The unordered example fires on the reversed stream too.
    assert_eq!(run(&temporal, &silent).len(), 1);
}

#[test]
fn value_sum_avg_percentile_examples() {
    let Some(dir) = spec_dir() else { return };
    let sum = load(&[schema(&dir, "value_sum.yml"), base_rule("website_access")]);
    let sent = |n: i64| [("SourceIP", s("10.0.0.5")), ("User", s("alice")), ("bytes_sent", Value::Int(n))];
    let (a, b) = (sent(400_000), sent(300_000));
    let fire = [Ev(0, "website_access", &a), Ev(600, "website_access", &a), Ev(1200, "website_access", &b)];
    // 1.1 MB, but the first 400 kB more than an hour before the last.
    let silent = [Ev(0, "website_access", &a), Ev(3000, "website_access", &a), Ev(3700, "website_access", &b)];
    check(&sum, "Possible Exfiltration to Website", &fire, &silent, &[("SourceIP", "10.0.0.5"), ("User", "alice")]);

    let avg = load(&[schema(&dir, "value_avg.yml"), base_rule("rule_a_id")]);
    let out = |n: i64| [("SourceIP", s("10.0.0.6")), ("User", s("bob")), ("BytesOut", Value::Int(n))];
    let (low, high, mid) = (out(400), out(700), out(500));
    check(
        &avg,
        "Suspicious average network traffic",
        &[Ev(0, "rule_a_id", &low), Ev(60, "rule_a_id", &high)],
        &[Ev(0, "rule_a_id", &low), Ev(60, "rule_a_id", &mid), Ev(120, "rule_a_id", &mid)],
        &[("SourceIP", "10.0.0.6"), ("User", "bob")],
    );

    let pct = load(&[schema(&dir, "value_percentile.yml"), base_rule("process_creation")]);
    let image = |i: &str| [("ComputerName", s("PC9")), ("Image", s(i))];
    let (common, rare) = (image("C:\\Windows\\explorer.exe"), image("C:\\Users\\x\\rare.exe"));
    // A process name seen in at most 1% of the host's process starts of the day.
    let mut fire: Vec<Ev<'_>> = (0..200).map(|i| Ev(i * 60, "process_creation", &common)).collect();
    fire.push(Ev(200 * 60, "process_creation", &rare));
    let mut silent: Vec<Ev<'_>> = (0..50).map(|i| Ev(i * 60, "process_creation", &common)).collect();
    silent.push(Ev(50 * 60, "process_creation", &rare));
    let title = "A computer spawned a processes name in the last 24h than 1% of all the processes.";
    check(&pct, title, &fire, &silent, &[("ComputerName", "PC9")]);
}

/// The YAML blocks of the specification that hold a `correlation:`.
fn inline_examples(dir: &Path) -> Vec<String> {
    let path = dir.join("specification/sigma-correlation-rules-specification.md");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match (&mut current, line.trim_start()) {
            (None, l) if l.starts_with("```yml") || l.starts_with("```yaml") => current = Some(String::new()),
            (Some(_), "```") => blocks.extend(current.take().filter(|b| b.contains("correlation:"))),
            (Some(b), _) => {
                b.push_str(line);
                b.push('\n');
            }
            _ => {}
        }
    }
    blocks
}

#[test]
fn the_specifications_brute_force_chain() {
    let Some(dir) = spec_dir() else { return };
    let example = inline_examples(&dir)
        .into_iter()
        .find(|b| b.contains("Multiple Failed Logins Followed by Successful Login"))
        .unwrap_or_else(|| panic!("the specification's complete example is missing"));
    let set = load(&[example]);
    assert_eq!(set.correlations().len(), 2);
    let failed = "53ba33fd-3a50-4468-a5ef-c583635cfa92";
    let success = "4d0a2c83-c62c-4ed4-b475-c7e23a9269b8";
    let user = |u: &str| [("User", s(u))];
    let (mallory, alice) = (user("mallory"), user("alice"));
    let mut fire: Vec<Ev<'_>> = (0..10).map(|i| Ev(i * 20, failed, &mallory)).collect();
    fire.push(Ev(300, success, &mallory));
    fire.push(Ev(310, success, &alice));
    // Nine failures; then ten, but the success 11 minutes after the tenth.
    let mut silent: Vec<Ev<'_>> = (0..9).map(|i| Ev(i * 20, failed, &mallory)).collect();
    silent.push(Ev(300, success, &mallory));
    silent.extend((0..10).map(|i| Ev(1000 + i * 10, failed, &alice)));
    silent.push(Ev(1090 + 660, success, &alice));
    let title = "Correlation - Multiple Failed Logins Followed by Successful Login";
    check(&set, title, &fire, &silent, &[("User", "mallory")]);
    // The inner correlation is a building block of the outer one (generate: false).
    let inner: Vec<Alert> = run(&set, &fire).into_iter().filter(|a| a.rule.title == "Multiple failed logons").collect();
    assert_eq!(inner.len(), 1);
    assert!(inner[0].building_block);
    assert_eq!(inner[0].correlation.as_ref().map(|c| c.member_count), Some(10));
}

#[test]
fn the_specifications_field_aliases() {
    let Some(dir) = spec_dir() else { return };
    let example = inline_examples(&dir)
        .into_iter()
        .find(|b| b.contains("aliases:") && b.contains("internal_ip"))
        .unwrap_or_else(|| panic!("the specification's aliases example is missing"));
    let set = load(&[example, base_rule("internal_error"), base_rule("new_network_connection")]);
    let error = [("destination.ip", s("10.1.1.1")), ("source.ip", s("203.0.113.7"))];
    let connection = [("source.ip", s("10.1.1.1")), ("destination.ip", s("203.0.113.7"))];
    let unrelated = [("source.ip", s("10.1.1.2")), ("destination.ip", s("203.0.113.7"))];
    check(
        &set,
        "—",
        &[Ev(0, "internal_error", &error), Ev(5, "new_network_connection", &connection)],
        &[
            Ev(0, "internal_error", &error),
            Ev(5, "new_network_connection", &unrelated),
            Ev(30, "new_network_connection", &connection),
        ],
        &[("internal_ip", "10.1.1.1"), ("remote_ip", "203.0.113.7")],
    );
}
