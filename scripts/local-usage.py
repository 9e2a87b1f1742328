#!/usr/bin/env python3
"""CPU time and peak memory of each kind of process in the local topology, from /proc.

Reads the pids `make local-up` recorded (nginx: the master and its workers). Prints a
Markdown table: per kind, how many processes, their CPU seconds added up since start, the
largest peak resident set (VmHWM) among them, and their peaks added up — an upper bound
of the memory they held at once.

usage: local-usage.py [RUN_DIR]
"""

import os
import sys
from collections import defaultdict

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def peak_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def main():
    run = sys.argv[1] if len(sys.argv) > 1 else ".run/local"
    kinds = defaultdict(lambda: {"processes": 0, "cpu": 0.0, "peak": 0.0, "sum": 0.0})
    for name in sorted(os.listdir(os.path.join(run, "pids"))):
        pid = int(open(os.path.join(run, "pids", name)).read())
        kind = name.removesuffix(".pid").rstrip("0123456789").rstrip("-")
        for p in [pid, *children(pid)] if kind == "nginx" else [pid]:
            try:
                kinds[kind]["cpu"] += cpu_seconds(p)
                peak = peak_mib(p)
                kinds[kind]["peak"] = max(kinds[kind]["peak"], peak)
                kinds[kind]["sum"] += peak
                kinds[kind]["processes"] += 1
            except OSError:
                pass
    print("| Process kind | Processes | CPU time, all together (s) | Peak RSS of one (MiB) | Peak RSS, added up (MiB) |")
    print("| -- | -- | -- | -- | -- |")
    for kind, k in kinds.items():
        print(f"| {kind} | {k['processes']} | {k['cpu']:.1f} | {k['peak']:.1f} | {k['sum']:.1f} |")
    total = sum(k["sum"] for k in kinds.values())
    print(f"| all | {sum(k['processes'] for k in kinds.values())} | {sum(k['cpu'] for k in kinds.values()):.1f} | | {total:.1f} |")


if __name__ == "__main__":
    main()
