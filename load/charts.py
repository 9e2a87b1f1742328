#!/usr/bin/env python3
"""Charts of a load run, from the run's own artillery report: requests per second, p50 /
p95 / p99 latency and failures over time, with the fault events of the run marked.

usage: charts.py REPORT.json OUT.png [--events EVENTS.log] [--title TITLE]

REPORT is artillery's JSON report (its 10-second `intermediate` periods); EVENTS is a fault
suite event log ("HH:MM:SS.mmm what happened", UTC, the day of the run). Written by
`make load-test` and `make fault-test` beside their reports (matplotlib, in .venv).
"""

import argparse
import json
import re
from datetime import datetime, timezone

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# Events worth a line on the chart, and how each is drawn.
MARKED = [
    (re.compile(r"database stopped"), "tab:red", "database stopped"),
    (re.compile(r"database started again"), "tab:green", "database back"),
    (re.compile(r"^kill -9 "), "tab:purple", None),
    # Logged after the run: the time it fired is in the line, "firing HH:MM:SS-HH:MM:SS".
    (re.compile(r"^alert (\w+)\{[^}]*\} firing (\d\d:\d\d:\d\d)-"), "tab:orange", "{0} firing"),
]


def periods(report):
    """(seconds since the first period, period) for each 10-second period, in order."""
    items = sorted(report["intermediate"], key=lambda p: int(p["period"]))
    start = int(items[0]["period"])
    return start, [((int(p["period"]) - start) / 1000 + 5, p) for p in items]


def events(path, start_ms):
    """(seconds since start, colour, label) of the marked events of an event log."""
    day = datetime.fromtimestamp(start_ms / 1000, tz=timezone.utc).date()
    found = []
    for line in open(path, encoding="utf-8"):
        clock, _, what = line.strip().partition(" ")
        try:
            at = datetime.strptime(f"{day} {clock}", "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=timezone.utc)
        except ValueError:
            continue
        for pattern, colour, label in MARKED:
            match = pattern.search(what)
            if match:
                text = label.format(*match.groups()) if label else None
                if len(match.groups()) > 1:
                    at = datetime.strptime(f"{day} {match.group(2)}", "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
                found.append((at.timestamp() - start_ms / 1000, colour, text))
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report")
    parser.add_argument("out")
    parser.add_argument("--events")
    parser.add_argument("--title", default="")
    args = parser.parse_args()

    report = json.load(open(args.report, encoding="utf-8"))
    start, series = periods(report)
    t = [s for s, _ in series]
    counters = [p.get("counters", {}) for _, p in series]
    latency = [p.get("summaries", {}).get("http.response_time", {}) for _, p in series]

    def per_second(name):
        return [c.get(name, 0) / 10 for c in counters]

    figure, (rate, times, failures) = plt.subplots(3, 1, sharex=True, figsize=(10, 8), constrained_layout=True)
    figure.suptitle(args.title or args.report)

    rate.plot(t, per_second("http.requests"), label="requests/s", color="tab:blue")
    codes = sorted({k for c in counters for k in c if k.startswith("http.codes.")})
    for code in codes:
        rate.plot(t, per_second(code), label=code.removeprefix("http.codes."), linewidth=1)
    rate.set_ylabel("per second")
    rate.legend(loc="upper left", fontsize="small", ncol=4)

    for quantile, colour in (("p50", "tab:green"), ("p95", "tab:orange"), ("p99", "tab:red")):
        times.plot(t, [s.get(quantile) for s in latency], label=quantile, color=colour)
    # Milliseconds while healthy, seconds in an outage: a log scale only when both show.
    if max((s.get("p99") or 0) for s in latency) > 100:
        times.set_yscale("log")
    times.set_ylabel("latency (ms)")
    times.legend(loc="upper left", fontsize="small")

    server_errors = [sum(v for k, v in c.items() if re.fullmatch(r"http\.codes\.5\d\d", k)) / 10 for c in counters]
    unanswered = [sum(v for k, v in c.items() if k.startswith("errors.")) / 10 for c in counters]
    failures.plot(t, server_errors, label="5xx/s (503 + Retry-After included)", color="tab:red")
    failures.plot(t, unanswered, label="no answer/s (timeouts, resets)", color="black")
    failures.set_ylabel("failures per second")
    failures.set_xlabel("seconds since the first of the run's 10-second periods")
    failures.legend(loc="upper left", fontsize="small")

    if args.events:
        for at, colour, label in events(args.events, start):
            for axis in (rate, times, failures):
                axis.axvline(at, color=colour, linestyle="--", linewidth=0.8)
            if label:
                rate.annotate(label, (at, 1), xycoords=("data", "axes fraction"), rotation=90,
                              fontsize="x-small", va="top", ha="right", color=colour)
    figure.savefig(args.out, dpi=110)
    print(f"chart: {args.out}")


if __name__ == "__main__":
    main()
