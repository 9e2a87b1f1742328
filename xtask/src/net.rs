//! Ports on the loopback address: free or taken, and whether what listens there is ready.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::process;

pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

pub fn listening(port: u16) -> bool {
    TcpStream::connect_timeout(&loopback(port), Duration::from_millis(200)).is_ok()
}

/// Stops early, naming the variable that moves it, when something already listens on `port`.
pub fn require_free(port: u16, variable: &'static str) -> Result<(), Error> {
    if listening(port) || TcpListener::bind(loopback(port)).is_err() {
        return Err(Error::PortInUse { port, variable });
    }
    Ok(())
}

/// A port nothing listens on at this moment.
pub fn free_port() -> Result<u16, Error> {
    TcpListener::bind(loopback(0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(Error::io("finding a free port"))
}

/// The status of `GET path` on 127.0.0.1:`port`, or `None` when nothing answers in time.
pub fn http_status(port: u16, path: &str) -> Option<u16> {
    fetch(port, "GET", path, &[("Host", "127.0.0.1")], b"", Duration::from_secs(1)).map(|(status, _)| status)
}

/// One HTTP/1.1 request on 127.0.0.1:`port`; the answer's status and body, or `None`
/// when nothing answers within `timeout`.
pub fn fetch(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> Option<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect_timeout(&loopback(port), timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    stream.set_write_timeout(Some(timeout)).ok()?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body).ok()?;
    let mut answer = Vec::new();
    // The status line may be all a slow reader gets before the timeout; that is enough.
    let _ = stream.read_to_end(&mut answer);
    let status = std::str::from_utf8(answer.get(9..12)?).ok()?.parse().ok()?;
    let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Some((status, Vec::new()));
    };
    let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
    let body = &answer[end + 4..];
    if head.contains("\r\ntransfer-encoding: chunked") {
        Some((status, dechunk(body)))
    } else {
        Some((status, body.to_vec()))
    }
}

/// The data of a chunked HTTP/1.1 body (each chunk: its size in hex, CRLF, data, CRLF),
/// as much of it as arrived.
fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut data = Vec::new();
    while let Some(line_end) = body.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&body[..line_end])
            .ok()
            .and_then(|line| usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16).ok());
        let start = line_end + 2;
        match size {
            Some(size) if size > 0 && body.len() >= start + size => {
                data.extend_from_slice(&body[start..start + size]);
                body = body.get(start + size + 2..).unwrap_or_default();
            }
            _ => break,
        }
    }
    data
}

/// Waits for `ready`, at most `seconds`, failing at once with the end of `log` when the
/// process is no longer `running`.
pub fn wait_ready(
    part: &str,
    log: &Path,
    seconds: u64,
    ready: impl Fn() -> bool,
    mut running: impl FnMut() -> bool,
) -> Result<(), Error> {
    let started = Instant::now();
    loop {
        if ready() {
            return Ok(());
        }
        if !running() {
            return Err(Error::Exited {
                part: part.into(),
                log: log.into(),
                tail: process::tail(log, 20),
            });
        }
        if started.elapsed() >= Duration::from_secs(seconds) {
            return Err(Error::NotReady {
                part: part.into(),
                seconds,
                log: log.into(),
                tail: process::tail(log, 20),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::dechunk;

    #[test]
    fn chunked_bodies_are_put_back_together() {
        assert_eq!(
            dechunk(b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n"),
            b"hello, world"
        );
        assert_eq!(dechunk(b"5\r\nhel"), b"", "a chunk cut short is left out");
    }
}
