"""Drills, end to end: a real siteguard on the simulator, its sites A and B
heard through real sg-probe processes, runs drills from its config (one at
start, as soon as its sites are heard healthy, one on a schedule), and the
reports reach the jsonl sink with per-collection steps, RTO/RPO and
objectives; afterwards every collection is back to replicating in the
simulator's state file."""
import json
import os
import unittest

import sgtest
from sgtest import free_port, wait_for

# part of the CONFIG template: braces doubled
DRILLS = """\
drills:
  - name: site-a
    plan: site A
    run_at_start: true
    objectives: {{rto: 1m, rpo: 1h}}
  - name: by-hand
    plan: site A
    objectives: {{rto: 1m, rpo: 1h}}
  - name: site-b
    schedule: '@every 2s'
    timezone: '+01:00'
    plan: site B
    objectives: {{rto: 100ms, rpo: 2h}}
"""

CONFIG = (sgtest.bus_yaml("{port}", max_age=None) + sgtest.sites_yaml("probe-a@A", "probe-b@B")
          + "collections:\n" + sgtest.collection_yaml("a-db", "a-db", "A", "B")
          + sgtest.collection_yaml("a-app", "a-app", "A", "B", group=1, depends_on="a-db")
          + sgtest.collection_yaml("b-db", "b-db", "B", "A",
                                   recovery_point="latest_app_consistent")
          + sgtest.sim_provider_yaml("300ms", "{dir}", kind=None) + DRILLS
          + sgtest.control_yaml("{dir}") + "metrics:\n  listen: 'off'\n"
          + sgtest.jsonl_sink_yaml("{dir}/outcomes.jsonl"))


class Drills(unittest.TestCase):
    def setUp(self):
        self.dir = sgtest.tempdir()
        cfg = os.path.join(self.dir, "siteguard.yaml")
        port = free_port()
        sgtest.write_config(cfg, CONFIG.format(port=port, dir=self.dir))
        check = sgtest.check_config(cfg)
        self.assertEqual(check.returncode, 0, check.stderr)
        self.svc = sgtest.start_service(cfg, os.path.join(self.dir, "siteguard.log"))
        self.probes = sgtest.start_probes(sgtest.tcp_endpoint(port), sgtest.site_ports("AB"),
                                          self.dir)

    def tearDown(self):
        self.svc.stop()
        for p in self.probes.values():
            p.stop()

    def reports(self):
        return {o["report"]["drill"]: o for o in sgtest.outcomes(self.dir, "drill_report")}

    def test_drills_from_the_config_run_and_report_to_the_sinks(self):
        try:
            got = wait_for(lambda: len(self.reports()) >= 2 and self.reports(), timeout=60,
                           what="two drill reports")
        except AssertionError:
            self.fail("no drill reports:\n" + self.svc.output()[-3000:])
        a = got["site-a"]
        self.assertEqual(a["severity"], "info")
        rep = a["report"]
        self.assertEqual(rep["trigger"], "at_start")
        self.assertEqual(rep["result"], "passed", json.dumps(rep))
        self.assertTrue(rep["objectives_met"])
        self.assertTrue(rep["cleanup_verified"])
        self.assertEqual([c["collection"] for c in rep["collections"]], ["a-db", "a-app"])
        for c in rep["collections"]:
            self.assertEqual(c["site"], "A")
            self.assertEqual(c["replica_site"], "B")
            self.assertEqual([s["step"] for s in c["steps"]],
                             ["recovery_point", "TestReplicaCollection",
                              "RevertTestReplicaCollection", "verify"])
            self.assertTrue(all(s["result"] == "ok" for s in c["steps"]))
            self.assertGreaterEqual(c["rto_ms"], 300)
            self.assertGreaterEqual(c["rpo_ms"], 5 * 60 * 1000)
            self.assertTrue(c["rto_met"] and c["rpo_met"])
            self.assertEqual(c["cleanup"], "verified")
        b = got["site-b"]["report"]
        self.assertEqual(b["trigger"], "schedule")
        self.assertEqual(b["result"], "objectives_missed")  # an RTO of 100 ms is not met
        self.assertEqual(got["site-b"]["severity"], "warning")
        (bdb,) = b["collections"]
        self.assertFalse(bdb["rto_met"])
        self.assertTrue(bdb["rpo_met"])
        self.assertIn("b-db:latest-app", bdb["recovery_point"])
        # the journal keeps the reports, and the simulator agrees: all replicating
        states = {c["path"]: c["state"] for c in sgtest.sim_collections(self.dir)}
        self.assertEqual(set(states.values()), {"replicating"}, states)


    def ctl(self, *args):
        return sgtest.ctl_ipc(self.dir, *args)

    def test_siteguardctl_runs_a_drill_and_shows_its_report(self):
        wait_for(lambda: "site-a" in self.reports(), timeout=60, what="the start-up drill")
        unknown = self.ctl("drill", "run", "no-such-drill")
        self.assertNotEqual(unknown.returncode, 0)
        self.assertIn("no-such-drill", unknown.stderr + unknown.stdout)

        def started():  # refused (with the reason) while the scheduled drill runs
            r = self.ctl("drill", "run", "by-hand")
            return r.returncode == 0 and r
        r = wait_for(started, timeout=60, what="the drill by hand to start")
        self.assertIn("by-hand started", r.stdout + r.stderr)
        wait_for(lambda: "by-hand" in self.reports(), timeout=60, what="its report in the sink")
        self.assertEqual(self.reports()["by-hand"]["report"]["result"], "passed")
        shown = self.ctl("drill", "report")
        self.assertEqual(shown.returncode, 0, shown.stderr)
        self.assertIn("\"drill\"", shown.stdout)
        listed = self.ctl("history")
        self.assertIn("drill run", listed.stdout)
        self.assertIn("by-hand", listed.stdout)


if __name__ == "__main__":
    unittest.main()
