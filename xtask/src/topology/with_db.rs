//! A throw-away SecantusDB on a free port (in memory with the Python build), for the test
//! suite (`with-db COMMAND...`) and the runtime benchmark.

use std::process::{Child, Command};
use std::time::Duration;

use crate::console::step;
use crate::error::Error;
use crate::net;
use crate::paths::{Paths, Secantus};
use crate::process::{self, Spec};

pub struct ThrowawayDb {
    child: Child,
    pub uri: String,
}

impl ThrowawayDb {
    pub fn start(paths: &Paths) -> Result<ThrowawayDb, Error> {
        let secantus = paths.secantus()?;
        let dir = paths.run_dir().join("test-db");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(Error::io("creating .run/test-db"))?;
        let port = net::free_port()?;
        // The Python build keeps it in memory; the Rust build has no such mode.
        let storage = match secantus {
            Secantus::Python(_) => ":memory:".into(),
            Secantus::Rust(_) => dir.join("data"),
        };
        let spec = Spec {
            name: "SecantusDB".into(),
            argv: secantus.command(port, &storage),
            env: Vec::new(),
            log: dir.join("db.log"),
            cpuset: None,
            detached: false,
        };
        step(&format!(
            "starting SecantusDB ({}, throw-away) on 127.0.0.1:{port}",
            secantus.label()
        ));
        let mut child = process::spawn(&spec)?;
        let ready = net::wait_ready(
            "SecantusDB",
            &spec.log,
            30,
            || net::listening(port),
            || matches!(child.try_wait(), Ok(None)),
        );
        let db = ThrowawayDb {
            child,
            uri: format!("mongodb://127.0.0.1:{port}"),
        };
        ready.map(|()| db)
    }
}

impl Drop for ThrowawayDb {
    fn drop(&mut self) {
        process::signal(self.child.id(), "TERM");
        if !process::wait_gone(self.child.id(), Duration::from_secs(10)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Runs `command` with MONGODB_URI set to a throw-away database, unless it is set already;
/// whether it succeeded.
pub fn with_db(paths: &Paths, command: &[String]) -> Result<bool, Error> {
    let Some((program, args)) = command.split_first() else {
        return Err(Error::Usage("with-db needs a command".into()));
    };
    let mut command = Command::new(program);
    command.args(args);
    let _db = match std::env::var_os("MONGODB_URI") {
        Some(_) => None,
        None => {
            let db = ThrowawayDb::start(paths)?;
            step(&format!("running {program} against {}", db.uri));
            command.env("MONGODB_URI", &db.uri);
            Some(db)
        }
    };
    let status = command.status().map_err(Error::io(format!("running {program}")))?;
    Ok(status.success())
}
