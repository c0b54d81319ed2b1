"""The durable outbox end to end: the real siteguard with two webhook sinks
posting to two recording HTTP servers on 127.0.0.1. Site A is lost and its
collections fail over while one receiver answers 500 (an outage, shortened
by the sinks' retry config: 100 ms to 1 s backoff, no practical limit).

Checked on the receivers' side, by dedup key: the healthy sink gets every
notice while the other is down; once the outage ends the other gets every
notice exactly once; and after a SIGKILL in the middle of the storm (the
failing sink still down) and a restart, nothing is lost and nothing the
sinks had received is sent to them again. And the outbox's depth, as
/metrics shows it, is the outbox's own count across a restart."""
import json
import os
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import sgtest
from sgtest import free_port

N = 12  # collections of site A

CONFIG = ("log_level: debug\nplugin_dir: {plugins}\n" + sgtest.bus_yaml("{port}")
          + sgtest.THREE_SITES_YAML
          + sgtest.policy_yaml("200ms", "500ms", recover_after=None, mode="auto")
          + sgtest.sim_provider_yaml("{job_ms}ms", "{dir}", call_latency="5ms", workers=3)
          + sgtest.journal_yaml("{dir}") + "{metrics}" + """sinks:
  - name: healthy
    plugin: webhook
    retry: {{initial: 100ms, max: 1s, limit: 1000000}}
    options:
      url: http://127.0.0.1:{healthy}/hook
      timeout: 2s
  - name: flaky
    plugin: webhook
    retry: {{initial: 100ms, max: 1s, limit: 1000000}}
    options:
      url: http://127.0.0.1:{flaky}/hook
      timeout: 2s
collections:
{collections}""")


def collections_yaml():
    return "".join(sgtest.collection_yaml("c%02d" % i, "C-%02d" % i, "A", "B") for i in range(N))


class Receiver:
    """Records every POST with the time it came; answers 500 while `down`.
    While held, a POST waits unanswered until release(), then gets 503: it
    was never accepted, so sending it again is no duplicate."""

    def __init__(self):
        self.lock = threading.Lock()
        self.log = []  # (monotonic time, status, document)
        self.down = False
        self.open = threading.Event()
        self.open.set()
        rec = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if not rec.open.is_set():
                    rec.open.wait()
                    with rec.lock:
                        rec.log.append((time.monotonic(), 503, json.loads(body)))
                    try:
                        self.send_response(503)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                    except OSError:
                        pass  # the sender is gone
                    return
                with rec.lock:
                    status = 500 if rec.down else 200
                    rec.log.append((time.monotonic(), status, json.loads(body)))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def hold(self):
        self.open.clear()

    def release(self):
        self.open.set()

    def accepted(self):
        """The documents answered 200, in order."""
        with self.lock:
            return [d for _, status, d in self.log if status == 200]

    def keys(self):
        return [d["dedup_key"] for d in self.accepted()]

    def refused(self):
        with self.lock:
            return sum(1 for _, status, _ in self.log if status != 200)

    def close(self):
        self.release()
        self.server.shutdown()
        self.server.server_close()


def succeeded(docs):
    return {d["collection"] for d in docs if d["kind"] == "succeeded"}


class Outbox(unittest.TestCase):
    def setUp(self):
        self.dir = sgtest.tempdir()
        self.port = free_port()
        self.endpoint = sgtest.tcp_endpoint(self.port)
        self.healthy = Receiver()
        self.flaky = Receiver()
        self.svc = None
        self.pubs = []
        self.incarnation = 0

    def tearDown(self):
        self.close_pubs()
        if self.svc:
            self.svc.stop()
        self.healthy.close()
        self.flaky.close()

    def close_pubs(self):
        sgtest.close_all(self.pubs)
        self.pubs = []

    def start(self, job_ms, metrics_port=None):
        cfg = os.path.join(self.dir, "siteguard.yaml")
        sgtest.write_config(cfg, CONFIG.format(
            plugins=os.path.join(sgtest.BUILD, "plugins"), port=self.port, dir=self.dir,
            job_ms=job_ms, healthy=self.healthy.port, flaky=self.flaky.port,
            collections=collections_yaml(),
            metrics=sgtest.metrics_yaml(metrics_port) if metrics_port else ""))
        self.incarnation += 1
        self.svc = sgtest.start_service(
            cfg, os.path.join(self.dir, "siteguard-%d.log" % self.incarnation))
        self.close_pubs()
        self.pubs = sgtest.site_publishers(self.endpoint)
        self.a_until = time.monotonic() + 0.3  # A is heard briefly, then falls silent

    def drive(self):
        """One round of events: A beats until a_until; B and W beat and, once A
        is silent, report it unreachable."""
        sgtest.site_a_round(self.pubs, self.a_until)

    def drive_until(self, predicate, what, timeout=60):
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline or self.svc.p.poll() is not None:
                self.fail("timed out waiting for %s:\n%s" % (what, self.svc.output()[-4000:]))
            self.drive()
            time.sleep(0.05)

    def kill(self):
        self.svc.kill()
        self.svc = None

    def delivered(self, sink):
        """The dedup keys the journal marks delivered to `sink`."""
        rows = sgtest.query(os.path.join(self.dir, "journal.db"),
                            "SELECT o.dedup_key FROM outbox x JOIN outcomes o ON o.seq = x.seq "
                            "WHERE x.sink = ? AND x.state = 1", (sink,))
        return {k for (k,) in rows}

    def pending(self, sink):
        """How many notices the journal's outbox holds pending for `sink`."""
        rows = sgtest.query(os.path.join(self.dir, "journal.db"),
                            "SELECT count(*) FROM outbox WHERE sink = ? AND state = 0", (sink,))
        return rows[0][0]

    def assert_once_each(self, keys, who):
        dups = sorted({k for k in keys if keys.count(k) > 1})
        self.assertEqual(dups, [], "%s received these more than once" % who)

    def test_an_outage_of_one_sink_delays_only_it_and_loses_nothing(self):
        self.flaky.down = True
        self.start(job_ms=300)
        all_done = lambda: len(succeeded(self.healthy.accepted())) == N
        self.drive_until(all_done, "the healthy sink to hear every collection fail over")
        # the healthy sink had the whole storm while the other was down
        healthy_done = time.monotonic()
        self.assertEqual(self.flaky.accepted(), [])
        self.assertGreater(self.flaky.refused(), 0)
        healthy = self.healthy.keys()
        kinds = {d["kind"] for d in self.healthy.accepted()}
        self.assertTrue({"site_lost", "decision", "job_started", "succeeded"} <= kinds, kinds)
        self.flaky.down = False  # the outage ends
        self.drive_until(lambda: set(self.flaky.keys()) >= set(healthy),
                         "the failed sink to catch up")
        self.close_pubs()
        self.assertEqual(self.svc.stop(), 0, self.svc.output()[-3000:])
        self.svc = None
        # every notice reached the failed sink exactly once, nothing reached
        # the healthy one twice, and both have the same notices
        self.assert_once_each(self.flaky.keys(), "the failed sink")
        self.assert_once_each(self.healthy.keys(), "the healthy sink")
        self.assertEqual(set(self.flaky.keys()), set(self.healthy.keys()))
        # timelines: the healthy sink's last notice of the storm came before the
        # failed sink's first
        first_flaky = min(t for t, status, _ in self.flaky.log if status == 200)
        self.assertLess(healthy_done, first_flaky)

    def test_a_sigkill_mid_storm_loses_nothing_and_resends_nothing_delivered(self):
        self.flaky.down = True
        self.start(job_ms=1500)  # slow jobs: the storm is still going when killed

        def mid_storm():
            docs = self.healthy.accepted()
            return any(d["kind"] == "job_started" for d in docs) and len(succeeded(docs)) < N
        self.drive_until(mid_storm, "jobs to start")
        # Kill between two deliveries to the healthy sink: hold its next
        # POST unanswered, and wait until the journal marks every notice it
        # accepted as delivered. (A SIGKILL after an answer and before its
        # mark would send that notice again: at least once, by design.)
        self.healthy.hold()
        self.drive_until(lambda: set(self.healthy.keys()) <= self.delivered("healthy"),
                         "the healthy sink's deliveries to be journaled")
        self.kill()
        self.healthy.release()
        before_kill = self.healthy.keys()
        self.assertEqual(self.flaky.accepted(), [])
        self.assertLess(len(succeeded(self.healthy.accepted())), N, "killed after the storm")

        self.start(job_ms=1500)  # the failed sink is still down
        self.drive_until(lambda: len(succeeded(self.healthy.accepted())) == N,
                         "the storm to end after the restart")
        self.flaky.down = False
        healthy = self.healthy.keys()
        self.drive_until(lambda: set(self.flaky.keys()) >= set(healthy),
                         "the failed sink to catch up")
        self.close_pubs()
        self.assertEqual(self.svc.stop(), 0, self.svc.output()[-3000:])
        self.svc = None
        self.assert_once_each(self.healthy.keys(), "the healthy sink")
        self.assert_once_each(self.flaky.keys(), "the failed sink")
        self.assertTrue(set(before_kill) <= set(self.flaky.keys()),
                        "notices journaled before the kill reached the failed sink")
        self.assertEqual(set(self.flaky.keys()), set(self.healthy.keys()))
        self.assertEqual(succeeded(self.flaky.accepted()), {"c%02d" % i for i in range(N)})

    def test_outbox_depth_counts_the_notices_a_restart_finds_pending(self):
        """siteguard_outbox_depth and siteguard_notify_pending are read from
        the outbox: after a restart during an outage they show the notices
        that still wait (not 0), and 0 once the receiver is back."""
        metrics_port = free_port()
        self.flaky.down = True
        self.start(job_ms=300, metrics_port=metrics_port)
        self.drive_until(lambda: len(succeeded(self.healthy.accepted())) == N,
                         "the healthy sink to hear every collection fail over")
        self.close_pubs()
        depth = lambda sink: sgtest.metric(metrics_port, 'siteguard_outbox_depth{sink="%s"}' % sink)
        sgtest.wait_for(lambda: depth("flaky") == self.pending("flaky") > 0,
                        what="the depth of the failing sink to match its outbox")
        self.assertEqual(self.svc.stop(), 0, self.svc.output()[-3000:])
        self.svc = None
        left = self.pending("flaky")
        self.assertGreaterEqual(left, 3 * N)  # decision, job_started, succeeded of each

        self.start(job_ms=300, metrics_port=metrics_port)  # the receiver is still down
        self.close_pubs()
        sgtest.wait_for(lambda: depth("flaky") == self.pending("flaky"),
                        what="the depth after the restart to match the outbox")
        m = sgtest.metrics(metrics_port)
        self.assertGreaterEqual(m['siteguard_outbox_depth{sink="flaky"}'], left)
        self.assertEqual(m["siteguard_notify_pending"],
                         m['siteguard_outbox_depth{sink="flaky"}']
                         + m['siteguard_outbox_depth{sink="healthy"}'])
        self.assertEqual(self.flaky.accepted(), [])

        self.flaky.down = False  # the receiver is back
        sgtest.wait_for(lambda: depth("flaky") == 0 and self.pending("flaky") == 0,
                        what="the failing sink's outbox to empty")
        self.assertEqual(sgtest.metric(metrics_port, "siteguard_notify_pending"), 0)
        self.assertEqual(self.svc.stop(), 0, self.svc.output()[-3000:])
        self.svc = None
        self.assert_once_each(self.flaky.keys(), "the failed sink")
        self.assertTrue(set(self.healthy.keys()) <= set(self.flaky.keys()))


if __name__ == "__main__":
    unittest.main(verbosity=2)
