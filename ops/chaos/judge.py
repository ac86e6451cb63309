"""What the fault scripts (ops/chaos/*.sh) share when they judge a run: the per-request
records of the load generators, what reached the gateway simulator, the audit counts, the
answer table and the verdict."""

import collections
import json
import sys


def jsonl(path):
    """One dict per line of a JSON-lines file."""
    return [json.loads(line) for line in open(path) if line.strip()]


def audit(path):
    """(audited once, not once) as written by ops/lib.sh audit_counts."""
    once, not_once = map(int, open(path).read().split())
    return once, not_once


def at_gateway(accepted, observed_path):
    """The accepted publications missing at the gateway, and those it took twice (by the
    SHA-256 of the request body, unique per publication)."""
    observed = json.load(open(observed_path))
    seen = collections.Counter(
        o["body_sha256"] for o in observed
        if "validate-and-create" in o["request"] and 200 <= o["response_status"] < 300)
    missing = [r for r in accepted if seen[r["body_sha256"]] == 0]
    twice = [r for r in accepted if seen[r["body_sha256"]] > 1]
    return missing, twice


def table(rows, phases):
    """Prints requests by kind, phase (in the order of `phases`) and answer."""
    print(f"{'kind':<13}{'phase':<9}{'answer':<36}{'requests':>9}")
    order = {p: i for i, p in enumerate(phases)}
    for (k, p, got), n in sorted(rows.items(), key=lambda x: (x[0][0], order.get(x[0][1], 99), str(x[0][2]))):
        print(f"{k:<13}{p:<9}{str(got):<36}{n:>9}")


def verdict(checks, wrong=()):
    """Prints the most frequent unexpected answers and each check; exits 0 when all pass."""
    for w in collections.Counter(wrong).most_common(5):
        print("  unexpected:", w)
    for name, ok in checks.items():
        print(f"  {'PASS' if ok else 'FAIL'}  {name}")
    sys.exit(0 if all(checks.values()) else 1)


# What each kind of request is answered when all is well.
SERVED = {"validation": {201}, "publication": {201, 202}, "consultation": {200}}


def database_fault(out, name, phase_of, phases, trouble):
    """Judges a mixed-load run in which the database failed (postgres.sh, disk.sh): in
    the `trouble` phase a REST request may get 503 mw/unavailable and a SOAP consultation the
    fault E000503 (try again); otherwise everything is served. Prints the answer table; returns the figures."""
    reqs = jsonl(f"{out}/{name}.requests.jsonl")
    once, not_once = audit(f"{out}/{name}.audit")
    rows = collections.Counter()
    wrong = []
    for r in reqs:
        p = phase_of(r["at_ms"])
        got = (r["status"], r["type"])
        rows[(r["kind"], p, got)] += 1
        ok = r["status"] in SERVED[r["kind"]] and not r["type"]
        if p == trouble and not ok:
            ok = got == ((503, "mw/unavailable") if r["kind"] != "consultation" else (500, "env:E000503"))
        if not ok:
            wrong.append((r["kind"], p, got))
    table(rows, phases)
    accepted = [r for r in reqs if r["kind"] == "publication" and r["status"] in (201, 202)]
    missing, twice = at_gateway(accepted, f"{out}/{name}.observed.json")
    return {
        "requests": len(reqs), "unanswered": sum(1 for r in reqs if r["status"] == 0),
        "wrong": wrong, "ids": sum(1 for r in reqs if r.get("tx")), "once": once,
        "not_once": not_once, "accepted": len(accepted), "missing": len(missing), "twice": len(twice),
    }


def database_figures(r):
    """The figures a database fault prints after its own: audit trail and the gateway."""
    return (f"transaction ids {r['ids']}: audited once {r['once']}, not once {r['not_once']}; publications "
            f"accepted {r['accepted']}: at the gateway once {r['accepted'] - r['missing'] - r['twice']}, "
            f"missing {r['missing']}, twice {r['twice']}")


def database_checks(r, left, failed):
    """The checks a database fault makes after its own: nothing lost, nothing twice."""
    return {
        "audit journal drained, no audit row lost": left == 0 and failed == 0,
        "every transaction audited exactly once": r["once"] == r["ids"] and r["not_once"] == 0,
        "every accepted publication at the gateway exactly once": not r["missing"] and not r["twice"],
    }
