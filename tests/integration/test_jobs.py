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
    new call;
  - a replica site whose cluster cannot be reached (the simulator's
    `unreachable` fault: every call and read on that side fails as a lost
    connection does) does not stop the service's start; a run retries it as
    max_attempts says and succeeds when it answers again within them, or
    fails, saying why, when it does not, and the operator's next run
    succeeds once it is back; no call that failed to reach it is counted."""
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

    def fault_uses(self):
        return simstate.load(os.path.join(self.dir, "sim-state.json"))["fault_uses"]

    def test_an_unreachable_replica_that_comes_back_within_the_attempts(self):
        # two operations on B fail: the pre-check's read and the first call
        self.write_config("300ms", "5m", ["unreachable: B, times: 2"])
        self.start()
        self.force_failover("a-db")
        done = self.wait_outcome("succeeded", "a-db")[0]
        retries = [o["message"] for o in self.outcomes("progress", "a-db")
                   if "retrying" in o["message"]]
        self.assertEqual(len(retries), 1, self.outcomes(collection="a-db"))
        self.assertIn("could not be reached", retries[0])
        self.assertEqual(self.outcomes("failed", "a-db"), [])
        self.assertIn("accepted (attempt 2", " ".join(
            o["message"] for o in self.outcomes("job_started", "a-db")), done)
        self.assertEqual(self.fault_uses(), [2])
        self.assertEqual(sgtest.sim_calls(self.dir, A_DB), (1, 1))
        self.assertEqual(self.sim_state(A_DB), "failed over")

    def test_an_unreachable_replica_fails_the_run_and_the_next_one_succeeds_once_back(self):
        # B fails 8 operations: `points` (1); then the run's pre-check read (2)
        # and three attempts, each a call and a read of the state (3-8)
        self.write_config("300ms", "5m", ["unreachable: B, times: 8"])
        self.start()  # the service starts while B cannot be reached
        r = sgtest.ctl_ipc(self.dir, "points", "a-db")
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn("could not be reached", r.stderr)
        self.force_failover("a-db")
        failed = self.wait_outcome("failed", "a-db")
        self.assertEqual(len(failed), 1, failed)
        self.assertIn("could not be reached", failed[0]["message"])
        self.assertEqual(self.fault_uses(), [8], self.svc.output()[-3000:])
        self.assertEqual(sgtest.sim_calls(self.dir, A_DB), (0, 0))
        self.assertEqual(self.sim_state(A_DB), "replicating")
        # B answers again: the operator's next run fails the collection over
        r = sgtest.ctl_ipc(self.dir, "points", "a-db")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.force_failover("a-db")
        done = self.wait_outcome("succeeded", "a-db")
        self.assertEqual(len(done), 1, done)
        self.assertNotEqual(done[0]["run_id"], failed[0]["run_id"])
        self.assertEqual(sgtest.sim_calls(self.dir, A_DB), (1, 1))
        self.assertEqual(self.sim_state(A_DB), "failed over")


if __name__ == "__main__":
    unittest.main()
