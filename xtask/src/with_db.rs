//! `with-db COMMAND...`: runs a command against a throw-away SecantusDB (in memory, on a
//! free port) as MONGODB_URI, then stops it; with MONGODB_URI already set, against that.

use std::process::Command;
use std::time::Duration;

use crate::error::Error;
use crate::paths::{Paths, Secantus};
use crate::process::{self, Spec};
use crate::{net, step};

/// The command's exit status, as success or not.
pub fn with_db(paths: &Paths, command: &[String]) -> Result<bool, Error> {
    let Some((program, args)) = command.split_first() else {
        return Err(Error::Usage("with-db needs a command".into()));
    };
    if std::env::var_os("MONGODB_URI").is_some() {
        return execute(program, args, None);
    }
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
    let mut database = process::spawn(&spec)?;
    let ready = net::wait_ready(
        "SecantusDB",
        &spec.log,
        30,
        || net::listening(port),
        || matches!(database.try_wait(), Ok(None)),
    );
    let outcome = ready.and_then(|()| execute(program, args, Some(format!("mongodb://127.0.0.1:{port}"))));
    process::signal(database.id(), "TERM");
    if !process::wait_gone(database.id(), Duration::from_secs(10)) {
        let _ = database.kill();
    }
    let _ = database.wait();
    outcome
}

fn execute(program: &str, args: &[String], uri: Option<String>) -> Result<bool, Error> {
    let mut command = Command::new(program);
    command.args(args);
    if let Some(uri) = uri {
        step(&format!("running {program} against {uri}"));
        command.env("MONGODB_URI", uri);
    }
    let status = command.status().map_err(Error::io(format!("running {program}")))?;
    Ok(status.success())
}
