"""A storm of 2,000 collections, not timed: the real siteguard on the
simulator, a real sg-probe per site at 200 ms with `suspect_after: 1s`, the
journal and a jsonl sink on disk. A's probe stops; A's 1,000 collections
fail over in five plan groups while B's and W's probes go on. Each of A's
collections is failed over once, B's none, and no healthy site is ever
suspect: the loop serves the bus throughout the storm (its work per turn
does not grow with the collections in flight). The status then reports the
loop's turns and its longest."""
import os
import time
import unittest

import sgtest

N = 2000  # half at A, half at B
GROUPS = 5


def config(d, port, metrics_port):
    per_site = N // 2
    colls = "".join(sgtest.collection_yaml(
        "c%04d" % i, "%08x-0000-0000-0000-%012x" % (i, i), *(("A", "B") if i < per_site
                                                             else ("B", "A")),
        group=(i % per_site) * GROUPS // per_site) for i in range(N))
    return ("log_level: info\n" + sgtest.bus_yaml(port)
            + sgtest.sites_yaml("probe-a@A", "probe-b@B", "probe-w@W") + "collections:\n" + colls
            + sgtest.policy_yaml("1s", "3s", "30s")
            + sgtest.sim_provider_yaml("200ms", call_latency="5ms", workers=100)
            + sgtest.journal_yaml(d) + sgtest.jsonl_sink_yaml(d + "/outcomes.jsonl")
            + sgtest.control_yaml(d) + sgtest.metrics_yaml(metrics_port))


class Storm(unittest.TestCase):
    def setUp(self):
        sgtest.service_case(self)
        sgtest.write_config(self.cfg, config(self.dir, self.port, self.metrics_port))
        self.svc = sgtest.start_service(self.cfg, os.path.join(self.dir, "siteguard.log"))
        self.probes = {}
        sgtest.wait_for(lambda: sgtest.metric(self.metrics_port, "siteguard_events_received_total")
                        is not None or self.svc.p.poll() is not None, what="the service's /metrics")
        self.assertIsNone(self.svc.p.poll(), self.svc.output()[-2000:])

    def tearDown(self):
        for p in self.probes.values():
            p.stop()
        self.svc.stop()

    def journal(self, sql, params=()):
        return sgtest.query(os.path.join(self.dir, "journal.db"), sql, params)

    def failed_over(self, site):
        first, last = ("c0000", "c%04d" % (N // 2)) if site == "A" else ("c%04d" % (N // 2), "d")
        return self.journal("SELECT count(*) FROM runs WHERE failed_over = 1 AND collection >= ? "
                            "AND collection < ?", (first, last))[0][0]

    def probe_logs(self):
        return {s: p.output()[-600:] for s, p in self.probes.items()}

    def suspects(self):
        return [o for o in self.journal("SELECT kind, json FROM outcomes WHERE kind IN "
                                        "('site_suspect', 'site_lost')")]

    def test_no_healthy_site_is_suspect_during_a_storm(self):
        site_port = sgtest.site_ports()
        self.probes = sgtest.start_probes(sgtest.tcp_endpoint(self.port), site_port, self.dir,
                                          interval=200)
        sgtest.wait_for(lambda: sgtest.sites_healthy(sgtest.ctl_status(self.dir)), timeout=60,
                        what="every site healthy")
        stopped_ms = int(time.time() * 1000)
        self.probes["A"].stop()
        sgtest.wait_for(lambda: self.failed_over("A") == N // 2, timeout=240,
                        what="A's collections failed over")
        runs = self.journal("SELECT collection, count(*) FROM runs GROUP BY collection")
        self.assertEqual(len(runs), N // 2, "one run per collection of A, none for B")
        self.assertTrue(all(n == 1 for _, n in runs), [r for r in runs if r[1] != 1][:5])
        self.assertEqual(self.failed_over("B"), 0)
        # from the moment A's probe stopped (at start the probes check each
        # other's endpoints before all listen: a refused check is reported)
        found = [o for o in (sgtest.json.loads(j) for _, j in self.suspects())
                 if o["time_ms"] >= stopped_ms]
        sites = sorted((o["kind"], o.get("site")) for o in found)
        self.assertEqual(sites, [("site_lost", "A"), ("site_suspect", "A")],
                         [o["message"] for o in found] + [self.probe_logs()])
        status = sgtest.ctl_status(self.dir)
        self.assertTrue(sgtest.sites_healthy({"sites": [s for s in status["sites"]
                                                        if s["name"] != "A"]}))
        self.assertGreater(status["loop_turns"], 0)
        self.assertGreater(status["loop_longest_us"], 0)
        text = sgtest.metrics_text(self.metrics_port)
        for series in ("siteguard_event_age_seconds_count", "siteguard_loop_turn_seconds_count",
                       "siteguard_decision_to_call_seconds_count",
                       "siteguard_event_to_call_seconds_count"):
            self.assertIn(series, text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
