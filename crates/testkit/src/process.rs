//! A service binary run as a child process, the way Kubernetes runs it: configured by
//! environment, logging JSON to stdout, stopped by signals.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct ServiceProcess {
    child: Child,
    /// `http://127.0.0.1:<port>` of the public and the admin listener, and of the
    /// operators' for the issuer.
    pub public: String,
    pub admin: String,
    pub operators: Option<String>,
    logs: Arc<Mutex<Vec<String>>>,
}

impl ServiceProcess {
    /// Starts `binary` on free loopback ports and waits for its "listening" log line. The
    /// test signing and privacy keys are set for either service, unless `env` sets another.
    pub fn start(binary: &str, env: &[(&str, &str)]) -> ServiceProcess {
        let mut child = Command::new(binary)
            .env_clear()
            .env("LISTEN_ADDR", "127.0.0.1:0")
            .env("ADMIN_ADDR", "127.0.0.1:0")
            .env("OPERATOR_ADDR", "127.0.0.1:0")
            .env("PERMIT_SIGNING_KEY", crate::signing_key_pem())
            .env("PERMIT_PUBLIC_KEYS", crate::key_set().to_json())
            .env("PRIVACY_KEY", crate::privacy_key_text())
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the service binary starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (listening, addresses) = mpsc::channel();
        let kept = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(event) = serde_json::from_str::<serde_json::Value>(&line)
                    && let (Some(public), Some(admin)) = (event["addr"].as_str(), event["admin_addr"].as_str())
                {
                    let operators = event["operator_addr"].as_str().map(|addr| format!("http://{addr}"));
                    let _ = listening.send((public.to_owned(), admin.to_owned(), operators));
                }
                kept.lock().expect("log lock").push(line);
            }
        });
        let (public, admin, operators) = addresses
            .recv_timeout(Duration::from_secs(30))
            .expect("the service logs its addresses within 30 s");
        ServiceProcess {
            child,
            public: format!("http://{public}"),
            admin: format!("http://{admin}"),
            operators,
            logs,
        }
    }

    /// Waits until `/readyz` answers 200 (started, indexes created), at most 10 s.
    pub async fn ready(&self) {
        let admin = self.admin.trim_start_matches("http://").to_owned();
        for _ in 0..200 {
            if let Ok(mut stream) = TcpStream::connect(&admin).await {
                let asked = stream
                    .write_all(b"GET /readyz HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n")
                    .await;
                let mut answer = Vec::new();
                if asked.is_ok() && stream.read_to_end(&mut answer).await.is_ok() && answer.starts_with(b"HTTP/1.1 200")
                {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{} did not become ready within 10 s", self.public);
    }

    /// Every line the process wrote to stdout so far.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().expect("log lock").clone()
    }

    /// The process's resident memory now, in KiB, as the kernel counts it.
    pub fn rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("the process's status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("a VmRSS line")
    }

    /// CPU time the process used so far, user and system, all threads, in seconds.
    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds(self.child.id())
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status();
        assert!(status.expect("kill runs").success(), "kill -{name} failed");
    }

    /// Waits for the process to exit by itself, at most `limit`.
    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("child status") {
                return status;
            }
            assert!(started.elapsed() < limit, "the process did not exit within {limit:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// From `/proc/<pid>/stat` (utime and stime, fields 14 and 15, in clock ticks).
pub(crate) fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the process's stat");
    // The command name (field 2) may hold spaces; the fields after its ')' are plain.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .expect("a stat line")
        .1
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11..13]
        .iter()
        .map(|f| f.parse::<u64>().expect("tick counts"))
        .sum();
    ticks as f64 / clock_ticks_per_second()
}

fn clock_ticks_per_second() -> f64 {
    let answer = Command::new("getconf").arg("CLK_TCK").output().expect("getconf runs");
    String::from_utf8_lossy(&answer.stdout)
        .trim()
        .parse()
        .expect("CLK_TCK is a number")
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
