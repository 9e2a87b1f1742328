//! What a replay measured: every request's outcome and its latency from the moment it was
//! scheduled, summed up per minute of the replay and for the whole of it.

use std::collections::BTreeMap;

use serde::Serialize;

/// The requests a citizen or a police officer makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Landing,
    Form,
    Create,
    /// A police check of an issued permit through its QR code's signed link.
    SignedCheck,
    /// A police check by the permit's code, through the database.
    CodeCheck,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The answer expected: `201` for a new citizen's create, `429` for one who used up
    /// the week, `200` otherwise.
    Expected(u16),
    /// Anything else: a 5xx, another status, a timeout, a reset.
    Error(String),
}

#[derive(Debug, Clone)]
pub struct Sample {
    pub kind: Kind,
    /// Seconds from the start of the replay at which the request was due.
    pub due: f64,
    /// From when it was due, not from when it was sent: a late send counts against us.
    pub latency_ms: f64,
    pub outcome: Outcome,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Span {
    pub requests: u64,
    pub permits: u64,
    /// `429`s to citizens who had used up their week: correct answers, counted apart.
    pub refused: u64,
    pub checks: u64,
    pub errors: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub whole: Span,
    pub creates: Span,
    pub checks: Span,
    /// The width of each period below: a minute for a replay of ten minutes or more,
    /// a thirtieth of a shorter one, so that it still has some 30 points.
    pub period_seconds: u64,
    /// By the period of the replay in which the requests were due, from its start (s).
    pub periods: Vec<(u64, Span)>,
    /// The first few distinct errors and how often each happened.
    pub error_kinds: BTreeMap<String, u64>,
}

impl Summary {
    /// `samples` of a replay lasting `seconds`.
    pub fn of(samples: &[Sample], seconds: f64) -> Summary {
        let period_seconds = if seconds >= 600.0 {
            60
        } else {
            ((seconds / 30.0) as u64).max(1)
        };
        let mut by_period: BTreeMap<u64, Vec<&Sample>> = BTreeMap::new();
        let mut error_kinds = BTreeMap::new();
        for sample in samples {
            let period = sample.due.max(0.0) as u64 / period_seconds;
            by_period.entry(period * period_seconds).or_default().push(sample);
            if let Outcome::Error(what) = &sample.outcome
                && (error_kinds.len() < 20 || error_kinds.contains_key(what))
            {
                *error_kinds.entry(what.clone()).or_insert(0) += 1;
            }
        }
        let all: Vec<&Sample> = samples.iter().collect();
        let of_kind = |kinds: &[Kind]| {
            span(
                &all.iter()
                    .copied()
                    .filter(|s| kinds.contains(&s.kind))
                    .collect::<Vec<_>>(),
            )
        };
        Summary {
            whole: span(&all),
            creates: of_kind(&[Kind::Create]),
            checks: of_kind(&[Kind::SignedCheck, Kind::CodeCheck]),
            period_seconds,
            periods: by_period
                .into_iter()
                .map(|(start, samples)| (start, span(&samples)))
                .collect(),
            error_kinds,
        }
    }

    /// The headline's test: no errors at all, and p99 under `p99_ms`.
    pub fn held(&self, p99_ms: f64) -> bool {
        self.whole.errors == 0 && self.whole.p99_ms < p99_ms
    }
}

pub(super) fn span(samples: &[&Sample]) -> Span {
    let mut latencies: Vec<f64> = samples.iter().map(|s| s.latency_ms).collect();
    latencies.sort_by(f64::total_cmp);
    let rank = |q: f64| {
        latencies
            .get(((q * latencies.len() as f64).ceil() as usize).saturating_sub(1))
            .copied()
            .unwrap_or(0.0)
    };
    let count = |keep: &dyn Fn(&Sample) -> bool| samples.iter().filter(|s| keep(s)).count() as u64;
    Span {
        requests: samples.len() as u64,
        permits: count(&|s| s.kind == Kind::Create && s.outcome == Outcome::Expected(201)),
        refused: count(&|s| s.outcome == Outcome::Expected(429)),
        checks: count(&|s| matches!(s.kind, Kind::SignedCheck | Kind::CodeCheck)),
        errors: count(&|s| matches!(s.outcome, Outcome::Error(_))),
        p50_ms: rank(0.50),
        p95_ms: rank(0.95),
        p99_ms: rank(0.99),
        max_ms: latencies.last().copied().unwrap_or(0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(kind: Kind, due: f64, latency_ms: f64, outcome: Outcome) -> Sample {
        Sample {
            kind,
            due,
            latency_ms,
            outcome,
        }
    }

    #[test]
    fn periods_percentiles_and_the_headline_test() {
        let mut samples: Vec<Sample> = (1..=100)
            .map(|ms| sample(Kind::Landing, 10.0, f64::from(ms), Outcome::Expected(200)))
            .collect();
        samples.push(sample(Kind::Create, 61.0, 5.0, Outcome::Expected(201)));
        samples.push(sample(Kind::Create, 62.0, 5.0, Outcome::Expected(429)));
        samples.push(sample(Kind::SignedCheck, 63.0, 5.0, Outcome::Expected(200)));
        let summary = Summary::of(&samples, 3600.0);
        assert_eq!(summary.period_seconds, 60, "a minute for an hour's replay");
        assert_eq!(Summary::of(&samples, 1750.0).period_seconds, 60);
        assert_eq!(Summary::of(&samples, 599.0).period_seconds, 19);
        assert_eq!(summary.periods.len(), 2);
        let first = &summary.periods[0].1;
        assert_eq!(
            (first.requests, first.p50_ms, first.p99_ms, first.max_ms),
            (100, 50.0, 99.0, 100.0)
        );
        let second = &summary.periods[1].1;
        assert_eq!(
            (second.permits, second.refused, second.checks, second.errors),
            (1, 1, 1, 0)
        );
        assert_eq!(summary.creates.requests, 2);
        assert!(summary.held(250.0));
        assert!(!summary.held(99.0), "p99 of 99 ms is not under 99 ms");

        samples.push(sample(Kind::Form, 70.0, 3.0, Outcome::Error("503".into())));
        let summary = Summary::of(&samples, 90.0);
        let starts: Vec<u64> = summary.periods.iter().map(|(start, _)| *start).collect();
        assert_eq!((summary.period_seconds, starts), (3, vec![9, 60, 63, 69]));
        assert_eq!(summary.whole.errors, 1);
        assert_eq!(summary.error_kinds["503"], 1);
        assert!(!summary.held(250.0), "one error is one too many");
    }
}
