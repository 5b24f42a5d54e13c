//! Support code for vigil's benchmarks and its load tool, `vigil-load`: the traffic mix
//! ([`mix`]), lines whose timestamp is the time they are sent ([`stamp`]), and latency
//! histograms read from `GET /metrics` ([`prom`]), and synthetic alerts for the search
//! benchmark `vigil-searchbench` ([`alerts`]).

pub mod alerts;
pub mod mix;
pub mod prom;
pub mod stamp;
