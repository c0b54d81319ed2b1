"""Checks the demo's outcome: every collection of the lost site failed over.

  demo_check.py wait OUTCOMES.jsonl SECONDS
      returns once every decided failover has ended (or the time is up)
  demo_check.py step OUTCOMES.jsonl COLLECTION METHOD SECONDS
      waits for the life-cycle step METHOD (CommitFailover, ...) of
      COLLECTION to end; prints its message; exit 0 when it succeeded
  demo_check.py verify CONFIG.yaml OUTCOMES.jsonl SIM-STATE.json SITE [REVERSED]
      prints a summary; exit 0 only if SITE was lost and every collection
      the config places there succeeded and is failed over in the
      simulator's state, but REVERSED (a collection name), which must have
      been committed and reversed: replicating from the other site
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


def step(path, collection, method, seconds):
    deadline = time.monotonic() + seconds
    prefix = "%s of %s " % (method, collection)
    while time.monotonic() < deadline:
        ends = [o for o in read(path) if o["kind"] == "lifecycle" and o.get("collection") == collection
                and o["message"].startswith(prefix) and " started " not in o["message"]]
        if ends:
            print("  " + ends[-1]["message"])
            return 0 if " succeeded: " in ends[-1]["message"] else 1
        time.sleep(0.2)
    print("  no end of %s after %s s" % (prefix.strip(), seconds))
    return 1


def reversed_ok(outcomes, states, c):
    """The collection was committed and reversed, and replicates again."""
    steps = [o["message"] for o in outcomes if o["kind"] == "lifecycle"
             and o.get("collection") == c["name"] and " succeeded: " in o["message"]]
    done = [m.split(" of ")[0] for m in steps]
    state = states.get(c["cim_path"], {})
    good = done == ["CommitFailover", "ReverseReplicationRelationship"] and \
        state.get("state") == "replicating" and state.get("primary") == c["replica_site"]
    print("  %-12s committed and reversed: %s (simulator: %s from %s)"
          % (c["name"], "yes" if good else "no (%s)" % ", ".join(done) or "no step",
             state.get("state"), state.get("primary")))
    return good


def verify(config_path, path, state_path, site, reversed_name=None):
    with open(config_path) as f:
        config = yaml.safe_load(f)
    expected = [c for c in config["collections"] if c["site"] == site]
    outcomes = read(path)
    lost = [o for o in outcomes if o["kind"] == "site_lost" and o["site"] == site]
    full = {c["path"]: c for c in simstate.load(state_path)["collections"]}
    states = {p: c["state"] for p, c in full.items()}
    ok = bool(lost) and bool(expected)
    print("site %s lost: %s" % (site, "yes" if lost else "no"))
    for c in expected:
        if c["name"] == reversed_name:
            ok = reversed_ok(outcomes, full, c) and ok
            continue
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
    if sys.argv[1] == "step":
        sys.exit(step(sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])))
    sys.exit(verify(*sys.argv[2:7]))
