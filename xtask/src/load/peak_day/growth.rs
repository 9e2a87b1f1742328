//! `data-growth`: how the cost of a create and of a check by code, and the database's size,
//! change as the record day's permits pile up. Permits are stored through the API up to
//! each stop (by default 10 k, 100 k, 1 M and the day's 1,291,970); at each, creates and
//! checks are sent open-loop at a fixed, modest rate, so that what is measured is the work
//! of one request and not a queue, and every query's plan is read with `explain`.

use futures_util::StreamExt;
use permit_domain::{Permit, PermitId, Policies, PrivacyKey, Rules, Schedule};
use serde::Serialize;
use tokio::task::JoinSet;

use super::open_loop::{self, OpenLoop};
use super::report::{Kind, Span, span};
use super::schedule::Random;
use super::{bytes_under, form, local_store};
use crate::console::step;
use crate::error::Error;
use crate::paths::Paths;

pub struct Settings {
    /// Stored permits at which to stop and measure, in increasing order.
    pub stops: Vec<u64>,
    /// How long each probe (creates, then checks) lasts.
    pub probe_seconds: f64,
    pub port: u16,
}

/// The probes' rates: under a tenth of what the topology sustains for each (docs/benchmarks.md,
/// capacity), so that requests do not wait for one another.
const CREATES_PER_SECOND: f64 = 200.0;
const CHECKS_PER_SECOND: f64 = 500.0;
/// Creates in flight at once while filling: enough to keep both cores busy.
const FILLING: usize = 64;
/// The RUT bodies of the permits stored here, one citizen each.
const BODIES: u64 = 10_000_000;
/// The largest stop and the longest probe: every body, the create probes' included,
/// stays a RUT.
pub const MOST_STORED: u64 = 80_000_000;
pub const MOST_PROBE_SECONDS: usize = 600;
const SEED: u64 = 10_000;
const ISSUER: &str = "formulario.localhost";

#[derive(Serialize)]
struct Growth {
    date: String,
    cores: usize,
    probe_seconds: f64,
    creates_per_second: f64,
    checks_per_second: f64,
    held: bool,
    stops: Vec<Stop>,
}

#[derive(Serialize)]
struct Stop {
    /// Permits stored when the probes began (the create probe adds its own).
    stored_permits: u64,
    /// How long storing the permits since the previous stop took, and their rate.
    fill_seconds: f64,
    fill_per_second: f64,
    creates: Span,
    checks: Span,
    database: Vec<permit_store::CollectionSize>,
    database_on_disk_bytes: u64,
    plans: Vec<permit_store::QueryPlan>,
}

/// Runs the stops; writes `.run/data-growth/result.json`; true when no probe request
/// failed and no query a service runs reads the whole collection or sorts it in memory.
pub async fn data_growth(paths: &Paths, settings: &Settings) -> Result<bool, Error> {
    let client = open_loop::client()?;
    let base = format!("http://127.0.0.1:{}", settings.port);
    let store = local_store().await?;
    let mut ids: Vec<String> = Vec::new();
    let mut random = Random::new(SEED);
    let mut stops = Vec::new();
    for &stop in &settings.stops {
        step(&format!("storing permits up to {stop}"));
        let before = ids.len() as u64;
        let started = std::time::Instant::now();
        fill(&client, &base, &mut ids, stop).await?;
        let fill_seconds = started.elapsed().as_secs_f64();
        let stored_permits = ids.len() as u64;

        step(&format!("probing at {stored_permits} permits"));
        let creates = probe_creates(&client, &base, &mut ids, settings.probe_seconds).await;
        let checks = probe_checks(&client, &base, &ids, &mut random, settings.probe_seconds).await;
        let known = pick(&store, &ids, &mut random).await?;
        // The plan depends on the counter's key shape, not on which key names it.
        let holder = PrivacyKey::generate().pseudonym(&known.rut);
        let rules = Rules::default();
        let terms = Policies::history(&rules.time_zone)
            .decide(
                &rules,
                &Schedule::default(),
                known.comuna,
                known.motive,
                known.requested_at,
            )
            .map_err(|refusal| Error::Failed(format!("the rules refuse the stored permit: {refusal}")))?;
        let claim = rules
            .quota_claim(&holder, known.motive, &terms, known.requested_at)
            .ok_or_else(|| Error::Failed("the stored permits' motive counts against no week".into()))?;
        let key = idempotency_key(random.next_u64() % stored_permits);
        let plans = store
            .query_plans(&known, &claim, &key, jiff::Timestamp::now())
            .await
            .map_err(|e| Error::Failed(format!("the query plans: {e}")))?;
        let database = store
            .sizes()
            .await
            .map_err(|e| Error::Failed(format!("the database's sizes: {e}")))?;
        println!(
            "{stored_permits} permits: create p50 {:.1} ms p99 {:.1} ms, check p50 {:.1} ms p99 {:.1} ms, {} errors",
            creates.p50_ms,
            creates.p99_ms,
            checks.p50_ms,
            checks.p99_ms,
            creates.errors + checks.errors
        );
        stops.push(Stop {
            stored_permits,
            fill_seconds,
            fill_per_second: (stored_permits - before) as f64 / fill_seconds.max(f64::EPSILON),
            creates,
            checks,
            database,
            database_on_disk_bytes: bytes_under(&paths.run_dir().join("local/db")),
            plans,
        });
    }
    let held = stops.iter().all(|stop| {
        stop.creates.errors + stop.checks.errors == 0
            && stop
                .plans
                .iter()
                .all(|plan| !plan.by_a_service || !plan.grows_with_the_collection())
    });
    print_plans(&stops);
    let result = Growth {
        date: jiff::Timestamp::now().to_string(),
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        probe_seconds: settings.probe_seconds,
        creates_per_second: CREATES_PER_SECOND,
        checks_per_second: CHECKS_PER_SECOND,
        held,
        stops,
    };
    let out = paths.run_dir().join("data-growth");
    std::fs::create_dir_all(&out).map_err(Error::io("creating .run/data-growth"))?;
    let json = serde_json::to_string_pretty(&result).expect("the result serializes");
    std::fs::write(out.join("result.json"), &json).map_err(Error::io("writing .run/data-growth/result.json"))?;
    Ok(held)
}

fn idempotency_key(n: u64) -> String {
    format!("crecimiento-{n}")
}

/// Stores permits through the API, each with an idempotency key as a careful client sends
/// it, until `ids` holds `until` of them.
async fn fill(client: &reqwest::Client, base: &str, ids: &mut Vec<String>, until: u64) -> Result<(), Error> {
    let from = ids.len() as u64;
    let mut sent = futures_util::stream::iter(from..until.max(from))
        .map(|n| {
            let request = client
                .post(format!("{base}/api/create"))
                .header("host", ISSUER)
                .header("idempotency-key", idempotency_key(n))
                .json(&form(BODIES + n, "compras"));
            async move {
                let response = request.send().await.map_err(|e| open_loop::failure(&e))?;
                match response.status().as_u16() {
                    201 => response
                        .json::<serde_json::Value>()
                        .await
                        .ok()
                        .and_then(|permit| permit["id"].as_str().map(str::to_owned))
                        .ok_or_else(|| "a 201 without the permit's id".to_owned()),
                    status => Err(format!("status {status}")),
                }
            }
        })
        .buffer_unordered(FILLING);
    while let Some(answer) = sent.next().await {
        ids.push(answer.map_err(|why| Error::Failed(format!("storing permit {}: {why}", ids.len())))?);
    }
    Ok(())
}

/// New citizens' creates at `CREATES_PER_SECOND`; the permits they get join `ids`.
async fn probe_creates(client: &reqwest::Client, base: &str, ids: &mut Vec<String>, seconds: f64) -> Span {
    let count = (CREATES_PER_SECOND * seconds).round() as u64;
    let open_loop = std::sync::Arc::new(OpenLoop::new(client.clone(), base, count as usize));
    let first = ids.len() as u64;
    let mut creates = JoinSet::new();
    for i in 0..count {
        let open_loop = open_loop.clone();
        let body = form(BODIES + first + i, "compras");
        creates.spawn(async move {
            let due = i as f64 / CREATES_PER_SECOND;
            open_loop
                .request(Kind::Create, ISSUER, "/api/create", Some(body), due, 201)
                .await
        });
    }
    while let Some(created) = creates.join_next().await {
        if let Some(id) = created
            .ok()
            .flatten()
            .and_then(|permit| permit["id"].as_str().map(str::to_owned))
        {
            ids.push(id);
        }
    }
    span(&open_loop.take_samples().iter().collect::<Vec<_>>())
}

/// Checks by code of permits picked at random among all stored, at `CHECKS_PER_SECOND`:
/// each reads a part of the index that is as likely cold as warm.
async fn probe_checks(client: &reqwest::Client, base: &str, ids: &[String], random: &mut Random, seconds: f64) -> Span {
    let count = (CHECKS_PER_SECOND * seconds).round() as u64;
    let open_loop = std::sync::Arc::new(OpenLoop::new(client.clone(), base, count as usize));
    let mut checks = JoinSet::new();
    for i in 0..count {
        let open_loop = open_loop.clone();
        let path = format!("/validar/{}", ids[(random.next_u64() % ids.len() as u64) as usize]);
        checks.spawn(async move {
            let due = i as f64 / CHECKS_PER_SECOND;
            open_loop
                .request(Kind::CodeCheck, "validar.localhost", &path, None, due, 200)
                .await
        });
    }
    while checks.join_next().await.is_some() {}
    span(&open_loop.take_samples().iter().collect::<Vec<_>>())
}

/// One stored permit, picked at random, for the query plans.
async fn pick(store: &permit_store::Store, ids: &[String], random: &mut Random) -> Result<Permit, Error> {
    let id = &ids[(random.next_u64() % ids.len() as u64) as usize];
    let id = PermitId::parse(id).map_err(|_| Error::Failed(format!("the API gave a malformed id {id:?}")))?;
    store
        .find(&id)
        .await
        .map_err(|e| Error::Failed(format!("reading a stored permit: {e}")))?
        .ok_or_else(|| Error::Failed(format!("permit {id} was answered 201 but is not stored")))
}

/// The plans as a Markdown table: each query's stages at the last stop, and the index keys
/// and documents it examined at every stop.
fn print_plans(stops: &[Stop]) {
    let Some(last) = stops.last() else { return };
    let counts: Vec<String> = stops.iter().map(|stop| stop.stored_permits.to_string()).collect();
    println!(
        "\n| Query | Plan | Keys / documents examined at {} permits |\n| -- | -- | -- |",
        counts.join(", ")
    );
    for (index, plan) in last.plans.iter().enumerate() {
        let examined: Vec<String> = stops
            .iter()
            .filter_map(|stop| stop.plans.get(index))
            .map(|plan| format!("{} / {}", plan.keys_examined, plan.documents_examined))
            .collect();
        println!(
            "| {}{} | `{}` | {} |",
            plan.query,
            if plan.by_a_service && plan.grows_with_the_collection() {
                " **(grows with the collection)**"
            } else {
                ""
            },
            plan.stages.join(" ← "),
            examined.join(", ")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_body_the_largest_run_uses_is_a_rut() {
        let probes = CREATES_PER_SECOND as u64 * MOST_PROBE_SECONDS as u64;
        for body in [BODIES, BODIES + MOST_STORED + probes] {
            assert!(
                u32::try_from(body)
                    .ok()
                    .and_then(permit_domain::Rut::from_body)
                    .is_some(),
                "{body}"
            );
        }
    }
}
