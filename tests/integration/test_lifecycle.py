"""The life cycle after a failover, end to end: a real siteguard on the
simulator (its state in a file), operated with siteguardctl, outcomes read
from the jsonl sink, steps from the journal.

  - failover, commit, reverse: the collection replicates the other way and
    siteguard protects it in that direction (explain says so, also after a
    restart); a drill tests it on its new replica side; a failover back
    runs on the old primary's side;
  - the same with a reload of the config before the reverse: the runners
    that keep the config they started with (failovers, drills) follow the
    new direction too, and a reload after it keeps the direction;
  - a revert, then a failover with an older recovery point chosen from
    `siteguardctl points`;
  - policy.after_failover.commit_after commits by itself;
  - a kill -9 while a commit's job runs: the restarted service follows the
    journaled job and calls CommitFailover once;
  - steps refused by their guards (not failed over; revert after commit)
    call nothing."""
import json
import os
import unittest

import sgtest
from sgtest import wait_for

A_DB = "11111111-0000-0000-0000-00000000000a"
A_APP = "11111111-0000-0000-0000-0000000000ab"

CONFIG = ("log_level: debug\n" + sgtest.bus_yaml("{port}", max_age=None)
          + sgtest.sites_yaml("probe-a@A", "probe-b@B", witness=False) + "collections:\n"
          + sgtest.collection_yaml("a-db", A_DB, "A", "B")
          + sgtest.collection_yaml("a-app", A_APP, "A", "B")
          + sgtest.policy_yaml(mode="auto")
          + "  after_failover:\n    commit_after: {commit_after}\n"
          + sgtest.sim_provider_yaml("{job_duration}", "{dir}")
          + sgtest.journal_yaml("{dir}") + sgtest.jsonl_sink_yaml("{dir}/outcomes.jsonl")
          + sgtest.control_yaml("{dir}")
          + "drills:\n  - name: a-db\n    collections: [a-db]\n")


class Lifecycle(unittest.TestCase):
    def setUp(self):
        sgtest.service_case(self)
        self.svc = None
        self.n_starts = 0
        self.probes = {}

    def tearDown(self):
        if self.svc:
            self.svc.stop()
        for p in self.probes.values():
            p.stop()

    def write_config(self, job_duration="300ms", commit_after="manual"):
        sgtest.write_config(self.cfg, CONFIG.format(port=self.port, dir=self.dir,
                                                    job_duration=job_duration,
                                                    commit_after=commit_after))

    def start(self):
        self.n_starts += 1
        self.svc = sgtest.start_service(
            self.cfg, os.path.join(self.dir, "siteguard-%d.log" % self.n_starts))
        wait_for(lambda: self.svc.p.poll() is not None
                 or sgtest.ctl_ipc(self.dir, "status").returncode == 0,
                 what="the control socket")
        self.assertIsNone(self.svc.p.poll(), self.svc.output()[-3000:])

    def ctl(self, *args, ok=True):
        r = sgtest.ctl_ipc(self.dir, *args)
        if ok:
            self.assertEqual(r.returncode, 0, "%s: %s %s" % (args, r.stdout, r.stderr))
        return r

    def outcomes(self, kind=None, collection=None):
        return sgtest.outcomes(self.dir, kind, collection)

    def wait_outcome(self, kind, collection, match="", timeout=30.0, count=1):
        def found():
            got = [o for o in self.outcomes(kind, collection) if match in o["message"]]
            return got if len(got) >= count else None
        return wait_for(found, timeout=timeout,
                        what=lambda: "%s outcome of %s with %r; the log ends:\n%s"
                        % (kind, collection, match, self.svc.output()[-3000:]))

    def sim(self, guid):
        return next(c for c in sgtest.sim_collections(self.dir) if guid in c["path"])

    def calls(self, guid, method):
        return sgtest.sim_calls(self.dir, guid, method)

    def failover(self, collection, *extra):
        self.ctl("failover", collection, "--force", "--reason", "test", *extra)

    def steps(self, collection):
        return sgtest.query(os.path.join(self.dir, "journal.db"),
                            "SELECT * FROM steps WHERE collection = ? ORDER BY step_id",
                            (collection,), dicts=True, timeout=5)

    def test_failover_commit_reverse_drill_and_failover_back(self):
        self.write_config()
        self.start()
        self.failover("a-db")
        self.wait_outcome("succeeded", "a-db")
        self.ctl("commit", "a-db", "--reason", "site A is gone for days")
        done = self.wait_outcome("lifecycle", "a-db", "CommitFailover of a-db on B succeeded")
        self.assertIn("asked by", done[0]["message"])
        self.assertEqual(self.sim(A_DB)["state"], "committed")
        self.ctl("reverse", "a-db", "--reason", "protect it from B")
        self.wait_outcome("lifecycle", "a-db",
                          "ReverseReplicationRelationship of a-db on B succeeded")
        c = self.sim(A_DB)
        self.assertEqual(c["state"], "replicating")
        self.assertEqual((c.get("primary"), c.get("replica")), ("B", "A"))
        explain = self.ctl("explain", "a-db").stdout
        self.assertIn("(B -> A, reversed", explain)
        self.assertEqual([(s["action"], s["ok"]) for s in self.steps("a-db")],
                         [("commit", 1), ("reverse", 1)])
        # the direction outlives a restart
        self.svc.stop()
        self.start()
        self.assertIn("(B -> A, reversed", self.ctl("explain", "a-db").stdout)
        # a drill in the new direction tests it on A, its replica now; a
        # drill needs both sites heard healthy
        self.probes = sgtest.start_probes(sgtest.tcp_endpoint(self.port),
                                          sgtest.site_ports("AB"), self.dir)
        sgtest.wait_healthy(lambda: sgtest.ctl_status(self.dir), timeout=60)
        self.drill_and_failover_back()

    def drill_and_failover_back(self):
        """a-db, reversed (B -> A): a drill tests it on A, then a failover
        back, from B to A, succeeds; each the first since the reverse."""
        self.ctl("drill", "run", "a-db")
        rep = wait_for(lambda: [o["report"] for o in self.outcomes("drill_report")],
                       what="the drill's report")[0]
        self.assertEqual(rep["result"], "passed", json.dumps(rep))
        coll = rep["collections"][0]
        self.assertEqual((coll["site"], coll["replica_site"]), ("B", "A"))
        self.assertTrue(rep["cleanup_verified"])
        self.failover("a-db")
        back = self.wait_outcome("succeeded", "a-db", count=2)
        self.assertEqual((back[-1]["site"], back[-1]["replica_site"]), ("B", "A"))
        self.assertEqual(self.outcomes("failed", "a-db"), [])
        self.assertEqual(self.sim(A_DB)["state"], "failed over")
        self.assertEqual(self.calls(A_DB, "InitiateFailover")[1], 2)

    def test_a_reverse_after_a_reload_is_followed_by_failovers_and_drills(self):
        self.write_config()
        self.start()
        self.probes = sgtest.start_probes(sgtest.tcp_endpoint(self.port),
                                          sgtest.site_ports("AB"), self.dir)
        sgtest.wait_healthy(lambda: sgtest.ctl_status(self.dir), timeout=60)
        self.failover("a-db")
        self.wait_outcome("succeeded", "a-db")
        self.ctl("commit", "a-db")
        self.wait_outcome("lifecycle", "a-db", "CommitFailover of a-db on B succeeded")
        self.ctl("reload")
        self.ctl("reverse", "a-db")
        self.wait_outcome("lifecycle", "a-db",
                          "ReverseReplicationRelationship of a-db on B succeeded")
        self.assertIn("(B -> A, reversed", self.ctl("explain", "a-db").stdout)
        self.ctl("reload")  # the file has A -> B: the direction in force is carried over
        self.assertIn("(B -> A, reversed", self.ctl("explain", "a-db").stdout)
        self.drill_and_failover_back()

    def test_revert_then_failover_with_an_older_point(self):
        self.write_config()
        self.start()
        self.failover("a-db")
        self.wait_outcome("succeeded", "a-db")
        self.ctl("revert", "a-db", "--reason", "the latest point is corrupt")
        self.wait_outcome("lifecycle", "a-db", "RevertFailover of a-db on B succeeded")
        self.assertEqual(self.sim(A_DB)["state"], "replicating")
        out = json.loads(self.ctl("--json", "points", "a-db").stdout)
        points = out["points"] if isinstance(out, dict) else out
        self.assertGreaterEqual(len(points), 2, out)
        older = points[-1]
        self.failover("a-db", "--point", older["id"])
        again = self.wait_outcome("succeeded", "a-db", count=2)
        self.assertIn(older["id"], again[-1].get("recovery_point", ""))
        self.assertEqual(self.calls(A_DB, "RevertFailover"), (1, 1))
        self.assertEqual(self.calls(A_DB, "InitiateFailover")[1], 2)

    def test_the_policy_commits_after_commit_after(self):
        self.write_config(commit_after="1s")
        self.start()
        self.failover("a-app")
        self.wait_outcome("succeeded", "a-app")
        done = self.wait_outcome("lifecycle", "a-app", "CommitFailover of a-app on B succeeded")
        self.assertIn("after_failover.commit_after", done[0]["message"])
        self.assertEqual(self.sim(A_APP)["state"], "committed")
        self.assertEqual(self.calls(A_APP, "CommitFailover"), (1, 1))

    def test_a_commit_interrupted_by_a_crash_is_followed_not_called_again(self):
        self.write_config(job_duration="4s")
        self.start()
        self.failover("a-db")
        self.wait_outcome("succeeded", "a-db", timeout=60)
        self.ctl("commit", "a-db")
        wait_for(lambda: (lambda s: s and s[-1]["job_path"])(self.steps("a-db")),
                 what="the commit's job journaled")
        self.svc.kill()
        self.svc = None
        self.assertIsNone(self.steps("a-db")[-1]["ended_ms"])
        self.start()
        self.wait_outcome("lifecycle", "a-db", "CommitFailover of a-db on B succeeded",
                          timeout=60)
        self.assertEqual(self.calls(A_DB, "CommitFailover"), (1, 1))
        self.assertEqual(self.sim(A_DB)["state"], "committed")

    def test_steps_refused_by_their_guards_call_nothing(self):
        self.write_config()
        self.start()
        r = self.ctl("commit", "a-app", ok=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("not failed over", r.stdout + r.stderr)
        self.failover("a-app")
        self.wait_outcome("succeeded", "a-app")
        self.ctl("commit", "a-app")
        self.wait_outcome("lifecycle", "a-app", "succeeded")
        self.ctl("revert", "a-app")
        failed = self.wait_outcome("lifecycle", "a-app", "RevertFailover not called")
        self.assertIn("committed", failed[0]["message"])
        self.assertEqual(self.calls(A_APP, "RevertFailover"), (0, 0))
        self.assertEqual(self.steps("a-app")[-1]["ok"], 0)


if __name__ == "__main__":
    unittest.main()
