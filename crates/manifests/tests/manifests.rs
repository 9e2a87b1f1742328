//! What a schema cannot check about the manifests, checked against the rendered overlays
//! and against the code they deploy.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Container, PodTemplateSpec, Secret, Service};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use manifests::{Gateway, GatewayClass, HttpRoute, IpAddressPool, L2Advertisement, Manifests, root};
use permit_web::config::{DEFAULT_ADMIN_PORT, DEFAULT_OPERATOR_PORT, DEFAULT_PUBLIC_PORT, REQUIRED_VARIABLES};
use permit_web::health::{HEALTHZ, READYZ};

const OVERLAYS: [&str; 3] = ["kind", "kind-gateway", "production"];
const SERVICES: [&str; 2] = ["issuer", "validator"];

/// Every pod template of the overlay, by workload name.
fn templates(m: &Manifests) -> BTreeMap<String, PodTemplateSpec> {
    let deployments = m
        .all::<Deployment>("Deployment")
        .into_iter()
        .map(|d| (d.metadata.name.unwrap(), d.spec.unwrap().template));
    let sets = m
        .all::<StatefulSet>("StatefulSet")
        .into_iter()
        .map(|s| (s.metadata.name.unwrap(), s.spec.unwrap().template));
    let jobs = m
        .all::<Job>("Job")
        .into_iter()
        .map(|j| (j.metadata.name.unwrap(), j.spec.unwrap().template));
    deployments.chain(sets).chain(jobs).collect()
}

fn labels(template: &PodTemplateSpec) -> BTreeMap<String, String> {
    template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default()
}

fn containers(template: &PodTemplateSpec) -> Vec<Container> {
    let spec = template.spec.clone().unwrap();
    spec.init_containers
        .unwrap_or_default()
        .into_iter()
        .chain(spec.containers)
        .collect()
}

fn selects(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

#[test]
fn every_overlay_renders_and_has_each_kind_it_needs() {
    for overlay in OVERLAYS {
        let kinds: BTreeSet<String> = Manifests::render_overlay(overlay).kinds().into_iter().collect();
        for kind in [
            "Namespace",
            "ConfigMap",
            "Secret",
            "Deployment",
            "Service",
            "StatefulSet",
            "Job",
            "HorizontalPodAutoscaler",
            "PodDisruptionBudget",
            "NetworkPolicy",
        ] {
            assert!(kinds.contains(kind), "{overlay} has no {kind}");
        }
        let entrance = if overlay == "kind-gateway" {
            ["Gateway", "HTTPRoute"]
        } else {
            ["Ingress", "Ingress"]
        };
        assert!(entrance.iter().all(|k| kinds.contains(*k)), "{overlay}: {kinds:?}");
    }
}

#[test]
fn services_select_pods_that_exist_and_name_real_ports() {
    for overlay in OVERLAYS {
        let m = Manifests::render_overlay(overlay);
        let templates = templates(&m);
        for service in m.all::<Service>("Service") {
            let name = service.metadata.name.clone().unwrap();
            let spec = service.spec.unwrap();
            let selector = spec.selector.unwrap_or_default();
            let targets: Vec<_> = templates.values().filter(|t| selects(&selector, &labels(t))).collect();
            assert!(!targets.is_empty(), "{overlay}: Service {name} selects no pod");
            for port in spec.ports.unwrap_or_default() {
                let Some(IntOrString::String(target)) = port.target_port else {
                    panic!("{name}: name its target port")
                };
                assert!(
                    targets.iter().all(|t| containers(t).iter().any(|c| c
                        .ports
                        .iter()
                        .flatten()
                        .any(|p| p.name.as_deref() == Some(target.as_str())))),
                    "{overlay}: Service {name} targets port {target} that its pods do not declare"
                );
            }
        }
    }
}

/// Service name → its port numbers.
fn service_ports(m: &Manifests) -> BTreeMap<String, Vec<(Option<String>, i32)>> {
    m.all::<Service>("Service")
        .into_iter()
        .map(|s| {
            let ports = s
                .spec
                .unwrap()
                .ports
                .unwrap_or_default()
                .into_iter()
                .map(|p| (p.name, p.port))
                .collect();
            (s.metadata.name.unwrap(), ports)
        })
        .collect()
}

/// The host each entrance routes → (the Ingress or HTTPRoute routing it, the Service).
fn routed_hosts(m: &Manifests) -> BTreeMap<String, (String, String)> {
    let services = service_ports(m);
    let mut hosts = BTreeMap::new();
    for ingress in m.all::<Ingress>("Ingress") {
        let name = ingress.metadata.name.unwrap();
        for rule in ingress.spec.unwrap().rules.unwrap() {
            let backend = rule.http.unwrap().paths[0].backend.service.clone().unwrap();
            let port = backend.port.clone().unwrap();
            assert!(
                services[&backend.name]
                    .iter()
                    .any(|(name, number)| name == &port.name || Some(*number) == port.number),
                "{name}: {backend:?}"
            );
            hosts.insert(rule.host.unwrap(), (name.clone(), backend.name));
        }
    }
    for route in m.all::<HttpRoute>("HTTPRoute") {
        let name = route.metadata.name.clone();
        let backends: BTreeSet<&str> = route
            .spec
            .rules
            .iter()
            .flat_map(|r| &r.backend_refs)
            .map(|b| {
                assert!(
                    services[&b.name].iter().any(|(_, port)| *port == i32::from(b.port)),
                    "{b:?}"
                );
                b.name.as_str()
            })
            .collect();
        assert_eq!(backends.len(), 1, "{name}: one Service per host");
        for host in &route.spec.hostnames {
            hosts.insert(host.clone(), (name.clone(), backends.first().unwrap().to_string()));
        }
    }
    hosts
}

/// formulario → the issuer's citizens' Service, validar → the validator, operadores → the
/// issuer's operators' Service, each through an entrance of its own: no rule of the
/// citizens' entrance can reach an operator route, whatever its path.
#[test]
fn each_host_reaches_its_own_service_and_only_operadores_reaches_the_operators_port() {
    for (overlay, domain) in [
        ("kind", "permisos.test"),
        ("kind-gateway", "permisos.test"),
        ("production", "permisos.example.cl"),
    ] {
        let m = Manifests::render_overlay(overlay);
        let hosts = routed_hosts(&m);
        let at = |prefix: &str| hosts[&format!("{prefix}.{domain}")].clone();
        assert_eq!(at("formulario").1, "issuer", "{overlay}");
        assert_eq!(at("validar").1, "validator", "{overlay}");
        assert_eq!(at("operadores").1, "issuer-operators", "{overlay}");
        assert_eq!(hosts.len(), 3, "{overlay}: {hosts:?}");
        // The console's sign-in callback and cookies are for the host that routes to it.
        let console = &m.services_config()["OPERATORS_PUBLIC_URL"];
        let scheme = if overlay == "production" { "https" } else { "http" };
        assert_eq!(console, &format!("{scheme}://operadores.{domain}"), "{overlay}");
        for (host, (entrance, _)) in &hosts {
            let operators = host.starts_with("operadores.");
            assert_eq!(
                entrance == "operadores",
                operators,
                "{overlay}: {host} through {entrance}"
            );
        }
        let operators = m
            .all::<Service>("Service")
            .into_iter()
            .find(|s| s.metadata.name.as_deref() == Some("issuer-operators"))
            .unwrap();
        let target = operators.spec.unwrap().ports.unwrap()[0].target_port.clone();
        assert_eq!(target, Some(IntOrString::String("operators".into())));
        let issuer = m
            .all::<Deployment>("Deployment")
            .into_iter()
            .find(|d| d.metadata.name.as_deref() == Some("issuer"))
            .unwrap();
        let container = issuer.spec.unwrap().template.spec.unwrap().containers.remove(0);
        let port = container
            .ports
            .unwrap()
            .into_iter()
            .find(|p| p.name.as_deref() == Some("operators"));
        assert_eq!(port.map(|p| p.container_port), Some(i32::from(DEFAULT_OPERATOR_PORT)));
    }
    let m = Manifests::render_overlay("kind-gateway");
    let gateways: Vec<Gateway> = m.all("Gateway");
    let classes: Vec<GatewayClass> = Manifests::file("ingress/gateway-class.yaml").all("GatewayClass");
    assert_eq!(
        classes[0].spec.controller_name,
        "gateway.envoyproxy.io/gatewayclass-controller"
    );
    assert!(
        gateways.iter().all(|g| g.api_version == "gateway.networking.k8s.io/v1"
            && g.spec.gateway_class_name == classes[0].metadata.name)
    );
    for route in m.all::<HttpRoute>("HTTPRoute") {
        assert_eq!(route.api_version, "gateway.networking.k8s.io/v1");
        assert!(
            route
                .spec
                .parent_refs
                .iter()
                .all(|p| gateways.iter().any(|g| g.metadata.name == p.name))
        );
    }
}

/// In production every host is served over TLS, the operators' with a certificate of its
/// own, and the operators' entrance admits only the listed source ranges.
#[test]
fn production_serves_every_host_over_tls_and_limits_the_operators_entrance_to_its_networks() {
    let m = Manifests::render_overlay("production");
    let mut covered = BTreeSet::new();
    for ingress in m.all::<Ingress>("Ingress") {
        let name = ingress.metadata.name.clone().unwrap();
        let annotations = ingress.metadata.annotations.clone().unwrap_or_default();
        assert_eq!(
            annotations
                .get("nginx.ingress.kubernetes.io/force-ssl-redirect")
                .map(String::as_str),
            Some("true"),
            "{name}"
        );
        let spec = ingress.spec.unwrap();
        let tls = spec.tls.unwrap_or_default();
        for rule in spec.rules.unwrap() {
            let host = rule.host.unwrap();
            assert!(
                tls.iter().any(|t| t.hosts.iter().flatten().any(|h| *h == host)),
                "{name}: {host} has no certificate"
            );
            covered.insert(host);
        }
        if name == "operadores" {
            let ranges = &annotations["nginx.ingress.kubernetes.io/whitelist-source-range"];
            assert!(ranges.split(',').all(|r| r.trim().contains('/')), "{ranges}");
            assert!(tls.iter().all(|t| t.secret_name.as_deref() == Some("operadores-tls")));
        }
    }
    assert_eq!(covered.len(), 3, "{covered:?}");
}

#[test]
fn probes_and_ports_are_the_ones_the_binaries_serve() {
    let m = Manifests::render_overlay("kind");
    for deployment in m.all::<Deployment>("Deployment") {
        let template = deployment.spec.unwrap().template;
        let container = &template.spec.unwrap().containers[0];
        let port = |name: &str| {
            container
                .ports
                .iter()
                .flatten()
                .find(|p| p.name.as_deref() == Some(name))
                .map(|p| p.container_port)
        };
        assert_eq!(port("http"), Some(i32::from(DEFAULT_PUBLIC_PORT)));
        assert_eq!(port("admin"), Some(i32::from(DEFAULT_ADMIN_PORT)));
        for (probe, path) in [
            (&container.liveness_probe, HEALTHZ),
            (&container.startup_probe, HEALTHZ),
            (&container.readiness_probe, READYZ),
        ] {
            let get = probe.clone().and_then(|p| p.http_get).expect("an HTTP probe");
            assert_eq!(get.path.as_deref(), Some(path));
            assert_eq!(get.port, IntOrString::String("admin".into()));
        }
        let annotations = template.metadata.unwrap().annotations.unwrap();
        assert_eq!(annotations["prometheus.io/port"], DEFAULT_ADMIN_PORT.to_string());
        assert_eq!(annotations["prometheus.io/path"], permit_web::health::METRICS);
    }
}

#[test]
fn every_required_variable_is_set_for_both_services() {
    let m = Manifests::render_overlay("kind");
    let config_keys: BTreeMap<String, BTreeSet<String>> = m
        .all::<ConfigMap>("ConfigMap")
        .into_iter()
        .map(|c| {
            (
                c.metadata.name.unwrap(),
                c.data.unwrap_or_default().into_keys().collect(),
            )
        })
        .collect();
    let secret_keys: BTreeMap<String, BTreeSet<String>> = m
        .all::<Secret>("Secret")
        .into_iter()
        .map(|s| {
            let keys = s
                .data
                .unwrap_or_default()
                .into_keys()
                .chain(s.string_data.unwrap_or_default().into_keys());
            (s.metadata.name.unwrap(), keys.collect())
        })
        .collect();
    for deployment in m.all::<Deployment>("Deployment") {
        let name = deployment.metadata.name.clone().unwrap();
        let container = deployment.spec.unwrap().template.spec.unwrap().containers.remove(0);
        let mut set = BTreeSet::new();
        for source in container.env_from.iter().flatten() {
            if let Some(c) = &source.config_map_ref {
                set.extend(config_keys[&c.name].iter().cloned());
            }
        }
        for var in container.env.iter().flatten() {
            if let Some(from) = var.value_from.as_ref().and_then(|f| f.secret_key_ref.as_ref()) {
                assert!(
                    secret_keys[&from.name].contains(&from.key),
                    "{name}: secret key {} missing",
                    from.key
                );
            }
            if let Some(from) = var.value_from.as_ref().and_then(|f| f.config_map_key_ref.as_ref()) {
                assert!(
                    config_keys[&from.name].contains(&from.key),
                    "{name}: config map key {} missing",
                    from.key
                );
            }
            set.insert(var.name.clone());
        }
        let own = if name == "issuer" {
            "PERMIT_SIGNING_KEY"
        } else {
            "PERMIT_PUBLIC_KEYS"
        };
        for required in REQUIRED_VARIABLES.iter().chain([&own]) {
            assert!(set.contains(*required), "{name} does not set {required}");
        }
        for issuer_only in ["ADMIN_TOKEN", "PERMIT_SIGNING_KEY", "PRIVACY_KEY"] {
            assert_eq!(
                set.contains(issuer_only),
                name == "issuer",
                "only the issuer gets {issuer_only}"
            );
        }
    }
}

#[test]
fn every_container_is_limited_locked_down_and_pinned() {
    for overlay in OVERLAYS {
        let m = Manifests::render_overlay(overlay);
        for (workload, template) in templates(&m) {
            let pod = template.spec.clone().unwrap();
            let pod_security = pod.security_context.expect("a pod securityContext");
            assert_eq!(pod_security.run_as_non_root, Some(true), "{workload}");
            assert_eq!(
                pod_security.seccomp_profile.map(|p| p.type_),
                Some("RuntimeDefault".into()),
                "{workload}"
            );
            assert_eq!(pod.automount_service_account_token, Some(false), "{workload}");
            for container in containers(&template) {
                let what = format!("{overlay}: {workload}/{}", container.name);
                let resources = container.resources.clone().expect("resources");
                for kind in ["cpu", "memory"] {
                    assert!(
                        resources.requests.as_ref().is_some_and(|r| r.contains_key(kind)),
                        "{what}: no {kind} request"
                    );
                    assert!(
                        resources.limits.as_ref().is_some_and(|l| l.contains_key(kind)),
                        "{what}: no {kind} limit"
                    );
                }
                let security = container.security_context.clone().expect("a container securityContext");
                assert_eq!(security.allow_privilege_escalation, Some(false), "{what}");
                assert_eq!(security.read_only_root_filesystem, Some(true), "{what}");
                assert_eq!(
                    security.capabilities.and_then(|c| c.drop),
                    Some(vec!["ALL".to_owned()]),
                    "{what}"
                );
                let image = container.image.clone().unwrap();
                let tag = image.rsplit_once(':').map(|(_, tag)| tag).unwrap_or("");
                assert!(
                    !tag.is_empty() && tag != "latest" && !tag.contains('/'),
                    "{what}: image {image} is not pinned"
                );
            }
        }
    }
}

#[test]
fn graceful_shutdown_fits_in_the_grace_period() {
    let m = Manifests::render_overlay("kind");
    let config = m
        .all::<ConfigMap>("ConfigMap")
        .into_iter()
        .find(|c| c.metadata.name.as_deref().unwrap().starts_with("permisos-config"))
        .unwrap();
    let data = config.data.unwrap();
    let seconds = |key: &str| data[key].parse::<i64>().unwrap();
    for deployment in m.all::<Deployment>("Deployment") {
        let pod = deployment.spec.unwrap().template.spec.unwrap();
        let pre_stop = pod.containers[0]
            .lifecycle
            .clone()
            .and_then(|l| l.pre_stop)
            .and_then(|p| p.sleep)
            .map_or(0, |s| s.seconds);
        let grace = pod.termination_grace_period_seconds.unwrap();
        assert!(pre_stop + seconds("SHUTDOWN_DRAIN_SECS") + seconds("SHUTDOWN_TIMEOUT_SECS") < grace);
    }
}

#[test]
fn budgets_and_autoscalers_point_at_real_workloads_and_the_hpa_owns_the_count() {
    let m = Manifests::render_overlay("kind");
    let templates = templates(&m);
    for pdb in m.all::<PodDisruptionBudget>("PodDisruptionBudget") {
        let selector = pdb
            .spec
            .unwrap()
            .selector
            .and_then(|s| s.match_labels)
            .unwrap_or_default();
        assert!(
            templates.values().any(|t| selects(&selector, &labels(t))),
            "{:?} selects nothing",
            pdb.metadata.name
        );
    }
    let deployments: BTreeMap<String, Option<i32>> = m
        .all::<Deployment>("Deployment")
        .into_iter()
        .map(|d| (d.metadata.name.unwrap(), d.spec.unwrap().replicas))
        .collect();
    let mut scaled = BTreeSet::new();
    for hpa in m.all::<HorizontalPodAutoscaler>("HorizontalPodAutoscaler") {
        let spec = hpa.spec.unwrap();
        assert_eq!(spec.scale_target_ref.kind, "Deployment");
        assert!(deployments.contains_key(&spec.scale_target_ref.name));
        assert_eq!(spec.min_replicas, Some(4), "PEP2 runs four replicas at least");
        scaled.insert(spec.scale_target_ref.name);
    }
    for service in SERVICES {
        assert!(scaled.contains(service), "an HPA scales {service}");
        assert_eq!(
            deployments[service], None,
            "{service}: `replicas` would reset the HPA's count on every apply"
        );
    }
    let mongodb = m.all::<StatefulSet>("StatefulSet").pop().unwrap().spec.unwrap();
    assert_eq!(mongodb.replicas, Some(3));
    assert!(mongodb.volume_claim_templates.is_some_and(|v| !v.is_empty()));
}

#[test]
fn only_the_two_services_reach_mongodb() {
    let m = Manifests::render_overlay("kind");
    let policies = m.all::<NetworkPolicy>("NetworkPolicy");
    let deny_all = policies.iter().any(|p| {
        let spec = p.spec.clone().unwrap();
        spec.pod_selector.unwrap_or_default().match_labels.is_none() && spec.ingress.is_none()
    });
    assert!(deny_all, "a default-deny policy for the namespace");
    let mongodb = policies
        .iter()
        .find(|p| p.metadata.name.as_deref() == Some("mongodb"))
        .unwrap()
        .spec
        .clone()
        .unwrap();
    let peers: BTreeSet<String> = mongodb
        .ingress
        .unwrap()
        .into_iter()
        .flat_map(|rule| rule.from.unwrap_or_default())
        .map(|peer| {
            assert!(
                peer.namespace_selector.is_none() && peer.ip_block.is_none(),
                "only pods of this namespace"
            );
            peer.pod_selector.unwrap().match_labels.unwrap()["app.kubernetes.io/name"].clone()
        })
        .collect();
    let expected: BTreeSet<String> = ["issuer", "validator", "mongodb", "mongodb-init"]
        .map(String::from)
        .into();
    assert_eq!(peers, expected, "the services, the other members and the set-up Job");
}

#[test]
fn metallb_configuration_fits_the_crd_schemas() {
    let m = Manifests::render(&root().join("metallb"));
    let pools: Vec<IpAddressPool> = m.all("IPAddressPool");
    let adverts: Vec<L2Advertisement> = m.all("L2Advertisement");
    assert_eq!(pools.len(), 1);
    assert_eq!(pools[0].api_version, "metallb.io/v1beta1");
    assert_eq!(pools[0].metadata.namespace.as_deref(), Some("metallb-system"));
    assert_eq!(
        pools[0].spec.addresses,
        ["POOL_RANGE"],
        "the range is filled in at install time, never committed"
    );
    assert_eq!(adverts[0].spec.ip_address_pools, [pools[0].metadata.name.clone()]);
}

#[test]
fn production_signs_citizens_in_and_the_kind_overlays_say_they_are_demonstrations() {
    for overlay in OVERLAYS {
        let m = Manifests::render_overlay(overlay);
        let config = m.services_config();
        let env = env_of(&m, "issuer");
        let secret = env
            .iter()
            .find(|v| v.name == "OIDC_CLIENT_SECRET")
            .and_then(|v| v.value_from.as_ref()?.secret_key_ref.as_ref());
        if overlay == "production" {
            assert_eq!(config["CITIZEN_AUTH"], "oidc");
            assert!(config["OIDC_ISSUER_URL"].starts_with("https://"));
            assert!(config.contains_key("OIDC_CLIENT_ID"));
            assert_eq!(
                secret.map(|s| s.key.as_str()),
                Some("OIDC_CLIENT_SECRET"),
                "from the Secret"
            );
        } else {
            // Their load tests ask in thousands of made-up names.
            assert_eq!(config["CITIZEN_AUTH"], "none", "{overlay}");
            assert!(secret.is_none(), "{overlay}");
        }
    }
}

#[test]
fn each_service_connects_to_the_database_as_its_own_user() {
    for overlay in OVERLAYS {
        let m = Manifests::render_overlay(overlay);
        let user_of = |name: &str| {
            let env = env_of(&m, name);
            let uri = env
                .iter()
                .find(|v| v.name == "MONGODB_URI")
                .and_then(|v| v.value.clone())
                .expect("MONGODB_URI");
            let user = uri
                .trim_start_matches("mongodb://")
                .split(':')
                .next()
                .unwrap()
                .to_owned();
            let variable = user.trim_start_matches("$(").trim_end_matches(')').to_owned();
            let key = env
                .iter()
                .find(|v| v.name == variable)
                .and_then(|v| v.value_from.as_ref()?.secret_key_ref.as_ref())
                .map(|s| s.key.clone());
            (variable, key)
        };
        // The validator's role (k8s/base/mongodb-init) reads permits and writes nothing.
        let validator = (
            "MONGO_READER_USERNAME".to_owned(),
            Some("MONGO_READER_USERNAME".to_owned()),
        );
        let issuer = ("MONGO_APP_USERNAME".to_owned(), Some("MONGO_APP_USERNAME".to_owned()));
        assert_eq!(user_of("validator"), validator, "{overlay}");
        assert_eq!(user_of("issuer"), issuer, "{overlay}");
    }
}

/// The `env` of a Deployment's first container.
fn env_of(m: &Manifests, name: &str) -> Vec<k8s_openapi::api::core::v1::EnvVar> {
    let deployment = m
        .all::<Deployment>("Deployment")
        .into_iter()
        .find(|d| d.metadata.name.as_deref() == Some(name))
        .expect(name);
    deployment
        .spec
        .unwrap()
        .template
        .spec
        .unwrap()
        .containers
        .remove(0)
        .env
        .unwrap_or_default()
}

/// Each workload takes from the Secret only the keys it uses, one by one: no container takes
/// a Secret whole, the signing key, the privacy key and the operators' bootstrap token reach
/// the issuer only, and each database password only its user and the set-up Job.
#[test]
fn each_workload_reads_only_its_own_secret_keys() {
    for overlay in OVERLAYS {
        let m = Manifests::render_overlay(overlay);
        let mut readers: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut held_in: BTreeMap<String, String> = BTreeMap::new();
        for (workload, template) in templates(&m) {
            for container in containers(&template) {
                for source in container.env_from.iter().flatten() {
                    assert!(
                        source.secret_ref.is_none(),
                        "{overlay}: {workload} takes a whole Secret"
                    );
                }
                for variable in container.env.iter().flatten() {
                    if let Some(key) = variable.value_from.as_ref().and_then(|v| v.secret_key_ref.as_ref()) {
                        readers.entry(key.key.clone()).or_default().insert(workload.clone());
                        let secret = key
                            .name
                            .rsplit_once('-')
                            .map_or(key.name.as_str(), |(name, _hash)| name);
                        held_in.insert(key.key.clone(), secret.to_owned());
                    }
                }
            }
        }
        let only = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<BTreeSet<_>>();
        for key in ["PERMIT_SIGNING_KEY", "PRIVACY_KEY", "ADMIN_TOKEN"] {
            assert_eq!(readers[key], only(&["issuer"]), "{overlay}: {key}");
        }
        for key in ["MONGO_APP_USERNAME", "MONGO_APP_PASSWORD"] {
            assert_eq!(readers[key], only(&["issuer", "mongodb-init"]), "{overlay}: {key}");
        }
        for key in ["MONGO_READER_USERNAME", "MONGO_READER_PASSWORD"] {
            assert_eq!(readers[key], only(&["validator", "mongodb-init"]), "{overlay}: {key}");
        }
        for key in ["MONGO_ROOT_USERNAME", "MONGO_ROOT_PASSWORD"] {
            assert_eq!(readers[key], only(&["mongodb", "mongodb-init"]), "{overlay}: {key}");
        }
        // Split by consumer: whoever may read the operators' Secret cannot read the key
        // that signs permits, nor the database's passwords.
        assert_eq!(held_in["PERMIT_SIGNING_KEY"], "permisos-issuer", "{overlay}");
        assert_eq!(held_in["PRIVACY_KEY"], "permisos-issuer", "{overlay}");
        assert_eq!(held_in["ADMIN_TOKEN"], "permisos-operators", "{overlay}");
        for (key, secret) in &held_in {
            if key.starts_with("MONGO_") {
                assert_eq!(secret, "permisos-database", "{overlay}: {key}");
            }
        }
        let secrets: BTreeSet<String> = m
            .all::<Secret>("Secret")
            .into_iter()
            .map(|s| s.metadata.name.unwrap().rsplit_once('-').unwrap().0.to_owned())
            .collect();
        assert_eq!(
            secrets,
            only(&["permisos-database", "permisos-issuer", "permisos-operators"]),
            "{overlay}"
        );
    }
}

/// Egress is denied by default; every pod may ask the cluster's DNS, the database's clients
/// may reach MongoDB's port, and in production the issuers alone may reach public HTTPS
/// addresses (the identity provider). Nothing else leaves the namespace.
#[test]
fn egress_is_the_database_dns_and_the_identity_provider_only() {
    for overlay in OVERLAYS {
        let m = Manifests::render_overlay(overlay);
        let policies = m.all::<NetworkPolicy>("NetworkPolicy");
        let egress: Vec<_> = policies
            .iter()
            .filter(|p| {
                p.spec
                    .as_ref()
                    .unwrap()
                    .policy_types
                    .iter()
                    .flatten()
                    .any(|t| t == "Egress")
            })
            .collect();
        assert!(
            egress.iter().any(|p| {
                let spec = p.spec.as_ref().unwrap();
                spec.pod_selector.clone().unwrap_or_default() == Default::default() && spec.egress.is_none()
            }),
            "{overlay}: a default-deny egress policy"
        );
        let mut allowed = BTreeSet::new();
        for policy in &egress {
            let name = policy.metadata.name.clone().unwrap();
            for rule in policy.spec.as_ref().unwrap().egress.iter().flatten() {
                let ports: Vec<String> = rule
                    .ports
                    .iter()
                    .flatten()
                    .map(|p| format!("{:?}/{}", p.port, p.protocol.clone().unwrap_or_default()))
                    .collect();
                assert!(!ports.is_empty(), "{overlay}: {name} opens every port");
                for peer in rule.to.iter().flatten() {
                    let to = if let Some(block) = &peer.ip_block {
                        assert!(
                            block.except.iter().flatten().any(|e| e == "10.0.0.0/8"),
                            "{name}: private ranges excluded"
                        );
                        format!("public {}", block.cidr)
                    } else {
                        let pods = peer
                            .pod_selector
                            .clone()
                            .unwrap_or_default()
                            .match_labels
                            .unwrap_or_default();
                        let namespace = peer
                            .namespace_selector
                            .as_ref()
                            .map(|n| n.match_labels.clone().unwrap_or_default());
                        format!("{namespace:?} {pods:?}")
                    };
                    allowed.insert(format!("{name}: {to} {ports:?}"));
                }
            }
        }
        let mut expected = vec![
            r#"database-egress: None {"app.kubernetes.io/name": "mongodb"} ["Some(Int(27017))/TCP"]"#.to_owned(),
            r#"dns-egress: Some({"kubernetes.io/metadata.name": "kube-system"}) {"k8s-app": "kube-dns"} ["Some(Int(53))/UDP", "Some(Int(53))/TCP"]"#.to_owned(),
        ];
        if overlay == "production" {
            expected.push(r#"identity-provider-egress: public 0.0.0.0/0 ["Some(Int(443))/TCP"]"#.to_owned());
            let identity = egress
                .iter()
                .find(|p| p.metadata.name.as_deref() == Some("identity-provider-egress"))
                .unwrap();
            let selected = identity
                .spec
                .as_ref()
                .unwrap()
                .pod_selector
                .clone()
                .unwrap_or_default()
                .match_labels;
            assert_eq!(
                selected.unwrap_or_default()["app.kubernetes.io/name"],
                "issuer",
                "the issuers alone reach the identity provider"
            );
        }
        assert_eq!(allowed.into_iter().collect::<Vec<_>>(), expected, "{overlay}");
    }
}
