//! Why a task failed, said so that the person at the terminal knows what to do next.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0} (cargo xtask --help lists the commands)")]
    Usage(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("port {port} ({variable}) is already in use: stop what listens there, or set {variable} to another port")]
    PortInUse { port: u16, variable: &'static str },
    #[error("{0} is not installed: {1}")]
    Missing(&'static str, &'static str),
    #[error("`make run` is already running (pid {pid}): use it, or stop it with Ctrl-C in its terminal")]
    AlreadyRunning { pid: u32 },
    #[error("{part} stopped during start-up; the end of its log ({}):\n{tail}", log.display())]
    Exited { part: String, log: PathBuf, tail: String },
    #[error("{part} was not ready within {seconds} s; the end of its log ({}):\n{tail}", log.display())]
    NotReady {
        part: String,
        seconds: u64,
        log: PathBuf,
        tail: String,
    },
    #[error("{0}")]
    Failed(String),
    #[error("the database: {0}")]
    Store(#[from] permit_store::StoreError),
}

impl Error {
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let what = what.into();
        move |source| Error::Io { what, source }
    }

    /// 2 when the command line was wrong, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => 2,
            _ => 1,
        }
    }
}
