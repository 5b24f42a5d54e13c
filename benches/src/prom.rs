//! Histograms read from the Prometheus text format, and quantiles estimated from them.
//!
//! A run's latency distribution is the difference of a histogram scraped before the run and
//! after it ([`Histogram::since`]). Quantiles are estimated as Prometheus' `histogram_quantile`
//! does: the bucket holding the rank is found, and the value interpolated linearly between the
//! bucket's bounds (the first bucket starting at 0). The estimate can be off by up to half a
//! bucket's width: vigil's buckets are quarter powers of 2, each 19% wider than the one below.

/// One histogram without labels other than `le`.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    /// `(upper bound, cumulative count)`, by increasing bound; the last bound is `+Inf`.
    pub buckets: Vec<(f64, f64)>,
    /// Sum of the observations.
    pub sum: f64,
    /// Number of observations.
    pub count: f64,
}

/// A quantile estimated from a histogram.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Quantile {
    /// Nothing was observed.
    Empty,
    /// The estimate.
    At(f64),
    /// Above the largest finite bucket bound, which is all that is known.
    Above(f64),
}

impl std::fmt::Display for Quantile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Quantile::Empty => f.write_str("-"),
            Quantile::At(s) => f.write_str(&seconds(*s)),
            Quantile::Above(s) => write!(f, "> {}", seconds(*s)),
        }
    }
}

/// Seconds in a readable unit: `850 µs`, `12.3 ms`, `1.25 s`.
pub fn seconds(s: f64) -> String {
    if s < 0.001 {
        format!("{:.0} µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{s:.2} s")
    }
}

impl Histogram {
    /// The histogram `name` (its `NAME_bucket`, `NAME_sum` and `NAME_count` samples) in the
    /// text exposition `text`; `None` when it has no buckets there.
    pub fn parse(text: &str, name: &str) -> Option<Histogram> {
        let mut h = Histogram { buckets: Vec::new(), sum: 0.0, count: 0.0 };
        for line in text.lines() {
            let Some(rest) = line.strip_prefix(name) else { continue };
            if let Some(rest) = rest.strip_prefix("_bucket{") {
                let (labels, value) = rest.split_once('}')?;
                let le = labels.split(',').find_map(|l| l.trim().strip_prefix("le="))?.trim_matches('"');
                let le = if le == "+Inf" { f64::INFINITY } else { le.parse().ok()? };
                h.buckets.push((le, sample_value(value)?));
            } else if let Some(rest) = rest.strip_prefix("_sum") {
                h.sum = sample_value(rest)?;
            } else if let Some(rest) = rest.strip_prefix("_count") {
                h.count = sample_value(rest)?;
            }
        }
        h.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        (!h.buckets.is_empty()).then_some(h)
    }

    /// What was observed between `before` and `self`; `None` when their buckets differ.
    pub fn since(&self, before: &Histogram) -> Option<Histogram> {
        if self.buckets.len() != before.buckets.len() {
            return None;
        }
        let buckets = self
            .buckets
            .iter()
            .zip(&before.buckets)
            .map(|(a, b)| (a.0 == b.0).then_some((a.0, (a.1 - b.1).max(0.0))))
            .collect::<Option<Vec<_>>>()?;
        Some(Histogram { buckets, sum: (self.sum - before.sum).max(0.0), count: (self.count - before.count).max(0.0) })
    }

    /// The mean observation, when there is any.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0.0).then(|| self.sum / self.count)
    }

    /// The `q` quantile (0 to 1), interpolated linearly within its bucket.
    pub fn quantile(&self, q: f64) -> Quantile {
        let total = self.buckets.last().map_or(0.0, |b| b.1);
        if total <= 0.0 {
            return Quantile::Empty;
        }
        let rank = q.clamp(0.0, 1.0) * total;
        let (mut lower, mut below) = (0.0, 0.0);
        for &(le, cumulative) in &self.buckets {
            if cumulative >= rank && cumulative > below {
                if le.is_infinite() {
                    return Quantile::Above(lower);
                }
                let within = (rank - below) / (cumulative - below);
                return Quantile::At(lower + (le - lower) * within);
            }
            if le.is_finite() {
                lower = le;
            }
            below = cumulative;
        }
        Quantile::Above(lower)
    }
}

/// The value of a sample line's remainder: ` 12.5` (an optional timestamp after it ignored).
fn sample_value(rest: &str) -> Option<f64> {
    let value = rest.split_whitespace().next()?;
    match value {
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        v => v.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
# HELP vigil_alert_latency_seconds From receipt to alert.
# TYPE vigil_alert_latency_seconds histogram
vigil_alert_latency_seconds_sum 0.35
vigil_alert_latency_seconds_count 100
vigil_alert_latency_seconds_bucket{le=\"0.001\"} 0
vigil_alert_latency_seconds_bucket{le=\"0.002\"} 50
vigil_alert_latency_seconds_bucket{le=\"0.004\"} 90
vigil_alert_latency_seconds_bucket{le=\"0.008\"} 99
vigil_alert_latency_seconds_bucket{le=\"+Inf\"} 100
vigil_batch_duration_seconds_bucket{le=\"+Inf\"} 7
# EOF
";

    fn assert_close(q: Quantile, expected: f64) {
        match q {
            Quantile::At(v) => assert!((v - expected).abs() < 1e-12, "{v} != {expected}"),
            other => panic!("{other:?} != {expected}"),
        }
    }

    #[test]
    fn parses_and_interpolates() {
        let h = Histogram::parse(TEXT, "vigil_alert_latency_seconds").unwrap();
        assert_eq!(h.count, 100.0);
        assert_eq!(h.buckets.len(), 5);
        // Rank 50 is the top of the (1 ms, 2 ms] bucket.
        assert_close(h.quantile(0.5), 0.002);
        // Rank 25 is half-way through it.
        assert_close(h.quantile(0.25), 0.0015);
        // Rank 70: half of the 40 in (2 ms, 4 ms].
        assert_close(h.quantile(0.7), 0.003);
        assert_eq!(h.quantile(0.999), Quantile::Above(0.008));
        assert!((h.mean().unwrap() - 0.0035).abs() < 1e-12);
        assert!(Histogram::parse(TEXT, "vigil_nothing").is_none());
    }

    #[test]
    fn the_difference_of_two_scrapes() {
        let before = Histogram::parse(TEXT, "vigil_alert_latency_seconds").unwrap();
        let after = Histogram::parse(
            &TEXT.replace("} 90", "} 190").replace("} 99", "} 199").replace("} 100", "} 200"),
            "vigil_alert_latency_seconds",
        )
        .unwrap();
        let d = after.since(&before).unwrap();
        assert_eq!(d.buckets.iter().map(|b| b.1).collect::<Vec<_>>(), [0.0, 0.0, 100.0, 100.0, 100.0]);
        assert_close(d.quantile(0.5), 0.003);
        let empty = before.since(&before).unwrap();
        assert_eq!(empty.quantile(0.5), Quantile::Empty);
        assert_eq!(empty.mean(), None);
    }

    #[test]
    fn readable_seconds() {
        assert_eq!(seconds(0.00085), "850 µs");
        assert_eq!(seconds(0.0123), "12.3 ms");
        assert_eq!(seconds(1.25), "1.25 s");
        assert_eq!(Quantile::Above(13.1072).to_string(), "> 13.11 s");
    }
}
