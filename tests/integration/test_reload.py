"""A reload that rebuilds the sinks, end to end: the real siteguard, real
siteguardctl processes, sinks writing to files or POSTing to a Python
receiver on 127.0.0.1, and (for leader mode) a real etcd.

  - a leader whose sinks a reload rebuilds keeps delivering: an outcome after
    the reload reaches the new sink with no change of leadership;
  - a reload while a sink is inside a slow delivery (the receiver holds the
    POST) never blocks the loop: `siteguardctl reload`, `status` and /metrics
    answer well within the delivery's timeout, the held notice is delivered
    once by the old sink, and the new sink of the same name takes over only
    after the old one answered (one worker per sink at a time);
  - a sink that cannot be reopened refuses the reload with its reason, the
    old sinks keep delivering, and the service runs on (metrics ticks,
    status, a clean stop).

Outcomes come from forced manual failovers (`siteguardctl failover ... --force`)
on the simulator; no health events are needed."""
import json
import os
import subprocess
import threading
import time
import unittest

import sgtest
from sgtest import free_port, wait_for
from test_leader import Etcd

DELIVERY_TIMEOUT_S = 20  # the webhook's timeout; the receiver holds a POST up to this
PROMPT_S = DELIVERY_TIMEOUT_S / 4  # "promptly": well within one slow delivery

CONFIG = ("log_level: debug\n" + sgtest.bus_yaml("{bus_port}") + sgtest.THREE_SITES_YAML
          + sgtest.policy_yaml(mode="auto")
          + sgtest.sim_provider_yaml("100ms", "{dir}", call_latency="5ms")
          + sgtest.journal_yaml("{dir}") + sgtest.control_yaml("{dir}")
          + sgtest.metrics_yaml("{metrics_port}") + "{leader}{sinks}collections:\n"
          + "".join(sgtest.collection_yaml("c%d" % i, "R-%d" % i, "A", "B") for i in range(3)))

LEADER_YAML = """leader:
  mode: etcd
  name: solo
  etcd:
    endpoints: [http://127.0.0.1:{etcd_port}]
    key: /siteguard/leader
    ttl: 2s
    timeout: 500ms
"""


def jsonl_sinks_yaml(path):
    return sgtest.jsonl_sink_yaml(path)


def webhook_sinks_yaml(port, generation):
    """One webhook sink `hook`; its requests carry X-Gen: <generation>."""
    return ("sinks:\n  - name: hook\n    plugin: webhook\n"
            "    retry: {initial: 100ms, max: 500ms}\n    options:\n"
            "      url: http://127.0.0.1:%d/hook\n      timeout: %ds\n"
            "      headers: \"X-Gen: %d\"\n" % (port, DELIVERY_TIMEOUT_S, generation))


class Receiver:
    """Records every POST (arrival time, X-Gen, document, answered time).
    After hold(), the next POST is held unanswered (in_hand is set) until
    release() or DELIVERY_TIMEOUT_S, then answered 200."""

    def __init__(self):
        self.lock = threading.Lock()
        self.log = []  # dicts: arrived, gen, doc, answered
        self.holding = False
        self.in_hand = threading.Event()
        self.released = threading.Event()
        rec = self

        class Handler(sgtest.QuietHTTPHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                entry = {"arrived": time.monotonic(), "gen": self.headers.get("X-Gen"),
                         "doc": json.loads(body), "answered": None}
                with rec.lock:
                    rec.log.append(entry)
                    hold = rec.holding
                    rec.holding = False
                if hold:
                    rec.in_hand.set()
                    rec.released.wait(DELIVERY_TIMEOUT_S)
                self.answer(200)
                with rec.lock:
                    entry["answered"] = time.monotonic()

        self.server = sgtest.serve_http(Handler)
        self.port = self.server.server_address[1]

    def hold(self):
        with self.lock:
            self.holding = True

    def release(self):
        self.released.set()

    def entries(self):
        with self.lock:
            return [dict(e) for e in self.log]

    def close(self):
        self.release()
        self.server.shutdown()
        self.server.server_close()


class Reload(unittest.TestCase):
    def setUp(self):
        self.dir = sgtest.tempdir()
        self.cfg = os.path.join(self.dir, "siteguard.yaml")
        self.bus_port = free_port()
        self.metrics_port = free_port()
        self.svc = None
        self.etcd = None
        self.receiver = None

    def tearDown(self):
        if self.receiver:
            self.receiver.release()
        if self.svc:
            self.svc.stop()
        if self.receiver:
            self.receiver.close()
        if self.etcd:
            self.etcd.stop()

    # ---- the service ----------------------------------------------------------------

    def write_config(self, sinks, leader=""):
        sgtest.write_config(self.cfg, CONFIG.format(
            bus_port=self.bus_port, dir=self.dir, metrics_port=self.metrics_port,
            leader=leader, sinks=sinks))

    def start(self, sinks, leader=""):
        self.write_config(sinks, leader)
        self.svc = sgtest.start_service(self.cfg, os.path.join(self.dir, "siteguard.log"))
        wait_for(lambda: self.alive() and self.ctl("status").returncode == 0,
                 what="the control socket")

    def alive(self):
        return self.svc.p.poll() is None

    def ctl(self, *args):
        return sgtest.ctl_ipc(self.dir, *args)

    def status(self):
        return sgtest.ctl_status(self.dir)

    def metrics(self):
        """The samples of /metrics by name, or None while it does not answer."""
        try:
            text = sgtest.metrics_text(self.metrics_port, timeout=2)
        except OSError:
            return None
        samples = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                samples[name] = float(value)
        return samples

    def metric(self, name):
        m = self.metrics()
        return None if m is None else m.get(name)

    def failover(self, collection):
        r = self.ctl("failover", collection, "--force", "--reason", "reload test")
        self.assertEqual(r.returncode, 0, r.stderr + self.svc.output()[-3000:])

    def wait(self, predicate, what, timeout=30):
        """wait_for, failing with the service's log (and early if it died)."""
        def check():
            if not self.alive():
                self.fail("siteguard died waiting for %s:\n%s"
                          % (what, self.svc.output()[-4000:]))
            return predicate()
        try:
            return wait_for(check, timeout=timeout, what=what)
        except AssertionError as e:
            self.fail("%s\n%s" % (e, self.svc.output()[-4000:]))

    def succeeded_in(self, path, collection):
        return [o for o in sgtest.read_jsonl(path)
                if o["kind"] == "succeeded" and o.get("collection") == collection]

    # ---- the tests --------------------------------------------------------------------

    def test_a_leader_whose_sinks_are_reloaded_keeps_delivering(self):
        self.etcd = Etcd(self.dir)
        leader = LEADER_YAML.format(etcd_port=self.etcd.port)
        before = os.path.join(self.dir, "before.jsonl")
        after = os.path.join(self.dir, "after.jsonl")
        self.start(jsonl_sinks_yaml(before), leader)
        self.wait(lambda: self.metric("siteguard_is_leader") == 1, "this instance to lead")
        epoch = self.metric("siteguard_leader_epoch")
        self.failover("c0")
        self.wait(lambda: self.succeeded_in(before, "c0"), "c0's outcome in the old sink")

        self.write_config(jsonl_sinks_yaml(after), leader)
        r = self.ctl("reload")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.failover("c1")
        self.wait(lambda: self.succeeded_in(after, "c1"), "c1's outcome in the new sink")
        self.assertEqual(self.succeeded_in(before, "c1"), [])
        m = self.metrics()
        self.assertEqual(m["siteguard_is_leader"], 1)
        self.assertEqual(m["siteguard_leader_epoch"], epoch, "leadership changed meanwhile")
        self.assertEqual(self.svc.stop(), 0, self.svc.output()[-3000:])
        self.svc = None

    def test_a_reload_never_blocks_the_loop_behind_a_slow_delivery(self):
        self.receiver = rec = Receiver()
        self.start(webhook_sinks_yaml(rec.port, 1))
        rec.hold()
        self.failover("c0")  # its decision is POSTed, and held
        self.assertTrue(rec.in_hand.wait(30), "the receiver never got the decision")

        self.write_config(webhook_sinks_yaml(rec.port, 2))
        t0 = time.monotonic()
        reload = subprocess.Popen([sgtest.CTL, "-s", "ipc://%s/control.sock" % self.dir,
                                   "reload"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        try:
            out, err = reload.communicate(timeout=DELIVERY_TIMEOUT_S * 2)
        except subprocess.TimeoutExpired:
            reload.kill()
            out, err = reload.communicate()
        reloaded = time.monotonic() - t0
        status = self.ctl("--json", "status")
        answered = time.monotonic() - t0
        samples = self.metrics()
        scraped = time.monotonic() - t0
        still_held = not rec.released.is_set() and rec.entries()[0]["answered"] is None
        self.assertEqual(reload.returncode, 0, err + self.svc.output()[-3000:])
        self.assertLess(reloaded, PROMPT_S, "the reload waited for the delivery")
        self.assertEqual(status.returncode, 0, status.stderr)
        self.assertLess(answered, PROMPT_S, "status waited for the delivery")
        self.assertIsNotNone(samples, "/metrics did not answer")
        self.assertLess(scraped, PROMPT_S, "/metrics waited for the delivery")
        self.assertTrue(still_held, "the delivery was no longer held: nothing was measured")
        # the loop goes on rendering the metrics while the delivery is held
        self.wait(lambda: self.metric('siteguard_config_reloads_total{result="applied"}') == 1,
                  "the applied reload in /metrics", timeout=PROMPT_S)
        self.assertIsNone(rec.entries()[0]["answered"], "the delivery was no longer held")

        rec.release()
        self.wait(lambda: any(e["doc"]["kind"] == "succeeded" and e["gen"] == "2"
                              for e in rec.entries()), "c0's outcome through the new sink")
        entries = rec.entries()
        held = entries[0]
        self.assertEqual((held["gen"], held["doc"]["kind"]), ("1", "decision"))
        new = [e for e in entries if e["gen"] == "2"]
        self.assertTrue(all(e["arrived"] >= held["answered"] for e in new),
                        "the new sink sent while the old one was still delivering")
        self.assertEqual([e for e in entries[1:] if e["gen"] != "2"], [],
                         "the old sink went on after the reload")
        keys = [e["doc"]["dedup_key"] for e in entries]
        self.assertEqual(sorted(set(keys)), sorted(keys), "a notice was sent twice")
        self.assertEqual(self.svc.stop(), 0, self.svc.output()[-3000:])
        self.svc = None

    def test_a_sink_that_cannot_be_reopened_is_reported_and_the_service_runs_on(self):
        out_dir = os.path.join(self.dir, "out")
        moved_dir = os.path.join(self.dir, "moved")
        os.makedirs(out_dir)
        self.start(jsonl_sinks_yaml(os.path.join(out_dir, "outcomes.jsonl")))
        self.failover("c0")
        self.wait(lambda: self.succeeded_in(os.path.join(out_dir, "outcomes.jsonl"), "c0"),
                  "c0's outcome")
        # the old sink's file moves away (it keeps writing to it; it could not
        # open its path again), and the new config's sink cannot start
        os.rename(out_dir, moved_dir)
        self.write_config(jsonl_sinks_yaml(os.path.join(self.dir, "missing", "x.jsonl")))
        r = self.ctl("reload")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("sink 'outcomes': plugin 'jsonl' failed to start", r.stderr)
        self.assertIn("not reloaded", self.svc.output())
        self.wait(lambda: self.metric('siteguard_config_reloads_total{result="refused"}') == 1,
                  "the refused reload in /metrics")
        self.assertEqual(self.status()["mode"], "auto")
        # the old sinks deliver on
        self.failover("c1")
        self.wait(lambda: self.succeeded_in(os.path.join(moved_dir, "outcomes.jsonl"), "c1"),
                  "c1's outcome through the old sink")
        self.assertTrue(self.alive(), self.svc.output()[-3000:])
        self.assertEqual(self.svc.stop(), 0, self.svc.output()[-3000:])
        self.svc = None


if __name__ == "__main__":
    unittest.main(verbosity=2)
