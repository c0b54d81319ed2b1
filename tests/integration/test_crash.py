"""The crash test: a failover storm of 200 collections on the simulator, the
real siteguard killed with SIGKILL at random moments and restarted, again and
again. The simulator's state (with its per-collection call counters) and the
journal live in files in the test's directory, so both outlive every kill.

After each storm: every collection is failed over in the simulator,
InitiateFailover was accepted exactly once per collection (and called once:
nothing was ever called again), each collection has one run in the journal,
ended and failed over, its terminal outcome is in the journal's outcome log,
and every outcome the sink received is in the outcome log too.

SG_CRASH_KILLS sets the number of kills (default 20; 200 in the `long`
ctest label); SG_CRASH_SEED the seed (printed either way)."""
import os
import random
import sqlite3
import time
import unittest

import sgtest
from sgtest import free_port, read_jsonl

N = 200
KILLS = int(os.environ.get("SG_CRASH_KILLS", "20"))
SEED = int(os.environ.get("SG_CRASH_SEED", str(int(time.time() * 1000) % 1000000)))

HEAD = ("log_level: info\n" + sgtest.bus_yaml("{port}") + sgtest.THREE_SITES_YAML
        + sgtest.policy_yaml("200ms", "500ms", recover_after=None, mode="auto")
        + sgtest.sim_provider_yaml("200ms", "{dir}", call_latency="5ms", workers=8,
                                   job_timeout="1m")
        + sgtest.journal_yaml("{dir}") + sgtest.jsonl_sink_yaml("{dir}/outcomes.jsonl")
        + "collections:\n")


def collections_yaml():
    """200 collections of A in four plan groups; every tenth depends on the
    one before it; every other one asks for the latest app-consistent point."""
    return "".join(sgtest.collection_yaml(
        "c%03d" % i, "C-%03d" % i, "A", "B", group=i // 50,
        depends_on="c%03d" % (i - 1) if i % 10 == 9 else None,
        recovery_point="latest_app_consistent" if i % 2 else None) for i in range(N))


class Storm:
    """One storm's directory, config and the files it checks."""

    def __init__(self, port):
        self.dir = sgtest.tempdir()
        self.port = port
        self.config = os.path.join(self.dir, "siteguard.yaml")
        sgtest.write_config(self.config, HEAD.format(port=port, dir=self.dir) + collections_yaml())
        self.incarnation = 0

    def journal_runs(self):
        path = os.path.join(self.dir, "journal.db")
        if not os.path.exists(path):
            return []
        try:
            return sgtest.query(path, "SELECT run_id, collection, intent_ms, job_path, "
                                "ended_ms, failed_over FROM runs")
        except sqlite3.OperationalError:
            return []  # the first incarnation died before creating the tables

    def ended(self):
        return sum(1 for r in self.journal_runs() if r[4] is not None and r[5] != -1)


class Crash(unittest.TestCase):
    def setUp(self):
        self.rng = random.Random(SEED)
        print("crash test: seed %d, %d kills (SG_CRASH_SEED=%d to repeat)" % (SEED, KILLS, SEED),
              flush=True)
        self.port = free_port()
        self.endpoint = sgtest.tcp_endpoint(self.port)
        self.pubs = []
        self.svc = None

    def tearDown(self):
        self.close_pubs()
        if self.svc:
            self.svc.stop()

    def close_pubs(self):
        sgtest.close_all(self.pubs)
        self.pubs = []

    def start(self, storm):
        """Starts an incarnation and its publishers; returns once subscribed."""
        storm.incarnation += 1
        log = os.path.join(storm.dir, "siteguard-%d.log" % storm.incarnation)
        self.svc = sgtest.start_service(storm.config, log)
        self.close_pubs()
        self.pubs = sgtest.site_publishers(self.endpoint)
        # A is heard briefly by the first incarnation, then falls silent for
        # good: later incarnations never hear it, and judge it once their
        # startup grace is over (the loss episode goes on across restarts)
        self.a_until = time.monotonic() + (0.3 if storm.incarnation == 1 else 0)

    def drive(self, seconds):
        """Publishes for `seconds`: A beats until a_until; B and the witness W
        beat and report A unreachable once A is silent."""
        end = time.monotonic() + seconds
        while True:
            now = time.monotonic()
            sgtest.site_a_round(self.pubs, self.a_until, now)
            if now >= end or self.svc.p.poll() is not None:
                return
            time.sleep(min(0.05, max(0.0, end - now)))

    def kill(self):
        self.svc.kill()
        self.svc = None

    def finish(self, storm):
        """A last incarnation runs the storm to its end and stops cleanly."""
        self.start(storm)
        deadline = time.monotonic() + 120
        while storm.ended() < N:
            if time.monotonic() > deadline or self.svc.p.poll() is not None:
                self.fail("storm did not end (%d of %d runs ended):\n%s"
                          % (storm.ended(), N, self.svc.output()[-4000:]))
            self.drive(0.2)
        self.close_pubs()
        self.assertEqual(self.svc.stop(), 0, self.svc.output()[-3000:])
        self.svc = None

    def verify(self, storm):
        colls = sgtest.sim_collections(storm.dir)
        self.assertEqual(len(colls), N)
        for c in colls:
            self.assertEqual(c["state"], "failed over", c["path"])
            self.assertEqual(c["accepted"].get("InitiateFailover"), 1,
                             "InitiateFailover accepted more than once: %s" % c)
            self.assertEqual(c["calls"].get("InitiateFailover"), 1,
                             "InitiateFailover called again: %s" % c)
        all_runs = storm.journal_runs()
        # runs not carried out: decided but never started before a kill
        # (abandoned at the restart), or past their intent with no call
        # accepted and cancelled at their proof after a restart (the site not
        # yet proven lost again); the engine decides again either way
        abandoned = [r for r in all_runs if r[5] == -1]
        for run_id, coll, intent, job, ended, failed_over in abandoned:
            self.assertIsNone(job, coll)
            self.assertIsNotNone(ended, coll)
        runs = [r for r in all_runs if r[5] != -1]
        self.assertEqual(sorted(r[1] for r in runs), ["c%03d" % i for i in range(N)],
                         "one started run (one decision carried out) per collection")
        for run_id, coll, intent, job, ended, failed_over in runs:
            self.assertIsNotNone(intent, coll)
            self.assertIsNotNone(job, coll)
            self.assertIsNotNone(ended, coll)
            self.assertEqual(failed_over, 1, coll)
        logged = sgtest.query(os.path.join(storm.dir, "journal.db"),
                              "SELECT dedup_key, run_id, collection, kind FROM outcomes")
        keys = {k for k, _, _, _ in logged}
        terminal = {(r, c) for _, r, c, kind in logged if kind == "succeeded"}
        for run_id, coll, *_ in runs:
            self.assertIn((run_id, coll), terminal, "terminal outcome of %s in the log" % coll)
        sent = read_jsonl(os.path.join(storm.dir, "outcomes.jsonl"))
        self.assertTrue(sent)
        for o in sent:
            self.assertIn(o["dedup_key"], keys, "every outcome delivered is in the outcome log")

    def test_kills_at_random_moments_lose_nothing_and_start_nothing_twice(self):
        kills = 0
        storms = 0
        while kills < KILLS:
            storm = Storm(self.port)
            storms += 1
            while kills < KILLS and storm.ended() < N:
                self.start(storm)
                self.drive(self.rng.uniform(0.02, 1.2))
                if self.svc.p.poll() is not None:
                    self.fail("siteguard exited by itself:\n" + self.svc.output()[-4000:])
                self.kill()
                kills += 1
            self.finish(storm)
            self.verify(storm)
            print("storm %d: %d collections failed over exactly once after %d incarnation(s); "
                  "%d kill(s) so far" % (storms, N, storm.incarnation, kills), flush=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
