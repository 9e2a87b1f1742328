#!/usr/bin/env python3
"""The chart of a record-day replay, from the run's own result (cargo xtask peak-day):
requests and permits per second, and p50 / p95 / p99 latency (from when each request was
due), per period of the replay (a minute, or less for a replay under ten minutes), with
the 250 ms bound.

usage: peak-day-chart.py RESULT.json OUT.png
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(result_path, out_path):
    with open(result_path) as file:
        result = json.load(file)
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


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
