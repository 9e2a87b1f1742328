#!/usr/bin/env python3
"""The chart of a data-growth run, from the run's own result (cargo xtask data-growth):
p50 / p99 of a create and of a check by code, and the database's sizes, against the
number of permits stored.

usage: data-growth-chart.py RESULT.json OUT.png
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

MIB = 1024 * 1024


def main(result_path, out_path):
    with open(result_path) as file:
        result = json.load(file)
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


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
