//! An in-process Kubernetes API server for the tests, on kube's documented pattern: a
//! `tower_test::mock` pair whose handle answers the client's requests. It keeps objects
//! serialized from `k8s-openapi` types, and answers as the real API server does: lists
//! with a resourceVersion, watches from one (held open until something changes), gets,
//! deletes, container logs, 404 and 403 as `Status` objects.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Request, Response, StatusCode};
use k8s_openapi::apimachinery::pkg::version::Info;
use kube::api::{ApiResource, DynamicObject};
use kube::client::Body;
use kube::{Client, Resource};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::Notify;

pub const NAMESPACE: &str = "permisos";

type Hook = Box<dyn FnMut(&FakeApi, &Value) + Send>;

#[derive(Default)]
struct State {
    version: u64,
    /// Collection path → name → object.
    objects: BTreeMap<String, BTreeMap<String, Value>>,
    /// Every change: (resourceVersion, collection, event type, object).
    events: Vec<(u64, String, &'static str, Value)>,
    logs: HashMap<(String, String), String>,
    /// Collections whose resource the cluster does not have (404 on any request).
    absent: HashSet<String>,
    forbidden: bool,
    deleted: Vec<String>,
    /// Every request as RBAC sees it: (API group, resource[/subresource], verb).
    requests: BTreeSet<(String, String, String)>,
}

#[derive(Clone)]
pub struct FakeApi {
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
    on_delete: Arc<Mutex<Option<Hook>>>,
}

fn collection_of<K: Resource<DynamicType = ()>>() -> String {
    K::url_path(&(), Some(NAMESPACE))
}

impl FakeApi {
    /// A fake cluster without the Gateway API, and a client for it.
    pub fn start() -> (FakeApi, Client) {
        let fake = FakeApi {
            state: Arc::default(),
            changed: Arc::default(),
            on_delete: Arc::default(),
        };
        for resource in [permisosctl::entrance::gateways(), permisosctl::entrance::http_routes()] {
            fake.state
                .lock()
                .unwrap()
                .absent
                .insert(DynamicObject::url_path(&resource, Some(NAMESPACE)));
        }
        let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let server = fake.clone();
        tokio::spawn(async move {
            let mut handle = pin!(handle);
            while let Some((request, respond)) = handle.next_request().await {
                let server = server.clone();
                tokio::spawn(async move { respond.send_response(server.answer(request).await) });
            }
        });
        (fake, Client::new(service, NAMESPACE))
    }

    /// Every request is refused as an RBAC-less user's would be.
    pub fn forbid(&self) {
        self.state.lock().unwrap().forbidden = true;
    }

    pub fn install_gateway_api(&self) {
        self.state.lock().unwrap().absent.clear();
    }

    /// Creates or replaces a typed object (in the system's namespace).
    pub fn put<K: Resource<DynamicType = ()> + Serialize>(&self, object: &K) {
        let name = object.meta().name.clone().expect("a named object");
        self.store(collection_of::<K>(), name, serde_json::to_value(object).unwrap());
    }

    /// Creates or replaces an object of a custom resource.
    pub fn put_dynamic(&self, resource: &ApiResource, object: &DynamicObject) {
        let name = object.metadata.name.clone().expect("a named object");
        self.store(
            DynamicObject::url_path(resource, Some(NAMESPACE)),
            name,
            serde_json::to_value(object).unwrap(),
        );
    }

    pub fn set_log(&self, pod: &str, container: &str, text: &str) {
        self.state
            .lock()
            .unwrap()
            .logs
            .insert((pod.into(), container.into()), text.into());
    }

    /// Called with each object deleted, as a controller would react.
    pub fn on_delete(&self, hook: impl FnMut(&FakeApi, &Value) + Send + 'static) {
        *self.on_delete.lock().unwrap() = Some(Box::new(hook));
    }

    /// What was asked so far, as (API group, resource, verb): what a Role must grant.
    pub fn requests(&self) -> BTreeSet<(String, String, String)> {
        self.state.lock().unwrap().requests.clone()
    }

    /// The names deleted so far, in order.
    pub fn deleted(&self) -> Vec<String> {
        self.state.lock().unwrap().deleted.clone()
    }

    fn store(&self, collection: String, name: String, mut object: Value) {
        let mut state = self.state.lock().unwrap();
        state.version += 1;
        let version = state.version;
        object["metadata"]["namespace"] = json!(NAMESPACE);
        object["metadata"]["resourceVersion"] = json!(version.to_string());
        if object["metadata"]["uid"].is_null() {
            object["metadata"]["uid"] = json!(format!("uid-{name}-{version}"));
        }
        let kind = if state.objects.get(&collection).is_some_and(|c| c.contains_key(&name)) {
            "MODIFIED"
        } else {
            "ADDED"
        };
        state
            .objects
            .entry(collection.clone())
            .or_default()
            .insert(name, object.clone());
        state.events.push((version, collection, kind, object));
        drop(state);
        self.changed.notify_waiters();
    }

    async fn answer(&self, request: Request<Body>) -> Response<Body> {
        let path = request.uri().path().to_owned();
        let query = query(request.uri().query().unwrap_or(""));
        if path == "/version" {
            let info = Info {
                git_version: "v1.34.0".into(),
                major: "1".into(),
                minor: "34".into(),
                platform: "linux/amd64".into(),
                ..Info::default()
            };
            return respond(StatusCode::OK, serde_json::to_vec(&info).unwrap());
        }
        if self.state.lock().unwrap().forbidden {
            let message = format!(
                "pods is forbidden: User \"system:anonymous\" cannot list resource \"pods\" in API group \"\" in the namespace \"{NAMESPACE}\""
            );
            return status(StatusCode::FORBIDDEN, "Forbidden", &message);
        }
        let segments: Vec<&str> = path.split('/').collect();
        let Some(at) = segments.iter().position(|s| *s == "namespaces") else {
            return status(
                StatusCode::NOT_FOUND,
                "NotFound",
                "the server could not find the requested resource",
            );
        };
        let collection = segments[..(at + 3).min(segments.len())].join("/");
        let name = segments.get(at + 3).map(|s| (*s).to_owned());
        let sub = segments.get(at + 4).copied();
        let group = if segments.get(1) == Some(&"apis") {
            segments[2]
        } else {
            ""
        };
        let resource = segments.get(at + 2).copied().unwrap_or_default();
        let watching = query.get("watch").is_some_and(|w| w == "true" || w == "1");
        let verb = match (request.method().as_str(), &name) {
            ("GET", Some(_)) => "get",
            ("GET", None) if watching => "watch",
            ("GET", None) => "list",
            ("DELETE", Some(_)) => "delete",
            (other, _) => other,
        };
        let resource = sub.map_or(resource.to_owned(), |sub| format!("{resource}/{sub}"));
        self.state
            .lock()
            .unwrap()
            .requests
            .insert((group.to_owned(), resource, verb.to_owned()));
        if self.state.lock().unwrap().absent.contains(&collection) {
            return status(
                StatusCode::NOT_FOUND,
                "NotFound",
                "the server could not find the requested resource",
            );
        }
        match (request.method().as_str(), name, sub) {
            ("GET", None, _) if query.get("watch").is_some_and(|w| w == "true" || w == "1") => {
                let since: u64 = query.get("resourceVersion").and_then(|v| v.parse().ok()).unwrap_or(0);
                self.watch(&collection, since, query.get("labelSelector").map(String::as_str))
                    .await
            }
            ("GET", None, _) => {
                let state = self.state.lock().unwrap();
                let items: Vec<&Value> = state
                    .objects
                    .get(&collection)
                    .into_iter()
                    .flat_map(BTreeMap::values)
                    .filter(|o| selected(o, query.get("labelSelector").map(String::as_str)))
                    .collect();
                let list = json!({"apiVersion": "v1", "kind": "List",
                    "metadata": {"resourceVersion": state.version.to_string()}, "items": items});
                respond(StatusCode::OK, serde_json::to_vec(&list).unwrap())
            }
            ("GET", Some(name), Some("log")) => {
                let container = query.get("container").cloned().unwrap_or_default();
                match self.state.lock().unwrap().logs.get(&(name.clone(), container)) {
                    Some(text) => respond(StatusCode::OK, text.clone().into_bytes()),
                    None => status(
                        StatusCode::NOT_FOUND,
                        "NotFound",
                        &format!("previous terminated container not found in pod \"{name}\""),
                    ),
                }
            }
            ("GET", Some(name), None) => match self.get(&collection, &name) {
                Some(object) => respond(StatusCode::OK, serde_json::to_vec(&object).unwrap()),
                None => not_found(&collection, &name),
            },
            ("DELETE", Some(name), None) => {
                let removed = {
                    let mut state = self.state.lock().unwrap();
                    let removed = state.objects.get_mut(&collection).and_then(|c| c.remove(&name));
                    if let Some(object) = &removed {
                        state.version += 1;
                        let version = state.version;
                        state
                            .events
                            .push((version, collection.clone(), "DELETED", object.clone()));
                        state.deleted.push(name.clone());
                    }
                    removed
                };
                let Some(object) = removed else {
                    return not_found(&collection, &name);
                };
                self.changed.notify_waiters();
                if let Some(hook) = self.on_delete.lock().unwrap().as_mut() {
                    hook(self, &object);
                }
                respond(StatusCode::OK, serde_json::to_vec(&object).unwrap())
            }
            (method, _, _) => status(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                &format!("{method} is not served by the fake"),
            ),
        }
    }

    fn get(&self, collection: &str, name: &str) -> Option<Value> {
        self.state.lock().unwrap().objects.get(collection)?.get(name).cloned()
    }

    /// The events after `since`, or, if there are none yet, those of the next change.
    async fn watch(&self, collection: &str, since: u64, selector: Option<&str>) -> Response<Body> {
        loop {
            let changed = self.changed.notified();
            let lines: String = self
                .state
                .lock()
                .unwrap()
                .events
                .iter()
                .filter(|(version, c, _, object)| *version > since && c == collection && selected(object, selector))
                .map(|(_, _, kind, object)| format!("{}\n", json!({"type": kind, "object": object})))
                .collect();
            if !lines.is_empty() {
                return respond(StatusCode::OK, lines.into_bytes());
            }
            if tokio::time::timeout(Duration::from_secs(290), changed).await.is_err() {
                return respond(StatusCode::OK, Vec::new());
            }
        }
    }
}

fn respond(code: StatusCode, body: Vec<u8>) -> Response<Body> {
    Response::builder().status(code).body(Body::from(body)).unwrap()
}

fn status(code: StatusCode, reason: &str, message: &str) -> Response<Body> {
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code.as_u16()});
    respond(code, serde_json::to_vec(&body).unwrap())
}

fn not_found(collection: &str, name: &str) -> Response<Body> {
    let plural = collection.rsplit('/').next().unwrap_or("");
    status(
        StatusCode::NOT_FOUND,
        "NotFound",
        &format!("{plural} \"{name}\" not found"),
    )
}

/// Equality selectors only (`a=b,c=d`), which is all permisosctl sends.
fn selected(object: &Value, selector: Option<&str>) -> bool {
    selector
        .into_iter()
        .flat_map(|s| s.split(','))
        .filter(|s| !s.is_empty())
        .all(|term| {
            let (key, value) = term.split_once('=').unwrap_or((term, ""));
            object["metadata"]["labels"][key].as_str() == Some(value)
        })
}

fn query(text: &str) -> HashMap<String, String> {
    text.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
