//! The Paso a Paso plan: each comuna in a phase, from an instant the health ministry
//! announced ahead of time (05:00 local on the stated day, unless it says otherwise). What
//! each phase asks of a citizen is the policy's (`policy`). Pure: the issuers hold a `Schedule` in memory.

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;

use crate::comuna::Comuna;

/// A phase of the plan, 1 to 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    Cuarentena,
    Transicion,
    Preparacion,
    AperturaInicial,
    AperturaAvanzada,
}

impl Phase {
    pub const ALL: [Phase; 5] = [
        Phase::Cuarentena,
        Phase::Transicion,
        Phase::Preparacion,
        Phase::AperturaInicial,
        Phase::AperturaAvanzada,
    ];

    /// Its number in the plan, 1–5.
    pub fn number(self) -> u8 {
        match self {
            Phase::Cuarentena => 1,
            Phase::Transicion => 2,
            Phase::Preparacion => 3,
            Phase::AperturaInicial => 4,
            Phase::AperturaAvanzada => 5,
        }
    }

    /// Its stable code, as the API and the schedule's files write it.
    pub fn code(self) -> &'static str {
        match self {
            Phase::Cuarentena => "cuarentena",
            Phase::Transicion => "transicion",
            Phase::Preparacion => "preparacion",
            Phase::AperturaInicial => "apertura-inicial",
            Phase::AperturaAvanzada => "apertura-avanzada",
        }
    }

    /// Its name as the ministry wrote it.
    pub fn label(self) -> &'static str {
        match self {
            Phase::Cuarentena => "Cuarentena",
            Phase::Transicion => "Transición",
            Phase::Preparacion => "Preparación",
            Phase::AperturaInicial => "Apertura inicial",
            Phase::AperturaAvanzada => "Apertura avanzada",
        }
    }

    /// By its code or its number (`transicion`, `2`).
    pub fn parse(text: &str) -> Option<Phase> {
        let text = text.trim();
        Phase::ALL
            .into_iter()
            .find(|p| p.code() == text || p.number().to_string() == text)
    }
}

/// When a published change takes effect: the ministry's 05:00 unless it names a time.
pub const EFFECTIVE_AT: Time = Time::constant(5, 0, 0, 0);

/// The instant `day` at `at` (default `EFFECTIVE_AT`) in `tz`. A time the clocks skip
/// (none at 05:00 in Chile, whose clocks move at midnight) is taken as the moment after.
pub fn effective(day: Date, at: Option<Time>, tz: &TimeZone) -> Timestamp {
    day.to_datetime(at.unwrap_or(EFFECTIVE_AT))
        .to_zoned_datetime(tz.clone())
        .map(|zoned| zoned.timestamp())
        .unwrap_or(Timestamp::MAX)
}

/// A change published too late: it would take effect at or before the moment it was
/// published, and the schedule never changes the past.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a phase change takes effect after it is published, never before")]
pub struct Retroactive;

/// Every comuna's phases over time. A comuna with no entry in force is in no phase (the
/// plan does not cover it, or not yet).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schedule {
    /// By comuna code, each comuna's changes in the order they take effect.
    changes: HashMap<&'static str, Vec<(Timestamp, Phase)>>,
}

impl Schedule {
    /// Adds that `comuna` is in `phase` from `from`, published at `now`. A later change
    /// for the same instant replaces the earlier one (a correction before it takes effect).
    pub fn publish(
        &mut self,
        comuna: Comuna,
        from: Timestamp,
        phase: Phase,
        now: Timestamp,
    ) -> Result<(), Retroactive> {
        if from <= now {
            return Err(Retroactive);
        }
        self.record(comuna, from, phase);
        Ok(())
    }

    /// Adds a change as it was, without asking whether it is ahead of now: for the history
    /// loaded from the repository's policy file and from the database at start-up.
    pub fn record(&mut self, comuna: Comuna, from: Timestamp, phase: Phase) {
        let changes = self.changes.entry(comuna.code()).or_default();
        match changes.binary_search_by_key(&from, |&(at, _)| at) {
            Ok(at) => changes[at].1 = phase,
            Err(at) => changes.insert(at, (from, phase)),
        }
    }

    /// The phase `comuna` is in at `at`, if any.
    pub fn phase_of(&self, comuna: &Comuna, at: Timestamp) -> Option<Phase> {
        let changes = self.changes.get(comuna.code())?;
        let in_force = changes.partition_point(|&(from, _)| from <= at);
        in_force.checked_sub(1).map(|i| changes[i].1)
    }

    /// The next change for `comuna` after `at`: when, and to which phase.
    pub fn next_change(&self, comuna: &Comuna, at: Timestamp) -> Option<(Timestamp, Phase)> {
        let changes = self.changes.get(comuna.code())?;
        changes.get(changes.partition_point(|&(from, _)| from <= at)).copied()
    }

    /// The change published for `comuna` at exactly `at`, if any: a new one for that
    /// instant replaces it.
    pub fn change_at(&self, comuna: &Comuna, at: Timestamp) -> Option<Phase> {
        let changes = self.changes.get(comuna.code())?;
        let found = changes.binary_search_by_key(&at, |&(from, _)| from).ok()?;
        Some(changes[found].1)
    }

    /// How many changes it holds, over every comuna.
    pub fn len(&self) -> usize {
        self.changes.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn santiago() -> TimeZone {
        TimeZone::get("America/Santiago").unwrap()
    }

    fn day(text: &str) -> Date {
        text.parse().unwrap()
    }

    fn at(text: &str) -> Timestamp {
        format!("{text}[America/Santiago]")
            .parse::<jiff::ZonedDateTime>()
            .unwrap()
            .timestamp()
    }

    #[test]
    fn phases_parse_by_code_or_number() {
        for phase in Phase::ALL {
            assert_eq!(Phase::parse(phase.code()), Some(phase));
            assert_eq!(Phase::parse(&phase.number().to_string()), Some(phase));
        }
        assert_eq!(Phase::parse("6"), None);
    }

    #[test]
    fn a_change_takes_effect_at_five_local_time_dst_included() {
        let tz = santiago();
        // Winter time (UTC−4) and summer time (UTC−3).
        assert_eq!(
            effective(day("2020-06-25"), None, &tz).to_string(),
            "2020-06-25T09:00:00Z"
        );
        assert_eq!(
            effective(day("2021-01-14"), None, &tz).to_string(),
            "2021-01-14T08:00:00Z"
        );
        // Sunday 5 September 2021 the clocks went from 00:00 to 01:00: 05:00 is summer time.
        assert_eq!(
            effective(day("2021-09-05"), None, &tz).to_string(),
            "2021-09-05T08:00:00Z"
        );
        assert_eq!(
            effective(day("2021-09-04"), None, &tz).to_string(),
            "2021-09-04T09:00:00Z"
        );
        let noon = Time::constant(12, 0, 0, 0);
        assert_eq!(
            effective(day("2021-09-05"), Some(noon), &tz).to_string(),
            "2021-09-05T15:00:00Z"
        );
    }

    #[test]
    fn the_schedule_answers_the_phase_in_force_and_never_changes_the_past() {
        let tz = santiago();
        let nunoa = Comuna::parse("Ñuñoa").unwrap();
        let maipu = Comuna::parse("Maipú").unwrap();
        let mut schedule = Schedule::default();
        schedule.record(nunoa, effective(day("2020-05-15"), None, &tz), Phase::Cuarentena);
        let published = at("2020-08-10T18:00");
        // "Desde el jueves 05:00, Ñuñoa pasa a Transición."
        let thursday = effective(day("2020-08-13"), None, &tz);
        assert_eq!(schedule.publish(nunoa, thursday, Phase::Transicion, published), Ok(()));
        assert_eq!(
            schedule.publish(maipu, at("2020-08-10T17:00"), Phase::Transicion, published),
            Err(Retroactive)
        );

        assert_eq!(
            schedule.phase_of(&nunoa, at("2020-05-15T04:59")),
            None,
            "before the plan"
        );
        assert_eq!(
            schedule.phase_of(&nunoa, at("2020-08-13T04:59")),
            Some(Phase::Cuarentena)
        );
        assert_eq!(
            schedule.phase_of(&nunoa, at("2020-08-13T05:00")),
            Some(Phase::Transicion)
        );
        assert_eq!(schedule.phase_of(&maipu, at("2020-08-13T05:00")), None);
        assert_eq!(
            schedule.next_change(&nunoa, published),
            Some((thursday, Phase::Transicion))
        );
        assert_eq!(schedule.next_change(&nunoa, thursday), None);

        // A correction for the same instant replaces it; the count stays.
        schedule
            .publish(nunoa, thursday, Phase::Preparacion, published)
            .unwrap();
        assert_eq!(schedule.phase_of(&nunoa, thursday), Some(Phase::Preparacion));
        assert_eq!(schedule.change_at(&nunoa, thursday), Some(Phase::Preparacion));
        assert_eq!(schedule.change_at(&nunoa, published), None);
        assert_eq!(schedule.len(), 2);
    }

    #[test]
    fn a_years_weekly_changes_for_every_comuna_are_held_and_answered() {
        let tz = santiago();
        let mut schedule = Schedule::default();
        let first = day("2020-03-26");
        let week = |n: usize| first.checked_add(jiff::Span::new().weeks(n as i64)).unwrap();
        let phase = |comuna: usize, week: usize| Phase::ALL[(comuna + week) % 5];
        for (n, comuna) in Comuna::all().enumerate() {
            for w in 0..52 {
                schedule.record(comuna, effective(week(w), None, &tz), phase(n, w));
            }
        }
        assert_eq!(schedule.len(), 346 * 52);
        let noon = Some(Time::constant(12, 0, 0, 0));
        for (n, comuna) in Comuna::all().enumerate().step_by(50) {
            assert_eq!(
                schedule.phase_of(&comuna, effective(week(10), noon, &tz)),
                Some(phase(n, 10)),
                "{comuna:?}"
            );
            assert_eq!(
                schedule.next_change(&comuna, effective(week(51), noon, &tz)),
                None,
                "{comuna:?}"
            );
        }
    }
}
