//! The objects of the system's namespace that the commands judge, read in one go.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{DynamicObject, ListParams};
use kube::{Api, Client};
use serde::de::DeserializeOwned;

use crate::entrance;
use crate::error::Error;

/// The objects of one namespace that the judgement looks at.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    pub pods: Vec<Pod>,
    pub jobs: Vec<Job>,
    pub deployments: Vec<Deployment>,
    pub statefulsets: Vec<StatefulSet>,
    pub daemonsets: Vec<DaemonSet>,
    pub ingresses: Vec<Ingress>,
    pub routes: Vec<DynamicObject>,
    pub gateways: Vec<DynamicObject>,
}

impl Snapshot {
    /// Everything in `namespace`, listed now.
    pub async fn list(client: &Client, namespace: &str) -> Result<Snapshot, Error> {
        let (routes, gateways) = if entrance::gateway_api_installed(client, namespace).await? {
            (
                dynamic(client, namespace, entrance::http_routes()).await?,
                dynamic(client, namespace, entrance::gateways()).await?,
            )
        } else {
            (Vec::new(), Vec::new())
        };
        Ok(Snapshot {
            pods: list(client, namespace).await?,
            jobs: list(client, namespace).await?,
            deployments: list(client, namespace).await?,
            statefulsets: list(client, namespace).await?,
            daemonsets: list(client, namespace).await?,
            ingresses: list(client, namespace).await?,
            routes,
            gateways,
        })
    }
}

pub async fn list<K>(client: &Client, namespace: &str) -> Result<Vec<K>, Error>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope> + Clone + DeserializeOwned + std::fmt::Debug,
    K::DynamicType: Default,
{
    Ok(Api::<K>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await?
        .items)
}

async fn dynamic(
    client: &Client,
    namespace: &str,
    resource: kube::api::ApiResource,
) -> Result<Vec<DynamicObject>, Error> {
    Ok(
        Api::<DynamicObject>::namespaced_with(client.clone(), namespace, &resource)
            .list(&ListParams::default())
            .await?
            .items,
    )
}

/// Whether `selector`'s labels pick `pod`; an empty or missing selector picks nothing here.
pub fn selects(selector: Option<&LabelSelector>, pod: &Pod) -> bool {
    let Some(wanted) = selector.and_then(|s| s.match_labels.as_ref()).filter(|l| !l.is_empty()) else {
        return false;
    };
    let labels = pod.metadata.labels.as_ref();
    wanted
        .iter()
        .all(|(key, value)| labels.and_then(|l| l.get(key)) == Some(value))
}
