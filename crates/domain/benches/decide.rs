//! `make bench-policy`: what deciding a create costs as the Paso a Paso schedule grows.
//! `Policies::decide` (the call every create makes, from memory) against an empty
//! schedule, one change per comuna, and 346 comunas × 52 weekly changes, timed over
//! `DECISIONS` decisions (default 200,000) per round, five rounds each. Under callgrind
//! (see docs/benchmarks.md) `SCHEDULE=empty|one|year` runs one only, for an exact
//! instruction count.

use std::hint::black_box;
use std::time::Instant;

use jiff::civil::{Date, Time};
use jiff::{Span, Timestamp};
use permit_domain::{Comuna, Motive, Phase, Policies, Rules, Schedule, effective};

/// Every comuna's `weeks` weekly changes from the year's first day, phases in turn.
fn weekly_changes(rules: &Rules, weeks: i64) -> Schedule {
    let mut schedule = Schedule::default();
    let first = Date::constant(2026, 1, 1);
    for (n, comuna) in Comuna::all().enumerate() {
        for week in 0..weeks {
            let day = first.checked_add(Span::new().weeks(week)).expect("a day of 2026");
            let phase = Phase::ALL[(n + week as usize) % Phase::ALL.len()];
            schedule.record(comuna, effective(day, None, &rules.time_zone), phase);
        }
    }
    schedule
}

/// Nanoseconds per decision over `count` decisions at `now`, every comuna in turn.
fn round(policies: &Policies, rules: &Rules, schedule: &Schedule, now: Timestamp, count: usize) -> f64 {
    let comunas: Vec<Comuna> = Comuna::all().collect();
    let motive = Motive::parse("compras").expect("a catalogue motive");
    let started = Instant::now();
    for n in 0..count {
        let decided = policies.decide(rules, schedule, comunas[n % comunas.len()], motive, now);
        black_box(decided.is_ok());
    }
    started.elapsed().as_nanos() as f64 / count as f64
}

fn main() {
    let count: usize = std::env::var("DECISIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200_000);
    let only = std::env::var("SCHEDULE").ok();
    let rules = Rules::default();
    let policies = Policies::history(&rules.time_zone);
    let now = effective(
        Date::constant(2026, 7, 15),
        Some(Time::constant(10, 0, 0, 0)),
        &rules.time_zone,
    );
    let schedules = [
        ("empty", Schedule::default()),
        ("one", weekly_changes(&rules, 1)),
        ("year", weekly_changes(&rules, 52)),
    ];
    for (name, schedule) in schedules {
        if only.as_deref().is_some_and(|only| only != name) {
            continue;
        }
        let rounds: Vec<f64> = (0..5)
            .map(|_| round(&policies, &rules, &schedule, now, count))
            .collect();
        let mut sorted = rounds.clone();
        sorted.sort_by(f64::total_cmp);
        println!(
            "schedule {name:>5} ({:>5} changes): {count} decisions a round, median {:.0} ns each (rounds: {})",
            schedule.len(),
            sorted[2],
            rounds.iter().map(|r| format!("{r:.0}")).collect::<Vec<_>>().join(", ")
        );
    }
}
