//! The system's entrance, read from the cluster: the hosts its Ingress (or HTTPRoutes)
//! route, and the LoadBalancer address the controller published in its status.

use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ListParams};
use kube::{Api, Client};
use serde::Serialize;

use crate::error::Error;

/// Where citizens and police come in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entrance {
    /// `ingress/<name>` or `gateway/<name>`.
    pub via: String,
    /// The hosts routed, e.g. `formulario.permisos.test`, by every Ingress (or HTTPRoute).
    pub hosts: Vec<String>,
    /// Those with a certificate (an Ingress's `tls`).
    pub tls_hosts: Vec<String>,
    /// The LoadBalancer IP (or hostname) once MetalLB has given one.
    pub address: Option<String>,
}

impl Entrance {
    /// The host routed to the service whose host starts with `prefix` (`formulario.`).
    pub fn host(&self, prefix: &str) -> Option<&str> {
        self.hosts.iter().map(String::as_str).find(|h| h.starts_with(prefix))
    }
}

pub fn http_routes() -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk("gateway.networking.k8s.io", "v1", "HTTPRoute"))
}

pub fn gateways() -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk("gateway.networking.k8s.io", "v1", "Gateway"))
}

/// The entrance these objects describe: the Ingresses with hosts (the citizens' and the
/// operators', one controller and so one address), else the Gateway the HTTPRoutes attach
/// to. `None` while neither exists.
pub fn entrance(ingresses: &[Ingress], routes: &[DynamicObject], gateways: &[DynamicObject]) -> Option<Entrance> {
    let routing: Vec<&Ingress> = ingresses.iter().filter(|i| !ingress_hosts(i).is_empty()).collect();
    if let Some(first) = routing.first() {
        let address = routing.iter().find_map(|ingress| {
            ingress
                .status
                .as_ref()
                .and_then(|s| s.load_balancer.as_ref())
                .and_then(|lb| lb.ingress.as_ref())
                .and_then(|points| points.first())
                .and_then(|point| point.ip.clone().or_else(|| point.hostname.clone()))
        });
        return Some(Entrance {
            via: format!("ingress/{}", first.metadata.name.as_deref().unwrap_or("")),
            hosts: routing.iter().flat_map(|i| ingress_hosts(i)).collect(),
            tls_hosts: routing
                .iter()
                .filter_map(|i| i.spec.as_ref()?.tls.as_ref())
                .flatten()
                .flat_map(|tls| tls.hosts.iter().flatten().cloned())
                .collect(),
            address,
        });
    }
    let hosts: Vec<String> = routes
        .iter()
        .flat_map(|route| strings(&route.data["spec"]["hostnames"]))
        .collect();
    let parent = routes
        .iter()
        .find_map(|route| route.data["spec"]["parentRefs"][0]["name"].as_str())?;
    let address = gateways
        .iter()
        .find(|g| g.metadata.name.as_deref() == Some(parent))
        .and_then(|g| g.data["status"]["addresses"][0]["value"].as_str())
        .map(str::to_owned);
    Some(Entrance {
        via: format!("gateway/{parent}"),
        hosts,
        tls_hosts: Vec::new(),
        address,
    })
}

fn ingress_hosts(ingress: &Ingress) -> Vec<String> {
    ingress
        .spec
        .iter()
        .flat_map(|spec| spec.rules.iter().flatten())
        .filter_map(|rule| rule.host.clone())
        .collect()
}

fn strings(value: &serde_json::Value) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// Whether the Gateway API's resources exist in this cluster (its CRDs are installed).
pub async fn gateway_api_installed(client: &Client, namespace: &str) -> Result<bool, Error> {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &gateways());
    match api.list(&ListParams::default().limit(1)).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(false),
        Err(other) => Err(other.into()),
    }
}

/// The entrance as the cluster has it now.
pub async fn find(client: &Client, namespace: &str) -> Result<Option<Entrance>, Error> {
    let ingresses = Api::<Ingress>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await?
        .items;
    let (routes, gateways) = if gateway_api_installed(client, namespace).await? {
        let list = |resource: ApiResource| async move {
            Api::<DynamicObject>::namespaced_with(client.clone(), namespace, &resource)
                .list(&ListParams::default())
                .await
                .map(|l| l.items)
        };
        (list(http_routes()).await?, list(gateways()).await?)
    } else {
        (Vec::new(), Vec::new())
    };
    Ok(entrance(&ingresses, &routes, &gateways))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn http_routes_give_their_hostnames_and_the_gateways_address() {
        let object =
            |resource: &ApiResource, name: &str, data: serde_json::Value| DynamicObject::new(name, resource).data(data);
        let routes = [
            object(
                &http_routes(),
                "issuer",
                json!({"spec": {"parentRefs": [{"name": "permisos"}], "hostnames": ["formulario.permisos.test"]}}),
            ),
            object(
                &http_routes(),
                "validator",
                json!({"spec": {"parentRefs": [{"name": "permisos"}], "hostnames": ["validar.permisos.test"]}}),
            ),
        ];
        let gateway = object(
            &gateways(),
            "permisos",
            json!({"status": {"addresses": [{"type": "IPAddress", "value": "172.18.255.201"}]}}),
        );
        let found = entrance(&[], &routes, &[gateway]).unwrap();
        assert_eq!(found.via, "gateway/permisos");
        assert_eq!(found.hosts, ["formulario.permisos.test", "validar.permisos.test"]);
        assert_eq!(found.address.as_deref(), Some("172.18.255.201"));
        assert_eq!(entrance(&[], &routes, &[]).unwrap().address, None);
        assert_eq!(entrance(&[], &[], &[]), None);
    }
}
