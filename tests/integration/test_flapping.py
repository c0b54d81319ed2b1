"""Quiet when nothing is wrong (issue 16): a site that flaps, end to end.

A real siteguard and a real sg-probe at each of A, B and W on 127.0.0.1, a
jsonl sink. Site A flaps: its probe is stopped (SIGSTOP) until siteguard has
recorded A suspect, then continued (SIGCONT) until it has recorded A healthy
again, FLAPS times in a row. Each step waits on what siteguard recorded (the
journal's outcome log keeps every site decision, held ones too), never on a
sleep, so a slow machine only makes the flaps slower.

Run twice: with `policy.flapping: off` (the old behaviour: every flap reaches
the sink as a site_suspect and site_recovered pair) and with a rule of 4
changes in 8 s: the sink gets the changes before the rule tipped, one
site_flapping notice when it did, and one when A has been steady for 8 s,
naming the changes held and the state A is in; the journal still records
every change; /metrics shows siteguard_site_flapping{site="A"} 1 while it is
held, 0 before and after. Prints the counts and durations of both runs."""
import json
import os
import re
import signal
import time
import unittest

import sgtest
from sgtest import wait_for

FLAPS = 15
WINDOW_S = 8

CONFIG = ("log_level: info\n" + sgtest.bus_yaml("{port}")
          + sgtest.sites_yaml("probe-a@A", "probe-b@B", "probe-w@W") + "collections:\n"
          + sgtest.collection_yaml("a-db", "11111111-0000-0000-0000-00000000000b", "A", "B")
          # hold_down long: a flap is a silence of a second; B and W still reach A (its
          # endpoint's backlog takes their checks while its probe is stopped): never lost
          + sgtest.policy_yaml("600ms", "10s", recover_after="2s", mode="shadow")
          + "  flapping: {flapping}\n"
          + sgtest.sim_provider_yaml("400ms", "{dir}") + sgtest.journal_yaml("{dir}")
          + sgtest.control_yaml("{dir}") + sgtest.metrics_yaml("{metrics_port}")
          + sgtest.jsonl_sink_yaml("{dir}/outcomes.jsonl"))

CHANGES = ("site_suspect", "site_recovered")


class Flapping(unittest.TestCase):
    def setUp(self):
        sgtest.service_case(self)
        self.procs = []
        self.probe_a = None
        self.before = set()  # dedup keys of A's changes before the flaps (a slow start's)

    def tearDown(self):
        if self.probe_a:
            self.probe_a.signal(signal.SIGCONT)  # a stopped process cannot end
        for p in reversed(self.procs):
            p.stop()

    # ---- what siteguard recorded and what the sink got ----------------------------

    def journal(self):
        """A's site changes since the flaps began in the journal's outcome log, in
        order: (kind, outcome)."""
        path = os.path.join(self.dir, "journal.db")
        if not os.path.exists(path):
            return []
        rows = sgtest.query(path, "SELECT kind, json FROM outcomes WHERE kind IN (?, ?) "
                            "ORDER BY seq", CHANGES)
        rows = [(k, json.loads(j)) for k, j in rows]
        return [(k, o) for k, o in rows if o.get("site") == "A" and o["dedup_key"] not in self.before]

    def recorded(self, kind):
        return sum(1 for k, _ in self.journal() if k == kind)

    def sink(self, kinds=CHANGES + ("site_flapping",)):
        """What the sink got about A since the flaps began."""
        return [o for o in sgtest.outcomes(self.dir) if o["kind"] in kinds and
                o.get("site") == "A" and o["dedup_key"] not in self.before]

    # ---- the run ------------------------------------------------------------------

    def start(self, flapping):
        sgtest.write_config(self.cfg, CONFIG.format(port=self.port, dir=self.dir,
                                                    metrics_port=self.metrics_port,
                                                    flapping=flapping))
        check = sgtest.check_config(self.cfg)
        self.assertEqual(check.returncode, 0, check.stderr)
        self.svc = sgtest.start_service(self.cfg, os.path.join(self.dir, "siteguard.log"))
        self.procs.append(self.svc)
        probes = sgtest.start_probes(self.endpoint, self.site_port, self.dir)
        self.procs.extend(probes.values())
        self.probe_a = probes["A"]
        wait_for(lambda: os.path.exists(os.path.join(self.dir, "control.sock")), timeout=30,
                 what=lambda: "the control socket:\n" + self.svc.output()[-3000:])
        sgtest.wait_healthy(lambda: sgtest.ctl_status(self.dir), timeout=60)
        self.before = {o["dedup_key"] for _, o in self.journal()}

    def flapping_metric(self, want):
        """Waits for /metrics to show A's flapping as `want` (0 or 1); B never."""
        series = 'siteguard_site_flapping{site="%s"}'
        wait_for(lambda: sgtest.metric(self.metrics_port, series % "A") == want, timeout=30,
                 what=lambda: "%s %d; the scrape has %s" % (
                     series % "A", want, sgtest.metric(self.metrics_port, series % "A")))
        self.assertEqual(sgtest.metric(self.metrics_port, series % "B"), 0)

    def flap(self):
        """FLAPS flaps of A, each step waiting for siteguard to record it; returns
        the seconds they took."""
        log = lambda: self.svc.output()[-3000:]
        t0 = time.monotonic()
        for i in range(1, FLAPS + 1):
            self.probe_a.signal(signal.SIGSTOP)
            wait_for(lambda: self.recorded("site_suspect") >= i, timeout=30,
                     what=lambda: "A suspect (flap %d):\n%s" % (i, log()))
            self.probe_a.signal(signal.SIGCONT)
            wait_for(lambda: self.recorded("site_recovered") >= i, timeout=30,
                     what=lambda: "A healthy again (flap %d):\n%s" % (i, log()))
        return time.monotonic() - t0

    def print_report(self, mode, flap_s, sink, journal, after_s):
        """One line of figures: the flaps and the seconds they took, the changes the
        journal recorded, what the sink got, and how long after the last flap the sink
        heard the last of it (with a rule: the end notice)."""
        count = lambda kind: sum(1 for o in sink if o["kind"] == kind)
        sgtest.bench_line("flapping", rule=mode, flaps=FLAPS, flap_seconds="%.1f" % flap_s,
                          journal_changes=len(journal), sink_suspect=count("site_suspect"),
                          sink_recovered=count("site_recovered"),
                          sink_flapping=count("site_flapping"),
                          seconds_to_quiet="%.1f" % after_s)
        for o in sink:
            if o["kind"] == "site_flapping":
                print("  %s: %s" % (o["dedup_key"], o["message"]), flush=True)

    # ---- the tests ----------------------------------------------------------------

    def test_off_every_flap_reaches_the_sink_as_a_pair(self):
        """The old behaviour, measured: flapping: off."""
        self.start("off")
        self.flapping_metric(0)
        flap_s = self.flap()
        self.flapping_metric(0)
        t0 = time.monotonic()
        # every change the journal has reaches the sink
        wait_for(lambda: len(self.sink()) >= len(self.journal()), timeout=30,
                 what=lambda: "the sink to get every change: %d of %d" % (
                     len(self.sink()), len(self.journal())))
        sink, journal = self.sink(), self.journal()
        self.print_report("off", flap_s, sink, journal, time.monotonic() - t0)
        self.assertEqual(sum(1 for o in sink if o["kind"] == "site_suspect"), FLAPS)
        self.assertEqual(sum(1 for o in sink if o["kind"] == "site_recovered"), FLAPS)
        self.assertFalse([o for o in sink if o["kind"] == "site_flapping"])
        self.assertFalse([o for _, o in journal if "held" in o])
        self.assertEqual(self.svc.stop(), 0, self.svc.output()[-3000:])

    def test_a_flapping_site_sends_one_notice_when_it_starts_and_one_when_it_ends(self):
        self.start("{changes: 4, window: %ds}" % WINDOW_S)
        self.flapping_metric(0)
        flap_s = self.flap()
        t0 = time.monotonic()
        self.flapping_metric(1)
        # steady: the end comes once A made no change for the window
        ended = lambda: [o for o in self.sink(("site_flapping",))
                         if o["dedup_key"].endswith("/ended")]
        wait_for(ended, timeout=WINDOW_S + 30,
                 what=lambda: "the end of A's flapping:\n" + self.svc.output()[-3000:])
        quiet_s = time.monotonic() - t0
        self.flapping_metric(0)
        sink, journal = self.sink(), self.journal()
        self.print_report("4_changes_in_%ds" % WINDOW_S, flap_s, sink, journal, quiet_s)

        # the journal still records every change; those after the rule tipped are held
        self.assertEqual(sum(1 for k, _ in journal if k == "site_suspect"), FLAPS)
        self.assertEqual(sum(1 for k, _ in journal if k == "site_recovered"), FLAPS)
        held = [o for _, o in journal if o.get("held") == "flapping"]
        announced = [o for _, o in journal if "held" not in o]
        self.assertEqual(len(held) + len(announced), 2 * FLAPS)
        self.assertLessEqual(len(announced), 4, "at most the rule's 4 changes go out")

        # the sink: the announced changes, one start, one end, in that order
        flapping = [o for o in sink if o["kind"] == "site_flapping"]
        self.assertEqual(len(flapping), 2, flapping)
        start, end = flapping
        self.assertTrue(start["dedup_key"].endswith("/started"), start)
        self.assertEqual(start["severity"], "warning")
        self.assertRegex(start["message"], r"^site A is flapping: 5 changes in %d s; its "
                         r"suspect/recovered notices are held until it is steady for %d s$"
                         % (WINDOW_S, WINDOW_S))
        self.assertTrue(end["dedup_key"].endswith("/ended"), end)
        self.assertEqual(end["severity"], "info")
        m = re.match(r"^site A stopped flapping \((\d+) changes held\); it is now healthy: no "
                     r"change for %d s$" % WINDOW_S, end["message"])
        self.assertIsNotNone(m, end["message"])
        self.assertEqual(int(m.group(1)), len(held))
        self.assertGreaterEqual(end["time_ms"] - held[-1]["time_ms"], WINDOW_S * 1000)
        changes = [o for o in sink if o["kind"] in CHANGES]
        self.assertEqual([o["dedup_key"] for o in changes],
                         [o["dedup_key"] for o in announced])
        self.assertEqual(sink.index(start), len(changes), "nothing of A between start and end")
        self.assertEqual(sink[-1], end)
        # the status, from the engine, was never changed: A is healthy
        self.assertTrue(sgtest.sites_healthy(sgtest.ctl_status(self.dir)))
        self.assertEqual(self.svc.stop(), 0, self.svc.output()[-3000:])


if __name__ == "__main__":
    unittest.main(verbosity=2)
