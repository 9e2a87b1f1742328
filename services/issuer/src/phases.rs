//! The Paso a Paso schedule this replica goes by, and its publication: an *administración*
//! operator publishes a change ahead of time (`POST /api/phases`, audit-logged); every
//! replica reads the published changes in the background (`PHASE_REFRESH_SECONDS`) into
//! memory, so answering reads no database; `/fases` shows what is in force and what comes.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use askama::Template;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Html;
use jiff::Timestamp;
use jiff::civil::{Date, Time};
use permit_domain::{Comuna, FieldError, FieldErrors, Phase, Policy, Schedule, day_and_time, effective};
use permit_store::{AuditAction, PhaseChange, Store, StoreError};
use permit_web::openapi::ErrorBody;
use permit_web::{AppError, PageError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::IssuerState;
use crate::audit::Acting;
use crate::json_body::{PhaseRequest, phase_request};

/// The published schedule as this replica last read it.
#[derive(Clone, Default)]
pub struct PhaseBook(Arc<RwLock<Book>>);

#[derive(Default)]
struct Book {
    schedule: Schedule,
    /// The publication time of the newest change read: the next read starts there.
    read_up_to: Option<Timestamp>,
    /// When the database last answered a read; `None` until it has.
    read_at: Option<Instant>,
}

/// How recent the schedule a create was decided by is, in its answer: a create while the
/// database is unreachable is still decided, by the last schedule read.
#[derive(Serialize, ToSchema)]
pub struct Freshness {
    /// Seconds since this replica last read the published changes; null if it has not
    /// since it started.
    read_seconds_ago: Option<u64>,
    /// Older than `PHASE_REFRESH_SECONDS` (or never read): changes published since may
    /// not be in it yet.
    stale: bool,
}

impl PhaseBook {
    /// Applies what was published since the last read; how many changes it read.
    pub async fn refresh(&self, store: &Store) -> Result<usize, StoreError> {
        let since = self
            .0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .read_up_to;
        let changes = store.phase_changes(since).await?;
        let mut book = self.0.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        for change in &changes {
            book.apply(change);
        }
        book.read_at = Some(Instant::now());
        Ok(changes.len())
    }

    /// How recent the schedule is, against the refresh interval `every`.
    pub fn freshness(&self, every: Duration) -> Freshness {
        let read_at = self.0.read().unwrap_or_else(|poisoned| poisoned.into_inner()).read_at;
        let age = read_at.map(|at| at.elapsed());
        Freshness {
            read_seconds_ago: age.map(|age| age.as_secs()),
            // A refresh takes a moment after its tick: one more second before calling it stale.
            stale: age.is_none_or(|age| age > every + Duration::from_secs(1)),
        }
    }

    /// Refreshes at once, then every `every`, for as long as the process runs.
    pub fn refresh_in_background(&self, store: Store, every: Duration) {
        let book = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if let Err(error) = book.refresh(&store).await {
                    tracing::warn!(%error, "reading the phase schedule failed; the last one read still holds");
                }
            }
        });
    }

    fn apply(&self, change: &PhaseChange) {
        self.0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .apply(change);
    }

    /// `read` of the schedule as last read.
    pub fn with<T>(&self, read: impl FnOnce(&Schedule) -> T) -> T {
        read(&self.0.read().unwrap_or_else(|poisoned| poisoned.into_inner()).schedule)
    }
}

impl Book {
    fn apply(&mut self, change: &PhaseChange) {
        self.schedule.record(change.comuna, change.from, change.phase);
        self.read_up_to = self.read_up_to.max(Some(change.published_at));
    }
}

/// A change as asked for: each field named when wrong, and never in the past.
pub struct Change {
    comuna: Comuna,
    phase: Phase,
    from: Timestamp,
}

impl Change {
    pub fn parse(
        [comuna, phase, from, at]: &[String; 4],
        now: Timestamp,
        state: &IssuerState,
    ) -> Result<Change, FieldErrors> {
        let mut errors = FieldErrors::new();
        let comuna = Comuna::parse(comuna).map_err(|e| errors.insert("comuna", e)).ok();
        let phase = match Phase::parse(phase) {
            Some(phase) => Some(phase),
            None if phase.trim().is_empty() => {
                errors.insert("phase", FieldError::Required);
                None
            }
            None => {
                errors.insert(
                    "phase",
                    FieldError::Invalid(
                        "debe ser cuarentena, transicion, preparacion, apertura-inicial o apertura-avanzada (o 1 a 5)",
                    ),
                );
                None
            }
        };
        let day = match from.trim() {
            "" => {
                errors.insert("from", FieldError::Required);
                None
            }
            text => text
                .parse::<Date>()
                .map_err(|_| errors.insert("from", FieldError::Invalid("debe ser una fecha como 2026-12-10")))
                .ok(),
        };
        let time = match at.trim() {
            "" => Some(None),
            text => Time::strptime("%H:%M", text)
                .map(Some)
                .map_err(|_| errors.insert("at", FieldError::Invalid("debe ser una hora como 05:00")))
                .ok(),
        };
        let from = match (day, time) {
            (Some(day), Some(time)) => {
                let from = effective(day, time, &state.ctx.rules.time_zone);
                if from <= now {
                    errors.insert(
                        "from",
                        FieldError::Invalid("un cambio de fase se publica antes de que rija, nunca después"),
                    );
                }
                Some(from)
            }
            _ => None,
        };
        match (comuna, phase, from) {
            (Some(comuna), Some(phase), Some(from)) if errors.is_empty() => Ok(Change { comuna, phase, from }),
            _ => Err(errors),
        }
    }
}

/// A published change, with what it changes.
#[derive(Serialize, ToSchema)]
pub struct Published {
    /// The comuna as the catalogue writes it.
    comuna: String,
    /// Its código único territorial.
    code: String,
    region: String,
    /// The phase's code.
    phase: String,
    /// From when, RFC 3339.
    from: String,
    /// From when, in words, in Chile.
    from_local: String,
    /// The phase in force just before it (`null`: none, the plan did not cover the comuna).
    previous: Option<String>,
}

/// Publishes a change of phase for a comuna, ahead of time: in force from `from` at `at`
/// (05:00 when absent), in Chile; every replica goes by it after its next refresh.
#[utoipa::path(
    post,
    path = "/api/phases",
    tag = "operator",
    request_body = PhaseRequest,
    security(("admin_token" = [])),
    responses(
        (status = 201, description = "Published.", body = Published),
        (status = 401, description = "No valid named operator token (`unauthorized`).", body = ErrorBody),
        (status = 403, description = "A token of another role than *administración* (`forbidden`).", body = ErrorBody),
        (status = 415, description = "Not `application/json` (`unsupported_media_type`).", body = ErrorBody),
        (status = 422, description = "`comuna`, `phase`, `from` or `at` wrong, or `from` not ahead of now (`invalid_fields`).", body = ErrorBody),
    ),
)]
pub async fn publish(
    State(state): State<IssuerState>,
    acting: Acting,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Published>), AppError> {
    let texts = phase_request(&headers, &body)?;
    let change = Change::parse(&texts, state.ctx.now(), &state).map_err(AppError::Invalid)?;
    let preview = change.publish(&state, &acting).await?;
    Ok((
        StatusCode::CREATED,
        Json(Published {
            comuna: change.comuna.as_str().to_owned(),
            code: change.comuna.code().to_owned(),
            region: change.comuna.region().to_owned(),
            phase: change.phase.code().to_owned(),
            from: change.from.to_string(),
            from_local: preview.from,
            previous: preview.before.map(|p| p.code().to_owned()),
        }),
    ))
}

/// What a change does for the citizens of its comuna, before and after it: the console
/// shows it before publishing, and the answer after.
pub(crate) struct Preview {
    pub comuna: &'static str,
    pub region: &'static str,
    /// From when, in words, in Chile.
    pub from: String,
    /// The phase in force just before; `None` outside the plan.
    pub before: Option<Phase>,
    pub after: Phase,
    /// What each asks under the version in force then.
    pub asks_before: String,
    pub asks_after: String,
    /// A change published earlier for this very instant, which this one replaces.
    pub replaces: Option<Phase>,
}

impl Change {
    pub fn preview(&self, state: &IssuerState) -> Preview {
        let (before, replaces) = state.phases.with(|schedule| {
            (
                schedule.phase_of(&self.comuna, self.from - jiff::SignedDuration::from_millis(1)),
                schedule.change_at(&self.comuna, self.from),
            )
        });
        let policy = state.policies.in_force(self.from);
        Preview {
            comuna: self.comuna.as_str(),
            region: self.comuna.region(),
            from: local(state, self.from),
            before,
            after: self.phase,
            asks_before: asks(policy, before),
            asks_after: asks(policy, Some(self.phase)),
            replaces,
        }
    }

    /// Records the change in the audit log, stores it and applies it here at once (the
    /// other replicas at their next refresh): the API's publication and the console's.
    pub async fn publish(&self, state: &IssuerState, acting: &Acting) -> Result<Preview, AppError> {
        let preview = self.preview(state);
        let (comuna, from, phase) = (self.comuna, self.from, self.phase);
        let detail = format!(
            "comuna {} {} to {} from {from}",
            comuna.code(),
            comuna.as_str(),
            phase.code()
        );
        acting
            .record(state, AuditAction::PublishPhase, None, None, Some(detail))
            .await?;
        let published = PhaseChange {
            comuna,
            from,
            phase,
            published_at: state.ctx.now(),
            published_by: acting.operator.clone(),
        };
        state.ctx.store.publish_phase(&published).await?;
        state.phases.apply(&published);
        Ok(preview)
    }
}

/// A comuna's phase now, what it asks of a citizen and its next change: the form shows it
/// above the fields, so nobody meets a refusal they were not told about.
pub(crate) struct Notice {
    pub comuna: &'static str,
    pub phase: Option<Phase>,
    /// `se pide permiso todos los días; 2 por semana, …`, by the version in force.
    pub asks: String,
    pub next: Option<(String, Phase)>,
    /// The version in force.
    pub policy: String,
}

impl Notice {
    pub fn of(state: &IssuerState, comuna: Comuna, now: Timestamp) -> Notice {
        let (phase, next) = state
            .phases
            .with(|schedule| (schedule.phase_of(&comuna, now), schedule.next_change(&comuna, now)));
        let policy = state.policies.in_force(now);
        Notice {
            comuna: comuna.as_str(),
            phase,
            asks: asks(policy, phase),
            next: next.map(|(at, phase)| (local(state, at), phase)),
            policy: policy.version.to_string(),
        }
    }
}

/// What `phase` asks of a citizen under `policy`, in words.
fn asks(policy: &Policy, phase: Option<Phase>) -> String {
    match phase.map(|phase| policy.phase(phase)) {
        None => "no está en el plan Paso a Paso: rigen las reglas generales".into(),
        Some(None) => "no se pide permiso para salir".into(),
        Some(Some(rules)) => rules.summary(),
    }
}

fn local(state: &IssuerState, at: Timestamp) -> String {
    day_and_time(&at.to_zoned_datetime(state.ctx.rules.time_zone.clone()))
}

/// One comuna's line of `/fases` and of the console's schedule page.
pub(crate) struct Row {
    pub comuna: &'static str,
    /// Its CUT, for the form's link.
    pub code: &'static str,
    pub region: &'static str,
    pub now: Option<Phase>,
    pub next: Option<(String, Phase)>,
}

/// Every comuna the plan covers at `now` or later, as this replica holds the schedule.
pub(crate) fn rows(state: &IssuerState, now: Timestamp) -> Vec<Row> {
    state.phases.with(|schedule| {
        Comuna::all()
            .filter_map(|comuna| {
                let current = schedule.phase_of(&comuna, now);
                let next = schedule.next_change(&comuna, now);
                (current.is_some() || next.is_some()).then(|| Row {
                    comuna: comuna.as_str(),
                    code: comuna.code(),
                    region: comuna.region(),
                    now: current,
                    next: next.map(|(at, phase)| (local(state, at), phase)),
                })
            })
            .collect()
    })
}

#[derive(Template)]
#[template(path = "phases.html")]
struct PhasesPage {
    demo: bool,
    rows: Vec<Row>,
    as_of: String,
    /// The version in force: its name, title and start.
    policy: (String, String, String),
    /// Each phase and what it asks.
    phases: Vec<(Phase, String)>,
}

/// `GET /fases`: each comuna the plan covers, its phase now and its next change.
pub async fn page(State(state): State<IssuerState>) -> Result<Html<String>, PageError> {
    let now = state.ctx.now();
    let rows = rows(&state, now);
    let policy = state.policies.in_force(now);
    let page = PhasesPage {
        demo: state.options.sign_in.demo(),
        rows,
        as_of: local(&state, now),
        policy: (
            policy.version.to_string(),
            policy.title.clone(),
            local(&state, policy.from),
        ),
        phases: Phase::ALL.map(|phase| (phase, asks(policy, Some(phase)))).into(),
    };
    Ok(Html(page.render()?))
}
