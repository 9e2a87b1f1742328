//! The rules a permit is issued under, and why they refuse one. Each rule is configurable
//! and can be switched off; the defaults are the 2020 values.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan, ZonedDateTime};

use crate::calendar::{day_and_time, time_of_day};
use crate::motive::Motive;
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
    pub limit: u32,
    pub motive: Motive,
    pub week: Week,
    pub asked_at: Timestamp,
}

impl QuotaClaim {
    /// The refusal to give when the counter is full.
    pub fn refusal(&self, reached: QuotaReached) -> Refusal {
        Refusal::WeeklyLimit {
            limit: match reached {
                QuotaReached::WeeklyLimit => self.limit,
                QuotaReached::MotiveCap => self.motive.weekly_cap().unwrap_or(self.limit),
            },
            motive_label: (reached == QuotaReached::MotiveCap).then(|| self.motive.label()),
            retry_from: self.week.ends.clone(),
            asked_at: self.asked_at,
        }
    }
}

impl Rules {
    pub fn zoned(&self, at: Timestamp) -> ZonedDateTime {
        at.to_zoned_datetime(self.time_zone.clone())
    }

    /// The window of a permit for `motive` requested at `now`, or why it cannot be issued.
    pub fn window(&self, motive: Motive, now: Timestamp) -> Result<Window, Refusal> {
        // Whole seconds: the database keeps milliseconds and people read minutes, so a
        // permit must not read back different from the one that was issued.
        let now = Timestamp::from_second(now.as_second()).unwrap_or(now);
        let window = self.window_unchecked(motive, now);
        let Some(curfew) = self.curfew else {
            return Ok(window);
        };
        let (valid_from, expires_at) = (self.zoned(window.valid_from), self.zoned(window.expires_at));
        let Some(curfew_end) = curfew.reached_until(&valid_from, &expires_at, &self.time_zone) else {
            return Ok(window);
        };
        let retry_from = self.zoned(curfew_end.timestamp() - self.start_delay);
        let retry = self.window_unchecked(motive, retry_from.timestamp());
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
                duration: motive.duration_label(),
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

    fn window_unchecked(&self, motive: Motive, now: Timestamp) -> Window {
        let valid_from = now + self.start_delay;
        Window {
            requested_at: now,
            valid_from,
            expires_at: valid_from + motive.duration(),
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

    /// What issuing a permit for the citizen `holder` and `motive` at `now` counts against,
    /// if the limit is on. The counter is named by the RUT's pseudonym: the ledger holds no RUT.
    pub fn quota_claim(&self, holder: &Pseudonym, motive: Motive, now: Timestamp) -> Option<QuotaClaim> {
        let limit = self.weekly_limit?;
        let week = self.week(now);
        Some(QuotaClaim {
            key: format!("{holder}|{}", week.label),
            limit,
            motive,
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
        "Ya usaste {limit} de {limit} permisos de esta semana{}. Podrás solicitar otro desde el {}.",
        .motive_label.map(|m| format!(" para «{m}»")).unwrap_or_default(),
        day_and_time(.retry_from)
    )]
    WeeklyLimit {
        limit: u32,
        /// Set when the motive's own cap, not the general one, was reached.
        motive_label: Option<&'static str>,
        retry_from: ZonedDateTime,
        asked_at: Timestamp,
    },
}

impl Refusal {
    /// Every value `code` can take.
    pub const CODES: [&'static str; 3] = ["curfew", "longer_than_curfew_allows", "weekly_limit_reached"];

    /// The refusal's one stable name: the API's `code`, the metrics' `reason`, the logs'.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Curfew { .. } => "curfew",
            Refusal::NeverOutsideCurfew { .. } => "longer_than_curfew_allows",
            Refusal::WeeklyLimit { .. } => "weekly_limit_reached",
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
            } => Some(retry_from.timestamp().duration_since(*asked_at)),
            Refusal::NeverOutsideCurfew { .. } => None,
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
                retry_from: retry_from.clone(),
                asked_at: at,
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
        let window = Rules::default().window(motive("compras"), now).unwrap();
        assert_eq!(window.valid_from, at("2026-11-30T10:15:00-03:00[America/Santiago]"));
        assert_eq!(window.expires_at, at("2026-11-30T13:15:00-03:00[America/Santiago]"));
    }

    #[test]
    fn permit_times_are_whole_seconds() {
        let now = at("2026-11-30T10:00:00.123456789-03:00[America/Santiago]");
        let window = Rules::default().window(motive("compras"), now).unwrap();
        assert_eq!(window.requested_at, at("2026-11-30T10:00:00-03:00[America/Santiago]"));
        assert_eq!(window.valid_from.subsec_nanosecond(), 0);
    }

    #[test]
    fn a_permit_reaching_into_the_curfew_is_refused_not_shortened() {
        let now = at("2026-11-30T20:00:00-03:00[America/Santiago]");
        let refusal = Rules::default().window(motive("compras"), now).unwrap_err();
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
            Rules::default().window(motive("paseo-mascotas"), now),
            Err(Refusal::Curfew { .. })
        ));
        let just_in_time = at("2026-12-01T04:45:00-03:00[America/Santiago]");
        assert!(Rules::default().window(motive("paseo-mascotas"), just_in_time).is_ok());
    }

    #[test]
    fn a_short_permit_ending_exactly_at_curfew_is_allowed() {
        let now = at("2026-11-30T21:15:00-03:00[America/Santiago]");
        assert!(Rules::default().window(motive("paseo-mascotas"), now).is_ok());
    }

    #[test]
    fn the_curfew_can_be_switched_off() {
        let rules = Rules {
            curfew: None,
            ..Rules::default()
        };
        assert!(
            rules
                .window(motive("compras"), at("2026-12-01T02:00:00-03:00[America/Santiago]"))
                .is_ok()
        );
    }

    #[test]
    fn a_motive_longer_than_the_free_hours_is_refused_as_such() {
        let rules = Rules {
            curfew: Curfew::parse("18:00-08:00"),
            ..Rules::default()
        };
        let refusal = rules.window(
            motive("atencion-medica"),
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
        let claim = Rules::default().quota_claim(&holder, motive("compras"), now).unwrap();
        assert_eq!(claim.key, format!("{holder}|2026-W49"));
        assert!(!claim.key.contains("12345678"));
        assert_eq!(claim.limit, 2);
        let off = Rules {
            weekly_limit: None,
            ..Rules::default()
        };
        assert!(off.quota_claim(&holder, motive("compras"), now).is_none());
    }
}
