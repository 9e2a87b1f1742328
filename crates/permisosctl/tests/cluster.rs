//! Every command's decisions against an in-process fake API server (tests/support): what
//! an operator is told when the cluster is healthy, getting there, stuck, unreachable or
//! refusing, and what chaos may and may not delete.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::DynamicObject;
use permisosctl::chaos::{self, Plan};
use permisosctl::entrance;
use permisosctl::error::Error;
use permisosctl::status;
use permisosctl::wait::{self, Target};
use serde_json::json;
use support::fake_api::FakeApi;
use support::objects::{self, pod};

const NODES: [&str; 3] = ["permisos-worker", "permisos-worker2", "permisos-worker3"];

/// The system as `make kind-up` leaves it: everything ready and spread over three nodes.
fn healthy(fake: &FakeApi) {
    fake.put(&objects::mongodb(3));
    for (i, node) in NODES.iter().enumerate() {
        fake.put(&pod(&format!("mongodb-{i}"), "mongodb", node, true));
    }
    fake.put(&objects::pdb("mongodb", 3, 3));
    fake.put(&objects::init_job(Some(true)));
    for app in ["issuer", "validator"] {
        fake.put(&objects::deployment(app, 4, 4));
        for i in 0..4 {
            fake.put(&pod(&format!("{app}-7d9f8b6c5d-{i}"), app, NODES[i % 3], true));
        }
        fake.put(&objects::hpa(app, Some(12)));
        fake.put(&objects::pdb(app, 4, 4));
    }
    fake.put(&objects::ingress(Some("172.18.255.200")));
}

async fn wait_for(client: &kube::Client, targets: &[Target], timeout: Duration) -> Result<wait::Done, Error> {
    wait::wait(
        client,
        "permisos",
        targets,
        timeout,
        Duration::from_millis(100),
        |_, _| {},
    )
    .await
}

fn unhealthy(result: Result<impl std::fmt::Debug, Error>) -> String {
    match result {
        Err(Error::Unhealthy(text)) => text,
        other => panic!("expected a finding, got {other:?}"),
    }
}

#[tokio::test]
async fn a_healthy_system_reports_no_problem() {
    let (fake, client) = FakeApi::start();
    healthy(&fake);
    let report = status::read(&client, "permisos").await.unwrap();
    assert_eq!(report.problems, Vec::<String>::new());
    let issuer = report.workloads.iter().find(|w| w.name == "deployment/issuer").unwrap();
    assert_eq!(
        (issuer.desired, issuer.ready, issuer.updated, issuer.available),
        (4, 4, 4, 4)
    );
    assert_eq!(
        issuer.nodes.len(),
        3,
        "spread over the three workers: {:?}",
        issuer.nodes
    );
    assert_eq!(report.members.iter().filter(|m| m.ready).count(), 3);
    assert_eq!(report.autoscalers[0].cpu, Some(12));
    assert_eq!(report.autoscalers[0].cpu_target, Some(70));
    assert_eq!(report.entrance.unwrap().address.as_deref(), Some("172.18.255.200"));
    let text = status::render(&status::read(&client, "permisos").await.unwrap());
    assert!(text.contains("No problems."), "{text}");
    assert!(
        text.contains("MongoDB members: mongodb-0 Ready, mongodb-1 Ready, mongodb-2 Ready"),
        "{text}"
    );
}

#[tokio::test]
async fn status_names_each_problem_on_a_line() {
    let (fake, client) = FakeApi::start();
    healthy(&fake);
    // Every issuer on one node, a validator short, a member down, no CPU metrics, a budget
    // that allows nothing; the member's budget is at zero too, but its line says why.
    for i in 0..4 {
        fake.put(&pod(
            &format!("issuer-7d9f8b6c5d-{i}"),
            "issuer",
            "permisos-worker2",
            true,
        ));
    }
    fake.put(&objects::deployment("validator", 4, 3));
    fake.put(&objects::mongodb(2));
    fake.put(&pod("mongodb-1", "mongodb", "permisos-worker2", false));
    fake.put(&objects::pdb("mongodb", 2, 3));
    let mut strict = objects::pdb("issuer", 4, 4);
    let budget = strict.status.as_mut().unwrap();
    (budget.desired_healthy, budget.disruptions_allowed) = (4, 0);
    fake.put(&strict);
    fake.put(&objects::hpa("validator", None));
    fake.put(&objects::ingress(None));
    let mut starting = objects::hpa("issuer", None);
    let condition = &mut starting.status.as_mut().unwrap().conditions.as_mut().unwrap()[0];
    condition.last_transition_time = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Timestamp::now()));
    fake.put(&starting);
    let problems = status::read(&client, "permisos").await.unwrap().problems;
    // The issuer's HPA has had no metrics for a moment only, as after every start.
    let expected = [
        "deployment/issuer: all 4 ready pods on node permisos-worker2; one node failing takes them all",
        "deployment/validator: 3 of 4 updated replicas available",
        "statefulset/mongodb: 2 of 3 members ready",
        "hpa/validator: cannot scale: FailedGetResourceMetric: the HPA was unable to compute the replica count",
        "pdb/issuer: allows no disruption with all 4 pods healthy; a node drain would stall",
        "entrance: ingress/permisos has no LoadBalancer address (is MetalLB running?)",
    ];
    for line in expected {
        assert!(
            problems.iter().any(|p| p.starts_with(line)),
            "no {line:?} in {problems:#?}"
        );
    }
    assert_eq!(problems.len(), expected.len(), "{problems:#?}");
}

#[tokio::test]
async fn wait_returns_as_soon_as_the_cluster_gets_there() {
    let (fake, client) = FakeApi::start();
    healthy(&fake);
    fake.put(&objects::mongodb(2));
    fake.put(&objects::init_job(None));
    fake.put(&objects::ingress(None));
    let heard = Arc::new(Mutex::new(Vec::new()));
    let progress = heard.clone();
    let waiting = tokio::spawn(async move {
        wait::wait(
            &client,
            "permisos",
            &Target::system(),
            Duration::from_secs(60),
            Duration::from_millis(100),
            move |_, standing| {
                progress.lock().unwrap().push(standing.to_vec());
            },
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished());
    fake.put(&objects::mongodb(3));
    fake.put(&objects::init_job(Some(true)));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!waiting.is_finished(), "the address is still missing");
    fake.put(&objects::ingress(Some("172.18.255.200")));
    let done = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let standing: Vec<(String, bool)> = done.targets.iter().map(|s| (s.target.clone(), s.ready)).collect();
    assert!(standing.iter().all(|(_, ready)| *ready), "{standing:?}");
    assert_eq!(done.targets.last().unwrap().detail, "172.18.255.200 (ingress/permisos)");
    let heard = heard.lock().unwrap();
    let first: Vec<String> = heard[0]
        .iter()
        .filter(|s| !s.ready)
        .map(|s| format!("{}: {}", s.target, s.detail))
        .collect();
    assert_eq!(
        first,
        [
            "statefulset/mongodb: 2 of 3 members ready",
            "job/mongodb-init: not complete yet",
            "entrance: ingress/permisos has no LoadBalancer address yet",
        ]
    );
    assert!(heard.len() >= 2, "told again when the picture changed: {heard:?}");
}

/// How a case breaks the healthy system.
type Breakage = Box<dyn Fn(&FakeApi)>;

#[tokio::test]
async fn wait_stops_at_once_with_the_reason_when_a_target_cannot_get_there() {
    let an_hour_ago = Timestamp::now() - SignedDuration::from_hours(1);
    let cases: Vec<(&str, Breakage, &str)> = vec![
        (
            "image that cannot be pulled",
            Box::new(|fake| {
                fake.put(&objects::waiting_pod(
                    "issuer-7d9f8b6c5d-9",
                    "issuer",
                    "ImagePullBackOff",
                    "Back-off pulling image \"permisos/issuer:c-0123456789abcdef\"",
                    0,
                ));
            }),
            "pod/issuer-7d9f8b6c5d-9 (issuer): ImagePullBackOff: the image could not be pulled: Back-off pulling image",
        ),
        (
            "image not loaded into kind",
            Box::new(|fake| {
                fake.put(&objects::waiting_pod("validator-7d9f8b6c5d-9", "validator", "ErrImageNeverPull",
                    "Container image \"permisos/validator:c-0123456789abcdef\" is not present with pull policy of Never", 0));
            }),
            "pod/validator-7d9f8b6c5d-9 (validator): ErrImageNeverPull: the image is not on the node",
        ),
        (
            "crash loop",
            Box::new(|fake| {
                fake.put(&objects::waiting_pod(
                    "issuer-7d9f8b6c5d-9",
                    "issuer",
                    "CrashLoopBackOff",
                    "back-off 1m20s restarting failed container",
                    4,
                ));
                fake.set_log(
                    "issuer-7d9f8b6c5d-9",
                    "issuer",
                    "permisos: MONGODB_URI: not a MongoDB connection string\n",
                );
            }),
            "pod/issuer-7d9f8b6c5d-9 (issuer): CrashLoopBackOff: restarted 4 times\n  its last log lines:\n    permisos: MONGODB_URI: not a MongoDB connection string",
        ),
        (
            "failed job",
            Box::new(|fake| fake.put(&objects::init_job(Some(false)))),
            "job/mongodb-init: Failed: BackoffLimitExceeded: Job has reached the specified backoff limit",
        ),
        (
            "progress deadline",
            Box::new(|fake| fake.put(&objects::stalled_deployment("validator"))),
            "deployment/validator: ProgressDeadlineExceeded: ReplicaSet \"validator-7d9f8b6c5d\" has timed out progressing.",
        ),
        (
            "unschedulable for an hour",
            Box::new(move |fake| {
                fake.put(&objects::unschedulable_pod("mongodb-2", "mongodb", an_hour_ago,
                    "0/4 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 3 Insufficient memory."));
            }),
            "pod/mongodb-2: FailedScheduling: 0/4 nodes are available",
        ),
    ];
    for (case, break_it, expected) in cases {
        let (fake, client) = FakeApi::start();
        healthy(&fake);
        break_it(&fake);
        let text = unhealthy(
            tokio::time::timeout(
                Duration::from_secs(5),
                wait_for(&client, &Target::system(), Duration::from_secs(600)),
            )
            .await
            .expect(case),
        );
        assert!(text.contains(expected), "{case}: {text}");
    }
}

#[tokio::test]
async fn a_crash_loop_in_the_jobs_pod_is_left_to_the_jobs_back_off_limit() {
    let (fake, client) = FakeApi::start();
    healthy(&fake);
    fake.put(&objects::init_job(None));
    fake.put(&objects::job_pod(
        "mongodb-init-x7k2p",
        "mongodb-init",
        "CrashLoopBackOff",
    ));
    let text = unhealthy(wait_for(&client, &Target::system(), Duration::from_secs(1)).await);
    assert!(
        text.starts_with("not ready after 1 s:\njob/mongodb-init: not complete yet"),
        "{text}"
    );
}

#[tokio::test]
async fn an_address_that_never_comes_ends_the_wait_at_its_timeout_naming_it() {
    let (fake, client) = FakeApi::start();
    healthy(&fake);
    fake.put(&objects::ingress(None));
    let started = std::time::Instant::now();
    let text = unhealthy(wait_for(&client, &Target::system(), Duration::from_secs(2)).await);
    assert_eq!(
        text,
        "not ready after 2 s:\nentrance: ingress/permisos has no LoadBalancer address yet"
    );
    assert!(started.elapsed() >= Duration::from_secs(2));
}

#[tokio::test]
async fn missing_objects_are_named() {
    let (_fake, client) = FakeApi::start();
    let text = unhealthy(wait_for(&client, &Target::system(), Duration::from_secs(1)).await);
    assert!(text.contains("statefulset/mongodb: not created yet"), "{text}");
    assert!(
        text.contains("entrance: no Ingress or HTTPRoute in the namespace yet"),
        "{text}"
    );
    let report = status::read(&client, "permisos").await.unwrap();
    assert_eq!(report.problems, ["entrance: no Ingress or HTTPRoute in the namespace"]);
}

#[tokio::test]
async fn a_refusing_api_is_reported_as_forbidden() {
    let (fake, client) = FakeApi::start();
    healthy(&fake);
    fake.forbid();
    for result in [
        status::read(&client, "permisos").await.map(|_| ()),
        wait_for(&client, &Target::system(), Duration::from_secs(5))
            .await
            .map(|_| ()),
        entrance::find(&client, "permisos").await.map(|_| ()),
    ] {
        match result {
            Err(error @ Error::Forbidden(_)) => {
                assert!(error.to_string().contains("cannot list resource"), "{error}");
                assert_eq!(error.exit_code(), 2);
            }
            other => panic!("expected forbidden, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_gateway_path_gives_the_routes_hosts_and_the_gateways_address() {
    let (fake, client) = FakeApi::start();
    healthy(&fake);
    fake.install_gateway_api();
    let mut ingress = objects::ingress(None);
    ingress.spec = None;
    fake.put(&ingress);
    for (name, host) in [
        ("issuer", "formulario.permisos.test"),
        ("validator", "validar.permisos.test"),
    ] {
        let route = DynamicObject::new(name, &entrance::http_routes())
            .data(json!({"spec": {"parentRefs": [{"name": "permisos"}], "hostnames": [host]}}));
        fake.put_dynamic(&entrance::http_routes(), &route);
    }
    let gateway =
        DynamicObject::new("permisos", &entrance::gateways()).data(json!({"spec": {"gatewayClassName": "envoy"}}));
    fake.put_dynamic(&entrance::gateways(), &gateway);
    let text = unhealthy(wait_for(&client, &[Target::Entrance], Duration::from_secs(1)).await);
    assert!(
        text.contains("entrance: gateway/permisos has no LoadBalancer address yet"),
        "{text}"
    );
    let addressed = gateway.data(json!({"spec": {"gatewayClassName": "envoy"},
        "status": {"addresses": [{"type": "IPAddress", "value": "172.18.255.201"}]}}));
    fake.put_dynamic(&entrance::gateways(), &addressed);
    let done = wait_for(&client, &[Target::Entrance], Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(done.targets[0].detail, "172.18.255.201 (gateway/permisos)");
    let found = entrance::find(&client, "permisos").await.unwrap().unwrap();
    assert_eq!(found.hosts, ["formulario.permisos.test", "validar.permisos.test"]);
}

#[tokio::test]
async fn hosts_falls_back_to_a_port_forward_when_the_address_is_out_of_reach() {
    let (fake, client) = FakeApi::start();
    healthy(&fake);
    // TEST-NET-1: never routed, as the kind network is not on Docker Desktop.
    fake.put(&objects::ingress(Some("192.0.2.1")));
    let found = permisosctl::hosts::hosts(entrance::find(&client, "permisos").await.unwrap())
        .await
        .unwrap();
    assert!(!found.reachable);
    assert_eq!(found.line, "127.0.0.1 formulario.permisos.test validar.permisos.test");
    assert!(permisosctl::hosts::render(&found).contains("make kind-forward"));
    fake.put(&objects::ingress(None));
    let missing = permisosctl::hosts::hosts(entrance::find(&client, "permisos").await.unwrap()).await;
    assert!(unhealthy(missing).contains("has no LoadBalancer address yet"));
}

/// Replaces each deleted pod as its controller would: a new pod (the same name for a
/// StatefulSet's member), Ready after `delay`.
fn controllers(fake: &FakeApi, delay: Duration) {
    fake.on_delete(move |fake, deleted| {
        let name = deleted["metadata"]["name"].as_str().unwrap().to_owned();
        let app = deleted["metadata"]["labels"]["app.kubernetes.io/name"]
            .as_str()
            .unwrap()
            .to_owned();
        let node = deleted["spec"]["nodeName"].as_str().unwrap().to_owned();
        let replacement = if app == "mongodb" { name } else { format!("{name}-r") };
        fake.put(&pod(&replacement, &app, &node, false));
        let fake = fake.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            fake.put(&pod(&replacement, &app, &node, true));
        });
    });
}

fn plan(target: chaos::Target, every_ms: u64, for_ms: u64) -> Plan {
    Plan {
        target,
        every: Duration::from_millis(every_ms),
        duration: Duration::from_millis(for_ms),
        settle: Duration::from_secs(5),
    }
}

#[tokio::test]
async fn chaos_deletes_ready_pods_and_times_their_replacement() {
    let (fake, client) = FakeApi::start();
    healthy(&fake);
    controllers(&fake, Duration::from_millis(150));
    let mut lines = Vec::new();
    let report = chaos::chaos(
        &client,
        "permisos",
        &plan(chaos::Target::Issuer, 300, 1_000),
        std::future::pending,
        |l| lines.push(l.to_owned()),
    )
    .await
    .unwrap();
    assert_eq!(report.kills.len(), 3, "{lines:#?}");
    assert_eq!(fake.deleted().len(), 3);
    for kill in &report.kills {
        assert_eq!(kill.workload, "issuer");
        assert!(kill.pod.starts_with("issuer-"), "{kill:?}");
        let after = kill.replaced_after.unwrap_or_else(|| panic!("not replaced: {kill:?}"));
        assert!((0.1..3.0).contains(&after), "{after}");
        assert_eq!(kill.replacement.as_deref(), Some(format!("{}-r", kill.pod).as_str()));
    }
    assert!(lines.iter().any(|l| l.contains("deleted pod/issuer-")), "{lines:#?}");
    assert!(lines.iter().any(|l| l.contains("Ready after")), "{lines:#?}");
    assert!(report.unreplaced().is_empty());
}

#[tokio::test]
async fn chaos_never_takes_the_replica_set_below_a_majority() {
    let (fake, client) = FakeApi::start();
    healthy(&fake);
    // A member comes back well after the next tick: that tick must not delete another.
    controllers(&fake, Duration::from_millis(700));
    let report = chaos::chaos(
        &client,
        "permisos",
        &plan(chaos::Target::Mongodb, 200, 1_100),
        std::future::pending,
        |_| {},
    )
    .await
    .unwrap();
    assert!(!report.kills.is_empty());
    assert!(!report.skips.is_empty(), "{report:?}");
    for skip in &report.skips {
        assert_eq!(
            skip.reason,
            "2 of 3 members Ready; deleting one would leave less than a majority (2)"
        );
    }
    // Each kill came only after the previous member was back.
    for pair in report.kills.windows(2) {
        let back = pair[0].at + pair[0].replaced_after.unwrap();
        assert!(pair[1].at >= back, "{pair:?}");
    }
}

#[tokio::test]
async fn chaos_refuses_to_start_with_too_few_ready_pods() {
    let (fake, client) = FakeApi::start();
    healthy(&fake);
    for i in 1..4 {
        fake.put(&pod(
            &format!("validator-7d9f8b6c5d-{i}"),
            "validator",
            NODES[i % 3],
            false,
        ));
    }
    fake.put(&pod("mongodb-2", "mongodb", NODES[2], false));
    let text = unhealthy(
        chaos::chaos(
            &client,
            "permisos",
            &plan(chaos::Target::All, 100, 500),
            std::future::pending,
            |_| {},
        )
        .await,
    );
    assert_eq!(
        text,
        "refusing to start: validator: only 1 Ready pod(s); deleting one would leave none serving; \
         mongodb: 2 of 3 members Ready; deleting one would leave less than a majority (2)"
    );
    assert!(fake.deleted().is_empty());
}

#[tokio::test]
async fn chaos_stops_when_told() {
    let (fake, client) = FakeApi::start();
    healthy(&fake);
    controllers(&fake, Duration::from_millis(50));
    let stop = || tokio::time::sleep(Duration::from_millis(350));
    let report = chaos::chaos(
        &client,
        "permisos",
        &plan(chaos::Target::Validator, 100, 60_000),
        stop,
        |_| {},
    )
    .await
    .unwrap();
    assert!(report.interrupted);
    assert!((2..=4).contains(&report.kills.len()), "{report:?}");
}

/// What `k8s/base/operator-access/role.yaml` grants, as (API group, resource, verb).
fn role_rules() -> std::collections::BTreeSet<(String, String, String)> {
    let roles: Vec<k8s_openapi::api::rbac::v1::Role> =
        manifests::Manifests::file("k8s/base/operator-access/role.yaml").all("Role");
    let mut granted = std::collections::BTreeSet::new();
    for rule in roles[0].rules.iter().flatten() {
        for group in rule.api_groups.iter().flatten() {
            for resource in rule.resources.iter().flatten() {
                for verb in &rule.verbs {
                    granted.insert((group.clone(), resource.clone(), verb.clone()));
                }
            }
        }
    }
    granted
}

/// Every command run against one fake cluster (status, wait on each kind of target and
/// through a crash loop, hosts over the Gateway API, chaos): each request it made is one
/// the operators' Role grants, and the Role grants nothing no command asked for.
#[tokio::test]
async fn the_operators_role_grants_exactly_what_the_commands_ask() {
    let (fake, client) = FakeApi::start();
    healthy(&fake);
    fake.install_gateway_api();
    let gateway = DynamicObject::new("permisos", &entrance::gateways())
        .data(json!({"status": {"addresses": [{"type": "IPAddress", "value": "172.18.255.201"}]}}));
    fake.put_dynamic(&entrance::gateways(), &gateway);
    let route = DynamicObject::new("issuer", &entrance::http_routes())
        .data(json!({"spec": {"parentRefs": [{"name": "permisos"}], "hostnames": ["formulario.permisos.test"]}}));
    fake.put_dynamic(&entrance::http_routes(), &route);
    status::read(&client, "permisos").await.unwrap();
    wait_for(&client, &Target::system(), Duration::from_secs(5))
        .await
        .unwrap();
    let daemonset: Target = "daemonset/node-agent".parse().unwrap();
    let _ = wait_for(&client, &[daemonset], Duration::from_millis(300)).await;
    entrance::find(&client, "permisos").await.unwrap();
    controllers(&fake, Duration::from_millis(50));
    chaos::chaos(
        &client,
        "permisos",
        &plan(chaos::Target::Mongodb, 100, 300),
        std::future::pending,
        |_| {},
    )
    .await
    .unwrap();
    fake.put(&objects::waiting_pod(
        "issuer-7d9f8b6c5d-9",
        "issuer",
        "CrashLoopBackOff",
        "back-off",
        4,
    ));
    fake.set_log("issuer-7d9f8b6c5d-9", "issuer", "a last line\n");
    let _ = wait_for(&client, &Target::system(), Duration::from_secs(5)).await;

    let asked = fake.requests();
    let granted = role_rules();
    let ungranted: Vec<_> = asked.difference(&granted).collect();
    assert!(ungranted.is_empty(), "asked but not granted: {ungranted:?}");
    let unused: Vec<_> = granted.difference(&asked).collect();
    assert!(unused.is_empty(), "granted but never asked: {unused:?}");
}
