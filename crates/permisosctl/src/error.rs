//! Every way a command can end other than success, and the exit code each gets.

/// What stopped a command. `Unhealthy` is a finding (exit 1); the others mean the command
/// could not do its work at all (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A check found something wrong; the text says what.
    #[error("{0}")]
    Unhealthy(String),
    #[error("no cluster to talk to: {0}")]
    NoConfig(String),
    #[error("cannot reach the Kubernetes API: {0}")]
    Unreachable(String),
    #[error("the Kubernetes API refused: {0}")]
    Forbidden(String),
    /// The system's own HTTP API (the issuer's operator API) refused or did not answer.
    #[error("the issuer: {0}")]
    Service(String),
    #[error("{0}")]
    Usage(String),
}

impl Error {
    /// 1 for a failed check, 2 when the command could not run (README, "permisosctl").
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Unhealthy(_) => 1,
            _ => 2,
        }
    }
}

impl From<kube::Error> for Error {
    fn from(error: kube::Error) -> Error {
        match error {
            kube::Error::Api(status) if matches!(status.code, 401 | 403) => Error::Forbidden(format!(
                "{} ({}; does your kubeconfig's user have the rights? README, \"permisosctl\")",
                status.message, status.code
            )),
            kube::Error::Api(status) => Error::Unreachable(format!("{} ({})", status.message, status.code)),
            other => Error::Unreachable(source_chain(&other)),
        }
    }
}

/// An error with its causes, `a: b: c`, since the outermost alone rarely says enough
/// (e.g. "ServiceError: client error (Connect)" hides "Connection refused").
pub fn source_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let more = inner.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = inner.source();
    }
    text
}
