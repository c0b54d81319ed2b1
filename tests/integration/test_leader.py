"""Two siteguard instances and a real etcd: exactly one acts, and a stale one is fenced.

A real etcd (Debian's etcd-server; scripts/deps installs it) runs on free
loopback ports in the test's directory. Two real siteguard processes, `a` and
`b`, each with its own journal, sinks, control socket and /metrics, share one
simulator state file: the one Hyper-V cluster they both manage (the
simulator locks it, and counts every InitiateFailover called and accepted).
The same publishers feed both: A's observer falls silent while B and the
witness report A unreachable, so both engines see site A lost.

  - exactly one instance leads; a site loss fails every collection over
    exactly once, and the standby's sinks deliver nothing; when the leader
    stops, the standby takes over with the operator state the leader kept in
    etcd (every collection failed over, a pause of A) and calls nothing;
  - SIGKILL of the leader in the middle of the storm: the standby takes over
    after the lease TTL and finishes, still one accepted call per collection;
  - SIGSTOP of the leader while four runs are in flight and four are queued
    behind them: the other takes over and finishes; SIGCONT: the old
    leader's queued runs are fenced (no call at all) and it reports itself
    standby.

etcd missing is a failure with a clear message, never a skip."""
import base64
import json
import os
import re
import shutil
import signal
import sys
import time
import unittest
import urllib.request

import sgtest
import zmq
from sgtest import Proc, Publisher, free_port, wait_for

ETCD = shutil.which("etcd") or "/usr/bin/etcd"
TTL_S = 2

CONFIG = ("log_level: info\n" + sgtest.bus_yaml("{bus_port}") + sgtest.THREE_SITES_YAML
          + sgtest.policy_yaml("200ms", "500ms", recover_after=None, mode="auto")
          + sgtest.sim_provider_yaml("{job}", "{shared}", call_latency="5ms",
                                     workers="{workers}", job_timeout="1m")
          + sgtest.journal_yaml("{dir}") + sgtest.jsonl_sink_yaml("{dir}/outcomes.jsonl")
          + sgtest.control_yaml("{dir}") + sgtest.metrics_yaml("{metrics_port}") + """leader:
  mode: etcd
  name: {name}
  etcd:
    endpoints: [http://127.0.0.1:{etcd_port}]
    key: /siteguard/leader
    ttl: {ttl}s
    timeout: 500ms
collections:
""")


def b64(text):
    return base64.b64encode(text.encode()).decode()


def b64d(text):
    return base64.b64decode(text).decode()


def collections_yaml(n, group_size):
    return "".join(sgtest.collection_yaml("c%02d" % i, "L-%02d" % i, "A", "B",
                                          group=i // group_size) for i in range(n))


class Etcd:
    """A real single-node etcd on free loopback ports."""

    def __init__(self, root):
        if not os.path.exists(ETCD):
            raise AssertionError("etcd is not installed (%s): run scripts/deps, which installs "
                                 "Debian's etcd-server" % ETCD)
        self.port = free_port()
        peer = free_port()
        self.dir = os.path.join(root, "etcd")
        url = "http://127.0.0.1:%d" % self.port
        self.proc = Proc([ETCD, "--name", "sg-test", "--data-dir", self.dir,
                          "--listen-client-urls", url, "--advertise-client-urls", url,
                          "--listen-peer-urls", "http://127.0.0.1:%d" % peer,
                          "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % peer,
                          "--initial-cluster", "sg-test=http://127.0.0.1:%d" % peer],
                         os.path.join(root, "etcd.log"))
        wait_for(self.ready, timeout=30, what="etcd to answer")

    def post(self, path, body):
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.port, path),
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=2) as resp:
            return json.loads(resp.read().decode().split("\n")[0])

    def ready(self):
        try:
            self.post("/v3/kv/range", {"key": "eA=="})
            return True
        except OSError:
            return False

    def stop(self):
        self.proc.stop()


class Instance:
    """One siteguard process with its own directory."""

    def __init__(self, root, shared, name, etcd_port, n, group_size, workers, job):
        self.name = name
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir)
        self.bus_port = free_port()
        self.metrics_port = free_port()
        self.config = os.path.join(self.dir, "siteguard.yaml")
        sgtest.write_config(self.config, CONFIG.format(
            bus_port=self.bus_port, dir=self.dir, shared=shared, metrics_port=self.metrics_port,
            name=name, etcd_port=etcd_port, ttl=TTL_S, workers=workers, job=job)
            + collections_yaml(n, group_size))
        self.proc = sgtest.start_service(self.config, os.path.join(self.dir, "siteguard.log"))
        self.endpoint = sgtest.tcp_endpoint(self.bus_port)

    def alive(self):
        return self.proc.p.poll() is None

    def metrics(self):
        """siteguard_is_leader and siteguard_leader_epoch, or None while unreachable."""
        try:
            text = sgtest.metrics_text(self.metrics_port, timeout=2)
        except OSError:
            return None
        lead = re.search(r"^siteguard_is_leader (\d+)$", text, re.M)
        epoch = re.search(r"^siteguard_leader_epoch (\d+)$", text, re.M)
        if not lead or not epoch:
            return None
        return int(lead.group(1)), int(epoch.group(1))

    def leads(self):
        m = self.metrics()
        return bool(m and m[0] == 1)

    def standby(self):
        m = self.metrics()
        return bool(m and m[0] == 0)

    def ctl(self, *args):
        return sgtest.ctl_ipc(self.dir, *args)

    def status(self):
        return sgtest.ctl_status(self.dir)

    def status_leader(self):
        return self.status()["leader"]

    def journal(self, sql):
        return sgtest.query(os.path.join(self.dir, "journal.db"), sql)

    def outcomes(self):
        return sgtest.outcomes(self.dir)

    def output(self):
        return self.proc.output()


class Leader(unittest.TestCase):
    def setUp(self):
        self.root = sgtest.tempdir()
        self.etcd = Etcd(self.root)
        self.pubs = []
        self.instances = []
        self.a_until = None

    def tearDown(self):
        sgtest.close_all(self.pubs)
        bad = []
        for i in self.instances:
            i.proc.signal(signal.SIGCONT)
            rc = i.proc.stop()
            if rc not in (0, -signal.SIGKILL):  # a clean stop, or the test's own SIGKILL
                bad.append("%s exited %s:\n%s" % (i.name, rc, i.output()[-3000:]))
        self.etcd.stop()
        self.assertEqual(bad, [])

    # ---- set-up --------------------------------------------------------------------

    def start(self, n, group_size, workers, job):
        for name in ("a", "b"):
            self.instances.append(Instance(self.root, self.root, name, self.etcd.port, n,
                                           group_size, workers, job))
        self.n = n
        for site in ("A", "B", "W"):
            pub = Publisher(self.instances[0].endpoint, "obs-%s" % site.lower(), site)
            pub.wait_subscribed(timeout_ms=20000)
            pub.sock.setsockopt(zmq.XPUB_VERBOSE, 1)  # the second, same subscription too
            pub.sock.connect(self.instances[1].endpoint)
            pub.wait_subscribed(timeout_ms=20000)
            self.pubs.append(pub)
        self.a_until = time.monotonic() + 3600  # A is heard until lose_site_a

    def one_leader(self):
        """Waits until exactly one instance leads and the other is standby."""
        def split():
            live = [i for i in self.instances if i.alive()]
            leads = [i for i in live if i.leads()]
            stands = [i for i in live if i.standby()]
            return leads[0] if len(leads) == 1 and len(stands) == len(live) - 1 else None
        return self.drive_until(split, 30, "exactly one leader")

    def lose_site_a(self):
        self.a_until = time.monotonic()

    def beat(self):
        sgtest.site_a_round(self.pubs, self.a_until, report_always=True)

    def drive_until(self, predicate, timeout, what):
        """Publishes every 50 ms until `predicate` holds (polled, with a deadline)."""
        deadline = time.monotonic() + timeout
        while True:
            self.beat()
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                logs = "\n".join("--- %s:\n%s" % (i.name, i.output()[-3000:])
                                 for i in self.instances)
                self.fail("timed out waiting for %s\n%s" % (what, logs))
            time.sleep(0.05)

    # ---- the cluster, as the simulator has it ---------------------------------------

    def sim(self):
        return {c["path"]: c for c in sgtest.sim_collections(self.root)}

    def count(self, state):
        return sum(1 for c in self.sim().values() if c["state"] == state)

    def all_failed_over(self):
        return self.count("failed over") == self.n

    def assert_exactly_once(self):
        colls = self.sim()
        self.assertEqual(len(colls), self.n)
        for path, c in colls.items():
            self.assertEqual(c["state"], "failed over", path)
            self.assertEqual(c["accepted"].get("InitiateFailover"), 1,
                             "InitiateFailover accepted other than once: %s" % c)

    def stop_outside_the_sim_lock(self, inst):
        """SIGSTOPs `inst`, but never while it holds the simulator's file lock
        (a stopped holder would stall the other instance's every call: the
        cluster itself does not wait for a paused client). /proc/locks names
        the holder of each flock."""
        pid = inst.proc.p.pid
        ino = os.stat(os.path.join(self.root, "sim-state.json.lock")).st_ino

        def stopped():
            with open("/proc/%d/stat" % pid) as f:
                return f.read().rsplit(")", 1)[1].split()[0] == "T"

        def holds_lock():
            with open("/proc/locks") as f:
                for line in f:
                    fields = line.split()
                    if "->" in fields:
                        continue  # a waiter, not a holder
                    if fields[1] == "FLOCK" and int(fields[4]) == pid and \
                            int(fields[5].split(":")[2]) == ino:
                        return True
            return False

        for _ in range(100):
            inst.proc.signal(signal.SIGSTOP)
            wait_for(stopped, timeout=10, what="the leader to stop")
            if not holds_lock():
                return
            inst.proc.signal(signal.SIGCONT)
        self.fail("the leader held the simulator's lock at every attempt to stop it")

    # ---- the tests ------------------------------------------------------------------

    def test_one_leader_fails_every_collection_over_once_and_the_standby_notifies_nothing(self):
        self.start(n=24, group_size=12, workers=8, job="300ms")
        leader = self.one_leader()
        standby = next(i for i in self.instances if i is not leader)
        epoch = leader.metrics()[1]
        self.assertGreater(epoch, 0)
        self.assertIn("name %s, epoch %d" % (leader.name, epoch), leader.status_leader())
        self.assertIn("this instance leads", leader.status_leader())
        self.assertIn("standby, holder %s" % leader.name, standby.status_leader())
        # a standby refuses to act and names the leader; nothing is decided
        r = standby.ctl("failover", "c00", "--reason", "test")
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn("is a standby; send it to the leader, %s" % leader.name,
                      r.stdout + r.stderr)
        self.assertEqual(standby.journal("SELECT COUNT(*) FROM runs"), [(0,)])
        self.lose_site_a()
        self.drive_until(self.all_failed_over, 60, "every collection failed over")
        self.assert_exactly_once()
        # every intent carries the leader's epoch; the standby made none
        epochs = leader.journal("SELECT epoch FROM runs WHERE intent_ms IS NOT NULL")
        self.assertEqual(len(epochs), self.n)
        self.assertEqual({e for (e,) in epochs}, {epoch})
        self.assertEqual(standby.journal("SELECT COUNT(*) FROM runs WHERE intent_ms IS NOT NULL"),
                         [(0,)])
        # the leader's sinks delivered, the standby's delivered nothing
        self.drive_until(lambda: len([o for o in leader.outcomes() if o["kind"] == "succeeded"])
                         == self.n, 30, "the leader's sink to get every success")
        self.assertEqual(standby.outcomes(), [])
        self.assertTrue(standby.standby())
        # an operator pauses A on the leader: kept in etcd with the rest of the
        # operator state
        r = leader.ctl("pause", "A", "--for", "30m", "--reason", "network work at A")
        self.assertEqual(r.returncode, 0, r.stderr)
        # a clean stop revokes the lease: the key is gone before the process is
        rc = leader.proc.stop()
        self.assertEqual(rc, 0, leader.output()[-3000:])
        held = self.etcd.post("/v3/kv/range", {"key": b64("/siteguard/leader")})
        self.assertNotIn(leader.name, [b64d(kv["value"]) for kv in held.get("kvs", [])])
        self.drive_until(standby.leads, 30, "the standby to take over")
        # the new leader takes the operator state the old one kept in etcd: it
        # knows every collection is failed over, decides none again and calls
        # nothing
        done = lambda: all(c["verdict"] == "failed over" for c in standby.status()["collections"])
        self.drive_until(done, 30, "the new leader to know every collection failed over")
        self.assertIn("operator state restored from etcd", standby.output())
        # the new leader obeys the old leader's pause
        self.assertIn("network work at A", standby.status()["collections"][0]["paused"])
        self.drive_until(lambda: standby.status()["sites"][0]["state"] == "lost", 30,
                         "the new leader to judge site A lost again")
        self.assertEqual(standby.journal("SELECT COUNT(*) FROM runs"), [(0,)])
        self.assert_exactly_once()

    def test_sigkill_of_the_leader_mid_storm_the_standby_finishes_exactly_once(self):
        self.start(n=40, group_size=10, workers=4, job="600ms")
        old = self.one_leader()
        old_epoch = old.metrics()[1]
        self.lose_site_a()
        self.drive_until(lambda: sum(1 for c in self.sim().values()
                                     if c["accepted"].get("InitiateFailover")) >= 6,
                         60, "the storm to be under way")
        killed = time.monotonic()
        old.proc.p.send_signal(signal.SIGKILL)
        old.proc.p.wait()
        self.assertLess(self.count("failed over"), self.n, "the storm ended before the kill")
        new = self.one_leader()
        sys.stderr.write("takeover %.2f s after the SIGKILL (lease ttl %d s)\n"
                         % (time.monotonic() - killed, TTL_S))
        self.assertIsNot(new, old)
        self.assertGreater(new.metrics()[1], old_epoch)
        self.drive_until(self.all_failed_over, 90, "the new leader to finish the storm")
        self.assert_exactly_once()

    def test_a_stopped_leader_is_fenced_once_the_other_took_over(self):
        # one plan group of 8, 4 workers: 4 runs in flight, 4 queued behind them
        self.start(n=8, group_size=8, workers=4, job="4s")
        old = self.one_leader()
        old_epoch = old.metrics()[1]
        self.lose_site_a()
        self.drive_until(lambda: self.count("failover running") == 4, 30,
                         "the first four runs to be in flight")
        self.stop_outside_the_sim_lock(old)
        queued = [p for p, c in self.sim().items() if c["state"] != "failover running"]
        self.assertEqual(len(queued), 4)
        new = next(i for i in self.instances if i is not old)
        self.drive_until(new.leads, 30, "the other instance to take over")
        new_epoch = new.metrics()[1]
        self.assertGreater(new_epoch, old_epoch)
        self.drive_until(self.all_failed_over, 60, "the new leader to finish")
        old.proc.signal(signal.SIGCONT)
        # the old leader's queued runs: each is fenced instead of called, and
        # it reports itself standby
        fenced = lambda: old.journal("SELECT COUNT(*) FROM outcomes WHERE kind = 'blocked' "
                                     "AND json LIKE '%fenced%'")[0][0] == 4
        self.drive_until(fenced, 30, "the old leader's queued runs to be fenced")
        self.drive_until(old.standby, 30, "the old leader to report standby")
        self.drive_until(lambda: "standby, holder %s" % new.name in old.status_leader(), 30,
                         "the old leader to name the new one")
        self.assert_exactly_once()
        for path in queued:  # called once, by the new leader only
            self.assertEqual(self.sim()[path]["calls"].get("InitiateFailover"), 1, path)
        # the fenced runs stay open in the old journal, without an intent: the
        # fence comes before the proof and the intent
        rows = old.journal("SELECT intent_ms, ended_ms FROM runs WHERE job_path IS NULL")
        self.assertEqual(len(rows), 4)
        self.assertTrue(all(i is None and e is None for i, e in rows), rows)


if __name__ == "__main__":
    unittest.main(verbosity=2)
