//! `chaos`: one Ready pod deleted at each tick, never leaving a service without a serving
//! pod or the replica set without a majority, and how long until each was replaced.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, ListParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use serde::Serialize;
use tokio::task::JoinSet;

use crate::assess;
use crate::error::Error;

/// Which workloads lose pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    Issuer,
    Validator,
    Mongodb,
    All,
}

/// A workload that may lose pods, and the rule that keeps it serving.
#[derive(Debug, Clone)]
pub struct Victim {
    pub name: &'static str,
    /// For a replica set: how many members it has, of which a majority must stay Ready.
    pub members: Option<i32>,
}

impl Victim {
    fn selector(&self) -> String {
        format!("app.kubernetes.io/name={}", self.name)
    }
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub target: Target,
    pub every: Duration,
    pub duration: Duration,
    /// How long, after the last deletion, replacements still have to become Ready.
    pub settle: Duration,
}

#[derive(Debug, Clone, Serialize)]
pub struct Kill {
    /// Seconds since the start.
    pub at: f64,
    pub workload: &'static str,
    pub pod: String,
    pub node: Option<String>,
    pub ready_before: i32,
    /// Seconds from the deletion until the workload had as many Ready pods again.
    pub replaced_after: Option<f64>,
    pub replacement: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Skip {
    pub at: f64,
    pub workload: &'static str,
    pub reason: String,
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub kills: Vec<Kill>,
    pub skips: Vec<Skip>,
    /// Stopped by Ctrl-C before its time was up.
    pub interrupted: bool,
}

/// A deletion's outcome: the kill's index, the replacement and the seconds it took.
type Back = (usize, Option<String>, f64);

impl Report {
    /// Notes that kill `index` was made good, and says so.
    fn replaced(&mut self, (index, replacement, after): Back) -> String {
        let kill = &mut self.kills[index];
        kill.replaced_after = Some(after);
        kill.replacement = replacement;
        format!(
            "{}: pod/{} replaced by pod/{}, Ready after {after:.1} s",
            kill.workload,
            kill.pod,
            kill.replacement.as_deref().unwrap_or("?")
        )
    }

    pub fn unreplaced(&self) -> Vec<&Kill> {
        self.kills.iter().filter(|k| k.replaced_after.is_none()).collect()
    }
}

async fn victims(client: &Client, namespace: &str, target: Target) -> Result<Vec<Victim>, Error> {
    let mut found = Vec::new();
    if matches!(target, Target::Issuer | Target::All) {
        found.push(Victim {
            name: "issuer",
            members: None,
        });
    }
    if matches!(target, Target::Validator | Target::All) {
        found.push(Victim {
            name: "validator",
            members: None,
        });
    }
    if matches!(target, Target::Mongodb | Target::All) {
        let set = Api::<StatefulSet>::namespaced(client.clone(), namespace)
            .get_opt("mongodb")
            .await?
            .ok_or_else(|| Error::Unhealthy(format!("statefulset/mongodb not found in {namespace}")))?;
        let members = set.spec.and_then(|s| s.replicas).unwrap_or(1);
        found.push(Victim {
            name: "mongodb",
            members: Some(members),
        });
    }
    Ok(found)
}

async fn ready_pods(pods: &Api<Pod>, victim: &Victim) -> Result<Vec<Pod>, Error> {
    let listed = pods.list(&ListParams::default().labels(&victim.selector())).await?;
    Ok(listed.items.into_iter().filter(assess::pod_ready).collect())
}

fn pick(count: usize) -> usize {
    usize::try_from(getrandom::u64().unwrap_or(0) % count.max(1) as u64).unwrap_or(0)
}

fn uid(pod: &Pod) -> String {
    pod.metadata.uid.clone().unwrap_or_default()
}

/// Watches `victim`'s pods until `wanted` Ready ones other than `gone` exist; the first
/// Ready pod not in `before` is the replacement.
async fn replaced(
    pods: Api<Pod>,
    selector: String,
    gone: String,
    before: HashSet<String>,
    wanted: i32,
) -> Option<String> {
    let mut seen: BTreeMap<String, Pod> = BTreeMap::new();
    let mut listed = false;
    let mut events = watcher(pods, watcher::Config::default().labels(&selector))
        .default_backoff()
        .boxed();
    while let Some(event) = events.next().await {
        match event {
            Ok(watcher::Event::Init) => {
                seen.clear();
                listed = false;
            }
            Ok(watcher::Event::InitApply(pod) | watcher::Event::Apply(pod)) => {
                seen.insert(uid(&pod), pod);
            }
            Ok(watcher::Event::Delete(pod)) => {
                seen.remove(&uid(&pod));
            }
            Ok(watcher::Event::InitDone) => listed = true,
            Err(_) => continue,
        }
        let ready: Vec<&Pod> = seen
            .values()
            .filter(|p| assess::pod_ready(p) && uid(p) != gone)
            .collect();
        if listed && i32::try_from(ready.len()).unwrap_or(i32::MAX) >= wanted {
            let new = ready.iter().find(|p| !before.contains(&uid(p))).or(ready.first());
            return new.and_then(|p| p.metadata.name.clone());
        }
    }
    None
}

/// Runs `plan` until its time is up or a `stop()` resolves (the first ends the deletions,
/// a second the wait for their replacements); `log` hears each deletion, skip and
/// replacement as it happens.
pub async fn chaos<F: Future<Output = ()>>(
    client: &Client,
    namespace: &str,
    plan: &Plan,
    stop: impl Fn() -> F,
    mut log: impl FnMut(&str),
) -> Result<Report, Error> {
    let victims = victims(client, namespace, plan.target).await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let mut refusals = Vec::new();
    for victim in &victims {
        let ready = i32::try_from(ready_pods(&pods, victim).await?.len()).unwrap_or(i32::MAX);
        if let Err(why) = assess::may_delete_one(ready, victim.members) {
            refusals.push(format!("{}: {why}", victim.name));
        }
    }
    if !refusals.is_empty() {
        return Err(Error::Unhealthy(format!("refusing to start: {}", refusals.join("; "))));
    }
    let started = Instant::now();
    let seconds = || started.elapsed().as_secs_f64();
    let mut report = Report::default();
    let mut waiting: JoinSet<Back> = JoinSet::new();
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + plan.every, plan.every);
    let end = tokio::time::sleep(plan.duration);
    let first_stop = stop();
    tokio::pin!(end, first_stop);
    loop {
        tokio::select! {
            () = &mut first_stop => {
                report.interrupted = true;
                log(&format!("[{:>6.1}s] stopped by Ctrl-C", seconds()));
                break;
            }
            () = &mut end => break,
            Some(Ok(back)) = waiting.join_next(), if !waiting.is_empty() => {
                log(&format!("[{:>6.1}s] {}", seconds(), report.replaced(back)));
            }
            _ = ticks.tick() => {
                let victim = &victims[pick(victims.len())];
                let ready = ready_pods(&pods, victim).await?;
                let count = i32::try_from(ready.len()).unwrap_or(i32::MAX);
                if let Err(reason) = assess::may_delete_one(count, victim.members) {
                    log(&format!("[{:>6.1}s] {}: skipped: {reason}", seconds(), victim.name));
                    report.skips.push(Skip { at: seconds(), workload: victim.name, reason });
                    continue;
                }
                let pod = &ready[pick(ready.len())];
                let name = pod.metadata.name.clone().unwrap_or_default();
                let node = pod.spec.as_ref().and_then(|s| s.node_name.clone());
                match pods.delete(&name, &DeleteParams::default()).await {
                    Ok(_) => {}
                    // Gone already (its controller replaced it meanwhile): nothing deleted.
                    Err(kube::Error::Api(status)) if status.code == 404 => continue,
                    Err(other) => return Err(other.into()),
                }
                let deleted_at = Instant::now();
                log(&format!(
                    "[{:>6.1}s] {}: deleted pod/{name} on {} ({count} Ready before)",
                    seconds(), victim.name, node.as_deref().unwrap_or("no node")
                ));
                let index = report.kills.len();
                report.kills.push(Kill {
                    at: seconds(),
                    workload: victim.name,
                    pod: name,
                    node,
                    ready_before: count,
                    replaced_after: None,
                    replacement: None,
                });
                let before: HashSet<String> = ready.iter().map(uid).collect();
                let watch = replaced(pods.clone(), victim.selector(), uid(pod), before, count);
                waiting.spawn(async move {
                    let replacement = watch.await;
                    (index, replacement, deleted_at.elapsed().as_secs_f64())
                });
            }
        }
    }
    let settle = tokio::time::sleep(plan.settle);
    let second_stop = stop();
    tokio::pin!(settle, second_stop);
    if !waiting.is_empty() {
        log(&format!(
            "[{:>6.1}s] waiting up to {} s for {} replacement(s){}",
            seconds(),
            plan.settle.as_secs(),
            waiting.len(),
            if report.interrupted {
                " (Ctrl-C again to leave now)"
            } else {
                ""
            }
        ));
    }
    while !waiting.is_empty() {
        tokio::select! {
            () = &mut settle => break,
            () = &mut second_stop => break,
            Some(Ok(back)) = waiting.join_next() => {
                log(&format!("[{:>6.1}s] {}", seconds(), report.replaced(back)));
            }
        }
    }
    waiting.abort_all();
    Ok(report)
}

/// The run in brief.
pub fn summary(report: &Report) -> String {
    let times: Vec<f64> = report.kills.iter().filter_map(|k| k.replaced_after).collect();
    let mut text = format!(
        "{} pod(s) deleted, {} replaced, {} tick(s) skipped",
        report.kills.len(),
        times.len(),
        report.skips.len()
    );
    if let Some(slowest) = times.iter().copied().reduce(f64::max) {
        let mean = times.iter().sum::<f64>() / times.len() as f64;
        text.push_str(&format!(
            "; Ready again after {mean:.1} s on average, {slowest:.1} s at most"
        ));
    }
    for kill in report.unreplaced() {
        text.push_str(&format!("\nnot replaced in time: {}: pod/{}", kill.workload, kill.pod));
    }
    text
}
