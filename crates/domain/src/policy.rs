//! The permit policy: for each phase of the Paso a Paso plan, on which days a permit is
//! asked for, which motives are offered, the weekly quota, a weekend cap and durations.
//! Versioned: each version is in force from an instant, and every permit records the one
//! it was issued under. The versions are `data/policy.toml`, 2020–2021 as they changed.
//!
//! A comuna the plan does not cover (no phase in force) is decided by the configured
//! `Rules`, as before the plan.

use jiff::civil::{Date, DateTime, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};
use serde::Deserialize;
use std::collections::BTreeMap;

use crate::comuna::Comuna;
use crate::motive::{Motive, duration_label};
use crate::phase::{Phase, Schedule, effective};
use crate::rules::{Curfew, Refusal, Rules, Terms};

/// A version's stable name, as the policy file writes it and each permit records it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PolicyVersion(String);

impl PolicyVersion {
    /// Letters, digits, `.` and `-`, 1 to 40 of them.
    pub fn parse(text: &str) -> Option<PolicyVersion> {
        let valid = !text.is_empty()
            && text.len() <= 40
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        valid.then(|| PolicyVersion(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for PolicyVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a permit was issued under: recorded on it, shown on its page and when it is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedUnder {
    pub policy: PolicyVersion,
    /// Its comuna's phase then; `None` when the plan did not cover the comuna.
    pub phase: Option<Phase>,
}

impl IssuedUnder {
    /// `2021-04-05/1`: the version and the phase's number (`-` outside the plan), as a
    /// signed permit carries it.
    pub fn compact(&self) -> String {
        let phase = self.phase.map_or("-".to_owned(), |p| p.number().to_string());
        format!("{}/{phase}", self.policy)
    }

    /// The inverse of `compact`.
    pub fn from_compact(text: &str) -> Option<IssuedUnder> {
        let (version, phase) = text.rsplit_once('/')?;
        Some(IssuedUnder {
            policy: PolicyVersion::parse(version)?,
            phase: match phase {
                "-" => None,
                number => Some(Phase::ALL.into_iter().find(|p| p.number().to_string() == number)?),
            },
        })
    }

    /// `Fase 1 · Cuarentena · reglas 2021-04-05`, as the permit's and the check's pages say it.
    pub fn label(&self) -> String {
        match self.phase {
            Some(phase) => format!("Fase {} · {} · reglas {}", phase.number(), phase.label(), self.policy),
            None => format!("Comuna fuera del plan Paso a Paso · reglas {}", self.policy),
        }
    }
}

/// On which days a phase asks for a permit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Days {
    Every,
    /// Saturdays and Sundays. Holidays are not in our calendar yet.
    Weekends,
}

/// One phase's rules under one version.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseRules {
    pub days: Days,
    /// Permits per person and week; `None`: no limit.
    pub weekly_limit: Option<u32>,
    /// Of those, at most this many starting on a weekend.
    pub weekend_cap: Option<u32>,
    /// The motives offered; `None`: every motive.
    motives: Option<Vec<Motive>>,
    /// The motives offered on weekends; `None`: as `motives`.
    weekend_motives: Option<Vec<Motive>>,
    durations: Vec<(Motive, SignedDuration)>,
    motive_caps: Vec<(Motive, u32)>,
}

impl PhaseRules {
    fn offers(&self, motive: Motive, weekend: bool) -> bool {
        let offered = match (&self.weekend_motives, weekend) {
            (Some(list), true) => Some(list),
            _ => self.motives.as_ref(),
        };
        offered.is_none_or(|list| list.contains(&motive))
    }

    fn duration(&self, motive: Motive) -> SignedDuration {
        self.durations
            .iter()
            .find(|(m, _)| *m == motive)
            .map_or(motive.duration(), |&(_, d)| d)
    }

    fn motive_cap(&self, motive: Motive) -> Option<u32> {
        self.motive_caps
            .iter()
            .find(|(m, _)| *m == motive)
            .map(|&(_, cap)| cap)
            .or(motive.weekly_cap())
    }

    /// What the phase asks of a citizen, in a sentence: `se pide permiso todos los días;
    /// 2 por semana, de ellos 1 en fin de semana`.
    pub fn summary(&self) -> String {
        let days = match self.days {
            Days::Every => "se pide permiso todos los días",
            Days::Weekends => "se pide permiso los sábados y domingos",
        };
        let quota = match (self.weekly_limit, self.weekend_cap) {
            (None, _) => "sin límite semanal".to_owned(),
            (Some(n), Some(cap)) if cap < n => format!("{n} por semana, de ellos {cap} en fin de semana"),
            (Some(n), _) => format!("{n} por semana"),
        };
        let weekend = if self.weekend_motives.is_some() {
            "; los fines de semana, solo algunos motivos"
        } else {
            ""
        };
        format!("{days}; {quota}{weekend}")
    }
}

/// One version of the rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub version: PolicyVersion,
    pub from: Timestamp,
    pub title: String,
    pub source: String,
    /// `None`: the configured curfew.
    pub curfew: Option<Curfew>,
    phases: Vec<(Phase, PhaseRules)>,
}

/// A comuna's place in the plan when a permit is asked for: its phase and its next change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    pub comuna: Comuna,
    pub phase: Phase,
    pub next: Option<(Timestamp, Phase)>,
}

impl Policy {
    /// The rules of `phase`; `None` when it needs no permit.
    pub fn phase(&self, phase: Phase) -> Option<&PhaseRules> {
        self.phases.iter().find(|(p, _)| *p == phase).map(|(_, rules)| rules)
    }

    /// The terms of a permit for `motive` starting on `day`, for a citizen of `place`
    /// (`None` outside the plan: the configured `rules`), or the rule that refuses it.
    pub fn terms(&self, rules: &Rules, motive: Motive, day: Date, place: Option<Place>) -> Result<Terms, Refusal> {
        let curfew = rules.curfew.and(self.curfew.or(rules.curfew));
        let base = Terms {
            curfew,
            ..rules.terms(motive, self.version.clone())
        };
        let Some(place) = place else {
            return Ok(base);
        };
        let tz = &rules.time_zone;
        let zoned = |at: Timestamp| at.to_zoned_datetime(tz.clone());
        let weekend = matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday);
        let Some(phase_rules) = self.phase(place.phase) else {
            return Err(Refusal::NotNeeded {
                comuna: place.comuna,
                phase: place.phase,
                weekdays_only: false,
                next: place.next.map(|(at, phase)| (zoned(at), phase)),
            });
        };
        if phase_rules.days == Days::Weekends && !weekend {
            let saturday = day + i64::from(Weekday::Saturday.since(day.weekday())).days();
            return Err(Refusal::NotNeeded {
                comuna: place.comuna,
                phase: place.phase,
                weekdays_only: true,
                next: Some((
                    saturday
                        .to_zoned_datetime(tz.clone())
                        .expect("dates of this century fit"),
                    place.phase,
                )),
            });
        }
        if !phase_rules.offers(motive, weekend) {
            return Err(Refusal::MotiveNotOffered {
                comuna: place.comuna,
                phase: place.phase,
                motive_label: motive.label(),
                on_weekends: weekend,
            });
        }
        Ok(Terms {
            duration: phase_rules.duration(motive),
            weekly_limit: phase_rules.weekly_limit,
            motive_cap: phase_rules.motive_cap(motive),
            weekend_cap: phase_rules.weekend_cap.filter(|_| weekend),
            issued_under: IssuedUnder {
                policy: self.version.clone(),
                phase: Some(place.phase),
            },
            place: Some((place.comuna, place.phase)),
            ..base
        })
    }

    /// The duration of `motive` in `phase`, in words, for the form.
    pub fn duration_label(&self, phase: Phase, motive: Motive) -> String {
        duration_label(
            self.phase(phase)
                .map_or(motive.duration(), |rules| rules.duration(motive)),
        )
    }
}

/// Every version, oldest first; never empty.
#[derive(Debug, Clone, PartialEq)]
pub struct Policies(Vec<Policy>);

/// A policy file that does not say what the rules are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("policy file, {at}: {problem}")]
pub struct PolicyError {
    /// Which version (or the file) and field.
    at: String,
    problem: String,
}

impl Policies {
    /// The versions in this repository's `data/policy.toml`.
    pub fn history(tz: &TimeZone) -> Policies {
        Policies::parse(include_str!("../data/policy.toml"), tz).expect("data/policy.toml is a valid policy file")
    }

    /// Reads a policy file (see `data/policy.toml` for its fields), local times in `tz`.
    pub fn parse(text: &str, tz: &TimeZone) -> Result<Policies, PolicyError> {
        let file: File = basic_toml::from_str(text).map_err(|error| PolicyError {
            at: "the file".into(),
            problem: error.to_string(),
        })?;
        let mut policies = Vec::with_capacity(file.policy.len());
        for raw in file.policy {
            let policy = raw.parse(tz)?;
            if let Some(last) = policies.last().filter(|last: &&Policy| last.from >= policy.from) {
                return Err(PolicyError {
                    at: format!("version {}", policy.version),
                    problem: format!("from must come after version {}'s", last.version),
                });
            }
            policies.push(policy);
        }
        if policies.is_empty() {
            return Err(PolicyError {
                at: "the file".into(),
                problem: "no [[policy]]".into(),
            });
        }
        Ok(Policies(policies))
    }

    /// The version in force at `at` (the first one, before any).
    pub fn in_force(&self, at: Timestamp) -> &Policy {
        let after = self.0.partition_point(|p| p.from <= at);
        &self.0[after.saturating_sub(1)]
    }

    pub fn all(&self) -> &[Policy] {
        &self.0
    }

    /// The longest validity any version gives any motive: no genuine permit lasts longer.
    pub fn longest_duration(&self) -> SignedDuration {
        let catalogue = Motive::all().map(Motive::duration);
        let phases = self
            .0
            .iter()
            .flat_map(|policy| &policy.phases)
            .flat_map(|(_, rules)| rules.durations.iter().map(|&(_, d)| d));
        catalogue.chain(phases).max().expect("a catalogue with motives")
    }

    /// The terms of a permit for `motive` asked for at `now` by a citizen of `comuna`: by
    /// the version in force and the comuna's phase when the permit would start, or the rule
    /// that refuses it. Reads only memory.
    pub fn decide(
        &self,
        rules: &Rules,
        schedule: &Schedule,
        comuna: Comuna,
        motive: Motive,
        now: Timestamp,
    ) -> Result<Terms, Refusal> {
        let starts = now + rules.start_delay;
        let place = schedule.phase_of(&comuna, starts).map(|phase| Place {
            comuna,
            phase,
            next: schedule.next_change(&comuna, starts),
        });
        self.in_force(starts).terms(rules, motive, rules.start_day(now), place)
    }

    /// The terms of an employer's collective permit for a worker of `comuna`, asked for at
    /// `now`: a week, counted against no personal quota, through curfews (it is for going to
    /// work), refused only where the comuna's phase asks for no permit at all.
    pub fn decide_collective(
        &self,
        rules: &Rules,
        schedule: &Schedule,
        comuna: Comuna,
        now: Timestamp,
    ) -> Result<Terms, Refusal> {
        let starts = now + rules.start_delay;
        let policy = self.in_force(starts);
        let phase = schedule.phase_of(&comuna, starts);
        if let Some(phase) = phase.filter(|&phase| policy.phase(phase).is_none()) {
            return Err(Refusal::NotNeeded {
                comuna,
                phase,
                weekdays_only: false,
                next: schedule
                    .next_change(&comuna, starts)
                    .map(|(at, phase)| (at.to_zoned_datetime(rules.time_zone.clone()), phase)),
            });
        }
        Ok(Terms {
            weekly_limit: None,
            motive_cap: None,
            curfew: None,
            issued_under: IssuedUnder {
                policy: policy.version.clone(),
                phase,
            },
            place: phase.map(|phase| (comuna, phase)),
            ..rules.terms(Motive::collective(), policy.version.clone())
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    policy: Vec<RawPolicy>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    version: String,
    from: String,
    title: String,
    source: String,
    curfew: Option<String>,
    cuarentena: Option<RawPhase>,
    transicion: Option<RawPhase>,
    preparacion: Option<RawPhase>,
    #[serde(rename = "apertura-inicial")]
    apertura_inicial: Option<RawPhase>,
    #[serde(rename = "apertura-avanzada")]
    apertura_avanzada: Option<RawPhase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPhase {
    days: String,
    weekly_limit: Option<u32>,
    weekend_cap: Option<u32>,
    motives: Option<Vec<String>>,
    weekend_motives: Option<Vec<String>>,
    #[serde(default)]
    minutes: BTreeMap<String, u32>,
    #[serde(default)]
    motive_caps: BTreeMap<String, u32>,
}

impl RawPolicy {
    fn parse(self, tz: &TimeZone) -> Result<Policy, PolicyError> {
        let version = PolicyVersion::parse(&self.version).ok_or_else(|| PolicyError {
            at: format!("version {:?}", self.version),
            problem: "a version is 1 to 40 letters, digits, '.' or '-'".into(),
        })?;
        let wrong = |field: &str, problem: String| PolicyError {
            at: format!("version {version}, {field}"),
            problem,
        };
        let from = match self.from.parse::<Date>() {
            Ok(day) => effective(day, None, tz),
            Err(_) => self
                .from
                .parse::<DateTime>()
                .ok()
                .and_then(|at| at.to_zoned_datetime(tz.clone()).ok())
                .map(|at| at.timestamp())
                .ok_or_else(|| {
                    wrong(
                        "from",
                        format!("{:?} is neither a day nor a local date and time", self.from),
                    )
                })?,
        };
        let curfew = self
            .curfew
            .map(|text| Curfew::parse(&text).ok_or_else(|| wrong("curfew", format!("{text:?} is not HH:MM-HH:MM"))))
            .transpose()?;
        let mut phases = Vec::new();
        for (phase, raw) in [
            (Phase::Cuarentena, self.cuarentena),
            (Phase::Transicion, self.transicion),
            (Phase::Preparacion, self.preparacion),
            (Phase::AperturaInicial, self.apertura_inicial),
            (Phase::AperturaAvanzada, self.apertura_avanzada),
        ] {
            if let Some(raw) = raw {
                let rules = raw.parse(&|field, problem| wrong(&format!("{}.{field}", phase.code()), problem))?;
                phases.push((phase, rules));
            }
        }
        Ok(Policy {
            version,
            from,
            title: self.title,
            source: self.source,
            curfew,
            phases,
        })
    }
}

impl RawPhase {
    fn parse(self, wrong: &dyn Fn(&str, String) -> PolicyError) -> Result<PhaseRules, PolicyError> {
        let days = match self.days.as_str() {
            "todos" => Days::Every,
            "fines-de-semana" => Days::Weekends,
            other => {
                return Err(wrong(
                    "days",
                    format!("{other:?} is not \"todos\" or \"fines-de-semana\""),
                ));
            }
        };
        if self.weekend_cap == Some(0) {
            return Err(wrong(
                "weekend_cap",
                "0 would offer nothing on weekends: say so with weekend_motives = []".into(),
            ));
        }
        let motive = |field: &str, code: &str| {
            Motive::parse(code).map_err(|_| wrong(field, format!("{code:?} is not a motive of the catalogue")))
        };
        let motives = |field: &str, list: Option<Vec<String>>| {
            list.map(|codes| {
                codes
                    .iter()
                    .map(|code| motive(field, code))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()
        };
        let durations = self
            .minutes
            .iter()
            .map(|(code, &minutes)| match minutes {
                0 => Err(wrong("minutes", format!("{code} lasts no time"))),
                _ => Ok((motive("minutes", code)?, SignedDuration::from_mins(i64::from(minutes)))),
            })
            .collect::<Result<_, _>>()?;
        let motive_caps = self
            .motive_caps
            .iter()
            .map(|(code, &cap)| Ok((motive("motive_caps", code)?, cap)))
            .collect::<Result<_, _>>()?;
        Ok(PhaseRules {
            days,
            weekly_limit: self.weekly_limit,
            weekend_cap: self.weekend_cap,
            motives: motives("motives", self.motives)?,
            weekend_motives: motives("weekend_motives", self.weekend_motives)?,
            durations,
            motive_caps,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::ZonedDateTime;

    fn santiago() -> TimeZone {
        TimeZone::get("America/Santiago").unwrap()
    }

    fn day(text: &str) -> Date {
        text.parse().unwrap()
    }

    fn motive(code: &str) -> Motive {
        Motive::parse(code).unwrap()
    }

    fn in_phase(phase: Phase) -> Option<Place> {
        Some(Place {
            comuna: Comuna::parse("Ñuñoa").unwrap(),
            phase,
            next: None,
        })
    }

    #[test]
    fn the_history_file_parses_in_order() {
        let policies = Policies::history(&santiago());
        assert!(policies.all().len() >= 9);
        assert!(policies.all().windows(2).all(|w| w[0].from < w[1].from));
        let april = policies.in_force(effective(day("2021-04-10"), None, &santiago()));
        assert_eq!(april.version.as_str(), "2021-04-05");
        assert_eq!(
            policies.longest_duration().as_hours(),
            7 * 24,
            "the collective permit's week"
        );
    }

    #[test]
    fn a_version_takes_effect_at_five_on_its_day() {
        let tz = santiago();
        let policies = Policies::history(&tz);
        let at = |text: &str| {
            format!("{text}[America/Santiago]")
                .parse::<ZonedDateTime>()
                .unwrap()
                .timestamp()
        };
        assert_eq!(policies.in_force(at("2020-06-22T04:59")).version.as_str(), "2020-06-01");
        assert_eq!(policies.in_force(at("2020-06-22T05:00")).version.as_str(), "2020-06-22");
        // Before the first version the first one answers.
        assert_eq!(policies.in_force(at("2020-01-01T00:00")).version.as_str(), "2020-03-26");
    }

    #[test]
    fn transicion_asks_for_permits_on_weekends_only_and_later_phases_never() {
        let rules = Rules::default();
        let policy = Policies::history(&santiago()).in_force(Timestamp::MAX).clone();
        let tuesday = day("2021-04-13");
        let refusal = policy
            .terms(&rules, motive("compras"), tuesday, in_phase(Phase::Transicion))
            .unwrap_err();
        assert_eq!(refusal.code(), "no_permit_needed");
        let Refusal::NotNeeded {
            next: Some((saturday, _)),
            ..
        } = &refusal
        else {
            panic!("{refusal:?}")
        };
        assert_eq!(saturday.date(), day("2021-04-17"));
        assert!(
            refusal
                .to_string()
                .starts_with("Ñuñoa está en Transición: de lunes a viernes no necesitas permiso"),
            "{refusal}"
        );
        let saturday = policy
            .terms(
                &rules,
                motive("compras"),
                day("2021-04-17"),
                in_phase(Phase::Transicion),
            )
            .unwrap();
        assert_eq!(saturday.weekly_limit, Some(1));
        let open = policy.terms(&rules, motive("compras"), tuesday, in_phase(Phase::Preparacion));
        assert_eq!(open.unwrap_err().code(), "no_permit_needed");
    }

    #[test]
    fn outside_the_plan_the_configured_rules_decide_and_the_version_is_still_recorded() {
        let rules = Rules {
            weekly_limit: Some(3),
            ..Rules::default()
        };
        let policy = Policies::history(&santiago()).in_force(Timestamp::MAX).clone();
        let terms = policy
            .terms(&rules, motive("compras"), day("2026-12-05"), None)
            .unwrap();
        assert_eq!(terms.weekly_limit, Some(3));
        assert_eq!(terms.duration, motive("compras").duration());
        assert_eq!(terms.weekend_cap, None);
        assert_eq!(terms.issued_under.policy, policy.version);
        assert_eq!(terms.issued_under.phase, None);
    }

    #[test]
    fn a_policy_file_names_what_is_wrong() {
        let tz = santiago();
        let wrong = |text: &str| Policies::parse(text, &tz).unwrap_err().to_string();
        let head = "[[policy]]\nversion = \"v1\"\nfrom = \"2030-01-01\"\ntitle = \"t\"\nsource = \"s\"\n";
        assert!(wrong(&format!("{head}[policy.cuarentena]\ndays = \"lunes\"\n")).contains("v1, cuarentena.days"));
        assert!(
            wrong(&format!(
                "{head}[policy.cuarentena]\ndays = \"todos\"\nminutes = {{ viaje = 60 }}\n"
            ))
            .contains("\"viaje\" is not a motive")
        );
        assert!(wrong(&head.replace("2030-01-01", "mañana")).contains("v1, from"));
        assert!(wrong(&format!("{head}{}", head.replace("v1", "v2"))).contains("after version v1"));
        assert!(wrong("").contains("policy"));
        assert!(wrong(&format!("{head}curfew = \"22\"\n")).contains("v1, curfew"));
        assert!(
            wrong(&format!(
                "{head}[policy.cuarentena]\ndays = \"todos\"\nweekend_cap = 0\n"
            ))
            .contains("v1, cuarentena.weekend_cap")
        );
        let ok = Policies::parse(&format!("{head}curfew = \"20:00-06:00\"\n"), &tz).unwrap();
        assert_eq!(ok.all()[0].curfew, Curfew::parse("20:00-06:00"));
        assert_eq!(ok.all()[0].phase(Phase::Cuarentena), None);
    }

    #[test]
    fn a_stated_curfew_applies_unless_the_curfew_is_switched_off() {
        let tz = santiago();
        let head = "[[policy]]\nversion = \"v1\"\nfrom = \"2030-01-01\"\ntitle = \"t\"\nsource = \"s\"\ncurfew = \"20:00-06:00\"\n";
        let policy = Policies::parse(head, &tz).unwrap().all()[0].clone();
        let monday = day("2030-01-07");
        let stated = policy
            .terms(&Rules::default(), motive("compras"), monday, None)
            .unwrap();
        assert_eq!(stated.curfew, Curfew::parse("20:00-06:00"));
        let off = Rules {
            curfew: None,
            ..Rules::default()
        };
        assert_eq!(
            policy.terms(&off, motive("compras"), monday, None).unwrap().curfew,
            None
        );
    }

    #[test]
    fn what_a_permit_was_issued_under_round_trips_through_its_compact_form() {
        for phase in Phase::ALL.into_iter().map(Some).chain([None]) {
            let under = IssuedUnder {
                policy: PolicyVersion::parse("2021-04-05").unwrap(),
                phase,
            };
            assert_eq!(IssuedUnder::from_compact(&under.compact()), Some(under.clone()));
        }
        assert_eq!(IssuedUnder::from_compact("2021-04-05/6"), None);
        assert_eq!(IssuedUnder::from_compact("2021 04/1"), None);
        assert_eq!(IssuedUnder::from_compact("2021-04-05"), None);
        let under = IssuedUnder::from_compact("2021-04-05/2").unwrap();
        assert_eq!(under.label(), "Fase 2 · Transición · reglas 2021-04-05");
    }

    #[test]
    fn a_collective_permit_lasts_a_week_outside_any_quota_and_only_where_a_phase_asks_for_permits() {
        let rules = Rules::default();
        let policies = Policies::history(&santiago());
        let nunoa = Comuna::parse("Ñuñoa").unwrap();
        let ten = jiff::civil::Time::constant(10, 0, 0, 0);
        let now = effective(day("2026-12-01"), Some(ten), &santiago());
        let mut schedule = Schedule::default();
        let outside = policies.decide_collective(&rules, &schedule, nunoa, now).unwrap();
        assert_eq!(outside.duration.as_hours(), 7 * 24);
        assert_eq!((outside.weekly_limit, outside.curfew), (None, None));
        assert_eq!(outside.issued_under.phase, None);
        let worker = crate::PrivacyKey::parse(&"k".repeat(32))
            .unwrap()
            .pseudonym(&crate::Rut::from_body(12345678).unwrap());
        assert!(
            rules
                .quota_claim(&worker, Motive::collective(), &outside, now)
                .is_none(),
            "no personal quota"
        );
        schedule.record(
            nunoa,
            effective(day("2026-11-01"), None, &santiago()),
            Phase::Transicion,
        );
        let transicion = policies.decide_collective(&rules, &schedule, nunoa, now).unwrap();
        assert_eq!(
            transicion.issued_under.phase,
            Some(Phase::Transicion),
            "a weekday in Transición too"
        );
        schedule.record(
            nunoa,
            effective(day("2026-11-15"), None, &santiago()),
            Phase::AperturaInicial,
        );
        let open = policies.decide_collective(&rules, &schedule, nunoa, now).unwrap_err();
        assert_eq!(
            open.to_string(),
            "Ñuñoa está en Apertura inicial: no necesitas permiso para salir."
        );
    }

    #[test]
    fn summaries_say_what_a_phase_asks() {
        let policy = Policies::history(&santiago()).in_force(Timestamp::MAX).clone();
        assert_eq!(
            policy.phase(Phase::Cuarentena).unwrap().summary(),
            "se pide permiso todos los días; 2 por semana, de ellos 1 en fin de semana"
        );
        assert_eq!(
            policy.phase(Phase::Transicion).unwrap().summary(),
            "se pide permiso los sábados y domingos; 1 por semana"
        );
        assert_eq!(policy.duration_label(Phase::Cuarentena, motive("compras")), "2 h");
    }
}
