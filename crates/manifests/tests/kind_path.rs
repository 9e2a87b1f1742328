//! The choices that make the kind path work the first time and every time after, and the
//! production overlay usable, checked on the rendered manifests.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Container};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use manifests::{Manifests, root};

fn app_containers(m: &Manifests) -> Vec<Container> {
    m.all::<Deployment>("Deployment")
        .into_iter()
        .flat_map(|d| d.spec.unwrap().template.spec.unwrap().containers)
        .collect()
}

fn mongodb_containers(m: &Manifests) -> Vec<Container> {
    let set = m
        .all::<StatefulSet>("StatefulSet")
        .pop()
        .unwrap()
        .spec
        .unwrap()
        .template
        .spec
        .unwrap();
    let job = m.all::<Job>("Job").pop().unwrap().spec.unwrap().template.spec.unwrap();
    set.init_containers
        .unwrap_or_default()
        .into_iter()
        .chain(set.containers)
        .chain(job.containers)
        .collect()
}

#[test]
fn kind_images_are_loaded_never_pulled_and_tagged_by_make_deploy() {
    for overlay in ["kind", "kind-gateway"] {
        for container in app_containers(&Manifests::render_overlay(overlay)) {
            let image = container.image.unwrap();
            assert_eq!(
                image,
                format!("permisos/{}:set-by-make-deploy", container.name),
                "{overlay}"
            );
            assert_eq!(
                container.image_pull_policy.as_deref(),
                Some("Never"),
                "{overlay}: {image}"
            );
        }
    }
}

#[test]
fn the_deploy_overlay_sets_the_content_tags_of_both_images() {
    // What scripts/kind.sh writes into .run/kind-deploy.
    let script = std::fs::read_to_string(root().join("scripts/kind.sh")).unwrap();
    let heredoc = script
        .split("<<YAML\n")
        .nth(1)
        .and_then(|rest| rest.split("\nYAML\n").next())
        .expect("kind.sh writes the deploy overlay from a heredoc");
    let written = heredoc
        .replace("$OVERLAY", "kind")
        .replace("$(tag_of issuer)", "c-1111aaaa2222bbbb")
        .replace("$(tag_of validator)", "c-3333cccc4444dddd");
    let m = Manifests::render_deploy_overlay(&written);
    let images: BTreeMap<String, String> = app_containers(&m)
        .into_iter()
        .map(|c| (c.name, c.image.unwrap()))
        .collect();
    assert_eq!(images["issuer"], "permisos/issuer:c-1111aaaa2222bbbb");
    assert_eq!(images["validator"], "permisos/validator:c-3333cccc4444dddd");
}

#[test]
fn production_images_come_from_a_registry_of_its_own() {
    for container in app_containers(&Manifests::render_overlay("production")) {
        let image = container.image.unwrap();
        let registry = image.split('/').next().unwrap();
        assert!(
            registry.contains('.') && registry != "docker.io",
            "{image} would resolve to someone's Docker Hub namespace"
        );
    }
}

#[test]
fn the_client_address_rules_are_set_by_each_overlay() {
    let kind = Manifests::render_overlay("kind").services_config();
    let production = Manifests::render_overlay("production").services_config();
    for key in ["CREATE_RATE_LIMIT", "TRUSTED_PROXIES"] {
        assert!(kind.contains_key(key) && production.contains_key(key), "{key}");
    }
    let base = std::fs::read_to_string(root().join("k8s/base/config.env")).unwrap();
    assert!(
        !base
            .lines()
            .any(|l| l.starts_with("TRUSTED_PROXIES=") || l.starts_with("CREATE_RATE_LIMIT=")),
        "not inherited from the base"
    );
    assert_eq!(kind["TRUSTED_PROXIES"], "10.244.0.0/16", "kind's pod network");
    assert_ne!(production["TRUSTED_PROXIES"], kind["TRUSTED_PROXIES"]);
    assert_eq!(production["CREATE_RATE_LIMIT"], "30/60");
}

#[test]
fn the_ingress_passes_a_503_on_instead_of_trying_every_pod() {
    for overlay in ["kind", "production"] {
        let ingress = Manifests::render_overlay(overlay)
            .all::<k8s_openapi::api::networking::v1::Ingress>("Ingress")
            .pop()
            .unwrap();
        let annotations = ingress.metadata.annotations.unwrap();
        let retried = &annotations["nginx.ingress.kubernetes.io/proxy-next-upstream"];
        assert!(!retried.contains("http_503"), "{overlay}: {retried}");
    }
}

#[test]
fn cert_managers_http01_solver_can_be_reached_by_the_ingress_controller() {
    let policies = Manifests::render_overlay("production").all::<NetworkPolicy>("NetworkPolicy");
    let solver = policies
        .iter()
        .find_map(|p| {
            let spec = p.spec.clone()?;
            let selected = spec.pod_selector.clone()?.match_labels?;
            (selected.get("acme.cert-manager.io/http01-solver").map(String::as_str) == Some("true")).then_some(spec)
        })
        .expect("a policy for the solver pods");
    let rule = &solver.ingress.unwrap()[0];
    let from = rule.from.as_ref().unwrap()[0].namespace_selector.clone().unwrap();
    assert_eq!(
        from.match_labels.unwrap()["kubernetes.io/metadata.name"],
        "ingress-nginx"
    );
    let port = rule.ports.as_ref().unwrap()[0].port.clone().unwrap();
    assert_eq!(
        port,
        k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(8089)
    );
}

/// (8, 0, 23) from `mongo:8.0.23`.
fn mongo_version(image: &str) -> (u32, u32, u32) {
    let tag = image.strip_prefix("mongo:").expect("the official mongo image");
    let parts: Vec<u32> = tag.split('.').map(|p| p.parse().expect("a numeric version")).collect();
    (parts[0], parts[1], parts[2])
}

#[test]
fn mongodb_is_patched_and_does_not_compress() {
    let m = Manifests::render_overlay("kind");
    for container in mongodb_containers(&m) {
        let image = container.image.clone().unwrap();
        // 8.0.17 fixed CVE-2025-14847 (MongoBleed), 8.0.21 CVE-2026-6914, 8.0.23 CVE-2026-8053.
        assert!(mongo_version(&image) >= (8, 0, 23), "{}: {image}", container.name);
    }
    let server = mongodb_containers(&m)
        .into_iter()
        .find(|c| c.name == "mongodb")
        .unwrap();
    let args = server.args.unwrap().join(" ");
    assert!(args.contains("--networkMessageCompressors disabled"), "{args}");
}

#[test]
fn the_keyfile_init_container_survives_a_restart_with_its_volume() {
    let m = Manifests::render_overlay("kind");
    let keyfile = mongodb_containers(&m)
        .into_iter()
        .find(|c| c.name == "keyfile")
        .unwrap();
    let command = keyfile.command.unwrap();
    let dir = std::env::temp_dir().join(format!("keyfile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("keyfile");
    // As in the pod, not as root, whom a read-only file does not stop.
    let uid = Command::new("id").arg("-u").output().unwrap().stdout;
    let mut argv: Vec<String> = Vec::new();
    if String::from_utf8_lossy(&uid).trim() == "0" {
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
        argv.extend(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"].map(String::from));
    }
    argv.extend(command);
    let run = |key: &str| {
        Command::new(&argv[0])
            .args(&argv[1..])
            .env("KEYFILE", &path)
            .env("MONGO_KEYFILE", key)
            .status()
            .unwrap()
            .success()
    };
    assert!(run("first-key"), "first start");
    assert!(run("second-key"), "a restart finds the read-only file of the first");
    let contents = std::fs::read_to_string(&path).unwrap();
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&path).unwrap().permissions());
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(contents, "second-key");
    assert_eq!(
        mode & 0o777,
        0o400,
        "mongod wants its key file readable by its owner only"
    );
}

#[test]
fn the_init_job_finds_the_primary_itself() {
    let m = Manifests::render_overlay("kind");
    let job = m.all::<Job>("Job").pop().unwrap().spec.unwrap().template.spec.unwrap();
    let command = job.containers[0].command.clone().unwrap().join(" ");
    assert!(command.contains("--nodb"), "the script connects itself: {command}");
    assert!(
        !command.contains("directConnection"),
        "not tied to one member: {command}"
    );
}

#[test]
fn the_kind_node_image_is_pinned_by_digest() {
    let config: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(root().join("kind-config.yaml")).unwrap()).unwrap();
    let images: Vec<&str> = config["nodes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|n| n["image"].as_str().unwrap())
        .collect();
    assert_eq!(images.len(), 4);
    for image in &images {
        let (name, digest) = image.split_once("@sha256:").expect("pinned by digest");
        assert!(name.starts_with("kindest/node:v1.34."), "{name}");
        assert!(
            digest.len() == 64 && digest.chars().all(|c| c.is_ascii_hexdigit()),
            "{digest}"
        );
    }
    assert!(images.windows(2).all(|w| w[0] == w[1]), "one node image");
}

/// Renders one of our kustomizations over an upstream install, with the upstream file
/// (fetched at install time) replaced by `stand_in`: the objects our patches target, named
/// as upstream names them.
fn render_over_upstream(dir: &str, stand_in: &str) -> Manifests {
    let copy = std::env::temp_dir().join(format!("upstream-{}-{}", std::process::id(), dir.replace('/', "-")));
    let _ = std::fs::remove_dir_all(&copy);
    std::fs::create_dir_all(&copy).unwrap();
    for entry in std::fs::read_dir(root().join(dir)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), copy.join(entry.file_name())).unwrap();
    }
    let kustomization = std::fs::read_to_string(copy.join("kustomization.yaml")).unwrap();
    let upstream = kustomization
        .lines()
        .find(|l| l.trim_start().starts_with("- https://"))
        .expect("the pinned upstream install");
    assert!(
        upstream.contains("/v") || upstream.contains("-v"),
        "pinned to a release: {upstream}"
    );
    std::fs::write(
        copy.join("kustomization.yaml"),
        kustomization.replace(upstream.trim_start(), "- upstream.yaml"),
    )
    .unwrap();
    std::fs::write(copy.join("upstream.yaml"), stand_in).unwrap();
    let m = Manifests::render(Path::new(&copy));
    let _ = std::fs::remove_dir_all(&copy);
    m
}

#[test]
fn our_ingress_nginx_settings_are_part_of_its_install() {
    let m = render_over_upstream(
        "ingress/ingress-nginx",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ingress-nginx-controller\n  namespace: ingress-nginx\n\
         data:\n  allow-snippet-annotations: \"false\"\n",
    );
    let settings = m.all::<ConfigMap>("ConfigMap").pop().unwrap().data.unwrap();
    assert_eq!(settings["use-forwarded-headers"], "false");
    assert_eq!(settings["proxy-body-size"], "16k");
    assert_eq!(settings["allow-snippet-annotations"], "false");
    // Its access log holds no path or query: permit ids, signed tokens, holder links.
    let format = &settings["log-format-upstream"];
    for variable in [
        "$request",
        "$request_uri",
        "$uri",
        "$args",
        "$query_string",
        "$arg_",
        "$document_uri",
    ] {
        let named = format.match_indices(variable).any(|(at, _)| {
            // `$request_id`, `$request_time`, `$request_method` are not the request line.
            // (`$request_uri` is listed on its own.)
            let rest = &format[at + variable.len()..];
            variable != "$request" || !rest.starts_with(|c: char| c == '_' || c.is_ascii_alphanumeric())
        });
        assert!(!named, "the access log names {variable}");
    }
    assert!(format.contains("$req_id") && format.contains("$status"));
}

#[test]
fn metrics_server_accepts_kinds_kubelet_certificates() {
    let m = render_over_upstream(
        "metrics-server",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: metrics-server\n  namespace: kube-system\n\
         spec:\n  selector: {matchLabels: {k8s-app: metrics-server}}\n  template:\n    metadata:\n      \
         labels: {k8s-app: metrics-server}\n    spec:\n      containers:\n        - name: metrics-server\n          \
         image: registry.k8s.io/metrics-server/metrics-server:v0.8.1\n          args: [--cert-dir=/tmp, --secure-port=10250]\n",
    );
    let deployment = m.all::<Deployment>("Deployment").pop().unwrap();
    let args = deployment.spec.unwrap().template.spec.unwrap().containers[0]
        .args
        .clone()
        .unwrap();
    assert_eq!(
        args,
        ["--cert-dir=/tmp", "--secure-port=10250", "--kubelet-insecure-tls"]
    );
}
