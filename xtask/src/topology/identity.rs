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

    /// The provider, registering the issuer's citizens' site and operators' console at
    /// `homes`.
    pub fn spec(&self, paths: &Paths, homes: [&str; 2], log: PathBuf, detached: bool) -> Spec {
        let callbacks: Vec<String> = homes.iter().map(|home| format!("{home}/ingresar/vuelta")).collect();
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
                ("OIDC_REDIRECT_URIS".into(), callbacks.join(",")),
            ],
            log,
            cpuset: None,
            detached,
        }
    }

    /// What an issuer needs to sign citizens, and operators at `console_home`, in here.
    pub fn issuer_env(&self, console_home: &str) -> Vec<(String, String)> {
        [
            ("CITIZEN_AUTH", "oidc".to_owned()),
            ("OPERATOR_AUTH", "oidc".to_owned()),
            ("OPERATORS_PUBLIC_URL", console_home.to_owned()),
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
/// Its operators (identity/operators.json), for the welcome message.
pub const OPERATORS: &str =
    "RUN 11111111-1 (consulta), 22222222-2 (revocación) or 33333333-3 (administración and consulta)";
