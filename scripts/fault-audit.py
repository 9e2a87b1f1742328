#!/usr/bin/env python3
"""Audits one fault-suite run: what the clients were told against what the database holds.

Reads the answers artillery/fault-hooks.js recorded (JSON lines), artillery's report (for
errors that never got an answer) and the permits collection, and prints one JSON object:

  acknowledged  creates answered 201 (distinct permit ids)
  lost          acknowledged ids the database does not hold: must be 0
  duplicates    citizens (one per virtual user) holding more than one permit: must be 0
  creates_failed_first_try / creates_retried_ok / creates_gave_up
  validations_failed, pages_failed  non-2xx answers to those GETs
  status_counts, max_ms, p99_ms, unanswered (artillery errors), no_retry_after (503s without it)

Exits 1 when a check the scenario asks for fails; the failures are listed under "failed".
Always: nothing acknowledged lost, no citizen with two permits, no create given up, no
answer missing, every 503 with Retry-After. --no-errors: every answer a success;
--outage: validations may fail, but every failure must be a 503 (a database outage);
otherwise no validation may fail;
--max-ms: every answer within that time.

usage: fault-audit.py RECORD REPORT MONGODB_URI DB [--no-errors] [--outage] [--max-ms N]
"""

import argparse
import json
import re
import sys
from collections import Counter

from pymongo import MongoClient


def canonical_rut(text):
    digits = re.sub(r"[^0-9kK]", "", text).upper()
    return f"{int(digits[:-1])}-{digits[-1]}"


def percentile(values, p):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("record")
    parser.add_argument("report")
    parser.add_argument("uri")
    parser.add_argument("db")
    parser.add_argument("--no-errors", action="store_true", help="every answer must be 2xx/3xx")
    parser.add_argument("--outage", action="store_true", help="failures may be 503s with Retry-After")
    parser.add_argument("--max-ms", type=float, help="every answer within this many ms")
    args = parser.parse_args()

    answers = [json.loads(line) for line in open(args.record) if line.strip()]
    creates = [a for a in answers if a["kind"] == "create"]
    acknowledged = {a["id"] for a in creates if a["status"] == 201}
    keys_ok = {a["key"] for a in creates if a["status"] == 201}
    first_failed = {a["key"] for a in creates if a["attempt"] == 1 and a["status"] != 201}
    gave_up = [a for a in answers if a["kind"] == "create-gave-up"]
    failed = lambda kind: sum(1 for a in answers if a["kind"] == kind and not 200 <= a["status"] < 400)
    timings = [a["ms"] for a in answers if a.get("ms") is not None]

    client = MongoClient(args.uri, serverSelectionTimeoutMS=5000)
    permits = client[args.db]["permits"]
    stored = {d["_id"] for d in permits.find({"_id": {"$in": sorted(acknowledged)}}, {"_id": 1})}
    ruts = sorted({canonical_rut(a["rut"]) for a in creates})
    per_rut = Counter(d["rut"] for d in permits.find({"rut": {"$in": ruts}}, {"rut": 1}))

    report = json.load(open(args.report))
    counters = report["aggregate"]["counters"]
    unanswered = {k: v for k, v in counters.items() if k.startswith("errors.")}

    result = {
        "answers": len(answers),
        "status_counts": dict(sorted(Counter(str(a["status"]) for a in answers if "status" in a).items())),
        "acknowledged": len(acknowledged),
        "lost": len(acknowledged - stored),
        "duplicates": sum(1 for n in per_rut.values() if n > 1),
        "creates": len({a["key"] for a in creates}),
        "creates_failed_first_try": len(first_failed),
        "creates_retried_ok": len(first_failed & keys_ok),
        "creates_gave_up": len(gave_up),
        "validations": sum(1 for a in answers if a["kind"] == "validation"),
        "validations_failed": failed("validation"),
        "pages_failed": failed("page"),
        "no_retry_after": sum(1 for a in answers if a.get("status") == 503 and not a.get("retryAfter")),
        "failures_not_503": sum(
            1 for a in answers if a["kind"] != "create-gave-up" and a["status"] >= 400 and a["status"] != 503
        ),
        "unanswered": unanswered,
        "vusers_failed": counters.get("vusers.failed", 0),
        "max_ms": max(timings, default=None),
        "p99_ms": percentile(timings, 0.99),
    }
    checks = {
        "lost": result["lost"] == 0,
        "duplicates": result["duplicates"] == 0,
        "creates_gave_up": result["creates_gave_up"] == 0,
        "validations_failed": args.outage or result["validations_failed"] == 0,
        "unanswered": not unanswered and result["vusers_failed"] == 0,
        "no_retry_after": result["no_retry_after"] == 0,
        "acknowledged": result["acknowledged"] > 0,
    }
    if args.outage:
        checks["failures_not_503"] = result["failures_not_503"] == 0
    if args.no_errors:
        checks["no_errors"] = result["pages_failed"] == 0 and result["creates_failed_first_try"] == 0
    if args.max_ms is not None:
        checks["max_ms"] = result["max_ms"] is not None and result["max_ms"] <= args.max_ms
    result["failed"] = [name for name, ok in checks.items() if not ok]
    print(json.dumps(result, indent=2))
    sys.exit(1 if result["failed"] else 0)


if __name__ == "__main__":
    main()
