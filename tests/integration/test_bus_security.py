"""The health event bus with CURVE, end to end: a real siteguard whose bus is a
CURVE server with a key per observer (siteguardctl keygen), real sg-probe
processes publishing with their keys, and Python publishers playing the
attacker on 127.0.0.1.

The threat: whoever reaches the bus port moves the engine. A forged event
with a larger incarnation for A's observer makes A's real heartbeats stale;
forged reachability reports from B and the witness complete the quorum: a
failover of a live site from one laptop. Here an unlisted key is refused at
the handshake, a listed key cannot speak for another observer (impostor),
an incarnation from the future is refused, and a reload rotates keys."""
import os
import time
import unittest

import zmq

import sgtest
from sgtest import Publisher, keygen, key_pair, wait_for

OBSERVERS = ("probe-a@A", "probe-b@B", "probe-w@W", "spare-b@B")

CONFIG = ("log_level: debug\n"
          + sgtest.bus_yaml("{port}", max_event_bytes=1024, secret_key_file="bus.key")
          + "{sites}" + "collections:\n"
          + sgtest.collection_yaml("a-db", "11111111-0000-0000-0000-00000000000b", "A", "B",
                                   group=0)
          + sgtest.collection_yaml("a-app", "11111111-0000-0000-0000-00000000000a", "A", "B",
                                   group=1)
          + sgtest.policy_yaml() + sgtest.sim_provider_yaml("300ms", "{dir}", workers=2)
          + sgtest.journal_yaml("{dir}") + sgtest.jsonl_sink_yaml("{dir}/outcomes.jsonl")
          + sgtest.control_yaml("{dir}") + sgtest.metrics_yaml("{metrics_port}"))

DROPPED = 'siteguard_events_dropped_total{reason="%s"}'
REFUSED = "siteguard_bus_handshakes_refused_total"
ACCEPTED = "siteguard_events_accepted_total"
RECEIVED = "siteguard_events_received_total"
DAY_MS = 86400 * 1000


class BusSecurity(unittest.TestCase):
    def setUp(self):
        sgtest.service_case(self)
        self.server_pub = keygen(os.path.join(self.dir, "bus.key"))
        # a key per observer, and keys nobody lists
        self.keys = {}
        for name in ("probe-a", "probe-b", "probe-w", "spare-b", "spare-b-next", "stranger"):
            keygen(self.key_file(name))
            self.keys[name] = key_pair(self.key_file(name))
        self.procs, self.pubs = [], []
        self.calm_ms = 0
        self.svc = None

    def tearDown(self):
        for p in self.pubs:
            p.close()
        for p in self.procs:
            p.stop()
        if self.svc:
            self.svc.stop()

    # ---- fixtures ---------------------------------------------------------------

    def key_file(self, name):
        return os.path.join(self.dir, name + ".key")

    def write_config(self, **keys):
        """The config with each observer's key; `keys` overrides some (by id,
        with - for _), as one key or a list of two."""
        listed = {o.split("@")[0]: self.keys[o.split("@")[0]][0] for o in OBSERVERS}
        listed.update({k.replace("_", "-"): v for k, v in keys.items()})
        sgtest.write_config(self.cfg, CONFIG.format(
            port=self.port, metrics_port=self.metrics_port, dir=self.dir,
            sites=sgtest.sites_yaml(*OBSERVERS, keys=listed)))

    def start_service(self, **keys):
        self.write_config(**keys)
        check = sgtest.check_config(self.cfg)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        self.svc = sgtest.start_service(self.cfg, os.path.join(self.dir, "siteguard.log"))
        wait_for(lambda: self.metric(RECEIVED) is not None or self.svc.p.poll() is not None,
                 what="the service's /metrics")
        self.assertIsNone(self.svc.p.poll(), self.svc.output())

    def start_probes(self, sites="ABW"):
        curve = lambda observer: (self.key_file(observer), self.server_pub)
        probes = sgtest.start_probes(self.endpoint, {s: self.site_port[s] for s in sites},
                                     self.dir, curve=curve)
        self.procs += probes.values()
        wait_for(lambda: self.heard({"probe-" + s.lower() for s in sites})
                 and sgtest.sites_healthy(self.status()), what="keyed probes heard, sites healthy")
        # from here on every site is healthy; before, a probe may have checked
        # another's endpoint before it listened (refused, reported down)
        self.calm_ms = int(time.time() * 1000)
        return probes

    def publisher(self, observer, site, key, monitor=False):
        """A Python publisher claiming `observer` with the key pair named `key`."""
        pub, sec = self.keys[key]
        p = Publisher(self.endpoint, observer, site, curve=(self.server_pub, pub, sec),
                      monitor=monitor)
        self.pubs.append(p)
        return p

    def status(self):
        return sgtest.ctl_status(self.dir)

    def heard(self, observers):
        return all(o["heard"] for o in self.status()["observers"] if o["id"] in observers)

    def site_state(self, site):
        return next(s["state"] for s in self.status()["sites"] if s["name"] == site)

    def metric(self, series):
        return sgtest.metric(self.metrics_port, series)

    def wait_metric(self, series, at_least, what):
        return wait_for(lambda: (self.metric(series) or 0) >= at_least, what=what)

    def assert_a_untouched(self, seconds):
        """For `seconds` (the attack's length: longer than the hold-down), A
        stays healthy, nothing is decided, nothing called."""
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            self.assertEqual(self.site_state("A"), "healthy", self.svc.output()[-3000:])
            time.sleep(0.1)
        for kind in ("site_suspect", "site_lost", "decision"):
            self.assertEqual([o for o in sgtest.outcomes(self.dir, kind) if o.get("site") == "A"
                              and o["time_ms"] >= self.calm_ms], [], kind)

    def forge(self, a, voters):
        """One round of the forgery: A's observer with an incarnation from
        the future, the voters reporting A down."""
        a.heartbeat(incarnation=int(time.time() * 1000) + DAY_MS)
        for v in voters:
            v.reach("A", False)

    # ---- tests ------------------------------------------------------------------

    def test_an_unlisted_key_is_refused_at_the_handshake_and_moves_nothing(self):
        self.start_service()
        self.start_probes()
        # a laptop without CURVE at all: its handshake fails
        plain = Publisher(self.endpoint, "probe-a", "A")
        self.pubs.append(plain)
        self.wait_metric(REFUSED, 1, "the plain publisher refused")
        wait_for(lambda: "[bus] refused a publisher on tcp://127.0.0.1:%d: its handshake failed"
                 % self.port in self.svc.output(), what="the refusal in the log")
        # with CURVE, but a key nobody listed: refused by the ZAP handler
        a = self.publisher("probe-a", "A", "stranger", monitor=True)
        voters = [self.publisher("spare-b", "B", "stranger"),
                  self.publisher("probe-w", "W", "stranger"), plain]
        a.wait_event(zmq.EVENT_HANDSHAKE_FAILED_AUTH)
        self.wait_metric(REFUSED, 4, "refused handshakes in /metrics")
        until = time.monotonic() + 3.0  # twice the hold-down
        while time.monotonic() < until:
            self.forge(a, voters)
            self.assertEqual(self.site_state("A"), "healthy")
            time.sleep(0.1)
        self.assert_a_untouched(0.5)
        self.assertFalse(a.subscribed())  # the service never got to subscribe
        self.assertFalse(self.heard({"spare-b"}))
        self.assertEqual(self.metric(DROPPED % "impostor"), 0)
        self.assertRegex(self.svc.output(), r"\[zap\] refused a client of bus from .*: public "
                                            r"key \S{8}\.\.\. is not listed")
        self.assertNotIn(self.keys["stranger"][0], self.svc.output())

    def test_a_listed_key_speaking_for_another_observer_is_dropped_as_impostor(self):
        self.start_service()
        self.start_probes()
        # the witness's key, stolen, speaks for A's observer and for spare-b
        a = self.publisher("probe-a", "A", "probe-w")
        b = self.publisher("spare-b", "B", "probe-w")
        for p in (a, b):
            p.wait_subscribed()
        for _ in range(10):
            self.forge(a, [b])
        self.wait_metric(DROPPED % "impostor", 20, "20 impostor drops")
        self.assert_a_untouched(2.0)
        self.assertFalse(self.heard({"spare-b"}))
        self.assertEqual(self.metric(DROPPED % "impostor"), 20)
        self.assertEqual(self.metric(REFUSED), 0)

    def test_an_incarnation_from_the_future_is_refused(self):
        self.start_service()
        self.start_probes()
        # A's own key, in a broken (or stolen) copy of its probe
        a = self.publisher("probe-a", "A", "probe-a")
        a.wait_subscribed()
        a.heartbeat(incarnation=int(time.time() * 1000) + DAY_MS)
        self.wait_metric(DROPPED % "incarnation", 1, "the refused incarnation")
        # the real probe's heartbeats still count: A is not even suspect
        self.assert_a_untouched(2.0)
        self.assertEqual(self.metric(DROPPED % "incarnation"), 1)
        self.assertEqual(self.metric(DROPPED % "stale"), 0)

    def test_keyed_probes_fail_site_a_over_when_its_probe_stops(self):
        self.start_service()
        probes = self.start_probes()
        probes["A"].stop()
        wait_for(lambda: len(sgtest.outcomes(self.dir, "succeeded")) >= 2, timeout=30,
                 what="A's collections failed over")
        out = sgtest.outcomes(self.dir)
        self.assertEqual([o["site"] for o in out if o["kind"] == "site_lost"], ["A"])
        self.assertEqual([o["collection"] for o in out if o["kind"] == "decision"],
                         ["a-db", "a-app"])
        self.assertEqual(self.metric(REFUSED), 0)
        for reason in ("impostor", "revoked", "incarnation"):
            self.assertEqual(self.metric(DROPPED % reason), 0, reason)

    def reload(self, **keys):
        self.write_config(**keys)
        r = sgtest.ctl_ipc(self.dir, "reload")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def accepted_after(self, pub):
        """Sends one heartbeat from pub; true once the service accepted it."""
        before = self.metric(ACCEPTED)
        pub.heartbeat()
        return wait_for(lambda: self.metric(ACCEPTED) == before + 1, what="the heartbeat accepted")

    def test_a_key_rotated_by_reload_admits_the_new_key_and_refuses_the_removed_one(self):
        old, new = self.keys["spare-b"][0], self.keys["spare-b-next"][0]
        self.start_service()
        first = self.publisher("spare-b", "B", "spare-b")
        first.wait_subscribed()
        self.accepted_after(first)
        early = self.publisher("spare-b", "B", "spare-b-next", monitor=True)
        early.wait_event(zmq.EVENT_HANDSHAKE_FAILED_AUTH)  # not listed yet
        early.close()
        self.pubs.remove(early)
        # the rotation: both keys, then only the new one
        self.reload(spare_b=[old, new])
        self.accepted_after(first)  # the old key still speaks
        # the probe restarts with its new key (a new incarnation)
        second = self.publisher("spare-b", "B", "spare-b-next")
        second.wait_subscribed()
        self.accepted_after(second)
        self.reload(spare_b=new)
        refused = self.metric(REFUSED)
        late = self.publisher("spare-b", "B", "spare-b", monitor=True)
        late.wait_event(zmq.EVENT_HANDSHAKE_FAILED_AUTH)
        self.wait_metric(REFUSED, refused + 1, "the removed key refused")
        # the connection the removed key made earlier speaks no more
        first.heartbeat()
        self.wait_metric(DROPPED % "revoked", 1, "the removed key's event dropped")
        self.accepted_after(second)
        # observers' keys are live; their sites are not
        self.write_config(spare_b=new)
        with open(self.cfg) as f:
            text = f.read()
        sgtest.write_config(self.cfg, text.replace("  - id: spare-b\n    site: B",
                                                   "  - id: spare-b\n    site: A"))
        r = sgtest.ctl_ipc(self.dir, "reload")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("observers cannot change while siteguard runs", r.stderr)

    def test_a_frame_over_max_event_bytes_disconnects_its_sender_undecoded(self):
        self.start_service()
        pub = self.publisher("spare-b", "B", "spare-b", monitor=True)
        pub.wait_subscribed()
        pub.wait_event(zmq.EVENT_HANDSHAKE_SUCCEEDED)
        ev = pub.event()
        ev.probe.name = "big"
        ev.probe.detail = "x" * 4096
        pub.send("probe", ev)
        pub.wait_event(zmq.EVENT_DISCONNECTED)
        # it reconnects, and what fits goes through once the service has
        # subscribed again (which an XPUB does not report twice)
        pub.wait_event(zmq.EVENT_HANDSHAKE_SUCCEEDED)
        wait_for(lambda: pub.heartbeat() and self.metric(ACCEPTED) > 0,
                 what="a heartbeat accepted after the reconnection")
        m = sgtest.metrics(self.metrics_port)
        self.assertEqual(m[RECEIVED], m[ACCEPTED])  # the large frame was never decoded
        self.assertEqual(m[DROPPED % "oversize"], 0)

    def test_a_network_bus_needs_curve_or_insecure_which_warns_at_start(self):
        self.write_config()
        with open(self.cfg) as f:
            text = f.read()
        lines = text.split("\n")
        line = next(i for i, l in enumerate(lines) if l.startswith("  bind:")) + 1
        no_curve = text.replace("  curve:\n    secret_key_file: bus.key\n", "")
        sgtest.write_config(self.cfg, no_curve.replace("tcp://127.0.0.1:", "tcp://192.0.2.1:"))
        r = sgtest.check_config(self.cfg)
        self.assertEqual(r.returncode, 1)
        self.assertIn("%s:%d:10: bus endpoint tcp://192.0.2.1:%d is not on the loopback "
                      "address and has no CURVE" % (self.cfg, line, self.port), r.stderr)
        # insecure on loopback: loaded, and said at start
        sgtest.write_config(self.cfg, no_curve.replace("bus:\n", "bus:\n  insecure: true\n"))
        self.svc = sgtest.start_service(self.cfg, os.path.join(self.dir, "siteguard.log"))
        wait_for(lambda: "[bus] no CURVE on the bus (bus.insecure)" in self.svc.output(),
                 what="the warning")


if __name__ == "__main__":
    unittest.main(verbosity=2)
