//! Replays dated scenarios of 2020–2021 against the repository's policy file
//! (`data/policy.toml`) and a phase schedule, through `Policies::decide`, the call the
//! issuers make for every request.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use permit_domain::{Comuna, Motive, Phase, Policies, Refusal, Rules, Schedule, Terms, effective};

struct Replay {
    rules: Rules,
    policies: Policies,
    schedule: Schedule,
}

impl Replay {
    fn new() -> Replay {
        let rules = Rules::default();
        let policies = Policies::history(&rules.time_zone);
        Replay {
            rules,
            policies,
            schedule: Schedule::default(),
        }
    }

    fn tz(&self) -> &TimeZone {
        &self.rules.time_zone
    }

    /// `comuna` enters `phase` at 05:00 on `day`.
    fn enters(&mut self, comuna: &str, phase: Phase, day: &str) {
        let from = effective(day.parse::<Date>().unwrap(), None, &self.rules.time_zone);
        self.schedule.record(Comuna::parse(comuna).unwrap(), from, phase);
    }

    /// A request at local time `at` (its permit starts 15 minutes later).
    fn ask(&self, at: &str, comuna: &str, motive: &str) -> Result<Terms, Refusal> {
        self.policies.decide(
            &self.rules,
            &self.schedule,
            Comuna::parse(comuna).unwrap(),
            Motive::parse(motive).unwrap(),
            local(at, self.tz()),
        )
    }
}

fn local(at: &str, tz: &TimeZone) -> Timestamp {
    at.parse::<jiff::civil::DateTime>()
        .unwrap()
        .to_zoned_datetime(tz.clone())
        .unwrap()
        .timestamp()
}

#[test]
fn a_saturday_in_april_2021_in_a_comuna_in_transicion() {
    let mut replay = Replay::new();
    replay.enters("Providencia", Phase::Transicion, "2021-03-01");
    // Saturday 10 April 2021: one general permit of 2 hours for the weekend.
    let saturday = replay.ask("2021-04-10T10:00", "Providencia", "compras").unwrap();
    assert_eq!(saturday.issued_under.policy.as_str(), "2021-04-05");
    assert_eq!(saturday.issued_under.phase, Some(Phase::Transicion));
    assert_eq!(saturday.weekly_limit, Some(1));
    assert_eq!(saturday.duration.as_mins(), 120);
    // On the Tuesday before, none was needed.
    let tuesday = replay.ask("2021-04-06T10:00", "Providencia", "compras").unwrap_err();
    assert_eq!(tuesday.code(), "no_permit_needed");
    // Two weeks earlier, on Saturday 27 March, the general permit was suspended for the weekend,
    // and a medical one was not.
    let suspended = replay.ask("2021-03-27T10:00", "Providencia", "compras").unwrap_err();
    assert_eq!(suspended.code(), "motive_not_offered");
    assert_eq!(
        suspended.to_string(),
        "Providencia está en Transición: los fines de semana no se otorga el permiso \
         «Compra de insumos básicos (alimentos, farmacia)»."
    );
    assert!(replay.ask("2021-03-27T10:00", "Providencia", "atencion-medica").is_ok());
}

#[test]
fn a_weekend_in_cuarentena_from_5_april_2021_takes_at_most_one_of_the_two() {
    let mut replay = Replay::new();
    replay.enters("Ñuñoa", Phase::Cuarentena, "2021-03-25");
    let saturday = replay.ask("2021-04-10T10:00", "Ñuñoa", "compras").unwrap();
    assert_eq!((saturday.weekly_limit, saturday.weekend_cap), (Some(2), Some(1)));
    let friday = replay.ask("2021-04-09T10:00", "Ñuñoa", "compras").unwrap();
    assert_eq!((friday.weekly_limit, friday.weekend_cap), (Some(2), None));
    // The Saturday before the change had no such cap (and no general permit).
    let before = replay.ask("2021-04-03T10:00", "Ñuñoa", "atencion-medica").unwrap();
    assert_eq!(before.weekend_cap, None);
    assert_eq!(before.issued_under.policy.as_str(), "2021-03-27");
}

#[test]
fn the_22_june_2020_quota_change() {
    let mut replay = Replay::new();
    replay.enters("Santiago", Phase::Cuarentena, "2020-05-15");
    let sunday = replay.ask("2020-06-21T10:00", "Santiago", "compras").unwrap();
    assert_eq!(sunday.issued_under.policy.as_str(), "2020-06-01");
    assert_eq!((sunday.weekly_limit, sunday.motive_cap), (Some(5), Some(2)));
    assert_eq!(sunday.duration.as_mins(), 240);
    // Monday 22 June 2020, from 05:00: two a week, shopping 3 hours, health 12.
    let early = replay.ask("2020-06-22T04:30", "Santiago", "compras").unwrap();
    assert_eq!(
        early.weekly_limit,
        Some(5),
        "a permit starting 04:45 is still under the old rules"
    );
    let monday = replay.ask("2020-06-22T05:00", "Santiago", "compras").unwrap();
    assert_eq!((monday.weekly_limit, monday.motive_cap), (Some(2), None));
    assert_eq!(monday.duration.as_mins(), 180);
    let health = replay.ask("2020-06-22T09:00", "Santiago", "atencion-medica").unwrap();
    assert_eq!(health.duration.as_mins(), 720);
}

#[test]
fn a_phase_change_at_five_on_the_day_the_clocks_moved() {
    // Sunday 5 September 2021, Chile went to summer time at midnight (00:00 → 01:00); a
    // change effective that day took effect at 05:00 summer time, 08:00 UTC.
    let mut replay = Replay::new();
    replay.enters("Maipú", Phase::Cuarentena, "2021-08-01");
    replay.enters("Maipú", Phase::Preparacion, "2021-09-05");
    let tz = replay.tz().clone();
    let change = effective("2021-09-05".parse().unwrap(), None, &tz);
    assert_eq!(change.to_string(), "2021-09-05T08:00:00Z");
    let zoned = |at: Timestamp| at.to_zoned_datetime(tz.clone());
    let asked = |at: Timestamp| {
        replay.policies.decide(
            &replay.rules,
            &replay.schedule,
            Comuna::parse("Maipú").unwrap(),
            Motive::parse("funeral").unwrap(),
            at,
        )
    };
    // A permit starting 04:59 local still needed one; one starting at 05:00 did not.
    let before = asked(change - replay.rules.start_delay - jiff::SignedDuration::from_mins(1)).unwrap();
    assert_eq!(before.issued_under.phase, Some(Phase::Cuarentena));
    let after = asked(change - replay.rules.start_delay).unwrap_err();
    assert_eq!(after.code(), "no_permit_needed");
    assert_eq!(zoned(change).time().hour(), 5);
    assert_eq!(
        replay
            .ask("2021-09-05T10:00", "Maipú", "funeral")
            .unwrap_err()
            .to_string(),
        "Maipú está en Preparación: no necesitas permiso para salir."
    );
}

#[test]
fn a_refusal_for_a_comuna_that_needs_no_permit_says_when_that_changes() {
    let mut replay = Replay::new();
    replay.enters("Maipú", Phase::Preparacion, "2021-08-01");
    replay.enters("Maipú", Phase::Cuarentena, "2021-08-12");
    let refusal = replay.ask("2021-08-10T18:00", "Maipú", "compras").unwrap_err();
    assert_eq!(
        refusal.to_string(),
        "Maipú está en Preparación: no necesitas permiso para salir. \
         Desde el jueves 12 de agosto de 2021 a las 05:00 pasa a Cuarentena."
    );
}
