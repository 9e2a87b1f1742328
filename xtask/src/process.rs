//! Processes started, watched and stopped by pid: the supervisor's one way of handling them.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::Error;

/// One process to start: its name (`issuer-2`), command line, extra environment and log.
pub struct Spec {
    pub name: String,
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub log: PathBuf,
    /// `taskset -c` list the process is pinned to, e.g. `0`.
    pub cpuset: Option<String>,
    /// In a process group of its own, so it outlives the command that started it and a
    /// Ctrl-C in that terminal does not reach it.
    pub detached: bool,
}

pub fn spawn(spec: &Spec) -> Result<Child, Error> {
    let mut argv: Vec<&str> = Vec::new();
    if let Some(cpus) = &spec.cpuset {
        argv.extend(["taskset", "-c", cpus]);
    }
    argv.extend(spec.argv.iter().map(String::as_str));
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&spec.log)
        .map_err(Error::io(format!("opening {}", spec.log.display())))?;
    let mut command = Command::new(argv[0]);
    command
        .args(&argv[1..])
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(Error::io("cloning a log handle"))?)
        .stderr(log);
    if spec.detached {
        command.process_group(0);
    }
    command
        .spawn()
        .map_err(Error::io(format!("starting {} ({})", spec.name, argv[0])))
}

/// Whether `pid` is a live process. A zombie (exited, not yet reaped by its parent, as a
/// part this very process started and then killed) is not.
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                != Some("Z")
        }
        // Without /proc (macOS), ask the kernel.
        Err(_) if !Path::new("/proc/self").exists() => signal(pid, "0"),
        Err(_) => false,
    }
}

/// Sends `kill -<signal>`; false when there is no such process.
pub fn signal(pid: u32, signal: &str) -> bool {
    Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Waits until `pid` is gone, at most `limit`; true when it is.
pub fn wait_gone(pid: u32, limit: Duration) -> bool {
    let started = Instant::now();
    while alive(pid) {
        if started.elapsed() >= limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// The last `lines` lines of a log, for an error message.
pub fn tail(log: &Path, lines: usize) -> String {
    let Ok(mut file) = File::open(log) else {
        return "(no log)".into();
    };
    let length = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(length.saturating_sub(16 * 1024)));
    let mut text = String::new();
    let mut bytes = Vec::new();
    if file.read_to_end(&mut bytes).is_ok() {
        text = String::from_utf8_lossy(&bytes).into_owned();
    }
    let kept: Vec<&str> = text.lines().rev().take(lines).collect();
    kept.into_iter().rev().collect::<Vec<_>>().join("\n")
}

pub fn write_pid(path: &Path, pid: u32) -> Result<(), Error> {
    std::fs::write(path, format!("{pid}\n")).map_err(Error::io(format!("writing {}", path.display())))
}

pub fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_that_exited_is_not_alive_before_it_is_reaped() {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        assert!(alive(child.id()));
        assert!(signal(child.id(), "KILL"));
        assert!(
            wait_gone(child.id(), Duration::from_secs(5)),
            "a zombie counted as alive"
        );
        child.wait().unwrap();
        assert!(!alive(child.id()));
    }
}
