"""Helpers for siteguard's integration tests: real processes on 127.0.0.1.

Run with Debian's /usr/bin/python3 (python3-zmq, python3-protobuf). The build
directory comes from SG_BUILD_DIR; the generated health_pb2 lives there.

The *_yaml functions each give one block of a siteguard config. They add no
braces, so their values may be str.format placeholders ("{dir}") and their
text may stand in a template.
"""
import json
import math
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BUILD = os.environ.get("SG_BUILD_DIR") or os.path.join(os.path.dirname(__file__), "..", "..", "build")
BUILD = os.path.abspath(BUILD)
sys.path.insert(0, os.path.join(BUILD, "python"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))

import simstate  # noqa: E402
import zmq  # noqa: E402
from proto import health_pb2  # noqa: E402

SITEGUARD = os.path.join(BUILD, "siteguard")
PROBE = os.path.join(BUILD, "sg-probe")
CTL = os.path.join(BUILD, "siteguardctl")

# ---- config blocks ------------------------------------------------------------------


def sites_yaml(*observers, witness=True, keys=None, data_sites=("A", "B")):
    """The topology of the integration tests' configs: sites A and B (or
    `data_sites`) and (with `witness`) the witness site W, with the observers
    given as "ID@SITE"; `keys` maps an observer's id to its CURVE public key
    (or a list of two, during a rotation)."""
    lines = ["sites:"] + ["  - name: " + site for site in data_sites]
    if witness:
        lines += ["  - name: W", "    witness: true"]
    lines.append("observers:")
    for obs in observers:
        ident, site = obs.split("@")
        lines += ["  - id: " + ident, "    site: " + site]
        key = (keys or {}).get(ident)
        if isinstance(key, (list, tuple)):
            lines.append("    public_key: [%s]" % ", ".join("'%s'" % k for k in key))
        elif key:
            lines.append("    public_key: '%s'" % key)
    return "\n".join(lines) + "\n"


# One observer at each of A, B and W.
THREE_SITES_YAML = sites_yaml("obs-a@A", "obs-b@B", "obs-w@W")


def _block(lines):
    return "".join(line + "\n" for line in lines if line is not None)


def _opt(fmt, value):
    return None if value is None else fmt % value


def bus_yaml(port, max_age="30s", max_event_bytes=None, secret_key_file=None, insecure=None,
             incarnation_silence=None):
    """The bus, bound to 127.0.0.1:port; with `secret_key_file` (the
    service's key, as keygen writes it) a CURVE server."""
    return _block(["bus:", "  bind: [tcp://127.0.0.1:%s]" % port,
                   _opt("  max_event_bytes: %s", max_event_bytes),
                   _opt("  max_age: %s", max_age),
                   _opt("  curve:\n    secret_key_file: %s", secret_key_file),
                   _opt("  insecure: %s", insecure),
                   _opt("  incarnation_silence: %s", incarnation_silence)])


def policy_yaml(suspect_after="600ms", hold_down="1500ms", recover_after="2s", mode=None):
    """The policy's timings and mode; None leaves a line out."""
    return _block(["policy:", "  suspect_after: " + suspect_after,
                   "  hold_down: " + hold_down, _opt("  recover_after: %s", recover_after),
                   _opt("  mode: %s", mode)])


def sim_provider_yaml(job_duration, state_dir=None, call_latency="10ms", workers=None,
                      job_timeout=None, kind="sim"):
    """The simulator as the provider, polled from 50 to 200 ms; its state file
    in state_dir."""
    return _block(["provider:", _opt("  kind: %s", kind), _opt("  workers: %s", workers),
                   "  poll_initial: 50ms", "  poll_max: 200ms",
                   _opt("  job_timeout: %s", job_timeout), "  sim:",
                   "    call_latency: " + call_latency, "    job_duration: " + job_duration,
                   _opt("    state_file: %s/sim-state.json", state_dir)])


def journal_yaml(directory):
    return _block(["journal:", "  path: %s/journal.db" % directory])


def jsonl_sink_yaml(path):
    """The sinks: one jsonl sink named outcomes, writing to path."""
    return _block(["sinks:", "  - name: outcomes", "    plugin: jsonl", "    options:",
                   "      path: " + path])


def control_yaml(directory, readonly=False):
    """The operator socket (and with `readonly` the reader's) in directory."""
    return _block(["control:", "  endpoint: ipc://%s/control.sock" % directory,
                   "  readonly_endpoint: ipc://%s/control-ro.sock" % directory
                   if readonly else None])


def metrics_yaml(port):
    return _block(["metrics:", "  listen: 127.0.0.1:%s" % port])


def collection_yaml(name, collection_id, site, replica_site, group=None, depends_on=None,
                    recovery_point=None):
    """One entry of `collections:`."""
    return _block(["  - name: " + name,
                   "    cim_path: 'Msvm_VirtualSystemCollection.CollectionID=\"%s\"'" % collection_id,
                   "    site: " + site, "    replica_site: " + replica_site,
                   _opt("    group: %s", group), _opt("    depends_on: [%s]", depends_on),
                   _opt("    recovery_point: %s", recovery_point)])


def write_config(path, text):
    with open(path, "w") as f:
        f.write(text)


# ---- processes ----------------------------------------------------------------------


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def site_ports(sites="ABW"):
    """A free port for each site's reachable endpoint."""
    return {site: free_port() for site in sites}


def tcp_endpoint(port):
    return "tcp://127.0.0.1:%d" % port


def tempdir():
    return tempfile.mkdtemp(prefix="sg-it-")


def service_case(case):
    """The places a test of one service uses, set on `case`: its directory
    (dir), its config file there (cfg), the bus port and endpoint (port,
    endpoint), the metrics port (metrics_port) and a port for each site's
    reachable endpoint (site_port)."""
    case.dir = tempdir()
    case.cfg = os.path.join(case.dir, "siteguard.yaml")
    case.port = free_port()
    case.endpoint = tcp_endpoint(case.port)
    case.metrics_port = free_port()
    case.site_port = site_ports()


def wait_for(predicate, timeout=30.0, what="condition"):
    """Polls an observable condition until it holds; fails after `timeout` s
    with `what` (a text, or a function giving one: what was seen instead)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + (what() if callable(what) else what))
        time.sleep(0.05)


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

    def kill(self):
        """SIGKILL; returns once the process is gone."""
        self.p.send_signal(signal.SIGKILL)
        self.p.wait()
        self.log.close()

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")


def start_service(config, log_path, *args):
    """`siteguard run` with the config file at `config` (and more args)."""
    return Proc([SITEGUARD, "run", "-c", config] + list(args), log_path)


def check_config(path, timeout=None):
    """`siteguard check-config`: the completed process, its output as text."""
    return subprocess.run([SITEGUARD, "check-config", path], capture_output=True, text=True,
                          timeout=timeout)


def start_probe(endpoint, observer, site, site_port, log_dir, curve=None, interval=100):
    """A real sg-probe for `observer` at `site`: heartbeats every `interval` ms, its
    site's endpoint listening on site_port[site], and TCP reachability checks
    of every other site's port (each may take 1 s: on a loaded machine a
    shorter bound reports a live site down), first published once every
    other site's endpoint listens (probes start one after another); with `curve` (its key file, the service's
    public key) over CURVE. The caller stops the returned Proc."""
    args = [PROBE, "--endpoint", endpoint, "--observer", observer, "--site", site,
            "--interval", str(interval), "--listen", "127.0.0.1:%d" % site_port[site],
            "--reach-timeout", "1000", "--wait-peers", "5000"]
    for other, port in site_port.items():
        if other != site:
            args += ["--reach", "%s=127.0.0.1:%d" % (other, port)]
    if curve:
        args += ["--key-file", curve[0], "--server-key", curve[1]]
    return Proc(args, os.path.join(log_dir, observer + ".log"))


def start_probes(endpoint, site_port, log_dir, curve=None, interval=100):
    """An sg-probe "probe-<site>" at every site of site_port, by site; with
    `curve` (a function of the observer id giving its key file, the
    service's public key) over CURVE."""
    return {site: start_probe(endpoint, "probe-" + site.lower(), site, site_port, log_dir,
                              curve("probe-" + site.lower()) if curve else None, interval)
            for site in site_port}


class listener:
    """A site's reachable endpoint, as sg-probe --listen provides: it accepts
    and closes every connection (a thread does), so that its backlog never
    fills and a check never times out because nobody answered. close()
    takes the endpoint away: the site becomes unreachable."""

    def __init__(self, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(64)
        self.sock.settimeout(0.05)
        self.closing = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.closing.is_set():
            try:
                conn, _ = self.sock.accept()
                conn.close()
            except (socket.timeout, OSError):
                pass

    def close(self):
        self.closing.set()
        self.thread.join()
        self.sock.close()


def tcp_reachable(port, timeout=1.0):
    """A real reachability check, as sg-probe --reach does."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


# ---- siteguardctl -------------------------------------------------------------------


def ctl(*args, env=None, timeout=30):
    """siteguardctl with `args`: the completed process, its output as text."""
    return subprocess.run([CTL] + list(args), capture_output=True, text=True, timeout=timeout,
                          env=env)


def ctl_ipc(directory, *args, socket="control.sock"):
    """siteguardctl on the ipc control socket named `socket` in directory."""
    return ctl("-s", "ipc://" + os.path.join(directory, socket), *args)


def ctl_curve(port, server_key, key_file, *args, timeout_ms=10000):
    """siteguardctl on a tcp control endpoint of 127.0.0.1, with CURVE keys."""
    return ctl("-s", "tcp://127.0.0.1:%d" % port, "--server-key", server_key,
               "--key-file", key_file, "--timeout", str(timeout_ms), *args)


def ctl_status(directory, socket="control.sock"):
    """`siteguardctl --json status` on an ipc socket in directory, parsed."""
    r = ctl_ipc(directory, "--json", "status", socket=socket)
    if r.returncode != 0:
        raise AssertionError("siteguardctl status failed: " + r.stderr)
    return json.loads(r.stdout)["status"]


def sites_healthy(status):
    """Whether a status shows every site healthy."""
    return all(s["state"] == "healthy" for s in status["sites"])


def wait_healthy(status, timeout=30.0, what="every site healthy"):
    """Waits until status() shows every site healthy; a failure shows the
    sites as last seen (state and why)."""
    seen = {}

    def healthy():
        seen["sites"] = status()["sites"]
        return sites_healthy(seen)

    wait_for(healthy, timeout=timeout, what=lambda: "%s; sites: %s" % (what, seen.get("sites")))


def keygen(path):
    """A CURVE key pair made by siteguardctl: the secret key written to path,
    the public key returned."""
    r = ctl("keygen", "--out", path)
    if r.returncode != 0:
        raise AssertionError(r.stderr)
    return r.stdout.strip()


def key_pair(path):
    """(public, secret) of the key file keygen wrote at path, as text."""
    with open(path) as f:
        secret = next(l.strip() for l in f if l.strip() and not l.startswith("#"))
    return zmq.curve_public(secret.encode()).decode(), secret


# ---- what the service leaves behind --------------------------------------------------


def read_jsonl(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        lines = f.read().split("\n")
    # a line being written may be incomplete: only complete lines count
    return [json.loads(l) for l in lines[:-1] if l]


def outcomes(directory, kind=None, collection=None):
    """The jsonl sink's outcomes in directory, of `kind` and `collection` if given."""
    return [o for o in read_jsonl(os.path.join(directory, "outcomes.jsonl"))
            if (kind is None or o["kind"] == kind)
            and (collection is None or o.get("collection") == collection)]


def query(path, sql, params=(), dicts=False, timeout=10):
    """The rows of `sql` on the SQLite database at path (as dicts with `dicts`)."""
    db = sqlite3.connect(path, timeout=timeout)
    try:
        if dicts:
            db.row_factory = sqlite3.Row
        rows = db.execute(sql, params).fetchall()
        return [dict(r) for r in rows] if dicts else rows
    finally:
        db.close()


def sim_collections(directory):
    """The simulator's collections in its state file in directory, its change
    lines applied; [] until it has saved any."""
    path = os.path.join(directory, "sim-state.json")
    if not os.path.exists(path):
        return []
    return simstate.load(path)["collections"]


def sim_calls(directory, path_part, method="InitiateFailover"):
    """(calls, accepted) of `method` on the collection whose path holds
    path_part, counted by the simulator; None for no such collection."""
    c = next((c for c in sim_collections(directory) if path_part in c["path"]), None)
    if c is None:
        return None
    return c["calls"].get(method, 0), c["accepted"].get(method, 0)


def metrics_text(port, timeout=5):
    """The exposition text of /metrics on 127.0.0.1:port."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=timeout) as resp:
        return resp.read().decode()


# ---- HTTP receivers -----------------------------------------------------------------


class QuietHTTPHandler(BaseHTTPRequestHandler):
    """A request handler that logs nothing."""

    def log_message(self, *args):
        pass

    def answer(self, status):
        """Answers `status` with no body; a sender that gave up is no error."""
        try:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()
        except OSError:
            pass


def serve_http(handler):
    """A ThreadingHTTPServer with `handler` on a free port of 127.0.0.1, served
    from a daemon thread; the caller calls shutdown() and server_close()."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def metrics(port):
    """The series of /metrics on 127.0.0.1:port (name with labels, as in the
    text: 'siteguard_events_dropped_total{reason="stale"}') and their values,
    from one scrape; {} before the first publish."""
    try:
        text = metrics_text(port)
    except OSError:
        return {}
    values = {}
    for line in text.split("\n"):
        name, _, value = line.rpartition(" ")
        if name and not line.startswith("#"):
            values[name] = float(value)
    return values


def metric(port, series):
    """The value of one series of /metrics (see metrics), or None."""
    return metrics(port).get(series)


def histogram(m, name):
    """{le: cumulative count} of a histogram in a metrics dict (see metrics)."""
    h = {}
    for k, v in m.items():
        if k.startswith(name + "_bucket{le=\""):
            le = k[len(name) + 12:-2]
            h[math.inf if le == "+Inf" else float(le)] = v
    return dict(sorted(h.items()))


def hist_between(before, after, name):
    """What the histogram `name` counted between two scrapes (metrics dicts),
    as histogram gives it."""
    h0 = histogram(before, name)
    return {le: c - h0.get(le, 0) for le, c in histogram(after, name).items()}


def hist_quantile(h, q):
    """The upper bound of the bucket holding quantile q of a histogram (see
    histogram), Prometheus-style without interpolation: the figure is at most
    this; nan when it counted nothing."""
    total = h.get(math.inf, 0)
    if not total:
        return float("nan")
    for le, c in h.items():
        if c >= q * total:
            return le
    return math.inf


def bench_line(name, **kv):
    """Prints one benchmark figure line, `name key=value ...` (bench/README.md)."""
    print(name + "".join(" %s=%s" % (k, v) for k, v in kv.items()), flush=True)


# ---- publishers ---------------------------------------------------------------------


class Publisher:
    """A health event publisher (XPUB, so it knows when the service's
    subscription has arrived and nothing it sends is lost to a slow join).
    Its events are stamped skew_ms in the past (0: its clock is right).
    With `curve` (the service's public key, this publisher's public and
    secret keys, as Z85 text) it is a CURVE client; with `monitor`, its
    connection's events (handshakes, disconnections) can be waited for."""

    def __init__(self, endpoint, observer, site, curve=None, monitor=False):
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.XPUB)
        self.sock.setsockopt(zmq.LINGER, 2000)
        if curve:
            self.sock.curve_serverkey = curve[0].encode()
            self.sock.curve_publickey = curve[1].encode()
            self.sock.curve_secretkey = curve[2].encode()
        self.monitor = self.sock.get_monitor_socket() if monitor else None
        self.sock.connect(endpoint)
        self.observer = observer
        self.site = site
        self.seq = 0
        self.incarnation = int(time.time() * 1000)
        self.skew_ms = 0

    def wait_subscribed(self, timeout_ms=10000):
        if not self.sock.poll(timeout_ms):
            raise AssertionError("the service never subscribed")
        msg = self.sock.recv()
        assert msg[:1] == b"\x01", msg

    def subscribed(self):
        """Whether a subscription has arrived (without waiting)."""
        return bool(self.sock.poll(0))

    def wait_event(self, event, timeout=20.0):
        """Waits for a connection event (zmq.EVENT_*) on the monitor."""
        from zmq.utils.monitor import recv_monitor_message
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.monitor.poll(100):
                if recv_monitor_message(self.monitor)["event"] == event:
                    return True
        raise AssertionError("no connection event %d" % event)

    def event(self, **kw):
        self.seq += 1
        ev = health_pb2.Event(schema=1, observer=self.observer, site=self.site, seq=self.seq,
                              sent_at_ms=int(time.time() * 1000) - self.skew_ms,
                              incarnation=self.incarnation)
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
        if self.monitor:
            self.sock.disable_monitor()
            self.monitor.close()
        self.sock.close()
        self.ctx.term()


def site_publishers(endpoint, timeout_ms=20000):
    """Publishers for obs-a, obs-b and obs-w of THREE_SITES_YAML, in that
    order; returns once the service has subscribed to each."""
    pubs = [Publisher(endpoint, "obs-%s" % s.lower(), s) for s in ("A", "B", "W")]
    for p in pubs:
        p.wait_subscribed(timeout_ms=timeout_ms)
    return pubs


def close_all(pubs):
    for p in pubs:
        p.close()


def site_a_round(pubs, a_until, now=None, report_always=False):
    """One round of the publishers of A, B and W: A beats until a_until; B and
    W beat and report A (up while it beats) and each other reachable: once A
    is silent, or every round with report_always."""
    a, b, w = pubs
    now = time.monotonic() if now is None else now
    if now < a_until:
        a.heartbeat()
    for p in (b, w):
        p.heartbeat()
        if report_always or now >= a_until:
            p.reach("A", now < a_until)
            p.reach("B" if p is w else "W", True)


# ---- a Python witness ----------------------------------------------------------------


def witness_round(pub, site_port):
    """One round of a Python witness: a heartbeat and real reachability
    checks of A and B."""
    pub.heartbeat()
    for site in ("A", "B"):
        pub.reach(site, tcp_reachable(site_port[site]))


def witness_for(pub, site_port, seconds):
    """Witness rounds at the witness's 100 ms interval for `seconds`."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        witness_round(pub, site_port)
        time.sleep(0.1)


def witness_until(pub, site_port, done, timeout, what, log):
    """Witness rounds at its 100 ms interval until done() holds; after
    `timeout` s fails with `what` and the tail of log()."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(what + ":\n" + log()[-3000:])
        witness_round(pub, site_port)
        time.sleep(0.1)


class CpuShare:
    """For benchmarks: the machine's CPU time over a phase, split into the
    service's, the benchmark's and the rest (other work on the machine, and
    the time a virtual machine's host took its cores away: steal), as
    percentages of all cores: a busy machine stretches the latencies' tail."""

    TICK = os.sysconf("SC_CLK_TCK")

    def __init__(self, svc_pid):
        self.pid = svc_pid
        self.start = self.sample()

    def sample(self):
        with open("/proc/stat") as f:
            cpu = [int(x) for x in f.readline().split()[1:9]]  # guest time is in user
        with open("/proc/%d/stat" % self.pid) as f:
            svc = f.read().rsplit(")", 1)[1].split()
        own = os.times()
        return (time.monotonic(), sum(cpu) - cpu[3] - cpu[4], int(svc[11]) + int(svc[12]),
                (own.user + own.system) * self.TICK, cpu[7])

    def shares(self):
        """Since the start: the figures of a bench line, by key."""
        (t0, busy0, svc0, own0, steal0), (t1, busy1, svc1, own1, steal1) = \
            self.start, self.sample()
        whole = (t1 - t0) * self.TICK * os.cpu_count() / 100
        svc, own = (svc1 - svc0) / whole, (own1 - own0) / whole
        steal = (steal1 - steal0) / whole
        return {"service_pct": "%.0f" % svc, "bench_pct": "%.0f" % own,
                "others_pct": "%.0f" % max((busy1 - busy0) / whole - svc - own - steal, 0),
                "steal_pct": "%.0f" % steal, "cores": os.cpu_count()}
