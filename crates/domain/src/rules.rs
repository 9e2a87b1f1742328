//! The rules a permit is issued under, and why they refuse one. Each rule is configurable
//! and can be switched off; the defaults are the 2020 values.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan, ZonedDateTime};

use crate::calendar::{day_and_time, time_of_day};
use crate::comuna::Comuna;
use crate::motive::{Motive, duration_label};
use crate::phase::Phase;
use crate::policy::{IssuedUnder, PolicyVersion};
use crate::privacy::Pseudonym;

#[derive(Debug, Clone)]
pub struct Rules {
    /// How long after issue a permit starts.
    pub start_delay: SignedDuration,
    /// Permits per RUT per calendar week; `None` switches the limit off.
    pub weekly_limit: Option<u32>,
    /// The hours no permit may reach into; `None` switches the curfew off.
    pub curfew: Option<Curfew>,
    /// Where weeks begin and the curfew is read.
    pub time_zone: TimeZone,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            start_delay: SignedDuration::from_mins(15),
            weekly_limit: Some(2),
            curfew: Some(Curfew::DEFAULT),
            time_zone: TimeZone::get("America/Santiago").expect("the bundled time zone database has America/Santiago"),
        }
    }
}

/// Daily hours without movement, from `start` to `end` local time; spans midnight when `end <= start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Curfew {
    pub start: Time,
    pub end: Time,
}

impl Curfew {
    pub const DEFAULT: Curfew = Curfew {
        start: Time::constant(22, 0, 0, 0),
        end: Time::constant(5, 0, 0, 0),
    };

    /// Reads `22:00-05:00`.
    pub fn parse(text: &str) -> Option<Curfew> {
        let (start, end) = text.split_once('-')?;
        let curfew = Curfew {
            start: start.trim().parse().ok()?,
            end: end.trim().parse().ok()?,
        };
        (curfew.start != curfew.end).then_some(curfew)
    }

    /// The curfew that begins on `day`.
    fn on(self, day: Date, tz: &TimeZone) -> (ZonedDateTime, ZonedDateTime) {
        let end_day = if self.end <= self.start {
            day.tomorrow().unwrap_or(day)
        } else {
            day
        };
        let at = |d: Date, t: Time| {
            d.to_datetime(t)
                .to_zoned_datetime(tz.clone())
                .expect("dates of this century fit")
        };
        (at(day, self.start), at(end_day, self.end))
    }

    /// The end of the first curfew period that `[from, until)` reaches into, if any.
    fn reached_until(self, from: &ZonedDateTime, until: &ZonedDateTime, tz: &TimeZone) -> Option<ZonedDateTime> {
        let mut day = from.date().yesterday().ok()?;
        while day <= until.date() {
            let (start, end) = self.on(day, tz);
            if start < *until && *from < end {
                return Some(end);
            }
            day = day.tomorrow().ok()?;
        }
        None
    }
}

/// What one permit is issued under: what the policy in force says for its motive, day and
/// comuna (see `Policy::terms`).
#[derive(Debug, Clone, PartialEq)]
pub struct Terms {
    pub duration: SignedDuration,
    /// Permits per person and week; `None`: no limit.
    pub weekly_limit: Option<u32>,
    /// The motive's own weekly cap.
    pub motive_cap: Option<u32>,
    /// How many of the week's permits may start on a weekend; set only for one that does.
    pub weekend_cap: Option<u32>,
    pub curfew: Option<Curfew>,
    pub issued_under: IssuedUnder,
    /// The comuna and its phase, when the plan covers it: a refusal names them.
    pub place: Option<(Comuna, Phase)>,
}

/// When a permit is requested, starts and ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub requested_at: Timestamp,
    pub valid_from: Timestamp,
    pub expires_at: Timestamp,
}

/// A calendar week (Monday 00:00 to Monday 00:00, local time), the unit of the weekly limit.
#[derive(Debug, Clone, PartialEq)]
pub struct Week {
    /// ISO week, e.g. `2026-W49`.
    pub label: String,
    pub ends: ZonedDateTime,
}

/// One use of a RUT's weekly quota, to be counted atomically by the store.
#[derive(Debug, Clone)]
pub struct QuotaClaim {
    /// The counter this claim increments: one per RUT and week.
    pub key: String,
    /// The week's limit; `u32::MAX` when only a cap applies.
    pub limit: u32,
    pub motive: Motive,
    /// The motive's own cap in this week.
    pub motive_cap: Option<u32>,
    /// Set when the permit starts on a weekend and the weekend has a cap.
    pub weekend_cap: Option<u32>,
    pub place: Option<(Comuna, Phase)>,
    pub week: Week,
    pub asked_at: Timestamp,
}

impl QuotaClaim {
    /// The refusal to give when the counter is full.
    pub fn refusal(&self, reached: QuotaReached) -> Refusal {
        let retry_from = self.week.ends.clone();
        match reached {
            QuotaReached::WeekendCap => Refusal::WeekendCap {
                cap: self.weekend_cap.unwrap_or(0),
                limit: self.limit,
                place: self.place,
                retry_from,
                asked_at: self.asked_at,
            },
            QuotaReached::WeeklyLimit | QuotaReached::MotiveCap => Refusal::WeeklyLimit {
                limit: match reached {
                    QuotaReached::MotiveCap => self.motive_cap.unwrap_or(self.limit),
                    _ => self.limit,
                },
                motive_label: (reached == QuotaReached::MotiveCap).then(|| self.motive.label()),
                place: self.place,
                retry_from,
                asked_at: self.asked_at,
            },
        }
    }
}

impl Rules {
    pub fn zoned(&self, at: Timestamp) -> ZonedDateTime {
        at.to_zoned_datetime(self.time_zone.clone())
    }

    /// The terms these rules give `motive` on their own, as the plan's policy `version`
    /// records them: outside the plan, and as the base a phase's rules change.
    pub fn terms(&self, motive: Motive, version: PolicyVersion) -> Terms {
        Terms {
            duration: motive.duration(),
            weekly_limit: self.weekly_limit,
            motive_cap: motive.weekly_cap(),
            weekend_cap: None,
            curfew: self.curfew,
            issued_under: IssuedUnder {
                policy: version,
                phase: None,
            },
            place: None,
        }
    }

    /// The local day a permit asked for at `now` starts on: the day its phase's rules read.
    pub fn start_day(&self, now: Timestamp) -> Date {
        self.zoned(now + self.start_delay).date()
    }

    /// The window of a permit for `motive` under `terms` requested at `now`, or why it
    /// cannot be issued.
    pub fn window(&self, motive: Motive, terms: &Terms, now: Timestamp) -> Result<Window, Refusal> {
        // Whole seconds: the database keeps milliseconds and people read minutes, so a
        // permit must not read back different from the one that was issued.
        let now = Timestamp::from_second(now.as_second()).unwrap_or(now);
        let window = self.window_unchecked(terms.duration, now);
        let Some(curfew) = terms.curfew else {
            return Ok(window);
        };
        let (valid_from, expires_at) = (self.zoned(window.valid_from), self.zoned(window.expires_at));
        let Some(curfew_end) = curfew.reached_until(&valid_from, &expires_at, &self.time_zone) else {
            return Ok(window);
        };
        let retry_from = self.zoned(curfew_end.timestamp() - self.start_delay);
        let retry = self.window_unchecked(terms.duration, retry_from.timestamp());
        if curfew
            .reached_until(
                &self.zoned(retry.valid_from),
                &self.zoned(retry.expires_at),
                &self.time_zone,
            )
            .is_some()
        {
            return Err(Refusal::NeverOutsideCurfew {
                motive_label: motive.label(),
                duration: duration_label(terms.duration),
            });
        }
        Err(Refusal::Curfew {
            valid_from: valid_from.time(),
            expires_at: expires_at.time(),
            curfew,
            retry_from,
            asked_at: now,
        })
    }

    fn window_unchecked(&self, duration: SignedDuration, now: Timestamp) -> Window {
        let valid_from = now + self.start_delay;
        Window {
            requested_at: now,
            valid_from,
            expires_at: valid_from + duration,
        }
    }

    pub fn week(&self, at: Timestamp) -> Week {
        let date = self.zoned(at).date();
        let iso = date.iso_week_date();
        let monday = date - i64::from(date.weekday().to_monday_zero_offset()).days();
        let next_monday = monday + 7.days();
        Week {
            label: format!("{}-W{:02}", iso.year(), iso.week()),
            ends: next_monday
                .to_zoned_datetime(self.time_zone.clone())
                .expect("dates of this century fit"),
        }
    }

    /// What issuing a permit for the citizen `holder` and `motive` under `terms` at `now`
    /// counts against, if any limit or cap is on. The counter is named by the RUT's
    /// pseudonym: the ledger holds no RUT.
    pub fn quota_claim(&self, holder: &Pseudonym, motive: Motive, terms: &Terms, now: Timestamp) -> Option<QuotaClaim> {
        if terms.weekly_limit.is_none() && terms.motive_cap.is_none() && terms.weekend_cap.is_none() {
            return None;
        }
        let week = self.week(now);
        Some(QuotaClaim {
            key: format!("{holder}|{}", week.label),
            limit: terms.weekly_limit.unwrap_or(u32::MAX),
            motive,
            motive_cap: terms.motive_cap,
            weekend_cap: terms.weekend_cap,
            place: terms.place,
            week,
            asked_at: now,
        })
    }
}

/// Which count of a weekly quota counter is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaReached {
    /// The permits a RUT may have in a week, whatever their motives.
    WeeklyLimit,
    /// The motive's own weekly cap, lower than the general limit.
    MotiveCap,
    /// The permits of the week that may start on a weekend.
    WeekendCap,
}

/// `Ñuñoa está en Cuarentena: ` when the plan covers the comuna.
fn place_prefix(place: &Option<(Comuna, Phase)>) -> String {
    place
        .map(|(comuna, phase)| format!("{} está en {}: ", comuna.as_str(), phase.label()))
        .unwrap_or_default()
}

/// What `NotNeeded` says after its rule: when the comuna's phase changes, if it is known.
fn not_needed(weekdays_only: bool, next: &Option<(ZonedDateTime, Phase)>) -> String {
    match (weekdays_only, next) {
        (true, _) => "de lunes a viernes no necesitas permiso; se pide los sábados y domingos.".into(),
        (false, Some((at, phase))) => format!(
            "no necesitas permiso para salir. Desde el {} pasa a {}.",
            day_and_time(at),
            phase.label()
        ),
        (false, None) => "no necesitas permiso para salir.".into(),
    }
}

/// A well-formed request that the permit rules refuse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "El permiso iría de las {} a las {} y entraría en el toque de queda ({} a {}). \
         Podrás solicitarlo desde el {}.",
        time_of_day(*.valid_from), time_of_day(*.expires_at), time_of_day(.curfew.start),
        time_of_day(.curfew.end), day_and_time(.retry_from)
    )]
    Curfew {
        /// Local time the permit would start.
        valid_from: Time,
        /// Local time the permit would end.
        expires_at: Time,
        curfew: Curfew,
        /// The first moment a request for the same motive fits outside the curfew.
        retry_from: ZonedDateTime,
        asked_at: Timestamp,
    },
    #[error(
        "Un permiso de «{motive_label}» dura {duration} y no cabe fuera del toque de queda. \
         Consulta en tu comisaría."
    )]
    NeverOutsideCurfew {
        motive_label: &'static str,
        duration: String,
    },
    #[error(
        "{}Ya usaste {limit} de {limit} permisos de esta semana{}. Podrás solicitar otro desde el {}.",
        place_prefix(.place),
        .motive_label.map(|m| format!(" para «{m}»")).unwrap_or_default(),
        day_and_time(.retry_from)
    )]
    WeeklyLimit {
        limit: u32,
        /// Set when the motive's own cap, not the general one, was reached.
        motive_label: Option<&'static str>,
        place: Option<(Comuna, Phase)>,
        retry_from: ZonedDateTime,
        asked_at: Timestamp,
    },
    #[error(
        "{}los fines de semana puedes pedir {cap} de tus {limit} permisos semanales; ya usaste {} de este fin de semana. \
         Podrás solicitar otro desde el {}.",
        place_prefix(.place),
        if *.cap == 1 { "el".to_owned() } else { format!("los {cap}") },
        day_and_time(.retry_from)
    )]
    WeekendCap {
        cap: u32,
        limit: u32,
        place: Option<(Comuna, Phase)>,
        retry_from: ZonedDateTime,
        asked_at: Timestamp,
    },
    #[error("{} está en {}: {}", .comuna.as_str(), .phase.label(), not_needed(*.weekdays_only, .next))]
    NotNeeded {
        comuna: Comuna,
        phase: Phase,
        /// The phase asks for permits on weekends only, and this one would start on a weekday.
        weekdays_only: bool,
        /// When a permit can next be asked for: the next change, or Saturday.
        next: Option<(ZonedDateTime, Phase)>,
    },
    #[error(
        "{} está en {}: {}no se otorga el permiso «{motive_label}».",
        .comuna.as_str(), .phase.label(), if *.on_weekends { "los fines de semana " } else { "" }
    )]
    MotiveNotOffered {
        comuna: Comuna,
        phase: Phase,
        motive_label: &'static str,
        on_weekends: bool,
    },
}

impl Refusal {
    /// Every value `code` can take.
    pub const CODES: [&'static str; 6] = [
        "curfew",
        "longer_than_curfew_allows",
        "weekly_limit_reached",
        "weekend_limit_reached",
        "no_permit_needed",
        "motive_not_offered",
    ];

    /// The refusal's one stable name: the API's `code`, the metrics' `reason`, the logs'.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Curfew { .. } => "curfew",
            Refusal::NeverOutsideCurfew { .. } => "longer_than_curfew_allows",
            Refusal::WeeklyLimit { .. } => "weekly_limit_reached",
            Refusal::WeekendCap { .. } => "weekend_limit_reached",
            Refusal::NotNeeded { .. } => "no_permit_needed",
            Refusal::MotiveNotOffered { .. } => "motive_not_offered",
        }
    }

    /// How long until the same request could succeed, if ever.
    pub fn retry_after(&self) -> Option<SignedDuration> {
        match self {
            Refusal::Curfew {
                retry_from, asked_at, ..
            }
            | Refusal::WeeklyLimit {
                retry_from, asked_at, ..
            }
            | Refusal::WeekendCap {
                retry_from, asked_at, ..
            } => Some(retry_from.timestamp().duration_since(*asked_at)),
            Refusal::NeverOutsideCurfew { .. } | Refusal::NotNeeded { .. } | Refusal::MotiveNotOffered { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rut::Rut;

    fn at(text: &str) -> Timestamp {
        text.parse::<ZonedDateTime>().unwrap().timestamp()
    }

    fn motive(code: &str) -> Motive {
        Motive::parse(code).unwrap()
    }

    /// The window under `rules` alone, as outside the Paso a Paso plan.
    fn window(rules: &Rules, code: &str, now: Timestamp) -> Result<Window, Refusal> {
        let terms = rules.terms(motive(code), PolicyVersion::parse("test").unwrap());
        rules.window(motive(code), &terms, now)
    }

    #[test]
    fn every_refusal_code_is_one_the_metrics_know() {
        let at = at("2026-11-30T10:00:00-03:00[America/Santiago]");
        let retry_from = at.in_tz("America/Santiago").unwrap();
        let refusals = [
            Refusal::NeverOutsideCurfew {
                motive_label: "Funeral",
                duration: "5 horas".into(),
            },
            Refusal::WeeklyLimit {
                limit: 2,
                motive_label: None,
                place: None,
                retry_from: retry_from.clone(),
                asked_at: at,
            },
            Refusal::WeekendCap {
                cap: 1,
                limit: 2,
                place: None,
                retry_from: retry_from.clone(),
                asked_at: at,
            },
            Refusal::NotNeeded {
                comuna: Comuna::parse("Ñuñoa").unwrap(),
                phase: Phase::Preparacion,
                weekdays_only: false,
                next: None,
            },
            Refusal::MotiveNotOffered {
                comuna: Comuna::parse("Ñuñoa").unwrap(),
                phase: Phase::Cuarentena,
                motive_label: "Paseo de mascotas",
                on_weekends: true,
            },
            Refusal::Curfew {
                valid_from: Time::midnight(),
                expires_at: Time::midnight(),
                curfew: Curfew {
                    start: Time::midnight(),
                    end: Time::midnight(),
                },
                retry_from,
                asked_at: at,
            },
        ];
        let codes: Vec<&str> = refusals.iter().map(Refusal::code).collect();
        assert_eq!(codes.len(), Refusal::CODES.len());
        assert!(Refusal::CODES.iter().all(|code| codes.contains(code)), "{codes:?}");
    }

    #[test]
    fn a_permit_starts_fifteen_minutes_after_issue_and_lasts_its_motive() {
        let now = at("2026-11-30T10:00:00-03:00[America/Santiago]");
        let window = window(&Rules::default(), "compras", now).unwrap();
        assert_eq!(window.valid_from, at("2026-11-30T10:15:00-03:00[America/Santiago]"));
        assert_eq!(window.expires_at, at("2026-11-30T13:15:00-03:00[America/Santiago]"));
    }

    #[test]
    fn permit_times_are_whole_seconds() {
        let now = at("2026-11-30T10:00:00.123456789-03:00[America/Santiago]");
        let window = window(&Rules::default(), "compras", now).unwrap();
        assert_eq!(window.requested_at, at("2026-11-30T10:00:00-03:00[America/Santiago]"));
        assert_eq!(window.valid_from.subsec_nanosecond(), 0);
    }

    #[test]
    fn a_permit_reaching_into_the_curfew_is_refused_not_shortened() {
        let now = at("2026-11-30T20:00:00-03:00[America/Santiago]");
        let refusal = window(&Rules::default(), "compras", now).unwrap_err();
        let Refusal::Curfew { retry_from, .. } = &refusal else {
            panic!("{refusal:?}")
        };
        assert_eq!(
            retry_from.timestamp(),
            at("2026-12-01T04:45:00-03:00[America/Santiago]")
        );
        assert_eq!(
            refusal.to_string(),
            "El permiso iría de las 20:15 a las 23:15 y entraría en el toque de queda (22:00 a 05:00). \
             Podrás solicitarlo desde el martes 1 de diciembre de 2026 a las 04:45."
        );
    }

    #[test]
    fn a_request_during_the_curfew_is_refused_until_it_ends() {
        let now = at("2026-12-01T02:00:00-03:00[America/Santiago]");
        assert!(matches!(
            window(&Rules::default(), "paseo-mascotas", now),
            Err(Refusal::Curfew { .. })
        ));
        let just_in_time = at("2026-12-01T04:45:00-03:00[America/Santiago]");
        assert!(window(&Rules::default(), "paseo-mascotas", just_in_time).is_ok());
    }

    #[test]
    fn a_short_permit_ending_exactly_at_curfew_is_allowed() {
        let now = at("2026-11-30T21:15:00-03:00[America/Santiago]");
        assert!(window(&Rules::default(), "paseo-mascotas", now).is_ok());
    }

    #[test]
    fn the_curfew_can_be_switched_off() {
        let rules = Rules {
            curfew: None,
            ..Rules::default()
        };
        assert!(window(&rules, "compras", at("2026-12-01T02:00:00-03:00[America/Santiago]")).is_ok());
    }

    #[test]
    fn a_motive_longer_than_the_free_hours_is_refused_as_such() {
        let rules = Rules {
            curfew: Curfew::parse("18:00-08:00"),
            ..Rules::default()
        };
        let refusal = window(
            &rules,
            "atencion-medica",
            at("2026-11-30T10:00:00-03:00[America/Santiago]"),
        );
        assert!(matches!(refusal, Err(Refusal::NeverOutsideCurfew { .. })));
    }

    #[test]
    fn curfews_parse_from_configuration() {
        assert_eq!(Curfew::parse("22:00-05:00"), Some(Curfew::DEFAULT));
        assert_eq!(Curfew::parse("22:00"), None);
        assert_eq!(Curfew::parse("05:00-05:00"), None);
    }

    #[test]
    fn weeks_run_monday_to_monday_in_santiago() {
        let rules = Rules::default();
        // Sunday 23:30 in Santiago is already Monday in UTC; it still belongs to the old week.
        let sunday_night = at("2026-12-06T23:30:00-03:00[America/Santiago]");
        let week = rules.week(sunday_night);
        assert_eq!(week.label, "2026-W49");
        assert_eq!(week.ends.timestamp(), at("2026-12-07T00:00:00-03:00[America/Santiago]"));
        assert_eq!(
            rules.week(at("2026-12-07T00:00:00-03:00[America/Santiago]")).label,
            "2026-W50"
        );
    }

    #[test]
    fn the_quota_key_is_per_citizen_and_week_names_no_rut_and_can_be_switched_off() {
        let rut = Rut::parse("12.345.678-5").unwrap();
        let holder = crate::PrivacyKey::parse(&"k".repeat(32)).unwrap().pseudonym(&rut);
        let now = at("2026-12-01T10:00:00-03:00[America/Santiago]");
        let version = PolicyVersion::parse("test").unwrap();
        let rules = Rules::default();
        let terms = rules.terms(motive("compras"), version.clone());
        let claim = rules.quota_claim(&holder, motive("compras"), &terms, now).unwrap();
        assert_eq!(claim.key, format!("{holder}|2026-W49"));
        assert!(!claim.key.contains("12345678"));
        assert_eq!(claim.limit, 2);
        let off = Rules {
            weekly_limit: None,
            ..Rules::default()
        };
        let terms = off.terms(motive("compras"), version.clone());
        assert!(off.quota_claim(&holder, motive("compras"), &terms, now).is_none());
        // A motive's own cap still counts with the general limit off.
        let capped = off.terms(motive("donacion-sangre"), version);
        let claim = off
            .quota_claim(&holder, motive("donacion-sangre"), &capped, now)
            .unwrap();
        assert_eq!((claim.limit, claim.motive_cap), (u32::MAX, Some(1)));
    }

    #[test]
    fn a_full_weekend_names_the_comuna_its_phase_and_the_rule() {
        let nunoa = Comuna::parse("Ñuñoa").unwrap();
        let claim = QuotaClaim {
            key: "k".into(),
            limit: 2,
            motive: motive("compras"),
            motive_cap: None,
            weekend_cap: Some(1),
            place: Some((nunoa, Phase::Cuarentena)),
            week: Rules::default().week(at("2026-12-05T10:00:00-03:00[America/Santiago]")),
            asked_at: at("2026-12-05T10:00:00-03:00[America/Santiago]"),
        };
        let refusal = claim.refusal(QuotaReached::WeekendCap);
        assert_eq!(
            refusal.to_string(),
            "Ñuñoa está en Cuarentena: los fines de semana puedes pedir 1 de tus 2 permisos semanales; \
             ya usaste el de este fin de semana. Podrás solicitar otro desde el lunes 7 de diciembre de 2026 a las 00:00."
        );
        assert_eq!(refusal.retry_after().map(|d| d.as_hours()), Some(38));
    }
}
