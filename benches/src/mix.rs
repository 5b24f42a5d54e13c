//! A traffic mix: groups of lines (agency syslog, Windows JSON, appliance formats) sent in a
//! given ratio, interleaved evenly rather than in blocks.
//!
//! The order is computed once, when the mix is made: a cycle of template indexes in which each
//! group appears in proportion to its weight (smooth weighted round-robin, as nginx balances
//! upstreams), each group going through its lines in turn, and the lines of a group's files
//! taken alternately. The cycle is long enough for every line of every group to be sent at
//! least once. Senders walk the cycle from different starting points.

use crate::stamp::{Framing, Template};

/// One group of the mix: its files' lines and its weight.
#[derive(Clone, Debug)]
pub struct Group<'a> {
    /// Shown in reports: `syslog`, `windows`, `appliance`.
    pub name: &'a str,
    /// Relative share of the sent lines.
    pub weight: u32,
    /// The lines of each file of the group (no line endings).
    pub files: Vec<Vec<&'a [u8]>>,
}

/// What a group of a made mix holds.
#[derive(Clone, Debug)]
pub struct GroupSummary {
    /// The group's name.
    pub name: String,
    /// Its weight.
    pub weight: u32,
    /// Distinct lines.
    pub lines: usize,
    /// Lines whose timestamp is rewritten at send time.
    pub stamped: usize,
}

/// Templates and the cycle they are sent in.
#[derive(Clone, Debug)]
pub struct Mix {
    templates: Vec<Template>,
    order: Vec<u32>,
    groups: Vec<GroupSummary>,
}

/// The non-blank lines of `data`, without their line endings (LF or CRLF).
pub fn lines(data: &[u8]) -> Vec<&[u8]> {
    data.split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .collect()
}

impl Mix {
    /// The mix of `groups`; groups of weight 0 or without lines are left out. `rewrite`:
    /// write the send time into each line's timestamp (see [`crate::stamp`]).
    pub fn new(groups: &[Group<'_>], framing: Framing, rewrite: bool) -> Mix {
        let mut templates = Vec::new();
        let mut kept = Vec::new(); // (first template, lines, weight)
        let mut summaries = Vec::new();
        for g in groups.iter().filter(|g| g.weight > 0) {
            let first = templates.len();
            let longest = g.files.iter().map(Vec::len).max().unwrap_or(0);
            for i in 0..longest {
                for file in &g.files {
                    if let Some(line) = file.get(i) {
                        templates.push(Template::new(line, framing, rewrite));
                    }
                }
            }
            let n = templates.len() - first;
            if n == 0 {
                continue;
            }
            kept.push((first, n, g.weight));
            summaries.push(GroupSummary {
                name: g.name.to_owned(),
                weight: g.weight,
                lines: n,
                stamped: templates[first..].iter().filter(|t| t.is_stamped()).count(),
            });
        }
        let total: u64 = kept.iter().map(|k| u64::from(k.2)).sum();
        // Long enough for each group to go through all its lines.
        let cycle = kept.iter().map(|&(_, n, w)| (n as u64 * total).div_ceil(u64::from(w))).max().unwrap_or(0);
        let mut order = Vec::with_capacity(usize::try_from(cycle).unwrap_or(0));
        let mut current = vec![0i64; kept.len()];
        let mut next_line = vec![0usize; kept.len()];
        let total = i64::try_from(total).unwrap_or(i64::MAX);
        for _ in 0..cycle {
            for (c, k) in current.iter_mut().zip(&kept) {
                *c += i64::from(k.2);
            }
            let Some(best) = (0..kept.len()).max_by_key(|&i| (current[i], std::cmp::Reverse(i))) else { break };
            current[best] -= total;
            let (first, n, _) = kept[best];
            order.push(u32::try_from(first + next_line[best] % n).unwrap_or(0));
            next_line[best] += 1;
        }
        Mix { templates, order, groups: summaries }
    }

    /// Whether there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Length of the cycle.
    pub fn cycle_len(&self) -> usize {
        self.order.len()
    }

    /// The groups kept, in order.
    pub fn groups(&self) -> &[GroupSummary] {
        &self.groups
    }

    /// Mean bytes sent per line over the cycle, framing included.
    pub fn mean_framed_len(&self) -> f64 {
        if self.order.is_empty() {
            return 0.0;
        }
        let bytes: usize = self.order.iter().map(|&i| self.templates[i as usize].framed_len()).sum();
        bytes as f64 / self.order.len() as f64
    }

    /// A walk of the cycle starting `start` lines in (modulo its length). Panics on an empty
    /// mix.
    pub fn cursor(&self, start: usize) -> Cursor<'_> {
        assert!(!self.is_empty(), "cursor of an empty mix");
        Cursor { mix: self, at: start % self.order.len() }
    }
}

/// Walks a mix's cycle, endlessly.
#[derive(Clone, Debug)]
pub struct Cursor<'a> {
    mix: &'a Mix,
    at: usize,
}

impl<'a> Cursor<'a> {
    /// The next template to send.
    #[inline]
    pub fn next_template(&mut self) -> &'a Template {
        let t = &self.mix.templates[self.mix.order[self.at] as usize];
        self.at += 1;
        if self.at == self.mix.order.len() {
            self.at = 0;
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stamp::Clock;

    fn sent(mix: &Mix, start: usize, n: usize) -> Vec<String> {
        let clock = Clock::new();
        let mut c = mix.cursor(start);
        (0..n)
            .map(|_| {
                let mut out = Vec::new();
                c.next_template().write_to(&clock, &mut out).unwrap();
                String::from_utf8(out).unwrap().trim_end().to_owned()
            })
            .collect()
    }

    #[test]
    fn groups_are_interleaved_by_weight_and_files_alternate() {
        let a: Vec<&[u8]> = vec![b"a1", b"a2", b"a3", b"a4", b"a5", b"a6", b"a7"];
        let w: Vec<&[u8]> = vec![b"w1", b"w2"];
        let (c, l): (Vec<&[u8]>, Vec<&[u8]>) = (vec![b"c1", b"c2"], vec![b"l1"]);
        let groups = [
            Group { name: "syslog", weight: 70, files: vec![a] },
            Group { name: "windows", weight: 20, files: vec![w] },
            Group { name: "appliance", weight: 10, files: vec![c, l] },
            Group { name: "none", weight: 0, files: vec![vec![b"x"]] },
        ];
        let mix = Mix::new(&groups, Framing::Newline, false);
        assert_eq!(mix.groups().len(), 3);
        // The appliance group (3 lines at 10%) needs a cycle of 30.
        assert_eq!(mix.cycle_len(), 30);
        let lines = sent(&mix, 0, 30);
        let count = |p: char| lines.iter().filter(|l| l.starts_with(p)).count();
        assert_eq!((count('a'), count('w'), count('c') + count('l')), (21, 6, 3));
        // Never more than a few of one group in a row.
        assert!(lines.windows(4).all(|w| !w.iter().all(|l| l.starts_with('a'))), "{lines:?}");
        assert_eq!(lines.iter().filter(|l| l.starts_with(['c', 'l'])).collect::<Vec<_>>(), ["c1", "l1", "c2"]);
        // Starting elsewhere, and wrapping around.
        assert_eq!(sent(&mix, 29, 2), [lines[29].clone(), lines[0].clone()]);
        assert!((mix.mean_framed_len() - 3.0).abs() < 1e-9);
    }

    #[test]
    fn one_file_alone_is_cycled_in_its_order() {
        let data = b"l1\r\n\n  \nl2\nl3";
        let mix = Mix::new(&[Group { name: "input", weight: 1, files: vec![lines(data)] }], Framing::Octet, true);
        assert_eq!(sent(&mix, 1, 4), ["2 l2", "2 l3", "2 l1", "2 l2"]);
        assert!(Mix::new(&[], Framing::Octet, true).is_empty());
    }
}
