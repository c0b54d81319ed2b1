"""Failover jobs that end in ways beyond Completed and Exception, end to end:
a real siteguard on the simulator (its state in a file), runs started with
`siteguardctl failover --force`, outcomes read from the jsonl sink, runs from
the journal.

  - a job that ends in JobState 32768 (Completed with warnings) is a
    successful end: the run is reported succeeded, the warning's text in its
    message;
  - a job that ended and was removed (Hyper-V deletes an ended job
    TimeBeforeRemoval after its end; the simulator's job_removal) while the
    service was down: the restarted service follows the journaled job, finds
    it gone, and ends the run by the collection's state (failed over:
    succeeded; back to replicating: failed, saying the job vanished), with no
    new call."""
import os
import time
import unittest

import sgtest
import simstate  # noqa: E402 (on the path sgtest sets)
from sgtest import wait_for

A_DB = "11111111-0000-0000-0000-00000000000a"
B_DB = "22222222-0000-0000-0000-00000000000b"

CONFIG = ("log_level: debug\n" + sgtest.bus_yaml("{port}", max_age=None)
          + sgtest.THREE_SITES_YAML + "collections:\n"
          + sgtest.collection_yaml("a-db", A_DB, "A", "B")
          + sgtest.collection_yaml("b-db", B_DB, "B", "A")
          + sgtest.policy_yaml(mode="auto")
          + sgtest.sim_provider_yaml("{job_duration}", "{dir}")
          # the provider block ends inside provider.sim: these lines are its own
          + "    job_removal: {job_removal}\n    faults:\n{faults}"
          + sgtest.journal_yaml("{dir}") + sgtest.jsonl_sink_yaml("{dir}/outcomes.jsonl")
          + sgtest.control_yaml("{dir}"))


class Jobs(unittest.TestCase):
    def setUp(self):
        sgtest.service_case(self)
        self.svc = None
        self.n_starts = 0

    def tearDown(self):
        if self.svc:
            self.svc.stop()

    def write_config(self, job_duration, job_removal, faults):
        sgtest.write_config(self.cfg, CONFIG.format(
            port=self.port, dir=self.dir, job_duration=job_duration, job_removal=job_removal,
            faults="".join("      - {%s}\n" % f for f in faults)))

    def start(self):
        """Starts the service; returns once its control socket answers."""
        self.n_starts += 1
        self.svc = sgtest.start_service(
            self.cfg, os.path.join(self.dir, "siteguard-%d.log" % self.n_starts))
        wait_for(lambda: self.svc.p.poll() is not None
                 or sgtest.ctl_ipc(self.dir, "status").returncode == 0,
                 what="the control socket")
        self.assertIsNone(self.svc.p.poll(), self.svc.output()[-3000:])

    def force_failover(self, collection):
        r = sgtest.ctl_ipc(self.dir, "failover", collection, "--force", "--reason", "test")
        self.assertEqual(r.returncode, 0, r.stderr)

    def outcomes(self, kind=None, collection=None):
        return sgtest.outcomes(self.dir, kind, collection)

    def wait_outcome(self, kind, collection, timeout=30.0):
        return wait_for(lambda: self.outcomes(kind, collection), timeout=timeout,
                        what=lambda: "a %s outcome of %s; the log ends:\n%s"
                        % (kind, collection, self.svc.output()[-3000:]))

    def journal_run(self, collection):
        """The run of `collection` in the journal, as a dict, or None."""
        path = os.path.join(self.dir, "journal.db")
        if not os.path.exists(path):
            return None
        rows = sgtest.query(path, "SELECT * FROM runs WHERE collection = ? ORDER BY run_id DESC "
                            "LIMIT 1", (collection,), dicts=True, timeout=5)
        return rows[0] if rows else None

    def sim_job(self, job_path):
        """The simulator's entry of the job at job_path."""
        jobs = simstate.load(os.path.join(self.dir, "sim-state.json"))["jobs"]
        return next(j for j in jobs if j["path"] == job_path)

    def sim_state(self, guid):
        return next(c["state"] for c in sgtest.sim_collections(self.dir) if guid in c["path"])

    def test_a_job_completed_with_warnings_is_reported_succeeded(self):
        self.write_config("300ms", "5m", ["collection: a-db, method: InitiateFailover, "
                                          "job_warnings: 'replica storage latency high'"])
        self.start()
        self.force_failover("a-db")
        done = self.wait_outcome("succeeded", "a-db")[0]
        self.assertEqual(done["job_state"], 32768, done)
        self.assertIn("completed with warnings", done["message"])
        self.assertIn("replica storage latency high", done["message"])
        self.assertEqual(self.outcomes("failed", "a-db"), [])
        self.assertEqual(self.sim_state(A_DB), "failed over")
        self.assertEqual(sgtest.sim_calls(self.dir, A_DB), (1, 1))
        run = self.journal_run("a-db")
        self.assertTrue(run["ended_ms"] and run["failed_over"] == 1, run)

    def test_a_job_removed_while_the_service_was_down_ends_the_run_by_state(self):
        # long jobs, so that both runs are still following theirs when killed;
        # b-db's job ends in Exception and its collection goes back to replicating
        self.write_config("5s", "1s", ["collection: b-db, method: InitiateFailover, "
                                       "job_error_code: 4711"])
        self.start()
        self.force_failover("a-db")
        self.force_failover("b-db")
        runs = wait_for(lambda: (lambda a, b: (a, b) if a and a["job_path"] and b
                                 and b["job_path"] else None)(self.journal_run("a-db"),
                                                              self.journal_run("b-db")),
                        what="both runs' jobs journaled")
        self.svc.kill()
        self.svc = None
        for run in runs:
            self.assertIsNone(run["ended_ms"], "the run ended before the kill: %s" % run)
        # the jobs end, and are removed job_removal (1 s) after their end, while
        # the service is down
        for run in runs:
            job = self.sim_job(run["job_path"])
            gone_ms = job["start_wall_ms"] + job["duration_ms"] + 1000
            wait_for(lambda: time.time() * 1000 > gone_ms, timeout=60,
                     what="job %s removed" % job["path"])
        self.start()
        a, b = runs
        done = self.wait_outcome("succeeded", "a-db")
        self.assertEqual([o["run_id"] for o in done], [a["run_id"]])
        self.assertIn("job is gone", done[0]["message"])
        self.assertIn("failed over", done[0]["message"])
        failed = self.wait_outcome("failed", "b-db")
        self.assertEqual([o["run_id"] for o in failed], [b["run_id"]])
        self.assertIn("vanished", failed[0]["message"])
        self.assertIn("replicating", failed[0]["message"])
        # nothing was called again: the state decided
        self.assertEqual(sgtest.sim_calls(self.dir, A_DB), (1, 1))
        self.assertEqual(sgtest.sim_calls(self.dir, B_DB), (1, 1))
        self.assertEqual(self.sim_state(A_DB), "failed over")
        self.assertEqual(self.sim_state(B_DB), "replicating")
        wait_for(lambda: (lambda r: r and r["ended_ms"])(self.journal_run("a-db")),
                 what="a-db's run ended in the journal")
        self.assertEqual(self.journal_run("a-db")["failed_over"], 1)
        wait_for(lambda: (lambda r: r and r["ended_ms"])(self.journal_run("b-db")),
                 what="b-db's run ended in the journal")
        self.assertEqual(self.journal_run("b-db")["failed_over"], 0)


if __name__ == "__main__":
    unittest.main()
