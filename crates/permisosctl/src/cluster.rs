//! The connection to the cluster: kubeconfig or in-cluster configuration, resolved as
//! kubectl resolves it.

use kube::Client;
use kube::config::{Config, KubeConfigOptions};

use crate::error::{Error, source_chain};

/// A client for `context` of the kubeconfig (`$KUBECONFIG` or `~/.kube/config`), or for
/// its current context, or the pod's service account when run inside the cluster.
pub async fn connect(context: Option<&str>) -> Result<Client, Error> {
    let config = match context {
        Some(context) => Config::from_kubeconfig(&KubeConfigOptions {
            context: Some(context.to_owned()),
            ..KubeConfigOptions::default()
        })
        .await
        .map_err(|e| Error::NoConfig(source_chain(&e)))?,
        None => Config::infer().await.map_err(|e| Error::NoConfig(source_chain(&e)))?,
    };
    let server = config.cluster_url.to_string();
    let client = Client::try_from(config).map_err(|e| Error::NoConfig(source_chain(&e)))?;
    // The first real request would fail too, but this one says plainly that the server
    // cannot be reached, and which, before any command starts its work.
    match client.apiserver_version().await {
        Ok(_) => Ok(client),
        Err(error) => Err(match Error::from(error) {
            Error::Unreachable(why) => Error::Unreachable(format!("{server}: {why}")),
            other => other,
        }),
    }
}
