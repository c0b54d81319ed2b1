"""Checks the demo's outcome: every collection of the lost site failed over.

  demo_check.py wait OUTCOMES.jsonl SECONDS
      returns once every decided failover has ended (or the time is up)
  demo_check.py verify CONFIG.yaml OUTCOMES.jsonl SIM-STATE.json SITE
      prints a summary; exit 0 only if SITE was lost and every collection
      the config places there succeeded and is failed over in the
      simulator's state
"""
import json
import sys
import time

import yaml

import simstate

END = {"succeeded", "failed", "timed_out"}


def read(path):
    try:
        with open(path) as f:
            return [json.loads(l) for l in f.read().split("\n")[:-1] if l]
    except FileNotFoundError:
        return []


def pending(outcomes):
    decided = {o["collection"] for o in outcomes if o["kind"] == "decision"}
    ended = {o["collection"] for o in outcomes if o["kind"] in END}
    return decided, decided - ended


def wait(path, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        decided, left = pending(read(path))
        if decided and not left:
            return 0
        time.sleep(0.2)
    return 1


def verify(config_path, path, state_path, site):
    with open(config_path) as f:
        config = yaml.safe_load(f)
    expected = [c for c in config["collections"] if c["site"] == site]
    outcomes = read(path)
    lost = [o for o in outcomes if o["kind"] == "site_lost" and o["site"] == site]
    states = {c["path"]: c["state"] for c in simstate.load(state_path)["collections"]}
    ok = bool(lost) and bool(expected)
    print("site %s lost: %s" % (site, "yes" if lost else "no"))
    for c in expected:
        mine = [o for o in outcomes if o.get("collection") == c["name"]]
        end = [o for o in mine if o["kind"] in END]
        verdict = end[-1]["kind"] if end else ("decided, no end" if mine else "never decided")
        state = states.get(c["cim_path"], "unknown")
        good = verdict == "succeeded" and state == "failed over"
        ok = ok and good
        print("  %-12s -> %s: %-10s (simulator: %s)" % (c["name"], c["replica_site"], verdict, state))
    print("demo %s" % ("PASSED: every collection of site %s failed over" % site if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    if sys.argv[1] == "wait":
        sys.exit(wait(sys.argv[2], float(sys.argv[3])))
    sys.exit(verify(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]))
