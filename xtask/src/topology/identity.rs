//! The test identity provider (identity/provider.mjs, in place of ClaveÚnica) as a part of
//! `make run` and of the local topology, and the issuer's settings for it.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::paths::Paths;
use crate::process::Spec;

const CLIENT_ID: &str = "permisos-formulario";

/// One registration: the provider's port and the client secret made for this run, given
/// to the provider and to every issuer.
#[derive(Clone, Serialize, Deserialize)]
pub struct Identity {
    pub port: u16,
    client_secret: String,
}

impl Identity {
    pub fn new(port: u16) -> Identity {
        Identity {
            port,
            client_secret: crate::secrets::random_token(),
        }
    }

    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The provider, registering the issuer whose public address is `issuer_home`.
    pub fn spec(&self, paths: &Paths, issuer_home: &str, log: PathBuf, detached: bool) -> Spec {
        Spec {
            name: "identity".into(),
            argv: vec![
                "node".into(),
                paths.root.join("identity/provider.mjs").display().to_string(),
            ],
            env: vec![
                ("OIDC_PORT".into(), self.port.to_string()),
                ("OIDC_CLIENT_ID".into(), CLIENT_ID.into()),
                ("OIDC_CLIENT_SECRET".into(), self.client_secret.clone()),
                ("OIDC_REDIRECT_URIS".into(), format!("{issuer_home}/ingresar/vuelta")),
            ],
            log,
            cpuset: None,
            detached,
        }
    }

    /// What an issuer needs to sign citizens in here.
    pub fn issuer_env(&self) -> Vec<(String, String)> {
        [
            ("CITIZEN_AUTH", "oidc".to_owned()),
            ("OIDC_ISSUER_URL", self.issuer()),
            ("OIDC_CLIENT_ID", CLIENT_ID.to_owned()),
            ("OIDC_CLIENT_SECRET", self.client_secret.clone()),
        ]
        .map(|(k, v)| (k.to_owned(), v))
        .into()
    }
}

/// Who the test provider knows (identity/citizens.json), for the welcome message.
pub const CITIZENS: &str = "RUN 12345678-5, 9876543-3 or 15432109-8 (identity/citizens.json), any password";
