#!/usr/bin/env python3
"""Start-up time and memory of the two release binaries (BENCHMARKS.md, "Runtime").

For each binary, N times: start it against a running MongoDB-wire server, time from spawn
to the first 200 from /readyz, then read its idle RSS; then load it with wrk for a few
seconds and read its peak RSS (VmHWM). Prints a Markdown table. Bounded: every run stops
by itself; everything binds to 127.0.0.1.

usage: MONGODB_URI=... bench-runtime.py [RUNS]  (cargo xtask with-db sets MONGODB_URI)
"""

import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOAD_SECONDS = 10
LOAD_CONNECTIONS = 64


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status(url):
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status
    except Exception:
        return None


def rss_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not found")


def start(binary, uri, database):
    port, admin = free_port(), free_port()
    env = {
        "MONGODB_URI": uri,
        "MONGODB_DB": database,
        "LISTEN_ADDR": f"127.0.0.1:{port}",
        "ADMIN_ADDR": f"127.0.0.1:{admin}",
        "ISSUER_PUBLIC_URL": "http://formulario.localhost",
        "VALIDATOR_PUBLIC_URL": "http://validar.localhost",
        "PERMIT_CURFEW": "off",
        "PERMIT_WEEKLY_LIMIT": "off",
        "RUST_LOG": "warn",
    }
    started = time.perf_counter()
    process = subprocess.Popen([os.path.join(ROOT, "target/release", binary)], env=env)
    while status(f"http://127.0.0.1:{admin}/readyz") != 200:
        if process.poll() is not None or time.perf_counter() - started > 30:
            process.kill()
            raise RuntimeError(f"{binary} did not become ready")
        time.sleep(0.002)
    return process, port, (time.perf_counter() - started) * 1000


def create_permit(port):
    body = json.dumps({"name": "Carga Prueba", "rut": "12.345.678-5", "motive": "compras",
                       "address": "Calle 1", "comuna": "Santiago"}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/create", body,
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.load(response)["id"]


def measure(binary, uri, runs):
    ready, idle = [], []
    for run in range(runs):
        process, port, ms = start(binary, uri, f"bench_runtime_{os.getpid()}_{run}")
        time.sleep(1)
        ready.append(ms)
        idle.append(rss_kib(process.pid, "VmRSS"))
        if run == runs - 1:
            if binary == "issuer":
                path = label = "/"
            else:
                label = "/validar/{id}"
                issuer, issuer_port, _ = start("issuer", uri, f"bench_runtime_{os.getpid()}_{run}")
                path = f"/validar/{create_permit(issuer_port)}"
                issuer.terminate()
                issuer.wait()
            wrk = subprocess.run(["wrk", "-t2", f"-c{LOAD_CONNECTIONS}", f"-d{LOAD_SECONDS}s",
                                  f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True)
            requests_per_sec = next(l.split()[1] for l in wrk.stdout.splitlines() if l.startswith("Requests/sec"))
            peak = rss_kib(process.pid, "VmHWM")
        process.terminate()
        process.wait()
    return {
        "ready_ms_median": statistics.median(ready),
        "ready_ms_max": max(ready),
        "idle_rss_mib": statistics.median(idle) / 1024,
        "loaded_peak_rss_mib": peak / 1024,
        "path": label,
        "rps": requests_per_sec,
    }


def main():
    uri = os.environ["MONGODB_URI"]
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    print(f"| binary | ready, median of {runs} (ms) | ready, max (ms) | idle RSS (MiB) | "
          f"peak RSS under load (MiB) | load |")
    print("|---|---|---|---|---|---|")
    for binary in ("issuer", "validator"):
        r = measure(binary, uri, runs)
        print(f"| {binary} | {r['ready_ms_median']:.1f} | {r['ready_ms_max']:.1f} | {r['idle_rss_mib']:.1f} | "
              f"{r['loaded_peak_rss_mib']:.1f} | wrk {LOAD_CONNECTIONS} connections {LOAD_SECONDS} s "
              f"on `GET {r['path']}`: {r['rps']} req/s |")


if __name__ == "__main__":
    main()
