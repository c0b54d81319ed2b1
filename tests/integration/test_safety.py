"""Safety, end to end: a real siteguard on the simulator, its sites heard
through real sg-probe processes (and a Python witness where its clock must be
wrong), checked from outside: the jsonl sink, the journal, the simulator's
state file (which counts every call per collection), `siteguardctl` and
/metrics.

  - runs still queued in the executor when their lost site is heard again are
    cancelled, and InitiateFailover is called only for the runs that had
    started;
  - an operator's pause outlives a SIGKILL: after the restart the lost site's
    collections are blocked, nothing is called;
  - a witness whose clock is 4 s behind still votes, its offset is shown and
    announced;
  - a site dead before siteguard started is judged after the startup grace,
    and lost then, not before."""
import os
import re
import threading
import time
import unittest

import sgtest
from sgtest import Publisher, wait_for

HEAD = ("log_level: debug\n" + sgtest.bus_yaml("{port}")
        + sgtest.sites_yaml("probe-a@A", "probe-b@B", "{witness}@W")
        + sgtest.policy_yaml(mode="auto") + "{policy}"
        + sgtest.sim_provider_yaml("{job_duration}", "{dir}", workers="{workers}")
        + sgtest.journal_yaml("{dir}") + sgtest.jsonl_sink_yaml("{dir}/outcomes.jsonl")
        + sgtest.control_yaml("{dir}", readonly=True) + sgtest.metrics_yaml("{metrics_port}")
        + "collections:\n")


def guid(name):
    """The CollectionID in a collection's cim_path (unique per name)."""
    return "SAFETY-" + name


def collection_yaml(name, site, replica, group=0):
    return sgtest.collection_yaml(name, guid(name), site, replica, group=group)


class SkewedWitness:
    """A Python witness on its own thread: every 100 ms a witness round (a
    heartbeat and real reachability checks of A and B), every event stamped
    `skew_ms` in the past (its clock is behind). Only that thread touches the
    ZeroMQ socket."""

    def __init__(self, endpoint, observer, site_port, skew_ms):
        self.endpoint, self.observer, self.site_port = endpoint, observer, site_port
        self.skew_ms = skew_ms
        self.subscribed = threading.Event()
        self.stopping = threading.Event()
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        pub = Publisher(self.endpoint, self.observer, "W")
        pub.skew_ms = self.skew_ms
        try:
            pub.wait_subscribed(timeout_ms=20000)
            self.subscribed.set()
            while not self.stopping.is_set():
                sgtest.witness_round(pub, self.site_port)
                self.stopping.wait(0.1)  # the witness's own interval, not a synchronisation
        except Exception as e:  # reported by the test
            self.error = e
            self.subscribed.set()
        finally:
            pub.close()

    def stop(self):
        self.stopping.set()
        self.thread.join(10)


class Safety(unittest.TestCase):
    def setUp(self):
        sgtest.service_case(self)
        self.procs = []
        self.listeners = []
        self.witness = None
        self.svc = None
        self.incarnation = 0

    def tearDown(self):
        if self.witness:
            self.witness.stop()
        for p in reversed(self.procs):
            p.stop()
        for l in self.listeners:
            l.close()

    # ---- the service and its observers -------------------------------------------

    def write_config(self, collections, witness="probe-w", workers=2, job_duration="300ms",
                     policy=""):
        text = HEAD.format(port=self.port, dir=self.dir, metrics_port=self.metrics_port,
                           witness=witness, workers=workers, job_duration=job_duration,
                           policy=policy)
        sgtest.write_config(self.cfg, text + "".join(collections))
        check = sgtest.check_config(self.cfg)
        self.assertEqual(check.returncode, 0, check.stderr)

    def start_service(self):
        self.incarnation += 1
        self.svc = sgtest.start_service(
            self.cfg, os.path.join(self.dir, "siteguard-%d.log" % self.incarnation))
        self.procs.append(self.svc)
        wait_for(lambda: self.ctl("status", socket="control-ro.sock").returncode == 0,
                 what="the control socket")
        return self.svc

    def kill_service(self):
        self.svc.kill()
        self.procs.remove(self.svc)

    def start_probe(self, site):
        p = sgtest.start_probe(self.endpoint, "probe-" + site.lower(), site, self.site_port,
                               self.dir)
        self.procs.append(p)
        return p

    def stop_probe(self, probe):
        self.assertEqual(probe.stop(), 0, probe.output())
        self.procs.remove(probe)

    def wait_healthy(self):
        sgtest.wait_healthy(self.status)

    # ---- what can be seen from outside ------------------------------------------

    def ctl(self, *args, socket="control.sock"):
        return sgtest.ctl_ipc(self.dir, *args, socket=socket)

    def status(self):
        return sgtest.ctl_status(self.dir, socket="control-ro.sock")

    def site_state(self, site):
        return next(s["state"] for s in self.status()["sites"] if s["name"] == site)

    def scrape(self):
        samples = {}
        for line in sgtest.metrics_text(self.metrics_port).splitlines():
            m = re.fullmatch(r'([a-z_]+)(\{[^}]*\})? (\S+)', line)
            if m:
                samples[m.group(1) + (m.group(2) or "")] = float(m.group(3))
        return samples

    def outcomes(self, kind=None, collection=None):
        return sgtest.outcomes(self.dir, kind, collection)

    def sim_calls(self, name, method="InitiateFailover"):
        """(calls, accepted) of `method` on collection `name`, counted by the
        simulator; (0, 0) while it has saved no state."""
        return sgtest.sim_calls(self.dir, guid(name) + '"', method) or (0, 0)

    def journal_runs(self):
        return self.journal("SELECT * FROM runs ORDER BY run_id")

    def journal_table(self, table):
        return self.journal("SELECT * FROM %s" % table)

    def journal(self, sql):
        return sgtest.query(os.path.join(self.dir, "journal.db"), sql, dicts=True)

    def log_tail(self):
        return self.svc.output()[-4000:] if self.svc else ""

    # ---- the tests -----------------------------------------------------------------

    def test_queued_runs_are_cancelled_when_the_site_is_heard_again(self):
        # eight collections of A in one plan group, two workers, jobs of 5 s:
        # two runs are called at once, six wait in the executor's queue
        names = ["a%02d" % i for i in range(8)]
        self.write_config([collection_yaml(n, "A", "B") for n in names], workers=2,
                          job_duration="5s")
        self.start_service()
        probe_a = self.start_probe("A")
        self.start_probe("B")
        self.start_probe("W")
        self.wait_healthy()

        self.stop_probe(probe_a)
        decided = wait_for(lambda: (lambda d: d if len(d) == len(names) else None)(
            self.outcomes("decision")), what="every collection of A decided")
        started = wait_for(lambda: (lambda s: s if len(s) == 2 else None)(
            self.outcomes("job_started")), what="the first two jobs started")
        self.assertEqual(self.site_state("A"), "lost")
        lost = self.outcomes("site_lost")
        self.assertEqual([o["site"] for o in lost], ["A"])

        # A is heard again while the first two jobs still run: the queued runs
        # are taken back, none of them reaches the provider
        self.start_probe("A")
        cancelled = wait_for(lambda: (lambda c: c if len(c) == len(names) - 2 else None)(
            self.outcomes("cancelled")), what="the queued runs cancelled", timeout=20)
        called = {o["collection"] for o in started}
        self.assertEqual(len(called), 2)
        self.assertEqual({o["collection"] for o in cancelled}, set(names) - called)
        for o in cancelled:
            self.assertEqual(o["site"], "A")
            self.assertIn("not called", o["message"])
            self.assertEqual(o["severity"], "warning")
        # the two jobs already started are followed to their end
        wait_for(lambda: len(self.outcomes("succeeded")) == 2, what="the started jobs' end")
        self.assertEqual({o["collection"] for o in self.outcomes("succeeded")}, called)
        self.assertEqual(self.outcomes("failed"), [])

        # counted on the simulator's side: one accepted call per started run,
        # not a single call for the cancelled ones
        for n in names:
            self.assertEqual(self.sim_calls(n), (1, 1) if n in called else (0, 0), n)
        # the journal: the started runs ended failed over, the others ended
        # not carried out (-1), with no intent and no job
        runs = self.journal_runs()
        self.assertEqual(sorted(r["collection"] for r in runs), names)
        self.assertEqual({d["run_id"] for d in decided}, {r["run_id"] for r in runs})
        for r in runs:
            self.assertIsNotNone(r["ended_ms"], r)
            if r["collection"] in called:
                self.assertEqual(r["failed_over"], 1, r)
                self.assertIsNotNone(r["intent_ms"], r)
                self.assertIsNotNone(r["job_path"], r)
            else:
                self.assertEqual(r["failed_over"], -1, r)
                self.assertIsNone(r["intent_ms"], r)
                self.assertIsNone(r["job_path"], r)
        self.assertEqual({o["run_id"] for o in cancelled},
                         {r["run_id"] for r in runs if r["failed_over"] == -1})

        # A is no longer lost, as status and /metrics say
        self.assertIn(self.site_state("A"), ("recovering", "healthy"))
        m = wait_for(lambda: (lambda m: m if m.get('siteguard_runs_total{result="succeeded"}') == 2
                              else None)(self.scrape()), what="metrics of the runs")
        self.assertEqual(m['siteguard_site_state{site="A",state="lost"}'], 0)
        self.assertEqual(m['siteguard_runs_total{result="cancelled"}'], len(names) - 2)
        self.assertEqual(self.svc.stop(), 0, self.log_tail())

    def test_a_pause_survives_a_restart(self):
        names = ["a-db", "a-app"]
        self.write_config([collection_yaml("a-db", "A", "B", 0),
                           collection_yaml("a-app", "A", "B", 1),
                           collection_yaml("b-db", "B", "A", 0)])
        self.start_service()
        probe_a = self.start_probe("A")
        self.start_probe("B")
        self.start_probe("W")
        self.wait_healthy()
        reason = "storage work at A, ticket 4711"
        r = self.ctl("pause", "A", "--for", "30m", "--reason", reason)
        self.assertEqual(r.returncode, 0, r.stderr)

        # killed right after the operator was told the pause is in place: what
        # siteguard acknowledged must already be durable
        self.kill_service()
        audit, opstate = self.journal_table("audit"), self.journal_table("opstate")
        self.assertEqual([(a["command"], a["target"], a["result"].split(":")[0]) for a in audit],
                         [("pause", "A", "ok")])
        self.assertTrue(any(reason in o["json"] for o in opstate),
                        "the pause was acknowledged (and audited) but is not in the journal's "
                        "operator state after a SIGKILL: opstate rows %r" % opstate)
        self.start_service()
        self.assertIn("operator state restored from the journal", self.svc.output())
        colls = {c["name"]: c for c in self.status()["collections"]}
        for n in names:
            m = re.fullmatch(r"(\d+) s: (.*)", colls[n]["paused"])
            self.assertIsNotNone(m, colls[n])
            self.assertEqual(m.group(2), reason)
            # the deadline is the one set before the kill, not a new one
            self.assertTrue(1700 < int(m.group(1)) <= 1800, colls[n])
        self.assertEqual(colls["b-db"]["paused"], "")
        self.assertIn(reason, self.ctl("status").stdout)
        self.wait_healthy()  # the probes are heard by the new incarnation

        self.stop_probe(probe_a)
        wait_for(lambda: self.outcomes("site_lost"), what="A lost")
        blocked = wait_for(lambda: (lambda b: b if {o["collection"] for o in b} == set(names)
                                    else None)(self.outcomes("blocked")),
                           what="both collections of A held back")
        for o in blocked:
            self.assertIn("paused", o["message"])
            self.assertIn(reason, o["message"])
        self.assertEqual(self.site_state("A"), "lost")
        verdicts = {c["name"]: c["verdict"] for c in self.status()["collections"]}
        self.assertEqual(verdicts["a-db"], "blocked")
        m = wait_for(lambda: (lambda m: m if m.get('siteguard_blocked_total{guard="paused"}', 0) >= 1
                              else None)(self.scrape()), what="the paused guard in /metrics")
        self.assertEqual(m['siteguard_site_state{site="A",state="lost"}'], 1)
        self.assertEqual(self.outcomes("decision"), [])
        self.assertEqual(self.outcomes("job_started"), [])
        self.assertEqual(self.journal_runs(), [])
        for n in names + ["b-db"]:
            self.assertEqual(self.sim_calls(n), (0, 0), n)
        self.assertEqual(self.svc.stop(), 0, self.log_tail())

    def test_a_witness_with_a_skewed_clock_still_votes(self):
        self.write_config([collection_yaml("a-db", "A", "B")], witness="py-w")
        self.start_service()
        self.listeners.append(sgtest.listener(self.site_port["W"]))  # W is reachable
        probe_a = self.start_probe("A")
        self.start_probe("B")
        self.witness = SkewedWitness(self.endpoint, "py-w", self.site_port, skew_ms=4000)
        self.assertTrue(self.witness.subscribed.wait(30))
        self.assertIsNone(self.witness.error)
        self.wait_healthy()

        # its offset is measured and announced
        notice = wait_for(lambda: [o for o in self.outcomes("notice") if "py-w" in o["message"]],
                          what="a notice about the witness's clock")
        self.assertIn("clock", notice[0]["message"])
        self.assertIn("behind", notice[0]["message"])
        self.assertEqual(notice[0]["site"], "W")
        key = 'siteguard_observer_clock_offset_seconds{observer="py-w"}'
        offset = wait_for(lambda: self.scrape().get(key), what="the witness's clock offset")
        self.assertTrue(3.5 <= offset <= 4.5, offset)
        for probe in ("probe-a", "probe-b"):
            own = self.scrape().get('siteguard_observer_clock_offset_seconds{observer="%s"}'
                                    % probe)
            self.assertIsNotNone(own, probe)
            self.assertLess(abs(own), 1.0, probe)
        self.assertFalse([o for o in self.outcomes("notice") if "probe-" in o["message"]])

        # A falls silent: the witness's vote counts, A is lost and fails over
        self.stop_probe(probe_a)
        wait_for(lambda: self.outcomes("succeeded", "a-db"), what="a-db failed over")
        self.assertIsNone(self.witness.error)
        lost = self.outcomes("site_lost")
        self.assertEqual([o["site"] for o in lost], ["A"])
        self.assertIn("2 site(s) vote it down (B, W", lost[0]["message"])
        self.assertEqual(self.sim_calls("a-db"), (1, 1))
        self.assertTrue(3.5 <= self.scrape()[key] <= 4.5)
        self.witness.stop()
        self.witness = None
        self.assertEqual(self.svc.stop(), 0, self.log_tail())

    def test_a_site_dead_before_start_is_lost_after_the_startup_grace(self):
        grace_ms = 4000
        names = ["a-db", "a-app"]
        self.write_config([collection_yaml("a-db", "A", "B", 0),
                           collection_yaml("a-app", "A", "B", 1),
                           collection_yaml("b-db", "B", "A", 0)],
                          policy="  startup_grace: %dms\n" % grace_ms)
        # A's port is not listening: B's and the witness's checks say down
        self.assertFalse(sgtest.tcp_reachable(self.site_port["A"]))
        t0_wall = int(time.time() * 1000)
        t0 = time.monotonic()
        self.start_probe("B")
        self.start_probe("W")
        self.start_service()

        # within the grace A is unknown, never lost (checked only when the
        # answer surely came from within the grace)
        st = self.status()
        if time.monotonic() - t0 < grace_ms / 1000.0 - 0.5:
            self.assertEqual(self.site_state_of(st, "A"), "unknown", st)
        wait_for(lambda: self.site_state("B") == "healthy" and self.site_state("W") == "healthy",
                 what="B and W healthy")

        lost = wait_for(lambda: self.outcomes("site_lost"), what="A lost after the grace")
        self.assertEqual([o["site"] for o in lost], ["A"])
        self.assertGreaterEqual(lost[0]["time_ms"] - t0_wall, grace_ms,
                                "A was lost before the startup grace was over")
        self.assertIn("2 site(s) vote it down (B, W", lost[0]["message"])
        wait_for(lambda: len(self.outcomes("succeeded")) == len(names),
                 what="A's collections failed over")
        self.assertEqual({o["collection"] for o in self.outcomes("succeeded")}, set(names))
        for n in names:
            self.assertEqual(self.sim_calls(n), (1, 1), n)
        self.assertEqual(self.sim_calls("b-db"), (0, 0))
        self.assertEqual(self.site_state("A"), "lost")
        self.assertEqual(self.site_state("B"), "healthy")
        self.assertEqual(self.svc.stop(), 0, self.log_tail())

    @staticmethod
    def site_state_of(status, site):
        return next(s["state"] for s in status["sites"] if s["name"] == site)


if __name__ == "__main__":
    unittest.main(verbosity=2)
