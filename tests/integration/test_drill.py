"""Drills, end to end: a real siteguard on the simulator, its sites A and B
heard through real sg-probe processes, runs drills from its config (one at
start, as soon as its sites are heard healthy, one on a schedule), and the
reports reach the jsonl sink with per-collection steps, RTO/RPO and
objectives; afterwards every collection is back to replicating in the
simulator's state file."""
import json
import os
import subprocess
import unittest

import sgtest
from sgtest import Proc, free_port, read_jsonl, wait_for

CONFIG = """\
bus:
  bind: [tcp://127.0.0.1:{port}]
""" + sgtest.sites_yaml("probe-a@A", "probe-b@B") + """collections:
  - name: a-db
    cim_path: 'Msvm_VirtualSystemCollection.InstanceID="a-db"'
    site: A
    replica_site: B
  - name: a-app
    cim_path: 'Msvm_VirtualSystemCollection.InstanceID="a-app"'
    site: A
    replica_site: B
    group: 1
    depends_on: [a-db]
  - name: b-db
    cim_path: 'Msvm_VirtualSystemCollection.InstanceID="b-db"'
    site: B
    replica_site: A
    recovery_point: latest_app_consistent
provider:
  poll_initial: 50ms
  poll_max: 200ms
  sim:
    call_latency: 10ms
    job_duration: 300ms
    state_file: {dir}/sim-state.json
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
control:
  endpoint: ipc://{dir}/control.sock
metrics:
  listen: 'off'
sinks:
  - name: outcomes
    plugin: jsonl
    options:
      path: {dir}/outcomes.jsonl
"""


class Drills(unittest.TestCase):
    def setUp(self):
        self.dir = sgtest.tempdir()
        cfg = os.path.join(self.dir, "siteguard.yaml")
        port = free_port()
        sgtest.write_config(cfg, CONFIG.format(port=port, dir=self.dir))
        check = subprocess.run([sgtest.SITEGUARD, "check-config", cfg], capture_output=True,
                               text=True)
        self.assertEqual(check.returncode, 0, check.stderr)
        self.svc = Proc([sgtest.SITEGUARD, "run", "-c", cfg],
                        os.path.join(self.dir, "siteguard.log"))
        endpoint = "tcp://127.0.0.1:%d" % port
        site_port = {"A": free_port(), "B": free_port()}
        self.probes = [sgtest.start_probe(endpoint, "probe-" + s.lower(), s, site_port, self.dir)
                       for s in ("A", "B")]

    def tearDown(self):
        self.svc.stop()
        for p in self.probes:
            p.stop()

    def reports(self):
        out = read_jsonl(os.path.join(self.dir, "outcomes.jsonl"))
        return {o["report"]["drill"]: o for o in out if o["kind"] == "drill_report"}

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
        with open(os.path.join(self.dir, "sim-state.json")) as f:
            state = json.load(f)
        states = {c["path"]: c["state"] for c in state["collections"]}
        self.assertEqual(set(states.values()), {"replicating"}, states)


    def ctl(self, *args):
        return subprocess.run([os.path.join(sgtest.BUILD, "siteguardctl"), "-s",
                               "ipc://" + os.path.join(self.dir, "control.sock")] + list(args),
                              capture_output=True, text=True, timeout=30)

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
