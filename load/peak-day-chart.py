#!/usr/bin/env python3
"""The charts of the record day's runs, from each run's own result.

A replay (cargo xtask peak-day): requests and permits per second, and p50 / p95 / p99
latency (from when each request was due), per period of the replay (a minute, or less for
a replay under ten minutes), with the 250 ms bound. A data-growth run (cargo xtask
data-growth): p50 / p99 of a create and of a check by code, and the database's sizes,
against the number of permits stored.

usage: peak-day-chart.py RESULT.json OUT.png
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

MIB = 1024 * 1024


def replay(result, out_path):
    summary = result["summary"]
    period = summary["period_seconds"]
    x = [start / 60 for start, _ in summary["periods"]]
    spans = [span for _, span in summary["periods"]]
    fig, (rate, latency) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    rate.plot(x, [s["requests"] / period for s in spans], label="requests/s (all)")
    rate.plot(x, [s["permits"] / period for s in spans], label="permits issued/s")
    rate.plot(x, [s["checks"] / period for s in spans], label="police checks/s")
    rate.plot(x, [s["errors"] / period for s in spans], label="errors/s", color="tab:red")
    rate.set_ylabel("per second")
    rate.legend(loc="upper right")
    rate.grid(alpha=0.3)
    for key, label in [("p50_ms", "p50"), ("p95_ms", "p95"), ("p99_ms", "p99")]:
        latency.plot(x, [s[key] for s in spans], label=label)
    latency.axhline(250, color="tab:red", linestyle="--", linewidth=1, label="250 ms")
    latency.set_yscale("log")
    latency.set_ylabel("latency from due time (ms)")
    latency.set_xlabel(f"minutes into the replay ({period} s periods)")
    latency.legend(loc="upper right")
    latency.grid(alpha=0.3)
    whole = result["summary"]["whole"]
    fig.suptitle(
        f"Record day replayed at SPEED={result['speed']:g} (scale {result['scale']:g}): "
        f"{whole['permits']:,} permits, {whole['errors']} errors, p99 {whole['p99_ms']:.0f} ms"
    )
    fig.tight_layout()
    fig.savefig(out_path, dpi=110)


def growth(result, out_path):
    stops = result["stops"]
    x = [stop["stored_permits"] for stop in stops]
    fig, (latency, size) = plt.subplots(1, 2, figsize=(11, 4.5))
    for probe, name in [("creates", "create"), ("checks", "check by code")]:
        for key, style in [("p50_ms", "-"), ("p99_ms", "--")]:
            latency.plot(
                x, [stop[probe][key] for stop in stops], style, marker="o",
                label=f"{name} {key[:3]}",
            )
    latency.set_xscale("log")
    latency.set_ylim(bottom=0)
    latency.set_xlabel("permits stored")
    latency.set_ylabel("latency from due time (ms)")
    latency.set_title(
        f"{result['creates_per_second']:g} creates/s, {result['checks_per_second']:g} checks/s, "
        f"{result['probe_seconds']:g} s each"
    )
    latency.legend()
    latency.grid(alpha=0.3)

    def collection(stop, name, field):
        return next(c[field] for c in stop["database"] if c["name"] == name) / MIB

    size.plot(x, [stop["database_on_disk_bytes"] / MIB for stop in stops], marker="o", label="on disk (all)")
    for name in ["permits", "weekly_quotas", "idempotency_keys"]:
        size.plot(x, [collection(stop, name, "storage_bytes") for stop in stops], marker=".", label=f"{name} data")
        size.plot(x, [collection(stop, name, "index_bytes") for stop in stops], ":", marker=".", label=f"{name} indexes")
    size.set_xscale("log")
    size.set_yscale("log")
    size.set_xlabel("permits stored")
    size.set_ylabel("MiB")
    size.set_title("database size")
    size.legend(fontsize="small")
    size.grid(alpha=0.3)
    fig.suptitle(f"Cost as the permits pile up ({result['date'][:10]}, {result['cores']} cores)")
    fig.tight_layout()
    fig.savefig(out_path, dpi=110)


def main(result_path, out_path):
    with open(result_path) as file:
        result = json.load(file)
    (growth if "stops" in result else replay)(result, out_path)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
