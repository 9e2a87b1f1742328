//! `wait`: until the named workloads have rolled out (by default the whole system and its
//! entrance's address), or until something shows that they cannot.
//!
//! Every kind involved is watched (kube's watcher, mirrored into reflector stores), and the
//! whole picture is judged again on each change, so the answer comes as soon as the
//! cluster knows it; a timer only re-judges what depends on time alone (how long a pod has
//! been unschedulable) and paces the progress lines.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::{BoxStream, SelectAll};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::jiff::Timestamp;
use kube::api::{ApiResource, DynamicObject, LogParams};
use kube::runtime::reflector::Store;
use kube::runtime::reflector::store::Writer;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::assess::{self, Blocker, Rollout};
use crate::entrance;
use crate::error::Error;
use crate::snapshot::{self, Snapshot};

/// What `wait` can wait for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Deployment(String),
    StatefulSet(String),
    DaemonSet(String),
    Job(String),
    /// The Ingress's (or Gateway's) LoadBalancer address.
    Entrance,
}

impl Target {
    /// The whole system: MongoDB, its set-up Job, both services and the entrance.
    pub fn system() -> Vec<Target> {
        vec![
            Target::StatefulSet("mongodb".into()),
            Target::Job("mongodb-init".into()),
            Target::Deployment("issuer".into()),
            Target::Deployment("validator".into()),
            Target::Entrance,
        ]
    }
}

impl FromStr for Target {
    type Err = String;

    fn from_str(text: &str) -> Result<Target, String> {
        if text == "entrance" {
            return Ok(Target::Entrance);
        }
        let (kind, name) = text
            .split_once('/')
            .filter(|(_, name)| !name.is_empty())
            .ok_or_else(|| format!("{text:?} is not KIND/NAME (e.g. deployment/issuer) or `entrance`"))?;
        let name = name.to_owned();
        match kind {
            "deployment" | "deploy" => Ok(Target::Deployment(name)),
            "statefulset" | "sts" => Ok(Target::StatefulSet(name)),
            "daemonset" | "ds" => Ok(Target::DaemonSet(name)),
            "job" => Ok(Target::Job(name)),
            _ => Err(format!(
                "{kind:?} is not one of deployment, statefulset, daemonset, job"
            )),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Deployment(name) => write!(f, "deployment/{name}"),
            Target::StatefulSet(name) => write!(f, "statefulset/{name}"),
            Target::DaemonSet(name) => write!(f, "daemonset/{name}"),
            Target::Job(name) => write!(f, "job/{name}"),
            Target::Entrance => f.write_str("entrance"),
        }
    }
}

/// Where one target stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Standing {
    pub target: String,
    pub ready: bool,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Ready(Vec<Standing>),
    Waiting(Vec<Standing>),
    Blocked(Vec<Blocker>),
}

fn named<'a, K: Resource>(objects: &'a [K], name: &str) -> Option<&'a K> {
    objects.iter().find(|o| o.meta().name.as_deref() == Some(name))
}

/// Whether the entrance has its address, and the address or what it still lacks.
fn entrance_standing(snapshot: &Snapshot) -> (bool, String) {
    match entrance::entrance(&snapshot.ingresses, &snapshot.routes, &snapshot.gateways) {
        None => (false, "no Ingress or HTTPRoute in the namespace yet".into()),
        Some(found) => match found.address {
            None => (false, format!("{} has no LoadBalancer address yet", found.via)),
            Some(address) => (true, format!("{address} ({})", found.via)),
        },
    }
}

/// Whether `targets` are all ready in `snapshot` as of `now`, or what blocks them: the
/// failures of the named Jobs and Deployments and of the pods their selectors pick.
pub fn judge(targets: &[Target], snapshot: &Snapshot, now: Timestamp) -> Verdict {
    let mut standings = Vec::new();
    let mut blockers = Vec::new();
    let mut selectors: Vec<Option<&LabelSelector>> = Vec::new();
    for target in targets {
        let rollout = match target {
            Target::Deployment(name) => named(&snapshot.deployments, name).map(|d| {
                blockers.extend(assess::deployment_blocker(d));
                selectors.push(d.spec.as_ref().map(|s| &s.selector));
                assess::deployment_rollout(d)
            }),
            Target::StatefulSet(name) => named(&snapshot.statefulsets, name).map(|s| {
                selectors.push(s.spec.as_ref().map(|s| &s.selector));
                assess::statefulset_rollout(s)
            }),
            Target::DaemonSet(name) => named(&snapshot.daemonsets, name).map(|d| {
                selectors.push(d.spec.as_ref().map(|s| &s.selector));
                assess::daemonset_rollout(d)
            }),
            Target::Job(name) => named(&snapshot.jobs, name).map(|j| {
                blockers.extend(assess::job_blocker(j));
                selectors.push(j.spec.as_ref().and_then(|s| s.selector.as_ref()));
                assess::job_rollout(j)
            }),
            Target::Entrance => {
                let (ready, detail) = entrance_standing(snapshot);
                standings.push(Standing {
                    target: target.to_string(),
                    ready,
                    detail,
                });
                continue;
            }
        };
        let (ready, detail) = match rollout {
            None => (false, "not created yet".to_owned()),
            Some(Rollout::Done) => (true, "ready".to_owned()),
            Some(Rollout::Pending(detail)) => (false, detail),
        };
        standings.push(Standing {
            target: target.to_string(),
            ready,
            detail,
        });
    }
    for pod in &snapshot.pods {
        if selectors.iter().any(|s| snapshot::selects(*s, pod)) {
            blockers.extend(assess::pod_blockers(pod, now));
        }
    }
    if !blockers.is_empty() {
        Verdict::Blocked(blockers)
    } else if standings.iter().all(|s| s.ready) {
        Verdict::Ready(standings)
    } else {
        Verdict::Waiting(standings)
    }
}

/// The last lines of the previous run of a crash-looping container.
pub async fn log_tail(client: &Client, namespace: &str, pod: &str, container: &str) -> String {
    let params = LogParams {
        container: Some(container.to_owned()),
        previous: true,
        tail_lines: Some(10),
        ..LogParams::default()
    };
    Api::<Pod>::namespaced(client.clone(), namespace)
        .logs(pod, &params)
        .await
        .unwrap_or_default()
}

/// The blockers as lines, each crash loop followed by its container's last log lines.
pub async fn explain(client: &Client, namespace: &str, blockers: &[Blocker]) -> String {
    let mut lines = Vec::new();
    for blocker in blockers {
        lines.push(blocker.to_string());
        if let Some((pod, container)) = &blocker.log_of {
            let tail = log_tail(client, namespace, pod, container).await;
            if !tail.trim().is_empty() {
                lines.push("  its last log lines:".into());
                lines.extend(tail.lines().map(|line| format!("    {line}")));
            }
        }
    }
    lines.join("\n")
}

/// Mirrors of the watched kinds: pods always, the others only when a target needs them
/// (fewer watches, and fewer rights asked of the operator's user).
struct Stores {
    pods: Store<Pod>,
    jobs: Option<Store<Job>>,
    deployments: Option<Store<Deployment>>,
    statefulsets: Option<Store<StatefulSet>>,
    daemonsets: Option<Store<DaemonSet>>,
    ingresses: Option<Store<Ingress>>,
    routes: Option<Store<DynamicObject>>,
    gateways: Option<Store<DynamicObject>>,
}

fn cloned<K>(store: &Store<K>) -> Vec<K>
where
    K: Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    store.state().iter().map(|k| (**k).clone()).collect()
}

impl Stores {
    fn snapshot(&self) -> Snapshot {
        Snapshot {
            pods: cloned(&self.pods),
            jobs: self.jobs.as_ref().map(cloned).unwrap_or_default(),
            deployments: self.deployments.as_ref().map(cloned).unwrap_or_default(),
            statefulsets: self.statefulsets.as_ref().map(cloned).unwrap_or_default(),
            daemonsets: self.daemonsets.as_ref().map(cloned).unwrap_or_default(),
            ingresses: self.ingresses.as_ref().map(cloned).unwrap_or_default(),
            routes: self.routes.as_ref().map(cloned).unwrap_or_default(),
            gateways: self.gateways.as_ref().map(cloned).unwrap_or_default(),
        }
    }
}

/// One watched kind's events, tagged with its index: `Ok(true)` when a full listing of
/// the kind has just reached its store.
type Events = BoxStream<'static, (usize, Result<bool, watcher::Error>)>;

fn mirror<K>(api: Api<K>, writer: Writer<K>, streams: &mut SelectAll<Events>) -> Store<K>
where
    K: Resource + Clone + DeserializeOwned + fmt::Debug + Send + Sync + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    let store = writer.as_reader();
    let index = streams.len();
    streams.push(
        watcher(api, watcher::Config::default())
            .default_backoff()
            .reflect(writer)
            .map(move |event| (index, event.map(|e| matches!(e, watcher::Event::InitDone))))
            .boxed(),
    );
    store
}

fn typed<K>(client: &Client, namespace: &str, streams: &mut SelectAll<Events>) -> Store<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + fmt::Debug
        + Send
        + Sync
        + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone + Default,
{
    mirror(Api::namespaced(client.clone(), namespace), Writer::default(), streams)
}

fn dynamic(
    client: &Client,
    namespace: &str,
    resource: ApiResource,
    streams: &mut SelectAll<Events>,
) -> Store<DynamicObject> {
    let api = Api::namespaced_with(client.clone(), namespace, &resource);
    mirror(api, Writer::new(resource), streams)
}

/// How often an unchanged picture is told again, so a long wait shows it is alive.
const REMIND: Duration = Duration::from_secs(30);

/// How a wait ended well.
#[derive(Debug, Serialize)]
pub struct Done {
    pub seconds: f64,
    pub targets: Vec<Standing>,
}

/// A progress line: how long it has waited and what is still pending, with why.
pub fn render_progress(elapsed: Duration, standing: &[Standing]) -> String {
    let pending: Vec<String> = standing
        .iter()
        .filter(|s| !s.ready)
        .map(|s| format!("{}: {}", s.target, s.detail))
        .collect();
    format!("[{:>4} s] waiting for {}", elapsed.as_secs(), pending.join("; "))
}

/// The outcome, for people.
pub fn render(done: &Done) -> String {
    let parts: Vec<String> = done
        .targets
        .iter()
        .map(|s| format!("{} {}", s.target, s.detail))
        .collect();
    format!("ready after {:.0} s: {}\n", done.seconds, parts.join(", "))
}

/// Waits until `targets` in `namespace` are ready, at most `timeout`. `progress` is told
/// where they stand whenever that changes, and every 30 s while it does not; `pace` is
/// how often time alone is re-judged.
pub async fn wait(
    client: &Client,
    namespace: &str,
    targets: &[Target],
    timeout: Duration,
    pace: Duration,
    mut progress: impl FnMut(Duration, &[Standing]),
) -> Result<Done, Error> {
    let started = Instant::now();
    let mut streams: SelectAll<Events> = SelectAll::new();
    let wants_entrance = targets.contains(&Target::Entrance);
    let gateway_api = wants_entrance && entrance::gateway_api_installed(client, namespace).await?;
    let wants = |kind: fn(&Target) -> bool| targets.iter().any(kind);
    let stores = Stores {
        pods: typed(client, namespace, &mut streams),
        jobs: wants(|t| matches!(t, Target::Job(_))).then(|| typed(client, namespace, &mut streams)),
        deployments: wants(|t| matches!(t, Target::Deployment(_))).then(|| typed(client, namespace, &mut streams)),
        statefulsets: wants(|t| matches!(t, Target::StatefulSet(_))).then(|| typed(client, namespace, &mut streams)),
        daemonsets: wants(|t| matches!(t, Target::DaemonSet(_))).then(|| typed(client, namespace, &mut streams)),
        ingresses: wants_entrance.then(|| typed(client, namespace, &mut streams)),
        routes: gateway_api.then(|| dynamic(client, namespace, entrance::http_routes(), &mut streams)),
        gateways: gateway_api.then(|| dynamic(client, namespace, entrance::gateways(), &mut streams)),
    };
    let kinds = streams.len();
    let mut listed: HashSet<usize> = HashSet::new();
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let mut tick = tokio::time::interval(pace);
    let mut last: Option<Vec<Standing>> = None;
    let mut told = Instant::now();
    let mut api_trouble: Option<String> = None;
    loop {
        tokio::select! {
            event = streams.next() => match event {
                Some((kind, Ok(true))) => {
                    listed.insert(kind);
                }
                Some((_, Ok(false))) => {}
                Some((_, Err(error))) => {
                    let error = watch_error(error);
                    if matches!(error, Error::Forbidden(_)) {
                        return Err(error);
                    }
                    api_trouble = Some(error.to_string());
                    continue;
                }
                None => return Err(Error::Unreachable("every watch ended".into())),
            },
            _ = tick.tick() => {}
            () = &mut deadline => {
                let standing = last.unwrap_or_default();
                let pending: Vec<String> = standing
                    .iter()
                    .filter(|s| !s.ready)
                    .map(|s| format!("{}: {}", s.target, s.detail))
                    .collect();
                let mut text = format!("not ready after {} s", timeout.as_secs());
                if !pending.is_empty() {
                    text.push_str(&format!(":\n{}", pending.join("\n")));
                }
                if let Some(trouble) = api_trouble {
                    text.push_str(&format!("\nthe last error from the API: {trouble}"));
                }
                return Err(Error::Unhealthy(text));
            }
        }
        // Judging half a picture would report objects as missing that are only unlisted.
        if listed.len() < kinds {
            continue;
        }
        match judge(targets, &stores.snapshot(), Timestamp::now()) {
            Verdict::Ready(targets) => {
                return Ok(Done {
                    seconds: started.elapsed().as_secs_f64(),
                    targets,
                });
            }
            Verdict::Blocked(blockers) => {
                return Err(Error::Unhealthy(format!(
                    "cannot become ready:\n{}",
                    explain(client, namespace, &blockers).await
                )));
            }
            Verdict::Waiting(standing) => {
                if last.as_ref() != Some(&standing) || told.elapsed() >= REMIND {
                    progress(started.elapsed(), &standing);
                    told = Instant::now();
                    last = Some(standing);
                }
            }
        }
    }
}

fn watch_error(error: watcher::Error) -> Error {
    match error {
        watcher::Error::InitialListFailed(e) | watcher::Error::WatchStartFailed(e) | watcher::Error::WatchFailed(e) => {
            e.into()
        }
        watcher::Error::WatchError(status) => kube::Error::Api(status).into(),
        watcher::Error::NoResourceVersion => Error::Unreachable(watcher::Error::NoResourceVersion.to_string()),
    }
}
