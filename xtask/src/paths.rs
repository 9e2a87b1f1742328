//! Where things are: the repository, its run folder, the built binaries, the tools.

use std::path::{Path, PathBuf};

use crate::error::Error;

pub struct Paths {
    pub root: PathBuf,
}

impl Paths {
    /// The checkout this run acts on, found at run time: one build can serve several
    /// checkouts that share a target folder, so the path it was compiled in means nothing.
    /// `cargo xtask` (cargo run) says where xtask's manifest is; run otherwise, the nearest
    /// folder above the current one that holds `xtask/Cargo.toml`.
    pub fn new() -> Paths {
        let from_cargo = std::env::var_os("CARGO_MANIFEST_DIR")
            .map(PathBuf::from)
            .filter(|manifest| manifest.ends_with("xtask"))
            .and_then(|manifest| manifest.parent().map(Path::to_path_buf));
        let root = from_cargo
            .or_else(|| {
                let here = std::env::current_dir().ok()?;
                here.ancestors()
                    .find(|dir| dir.join("xtask/Cargo.toml").is_file())
                    .map(Path::to_path_buf)
            })
            .unwrap_or_else(|| {
                eprintln!("error: run cargo xtask inside the repository (no xtask/Cargo.toml above this folder)");
                std::process::exit(2)
            });
        Paths { root }
    }

    /// Everything the local runs write: data, logs, pids, tokens. Never committed.
    pub fn run_dir(&self) -> PathBuf {
        self.root.join(".run")
    }

    /// A service binary built with `profile` (`release` or `debug`), in cargo's target folder.
    pub fn binary(&self, profile: &str, name: &str) -> PathBuf {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| self.root.join("target"));
        let target = if target.is_absolute() {
            target
        } else {
            self.root.join(target)
        };
        target.join(profile).join(name)
    }

    /// SecantusDB: the Rust build when `make secantus-rs` installed it (about 8x faster on
    /// writes, so a load run measures the services, not the stand-in), else the Python one.
    pub fn secantus(&self) -> Result<Secantus, Error> {
        let rust = self.root.join(".tools/bin/secantusd-rs");
        let python = self.root.join(".venv/bin/secantusd-py");
        if rust.is_file() {
            Ok(Secantus::Rust(rust))
        } else if python.is_file() {
            Ok(Secantus::Python(python))
        } else {
            Err(Error::Missing(
                "SecantusDB",
                "`scripts/tools.sh secantus` installs it into .venv (make run and make local-up do)",
            ))
        }
    }
}

/// The first of `candidates` that exists: a program installed by the system's packages.
pub fn installed(program: &'static str, candidates: &[&str], hint: &'static str) -> Result<PathBuf, Error> {
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|path| path.is_file())
        .ok_or(Error::Missing(program, hint))
}

pub enum Secantus {
    Rust(PathBuf),
    Python(PathBuf),
}

impl Secantus {
    pub fn label(&self) -> &'static str {
        match self {
            Secantus::Rust(_) => "Rust build",
            Secantus::Python(_) => "Python build",
        }
    }

    /// The command line serving `storage` (a folder) on 127.0.0.1:`port`.
    pub fn command(&self, port: u16, storage: &Path) -> Vec<String> {
        let (program, extra) = match self {
            Secantus::Rust(path) => (path, ["--log-file-max", "16MB"]),
            Secantus::Python(path) => (path, ["--log-level", "WARNING"]),
        };
        let mut command = vec![
            program.display().to_string(),
            "--host".into(),
            "127.0.0.1".into(),
            "--port".into(),
            port.to_string(),
            "--storage-path".into(),
            storage.display().to_string(),
        ];
        command.extend(extra.map(String::from));
        command
    }
}
