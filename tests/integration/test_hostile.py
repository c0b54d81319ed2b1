"""Hostile input, end to end: a real siteguard (sites A and B, witness W, two
collections, the simulator in auto mode, a jsonl sink, /metrics) whose bus has
no CURVE (loopback, so unauthenticated frames reach ingest), kept healthy by
real sg-probe processes at A, B and W and a Python observer at B (relay-b,
whose events are captured for replays), while several hostile publishers,
each on its own thread and ZeroMQ context, throw frames at the bus for
SG_HOSTILE_SECONDS (default 60) s: random bytes, random frame counts, valid
topics with random bodies, valid events mutated (bit flips, truncation,
extension, a topic of another kind), events with values at the extremes
(huge seq and incarnation, sent_at far past or future, a lag at its maximum,
schema revisions from the future, unknown observers, real observer ids with
the wrong site, unknown sites and collections, replication reports from a
site the collection is not at), replays of relay-b's events, and frames
larger than bus.max_event_bytes (libzmq disconnects their sender at the
transport, before ingest: each goes on a fresh socket and is not counted).

Checked throughout: the service lives and `siteguardctl status` answers
within a few seconds, every site healthy. At the end: nothing was decided
(no site_suspect, site_lost, decision or blocked outcome; no InitiateFailover
in the simulator), the drop counters of /metrics grew for every reason the
attack provokes, and received == accepted + the sum of the drops.

What this test does not do: without CURVE, anyone can speak for a real
observer, so an event that is well-formed, plausible and in the name of a
real observer would be a legitimate vote (or would shadow that observer's
sequence). The attack therefore sends events in real observers' names only
when a definite ingest check drops them (stale, incarnation, unknown_ref,
foreign, malformed bounds, schema, unknown_observer for the wrong site), and
random or mutated bytes that happen to decode to an event of a real observer
are not sent. Impersonation is test_bus_security.py's, with CURVE.

SG_HOSTILE_SEED fixes the attack's random seed (printed) to replay a failure."""
import collections
import os
import random
import threading
import time
import unittest

import zmq

import sgtest
from sgtest import Publisher, health_pb2, wait_for

SECONDS = float(os.environ.get("SG_HOSTILE_SECONDS", "60"))
SEED = int(os.environ.get("SG_HOSTILE_SEED", str(random.SystemRandom().randrange(1 << 32))))
HOSTILE_PUBLISHERS = 4
MAX_EVENT_BYTES = 1024
DAY_MS = 86400 * 1000
U64 = (1 << 64) - 1
I64 = (1 << 63) - 1

# Real observers and their sites; relay-b is the Python one.
OBSERVERS = {"probe-a": "A", "probe-b": "B", "probe-w": "W", "relay-b": "B"}
TOPICS = ("heartbeat", "reachability", "replication", "node", "probe")
COLLECTIONS = ("a-db", "a-app")

CONFIG = ("log_level: info\n"
          + sgtest.bus_yaml("{port}", max_event_bytes=MAX_EVENT_BYTES)
          + sgtest.sites_yaml(*("%s@%s" % o for o in OBSERVERS.items()))
          + "collections:\n"
          + sgtest.collection_yaml("a-db", "HOSTILE-a-db", "A", "B", group=0)
          + sgtest.collection_yaml("a-app", "HOSTILE-a-app", "A", "B", group=1)
          + sgtest.policy_yaml(suspect_after="2s", hold_down="3s", mode="auto")
          + sgtest.sim_provider_yaml("300ms", "{dir}", workers=2)
          + sgtest.journal_yaml("{dir}") + sgtest.jsonl_sink_yaml("{dir}/outcomes.jsonl")
          + sgtest.control_yaml("{dir}") + sgtest.metrics_yaml("{metrics_port}"))

DROPPED = 'siteguard_events_dropped_total{reason="%s"}'
ACCEPTED = "siteguard_events_accepted_total"
RECEIVED = "siteguard_events_received_total"
# The reasons the attack provokes (without CURVE: no impostor, no revoked).
PROVOKED = ("malformed", "schema", "unknown_observer", "unknown_ref", "stale", "duplicate",
            "foreign", "incarnation")
# What must never appear in the sink.
DECISIONS = ("site_suspect", "site_lost", "decision", "blocked")
STATUS_TIMEOUT = 5.0


def now_ms():
    return int(time.time() * 1000)


def names_real_observer(data):
    """Whether bytes hold a real observer's id anywhere (so might decode to an
    event in its name): such random or mutated bytes are not sent."""
    return any(o.encode() in data for o in OBSERVERS)


class RelayObserver:
    """The Python observer relay-b at B on its own thread: every 100 ms a
    heartbeat and reachability reports of A and W as up (no site is cut in
    this test; a TCP check could fail under load and suspect a site for a
    reason that is not the attack); its sent events (topic, bytes, when) are
    kept for the attackers' replays."""

    def __init__(self, endpoint, site_port):
        self.endpoint, self.site_port = endpoint, site_port
        self.sent = collections.deque(maxlen=300)
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.stopping = threading.Event()
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _keep(self, topic, ev):
        with self.lock:
            self.sent.append((topic, ev.SerializeToString(), time.monotonic()))

    def _run(self):
        pub = Publisher(self.endpoint, "relay-b", "B")
        try:
            pub.wait_subscribed(timeout_ms=20000)
            self.subscribed.set()
            while not self.stopping.is_set():
                self._keep("heartbeat", pub.heartbeat())
                for site in ("A", "W"):  # never cut in this test: the truth, not a probe
                    self._keep("reachability", pub.reach(site, True))
                self.stopping.wait(0.1)  # the observer's interval, not a synchronisation
        except Exception as e:  # reported by the test
            self.error = e
            self.subscribed.set()
        finally:
            pub.close()

    def replayable(self, rng):
        """One of the events sent at least a second ago (the service has
        surely had it), or None."""
        cutoff = time.monotonic() - 1.0
        with self.lock:
            old = [s for s in self.sent if s[2] < cutoff]
        return rng.choice(old)[:2] if old else None

    def stop(self):
        self.stopping.set()
        self.thread.join(10)


class Attacker:
    """One hostile publisher on its own thread, context and XPUB socket
    (XPUB: it starts once the service has subscribed, so nothing is lost to
    a slow join). Counts what it sends by kind."""

    KINDS = (("random", 3), ("frames", 2), ("topic_random_body", 3), ("mutated", 6),
             ("extreme", 6), ("replay", 3), ("oversize", 0.05))

    def __init__(self, n, endpoint, relay, seconds, seed):
        self.n, self.endpoint, self.relay, self.seconds = n, endpoint, relay, seconds
        self.rng = random.Random(seed)
        self.sent = collections.Counter()
        self.skipped = 0
        self.error = None
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()

    # ---- what it sends ----------------------------------------------------------

    def _bytes(self, lo, hi):
        return self.rng.randbytes(self.rng.randint(lo, hi))

    def _event(self, observer=None, site=None, kind=None):
        """A well-formed event of a random kind, in the name of `observer`
        (by default one nobody configured)."""
        r = self.rng
        ev = health_pb2.Event(schema=1, observer=observer or "intruder-%d" % r.randrange(1000),
                              site=site or r.choice(("A", "B", "W", "Z", "")),
                              seq=r.randrange(1, 1 << 20), sent_at_ms=now_ms(),
                              incarnation=now_ms() - r.randrange(10 ** 6))
        kind = kind or r.choice(TOPICS)
        if kind == "heartbeat":
            ev.heartbeat.interval_ms = r.choice((0, 100, 0xFFFFFFFF))
        elif kind == "reachability":
            ev.reachability.target_site = r.choice(("A", "B", "W"))
            ev.reachability.up = r.random() < 0.5
            ev.reachability.latency_us = r.choice((0, 1, 0xFFFFFFFF))
        elif kind == "replication":
            ev.replication.collection = r.choice(COLLECTIONS)
            ev.replication.state = r.randrange(16)
            ev.replication.health = r.randrange(4)
            ev.replication.lag_s = r.choice((0, 5, U64))
            ev.replication.last_replicated_ms = r.choice((0, now_ms(), -1, I64))
        elif kind == "node":
            ev.node.node = "node-%d" % r.randrange(9)
            ev.node.status = r.randrange(5)
        else:
            ev.probe.name = "p"
            ev.probe.ok = r.random() < 0.5
            ev.probe.detail = "x" * r.randrange(50)
        return kind, ev

    def _mutate(self, data):
        r = self.rng
        data = bytearray(data)
        how = r.randrange(4)
        if how == 0 and data:  # bit flips
            for _ in range(r.randint(1, 8)):
                i = r.randrange(len(data))
                data[i] ^= 1 << r.randrange(8)
        elif how == 1 and data:  # truncation
            del data[r.randrange(len(data)):]
        elif how == 2:  # extension
            data += self._bytes(1, 64)
        else:  # bytes spliced in
            i = r.randrange(len(data) + 1)
            data[i:i] = self._bytes(1, 16)
        return bytes(data)

    def _extreme(self):
        """An event in the name of a real observer (or a stranger) that a
        definite check of ingest drops; its reason alongside."""
        r = self.rng
        obs = r.choice(list(OBSERVERS))
        site = OBSERVERS[obs]
        which = r.randrange(9)
        if which == 0:  # a stranger with values at the extremes
            kind, ev = self._event()
            ev.seq, ev.incarnation = r.choice((U64, 0)), r.choice((U64, 0))
            ev.sent_at_ms = r.choice((I64, -I64 - 1, 0, now_ms()))
            return kind, ev, "unknown_observer"
        if which == 1:  # a real observer id at the wrong site
            kind, ev = self._event(obs, r.choice([s for s in "ABWZ" if s != site]), "heartbeat")
            return kind, ev, "unknown_observer"
        if which == 2:  # sent far in the past or the future, with a huge seq
            kind, ev = self._event(obs, site, "heartbeat")
            ev.seq = U64
            ev.sent_at_ms = r.choice((I64, -I64 - 1, 1, now_ms() - DAY_MS, now_ms() + DAY_MS))
            return kind, ev, "stale"
        if which == 3:  # an incarnation from the future
            kind, ev = self._event(obs, site, "heartbeat")
            ev.incarnation = r.choice((U64, I64 + 1, I64, now_ms() + DAY_MS))
            return kind, ev, "incarnation"
        if which == 4:  # an unknown target site
            kind, ev = self._event(obs, site, "reachability")
            ev.reachability.target_site = r.choice(("Z", "a", "A " * 100, "\u00c5"))
            return kind, ev, "unknown_ref"
        if which == 5:  # an unknown collection
            kind, ev = self._event(obs, site, "replication")
            ev.replication.collection = r.choice(("nope", "a-db ", "A-DB"))
            return kind, ev, "unknown_ref"
        if which == 6:  # the witness reporting a collection of A and B: foreign
            kind, ev = self._event("probe-w", "W", "replication")
            ev.replication.lag_s, ev.replication.last_replicated_ms = 1, now_ms() - 1000
            ev.replication.state, ev.replication.health = 4, 1
            return kind, ev, "foreign"
        if which == 7:  # a lag at its maximum
            kind, ev = self._event(obs, site, "replication")
            ev.replication.collection = r.choice(COLLECTIONS)
            ev.replication.state, ev.replication.health = 4, 1
            ev.replication.lag_s = r.choice((U64, 1 << 63, 10 ** 12))
            ev.replication.last_replicated_ms = 0
            return kind, ev, "malformed"
        kind, ev = self._event(obs, site, r.choice(TOPICS))  # a schema from the future
        ev.schema = r.choice((2, 7, 0xFFFFFFFF))
        return kind, ev, "schema"

    def _message(self, kind):
        """The frames of one message of `kind`; None when a random one
        happened to name a real observer (not sent)."""
        r = self.rng
        if kind == "random":
            frames = [self._bytes(0, 32), self._bytes(0, 600)]
        elif kind == "frames":
            n = r.choice((1, 1, 3, 4, 7))
            frames = [self._bytes(0, 200) for _ in range(n)]
            if n > 1 and r.random() < 0.5:
                frames[0], frames[1] = r.choice(TOPICS).encode(), self._event()[1].SerializeToString()
        elif kind == "topic_random_body":
            frames = [r.choice(TOPICS).encode(), self._bytes(0, 600)]
        elif kind == "mutated":
            topic, ev = self._event()
            data = self._mutate(ev.SerializeToString())
            if r.random() < 0.2:  # and the topic of another kind
                topic = r.choice([t for t in TOPICS if t != topic])
            frames = [topic.encode(), data]
        elif kind == "extreme":
            topic, ev, _ = self._extreme()
            return [topic.encode(), ev.SerializeToString()]
        elif kind == "replay":
            got = self.relay.replayable(r)
            return None if got is None else [got[0].encode(), got[1]]
        else:
            raise AssertionError(kind)
        if any(names_real_observer(f) for f in frames):
            return None
        return frames

    def _oversize(self):
        """One frame over max_event_bytes, on a fresh socket: libzmq drops
        the connection that carries it."""
        ctx = zmq.Context()
        sock = ctx.socket(zmq.XPUB)
        sock.setsockopt(zmq.LINGER, 1000)
        try:
            sock.connect(self.endpoint)
            if not sock.poll(5000):
                raise AssertionError("the service never subscribed (oversize socket)")
            sock.recv()
            size = self.rng.randint(MAX_EVENT_BYTES + 1, 8 * MAX_EVENT_BYTES)
            topic = self.rng.choice(TOPICS).encode()
            sock.send_multipart([topic, self._bytes(size, size)])
        finally:
            sock.close()
            ctx.term()

    # ---- the loop ---------------------------------------------------------------

    def _run(self):
        ctx = zmq.Context()
        sock = ctx.socket(zmq.XPUB)
        sock.setsockopt(zmq.LINGER, 2000)
        sock.setsockopt(zmq.SNDHWM, 100000)
        kinds, weights = zip(*self.KINDS)
        try:
            sock.connect(self.endpoint)
            if not sock.poll(20000):
                raise AssertionError("the service never subscribed (attacker %d)" % self.n)
            sock.recv()
            until = time.monotonic() + self.seconds
            while time.monotonic() < until and not self.stopping.is_set():
                for _ in range(10):
                    kind = self.rng.choices(kinds, weights)[0]
                    if kind == "oversize":
                        self._oversize()
                        self.sent[kind] += 1
                        continue
                    frames = self._message(kind)
                    if frames is None:
                        self.skipped += 1
                        continue
                    sock.send_multipart(frames)
                    self.sent[kind] += 1
                time.sleep(0.02)  # pacing of the attack, not a synchronisation
        except Exception as e:  # reported by the test
            self.error = e
        finally:
            sock.close()
            ctx.term()


class Hostile(unittest.TestCase):
    def setUp(self):
        sgtest.service_case(self)
        self.procs, self.attackers = [], []
        self.relay = None
        self.svc = None

    def tearDown(self):
        for a in self.attackers:
            a.stopping.set()
            a.thread.join(10)
        if self.relay:
            self.relay.stop()
        for p in reversed(self.procs):
            p.stop()

    def status(self):
        return sgtest.ctl_status(self.dir)

    def scrape(self):
        return sgtest.metrics(self.metrics_port)

    def log_tail(self):
        return self.svc.output()[-3000:]

    def assert_counted_once(self, m):
        """Every message received is accepted or dropped for one reason."""
        drops = sum(v for k, v in m.items() if k.startswith("siteguard_events_dropped_total{"))
        self.assertEqual(m[RECEIVED], m[ACCEPTED] + drops, m)

    def test_the_service_survives_hostile_frames_and_decides_nothing(self):
        print("\nhostile: seed %d (SG_HOSTILE_SEED), %g s (SG_HOSTILE_SECONDS), %d publishers"
              % (SEED, SECONDS, HOSTILE_PUBLISHERS), flush=True)
        sgtest.write_config(self.cfg, CONFIG.format(port=self.port, dir=self.dir,
                                                    metrics_port=self.metrics_port))
        check = sgtest.check_config(self.cfg)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        self.svc = sgtest.start_service(self.cfg, os.path.join(self.dir, "siteguard.log"))
        self.procs.append(self.svc)
        wait_for(lambda: self.svc.p.poll() is not None
                 or sgtest.ctl_ipc(self.dir, "status").returncode == 0, what="the control socket")
        self.assertIsNone(self.svc.p.poll(), self.svc.output())
        self.procs += sgtest.start_probes(self.endpoint, self.site_port, self.dir).values()
        self.relay = RelayObserver(self.endpoint, self.site_port)
        self.assertTrue(self.relay.subscribed.wait(30))
        self.assertIsNone(self.relay.error)
        wait_for(lambda: all(o["heard"] for o in self.status()["observers"])
                 and sgtest.sites_healthy(self.status()),
                 what=lambda: "every observer heard, sites healthy; status: %s; log: %s"
                 % ({s["name"]: s["state"] for s in self.status()["sites"]},
                    self.log_tail()[-1500:]))
        wait_for(lambda: RECEIVED in self.scrape(), what="the first /metrics")
        before = self.scrape()
        # the probes start one after another: one may have reported a site
        # whose listener was not up yet. Only what follows is the attack's.
        startup = len(sgtest.outcomes(self.dir))

        rng = random.Random(SEED)
        self.attackers = [Attacker(i, self.endpoint, self.relay, SECONDS, rng.randrange(1 << 32))
                          for i in range(HOSTILE_PUBLISHERS)]
        for a in self.attackers:
            a.start()

        # throughout: alive, status answers, every site healthy
        latencies = []
        while any(a.thread.is_alive() for a in self.attackers):
            self.assertIsNone(self.svc.p.poll(), "the service died:\n" + self.log_tail())
            t0 = time.monotonic()
            st = self.status()
            latencies.append(time.monotonic() - t0)
            self.assertLess(latencies[-1], STATUS_TIMEOUT, "status took %.2f s" % latencies[-1])
            self.assertTrue(sgtest.sites_healthy(st), "%s\n%s" % (st["sites"], self.log_tail()))
            self.assertIsNone(self.relay.error)
            time.sleep(1.5)  # the polling interval of status, not a synchronisation
        for a in self.attackers:
            a.thread.join()
            self.assertIsNone(a.error, "attacker %d: %r" % (a.n, a.error))

        sent = sum((a.sent for a in self.attackers), collections.Counter())
        skipped = sum(a.skipped for a in self.attackers)
        through_ingest = sum(v for k, v in sent.items() if k != "oversize")
        # every message of the attack that reached ingest is counted as a drop:
        # none is lost, none accepted (a replay is relay-b's own event, sent a
        # second earlier: a duplicate)
        hostile_drops = lambda m: sum(m.get(DROPPED % r, 0) - before.get(DROPPED % r, 0)
                                      for r in PROVOKED)
        wait_for(lambda: hostile_drops(self.scrape()) >= through_ingest, timeout=30,
                 what="every message of the attack counted as a drop (%d)" % through_ingest)
        after = self.scrape()
        drops = {k[len('siteguard_events_dropped_total{reason="'):-2]: int(v - before.get(k, 0))
                 for k, v in after.items() if k.startswith("siteguard_events_dropped_total{")}
        print("hostile: sent %s (total %d, %d random ones naming a real observer not sent)"
              % (dict(sorted(sent.items())), sum(sent.values()), skipped))
        print("hostile: received +%d, accepted +%d, drops %s (attack's through ingest %d,"
              " dropped for its reasons %d)"
              % (after[RECEIVED] - before[RECEIVED], after[ACCEPTED] - before[ACCEPTED],
                 {k: v for k, v in sorted(drops.items()) if v}, through_ingest,
                 hostile_drops(after)))
        print("hostile: %d status calls answered, max %.3f s, mean %.3f s"
              % (len(latencies), max(latencies), sum(latencies) / len(latencies)), flush=True)
        self.assertIsNone(self.svc.p.poll(), "the service died:\n" + self.log_tail())
        self.assert_counted_once(after)
        for reason in PROVOKED:
            self.assertGreater(drops.get(reason, 0), 0, "no %s drop: %s" % (reason, drops))
        # without CURVE nothing in the attack can be an impostor or revoked
        self.assertEqual(drops.get("impostor", 0) + drops.get("revoked", 0), 0, drops)
        self.assertGreaterEqual(len(latencies), max(1, int(SECONDS / 3)))

        # still alive and answering, every site healthy, nothing decided
        st = self.status()
        self.assertTrue(sgtest.sites_healthy(st), st["sites"])
        self.assertEqual([o for o in sgtest.outcomes(self.dir)[startup:]
                          if o["kind"] in DECISIONS], [])
        self.assertEqual([o for o in sgtest.outcomes(self.dir)
                          if o["kind"] in DECISIONS and o["kind"] != "site_suspect"], [])
        for c in sgtest.sim_collections(self.dir):
            self.assertEqual(c["calls"].get("InitiateFailover", 0), 0, c)
        self.assertIsNone(self.svc.p.poll())
        self.assertEqual(self.svc.stop(), 0, self.log_tail())
        self.procs.remove(self.svc)


if __name__ == "__main__":
    unittest.main(verbosity=2)
