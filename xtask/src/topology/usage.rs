//! `usage`: CPU time and peak memory of each kind of process in the local topology, read
//! from /proc for the pids `up` recorded (nginx: its master and workers). A Markdown table:
//! per kind, how many processes, their CPU seconds added up since start, the largest peak
//! resident set (VmHWM) among them, and their peaks added up: an upper bound of the memory
//! they held at once.

use std::collections::BTreeMap;
use std::process::Command;

use crate::error::Error;
use crate::paths::Paths;
use crate::process;

#[derive(Default, serde::Serialize)]
pub struct Kind {
    pub processes: usize,
    pub cpu_seconds: f64,
    pub peak_mib: f64,
    pub peaks_added_mib: f64,
}

/// Prints the table.
pub fn usage(paths: &Paths) -> Result<(), Error> {
    let kinds = measure(paths)?;
    println!(
        "| Process kind | Processes | CPU time, all together (s) | Peak RSS of one (MiB) | Peak RSS, added up (MiB) |"
    );
    println!("| -- | -- | -- | -- | -- |");
    for (name, kind) in &kinds {
        println!(
            "| {name} | {} | {:.1} | {:.1} | {:.1} |",
            kind.processes, kind.cpu_seconds, kind.peak_mib, kind.peaks_added_mib
        );
    }
    println!(
        "| all | {} | {:.1} | | {:.1} |",
        kinds.values().map(|k| k.processes).sum::<usize>(),
        kinds.values().map(|k| k.cpu_seconds).sum::<f64>(),
        kinds.values().map(|k| k.peaks_added_mib).sum::<f64>()
    );
    Ok(())
}

/// Per kind of process of the running topology: how many, their CPU time since start, their peaks.
pub fn measure(paths: &Paths) -> Result<BTreeMap<String, Kind>, Error> {
    let ticks = clock_ticks();
    let pids = paths.run_dir().join("local/pids");
    let entries = std::fs::read_dir(&pids).map_err(|_| Error::Failed("the local topology is not up".into()))?;
    let mut kinds: BTreeMap<String, Kind> = BTreeMap::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().trim_end_matches(".pid").to_owned();
        let Some(pid) = process::read_pid(&entry.path()) else {
            continue;
        };
        let kind = name
            .trim_end_matches(|c: char| c.is_ascii_digit())
            .trim_end_matches('-')
            .to_owned();
        let mut members = vec![pid];
        if kind == "nginx" {
            members.extend(children(pid));
        }
        let totals = kinds.entry(kind).or_default();
        for member in members {
            if let (Some(cpu), Some(peak)) = (cpu_ticks(member), peak_kib(member)) {
                let peak_mib = peak as f64 / 1024.0;
                totals.processes += 1;
                totals.cpu_seconds += cpu as f64 / ticks;
                totals.peak_mib = totals.peak_mib.max(peak_mib);
                totals.peaks_added_mib += peak_mib;
            }
        }
    }
    Ok(kinds)
}

/// Clock ticks per second, the unit of /proc's CPU times.
pub fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8_lossy(&out.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .map(|text| text.split_whitespace().filter_map(|p| p.parse().ok()).collect())
        .unwrap_or_default()
}

/// User and system time, in clock ticks.
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

fn peak_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
}
