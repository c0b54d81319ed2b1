"""Helpers for siteguard's integration tests: real processes on 127.0.0.1.

Run with Debian's /usr/bin/python3 (python3-zmq, python3-protobuf). The build
directory comes from SG_BUILD_DIR; the generated health_pb2 lives there.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("SG_BUILD_DIR") or os.path.join(os.path.dirname(__file__), "..", "..", "build")
BUILD = os.path.abspath(BUILD)
sys.path.insert(0, os.path.join(BUILD, "python"))

import zmq  # noqa: E402
from proto import health_pb2  # noqa: E402

def sites_yaml(*observers):
    """The topology of the integration tests' configs: sites A and B and the
    witness site W, with the observers given as "ID@SITE" (no braces: safe in
    a str.format template)."""
    lines = ["sites:", "  - name: A", "  - name: B", "  - name: W", "    witness: true",
             "observers:"]
    for obs in observers:
        ident, site = obs.split("@")
        lines += ["  - id: " + ident, "    site: " + site]
    return "\n".join(lines) + "\n"


# One observer at each of A, B and W.
THREE_SITES_YAML = sites_yaml("obs-a@A", "obs-b@B", "obs-w@W")

SITEGUARD = os.path.join(BUILD, "siteguard")
PROBE = os.path.join(BUILD, "sg-probe")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=30.0, what="condition"):
    """Polls an observable condition until it holds; fails after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.05)


def read_jsonl(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        lines = f.read().split("\n")
    # a line being written may be incomplete: only complete lines count
    return [json.loads(l) for l in lines[:-1] if l]


class Proc:
    """A child process whose output goes to a log file in the test's directory."""

    def __init__(self, args, log_path):
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.p = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)

    def signal(self, sig):
        if self.p.poll() is None:
            self.p.send_signal(sig)

    def stop(self, timeout=20):
        self.signal(signal.SIGTERM)
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        self.log.close()
        return rc

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")


class Publisher:
    """A health event publisher (XPUB, so it knows when the service's
    subscription has arrived and nothing it sends is lost to a slow join)."""

    def __init__(self, endpoint, observer, site):
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.XPUB)
        self.sock.setsockopt(zmq.LINGER, 2000)
        self.sock.connect(endpoint)
        self.observer = observer
        self.site = site
        self.seq = 0
        self.incarnation = int(time.time() * 1000)

    def wait_subscribed(self, timeout_ms=10000):
        if not self.sock.poll(timeout_ms):
            raise AssertionError("the service never subscribed")
        msg = self.sock.recv()
        assert msg[:1] == b"\x01", msg

    def event(self, **kw):
        self.seq += 1
        ev = health_pb2.Event(schema=1, observer=self.observer, site=self.site, seq=self.seq,
                              sent_at_ms=int(time.time() * 1000), incarnation=self.incarnation)
        for k, v in kw.items():
            setattr(ev, k, v)
        return ev

    def reach(self, target, up):
        ev = self.event()
        ev.reachability.target_site = target
        ev.reachability.up = up
        self.send("reachability", ev)
        return ev

    def heartbeat(self, **kw):
        ev = self.event(**kw)
        ev.heartbeat.interval_ms = 100
        self.send("heartbeat", ev)
        return ev

    def send(self, topic, ev):
        data = ev.SerializeToString() if hasattr(ev, "SerializeToString") else ev
        self.sock.send_multipart([topic.encode(), data])

    def close(self):
        self.sock.close()
        self.ctx.term()


def tcp_reachable(port, timeout=0.2):
    """A real reachability check, as sg-probe --reach does."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def start_probe(endpoint, observer, site, site_port, log_dir):
    """A real sg-probe for `observer` at `site`: heartbeats every 100 ms, its
    site's endpoint listening on site_port[site], and TCP reachability checks
    of every other site's port. The caller stops the returned Proc."""
    args = [PROBE, "--endpoint", endpoint, "--observer", observer, "--site", site,
            "--interval", "100", "--listen", "127.0.0.1:%d" % site_port[site]]
    for other, port in site_port.items():
        if other != site:
            args += ["--reach", "%s=127.0.0.1:%d" % (other, port)]
    return Proc(args, os.path.join(log_dir, observer + ".log"))


def witness_round(pub, site_port):
    """One round of a Python witness: a heartbeat and real reachability
    checks of A and B."""
    pub.heartbeat()
    for site in ("A", "B"):
        pub.reach(site, tcp_reachable(site_port[site]))


def listener(port):
    """A site's reachable endpoint, as sg-probe --listen provides."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(64)
    return s


def write_config(path, text):
    with open(path, "w") as f:
        f.write(text)


def tempdir():
    return tempfile.mkdtemp(prefix="sg-it-")
