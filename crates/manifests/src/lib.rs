//! The Kubernetes manifests, rendered offline with `kubectl kustomize` and read back as
//! typed objects: `k8s-openapi` types for built-in kinds, and strict structs for the custom
//! resources (MetalLB, Gateway API), whose schemas the API server would enforce.

mod custom;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

pub use custom::{Gateway, GatewayClass, HttpRoute, IpAddressPool, L2Advertisement, PodMonitor, PrometheusRule};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The repository's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every object of a rendered set of manifests.
pub struct Manifests(Vec<Value>);

impl Manifests {
    /// `kubectl kustomize` on a copy of `k8s/`, with stand-ins for the files generated at
    /// deploy time and never committed (the `*.env` secrets files, `public-keys.json`).
    pub fn render_overlay(overlay: &str) -> Manifests {
        let copy = Copy::new();
        let manifests = Manifests::render(&copy.0.join("k8s/overlays").join(overlay));
        drop(copy);
        manifests
    }

    /// `kubectl kustomize` on `kustomization` (a kustomization.yaml's text) written to
    /// `.run/kind-deploy` of a copy as `render_overlay` makes: where scripts/kind.sh writes
    /// the overlay it applies.
    pub fn render_deploy_overlay(kustomization: &str) -> Manifests {
        let copy = Copy::new();
        let dir = copy.0.join(".run/kind-deploy");
        std::fs::create_dir_all(&dir).expect("create .run/kind-deploy");
        std::fs::write(dir.join("kustomization.yaml"), kustomization).expect("write kustomization.yaml");
        let manifests = Manifests::render(&dir);
        drop(copy);
        manifests
    }

    /// A plain manifest file of the repository.
    pub fn file(path: &str) -> Manifests {
        Manifests::parse(&std::fs::read_to_string(root().join(path)).expect("the manifest file"))
    }

    /// `kubectl kustomize DIR`.
    pub fn render(dir: &Path) -> Manifests {
        let output = Command::new("kubectl")
            .arg("kustomize")
            .arg(dir)
            .output()
            .expect("kubectl is installed (it renders the manifests offline)");
        assert!(
            output.status.success(),
            "kubectl kustomize {}: {}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        Manifests::parse(&String::from_utf8(output.stdout).expect("UTF-8 manifests"))
    }

    pub fn parse(yaml: &str) -> Manifests {
        let objects = serde_yaml::Deserializer::from_str(yaml)
            .map(|document| serde_yaml::from_value::<Value>(serde_yaml::Value::deserialize(document).expect("YAML")))
            .collect::<Result<Vec<_>, _>>()
            .expect("manifests are plain data");
        Manifests(objects.into_iter().filter(|o| !o.is_null()).collect())
    }

    /// Every object of `kind`, as its typed form; panics naming the object if it does not fit.
    pub fn all<T: DeserializeOwned>(&self, kind: &str) -> Vec<T> {
        self.0
            .iter()
            .filter(|o| o["kind"] == kind)
            .map(|o| {
                serde_json::from_value(o.clone())
                    .unwrap_or_else(|e| panic!("{kind} {} does not fit its schema: {e}", o["metadata"]["name"]))
            })
            .collect()
    }

    /// The data of the services' ConfigMap (`permisos-config-<hash>`).
    pub fn services_config(&self) -> std::collections::BTreeMap<String, String> {
        self.all::<k8s_openapi::api::core::v1::ConfigMap>("ConfigMap")
            .into_iter()
            .find(|c| {
                c.metadata
                    .name
                    .as_deref()
                    .is_some_and(|n| n.starts_with("permisos-config"))
            })
            .and_then(|c| c.data)
            .expect("the permisos-config ConfigMap")
    }

    pub fn kinds(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|o| o["kind"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

/// A copy of `k8s/` in a temporary folder, with stand-in secrets files (`database.env`,
/// `issuer.env`, `operators.env`) and `public-keys.json` in each overlay; removed when dropped.
struct Copy(PathBuf);

impl Copy {
    fn new() -> Copy {
        static COPIES: AtomicUsize = AtomicUsize::new(0);
        let n = COPIES.fetch_add(1, Ordering::Relaxed);
        let copy = std::env::temp_dir().join(format!("manifests-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&copy);
        copy_tree(&root().join("k8s"), &copy.join("k8s"));
        let secrets = [
            (
                "database.env",
                "MONGO_ROOT_USERNAME=root\nMONGO_ROOT_PASSWORD=p\nMONGO_APP_USERNAME=permisos\nMONGO_APP_PASSWORD=p\n\
                 MONGO_READER_USERNAME=v\nMONGO_READER_PASSWORD=p\nMONGO_KEYFILE=k\n",
            ),
            (
                "issuer.env",
                "PERMIT_SIGNING_KEY=k\nPRIVACY_KEY=k\nOIDC_CLIENT_SECRET=s\n",
            ),
            ("operators.env", "ADMIN_TOKEN=t\n"),
        ];
        for overlay in std::fs::read_dir(copy.join("k8s/overlays"))
            .expect("k8s/overlays")
            .flatten()
        {
            for (file, values) in secrets {
                std::fs::write(overlay.path().join(file), values).expect("write a stand-in secrets file");
            }
            std::fs::write(overlay.path().join("public-keys.json"), r#"{"keys":[]}"#).expect("write public-keys.json");
        }
        Copy(copy)
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create directory");
    for entry in std::fs::read_dir(from).expect("read directory") {
        let entry = entry.expect("directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy file");
        }
    }
}
