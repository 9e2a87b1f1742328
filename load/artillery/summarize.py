#!/usr/bin/env python3
"""The case study's results table, computed from artillery's JSON report.

usage: summarize.py REPORT.json ENV

Total Requests is what the scenarios set out to send (4 per virtual user, as the case study
counted); Completed Requests are those answered with a 2xx status. Times in milliseconds.
"""

import json
import sys

REQUESTS_PER_SCENARIO = 4
ERRORS = ["ECONNRESET", "ETIMEDOUT", "ESOCKETTIMEDOUT"]


def summarize(report):
    aggregate = report["aggregate"]
    counters = aggregate["counters"]
    times = aggregate["summaries"].get("http.response_time", {})
    created = counters.get("vusers.created", 0)
    total = REQUESTS_PER_SCENARIO * created
    completed = sum(v for k, v in counters.items() if k.startswith("http.codes.2"))
    seconds = max((aggregate["lastMetricAt"] - aggregate["firstMetricAt"]) / 1000, 1)
    other_errors = {k[len("errors."):]: v for k, v in counters.items()
                    if k.startswith("errors.") and k[len("errors."):] not in ERRORS}
    return {
        "total": total,
        "completed": completed,
        "completed_pct": 100 * completed / total if total else 0,
        "rps": counters.get("http.requests", 0) / seconds,
        "min": times.get("min", 0), "max": times.get("max", 0),
        "median": times.get("median", 0), "p95": times.get("p95", 0),
        "errors": {e: counters.get(f"errors.{e}", 0) for e in ERRORS},
        "other_errors": other_errors,
        "non_2xx": {k[len("http.codes."):]: v for k, v in counters.items()
                    if k.startswith("http.codes.") and not k.startswith("http.codes.2")},
        "created": created,
        "completed_scenarios": counters.get("vusers.completed", 0),
    }


def main():
    report_path, env = sys.argv[1], sys.argv[2]
    with open(report_path) as f:
        s = summarize(json.load(f))
    print("| Test | Total Requests | Completed Requests (%) | RPS mean | Min | Max | Median | p95 |")
    print("| -- | -- | -- | -- | -- | -- | -- | -- |")
    print(f"| {env} | {s['total']} | {s['completed']} ({s['completed_pct']:.1f}%) | {s['rps']:.2f} | "
          f"{s['min']} | {s['max']} | {s['median']} | {s['p95']} |")
    print()
    print("| Test | ECONNRESET | ETIMEDOUT | ESOCKETTIMEDOUT | Scenarios created | Scenarios completed |")
    print("| -- | -- | -- | -- | -- | -- |")
    e = s["errors"]
    print(f"| {env} | {e['ECONNRESET']} | {e['ETIMEDOUT']} | {e['ESOCKETTIMEDOUT']} | "
          f"{s['created']} | {s['completed_scenarios']} |")
    if s["non_2xx"] or s["other_errors"]:
        print()
        print(f"Other outcomes: statuses {s['non_2xx'] or '{}'}, errors {s['other_errors'] or '{}'}")


if __name__ == "__main__":
    main()
