"""The spine, end to end: real siteguard, real sg-probe processes and a
Python publisher on 127.0.0.1; site A is lost and its collections fail over
to B on the simulator; outcomes are read back from the jsonl sink."""
import json
import os
import subprocess
import time
import unittest

import sgtest
from sgtest import Publisher, free_port, wait_for

CONFIG = ("log_level: debug\n" + sgtest.bus_yaml("{port}", max_event_bytes=1024)
          + sgtest.sites_yaml("probe-a@A", "probe-b@B", "py-w@W") + "collections:\n"
          + sgtest.collection_yaml("a-app", "11111111-0000-0000-0000-00000000000a", "A", "B",
                                   group=1)
          + sgtest.collection_yaml("a-db", "11111111-0000-0000-0000-00000000000b", "A", "B",
                                   group=0)
          + sgtest.collection_yaml("a-web", "11111111-0000-0000-0000-00000000000c", "A", "B",
                                   group=2, depends_on="a-app")
          + sgtest.collection_yaml("b-db", "22222222-0000-0000-0000-00000000000b", "B", "A")
          + sgtest.policy_yaml(mode="{mode}")
          + sgtest.sim_provider_yaml("400ms", "{dir}", workers=2)
          + sgtest.jsonl_sink_yaml("{dir}/outcomes.jsonl"))


class Spine(unittest.TestCase):
    def setUp(self):
        self.dir = sgtest.tempdir()
        self.port = free_port()
        self.endpoint = sgtest.tcp_endpoint(self.port)
        # each site's reachable endpoint, which the other sites' probes check
        self.site_port = sgtest.site_ports()
        self.procs = []
        self.listeners = []
        self.pub = None

    def tearDown(self):
        if self.pub:
            self.pub.close()
        for p in self.procs:
            p.stop()
        for l in self.listeners:
            l.close()

    def start_service(self, mode="auto"):
        cfg = os.path.join(self.dir, "siteguard.yaml")
        sgtest.write_config(cfg, CONFIG.format(port=self.port, dir=self.dir, mode=mode))
        check = sgtest.check_config(cfg)
        self.assertEqual(check.returncode, 0, check.stderr)
        self.stats = os.path.join(self.dir, "stats.json")
        svc = sgtest.start_service(cfg, os.path.join(self.dir, "siteguard.log"),
                                   "--stats", self.stats)
        self.procs.append(svc)
        return svc

    def start_probe(self, observer, site):
        p = sgtest.start_probe(self.endpoint, observer, site, self.site_port, self.dir)
        self.procs.append(p)
        return p

    def outcomes(self, kind=None):
        return sgtest.outcomes(self.dir, kind)

    def send_bad_input(self, pub):
        """One message per drop reason; returns the expected counts. (A frame
        over max_event_bytes is not among them: libzmq disconnects its
        sender before it is read, test_bus_security.py.)"""
        pub.send("heartbeat", b"\xff\x00garbage")                         # malformed
        pub.sock.send(b"heartbeat")                                        # one frame: malformed
        ev = pub.event(observer="nobody")                                  # unknown observer
        ev.heartbeat.interval_ms = 100
        pub.send("heartbeat", ev)
        ev = pub.event(schema=2)                                           # newer schema
        ev.heartbeat.interval_ms = 100
        pub.send("heartbeat", ev)
        ev = pub.event(sent_at_ms=int(time.time() * 1000) - 3600 * 1000)  # an hour old
        ev.heartbeat.interval_ms = 100
        pub.send("heartbeat", ev)
        dup = pub.heartbeat()
        pub.send("heartbeat", dup)                                         # same seq again
        ev = pub.event()                                                   # topic mismatch
        ev.heartbeat.interval_ms = 100
        pub.send("node", ev)
        return {"malformed": 3, "unknown_observer": 1, "schema": 1, "stale": 1,
                "duplicate": 1, "oversize": 0}

    def test_site_loss_fails_its_collections_over_in_plan_order(self):
        svc = self.start_service()
        probe_a = self.start_probe("probe-a", "A")
        self.start_probe("probe-b", "B")
        self.listeners.append(sgtest.listener(self.site_port["W"]))  # the witness is reachable
        self.pub = Publisher(self.endpoint, "py-w", "W")
        self.pub.wait_subscribed()
        expected_drops = self.send_bad_input(self.pub)
        # the witness keeps beating; A's probe is told to stop: A falls silent
        sgtest.witness_for(self.pub, self.site_port, 1.0)
        probe_a.stop()
        # the witness stays alive until A's collections are failed over
        failed_over = lambda: len(self.outcomes("succeeded")) >= 3
        sgtest.witness_until(self.pub, self.site_port, failed_over, 30,
                             "collections did not fail over", svc.output)

        out = self.outcomes()
        kinds = [o["kind"] for o in out]
        self.assertIn("site_suspect", kinds)
        lost = [o for o in out if o["kind"] == "site_lost"]
        self.assertEqual(len(lost), 1)
        self.assertEqual(lost[0]["site"], "A")
        self.assertEqual(lost[0]["severity"], "critical")
        self.assertIn("2 site(s) vote it down (B, W", lost[0]["message"])
        decisions = [o for o in out if o["kind"] == "decision"]
        self.assertEqual([d["collection"] for d in decisions], ["a-db", "a-app", "a-web"])
        for d in decisions:
            self.assertEqual(d["replica_site"], "B")
        # each collection: started, then succeeded, and the plan is respected
        idx = {}
        for i, o in enumerate(out):
            idx.setdefault((o.get("collection"), o["kind"]), i)
        for c in ("a-db", "a-app", "a-web"):
            self.assertLess(idx[(c, "decision")], idx[(c, "job_started")])
            self.assertLess(idx[(c, "job_started")], idx[(c, "succeeded")])
        self.assertLess(idx[("a-db", "succeeded")], idx[("a-app", "job_started")])
        self.assertLess(idx[("a-app", "succeeded")], idx[("a-web", "job_started")])
        self.assertTrue(any(o["kind"] == "progress" for o in out))
        self.assertNotIn("b-db", [o.get("collection") for o in out])
        keys = [o["dedup_key"] for o in out]
        self.assertEqual(len(keys), len(set(keys)), "dedup keys are unique")
        started = [o for o in out if o["kind"] == "job_started"]
        for s in started:
            self.assertIn("Msvm_ConcreteJob", s["job_path"])

        # the simulator's state (kept in its file) agrees
        with open(os.path.join(self.dir, "sim-state.json")) as f:
            state = f.read()
        self.assertIn("11111111-0000-0000-0000-00000000000b", state)

        self.pub.close()
        self.pub = None
        self.assertEqual(svc.stop(), 0, svc.output()[-3000:])
        with open(self.stats) as f:
            stats = json.load(f)
        for reason, n in expected_drops.items():
            self.assertEqual(stats["bus"]["dropped"][reason], n, reason)
        self.assertEqual(stats["runs"]["succeeded"], 3)
        self.assertEqual(stats["runs"]["failed"], 0)
        self.assertEqual(stats["notify"]["dead"], 0)
        self.assertEqual(stats["notify"]["delivered"], len(out))

    def test_shadow_mode_announces_and_calls_nothing(self):
        svc = self.start_service(mode="shadow")
        self.start_probe("probe-b", "B")
        self.start_probe("py-w", "W")
        # A is heard (its publisher knows the subscription is up), then falls
        # silent and its endpoint goes away
        site_a = sgtest.listener(self.site_port["A"])
        self.pub = Publisher(self.endpoint, "probe-a", "A")
        self.pub.wait_subscribed()
        for _ in range(5):
            self.pub.heartbeat()
        site_a.close()

        def blocked():
            b = [o for o in self.outcomes() if o["kind"] == "blocked"]
            return b if len(b) == 3 else None
        for b in wait_for(blocked, what="three blocked outcomes"):
            self.assertIn("shadow", b["message"])
            self.assertEqual(b["site"], "A")
        self.assertFalse(any(o["kind"] in ("decision", "job_started") for o in self.outcomes()))
        self.assertEqual(svc.stop(), 0, svc.output()[-3000:])
        with open(self.stats) as f:
            self.assertEqual(json.load(f)["runs"]["decisions"], 5)  # suspect, lost, 3 blocked

    def test_check_config_reports_file_line_and_column(self):
        cfg = os.path.join(self.dir, "bad.yaml")
        text = CONFIG.format(port=self.port, dir=self.dir, mode="auto")
        text = text.replace("  hold_down: 1500ms", "  hold_dwn: 1500ms").replace("replica_site: A", "replica_site: C")
        sgtest.write_config(cfg, text)
        r = sgtest.check_config(cfg)
        self.assertNotEqual(r.returncode, 0)
        lines = text.split("\n")
        hold = next(i for i, l in enumerate(lines) if "hold_dwn" in l) + 1
        repl = next(i for i, l in enumerate(lines) if "replica_site: C" in l) + 1
        self.assertIn("%s:%d:3:" % (cfg, hold), r.stderr)
        self.assertIn("hold_dwn", r.stderr)
        self.assertIn("%s:%d:" % (cfg, repl), r.stderr)
        r = subprocess.run([sgtest.SITEGUARD, "run", "-c", cfg], capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
