"""siteguard.exe as a Windows service under Wine: registered with `sc create`,
started with `net start`, fed by native Linux sg-probe processes and a Python
witness over 127.0.0.1, all publishing over CURVE with their own keys (the
bus's key beside the config); site A is lost, its collections fail over on the
simulator, and the outcomes are read from the jsonl sink in ProgramData;
`net stop` ends it cleanly. Then the service commands of siteguard.exe itself
(install, start, stop, uninstall).

Run by tests/windows/run-wine, which makes the Wine prefix and keeps a
`wineserver -p` alive. Environment: WINEPREFIX, SG_WIN_BUILD_DIR (the Windows
build), SG_BUILD_DIR (a native build: sg-probe and the Python protobufs)."""
import os
import subprocess
import unittest
import urllib.request

import sgtest
from sgtest import Publisher, free_port, wait_for

WIN_BUILD = os.path.abspath(os.environ["SG_WIN_BUILD_DIR"])
PREFIX = os.environ["WINEPREFIX"]
WINE = os.environ.get("SG_WINE", "wine")
DATA = os.path.join(PREFIX, "drive_c", "ProgramData", "siteguard")
DATA_WIN = "C:\\ProgramData\\siteguard"

# part of the CONFIG template: the operator's key
CONTROL = """\
control:
  endpoint: tcp://127.0.0.1:{control_port}
  secret_key_file: server.key
  operators:
    - name: wine-operator
      key: '{operator_key}'
"""

OBSERVERS = ("probe-a@A", "probe-b@B", "py-w@W")

# the simulator keeps no state file; the sink writes to the service's
# directory; the bus is a CURVE server with a key per observer ({sites})
CONFIG = ("log_level: debug\n"
          + sgtest.bus_yaml("{port}", max_age=None, secret_key_file="bus.key")
          + sgtest.metrics_yaml("{metrics_port}") + "{sites}" + "collections:\n"
          + sgtest.collection_yaml("a-db", "11111111-0000-0000-0000-00000000000b", "A", "B",
                                   group=0)
          + sgtest.collection_yaml("a-app", "11111111-0000-0000-0000-00000000000a", "A", "B",
                                   group=1)
          + sgtest.policy_yaml() + sgtest.sim_provider_yaml("400ms", workers=2)
          + sgtest.jsonl_sink_yaml("outcomes.jsonl") + CONTROL)


def wine(*args, timeout=120):
    """Runs a Windows program under Wine; returns the completed process."""
    return subprocess.run([WINE] + list(args), capture_output=True, text=True, timeout=timeout,
                          errors="replace")


def win_path(unix_path):
    """The Z: drive path Wine gives a Linux path."""
    return "Z:" + os.path.abspath(unix_path).replace("/", "\\")


def log_text(name):
    path = os.path.join(DATA, name + ".log")
    if not os.path.exists(path):
        return ""
    with open(path, errors="replace") as f:
        return f.read()


class WindowsService(unittest.TestCase):
    def setUp(self):
        os.makedirs(DATA, exist_ok=True)
        for f in os.listdir(DATA):
            os.unlink(os.path.join(DATA, f))
        self.port = free_port()
        self.metrics_port = free_port()
        self.endpoint = sgtest.tcp_endpoint(self.port)
        self.site_port = sgtest.site_ports()
        self.tmp = sgtest.tempdir()
        self.control_port = free_port()
        self.server_pub = sgtest.keygen(os.path.join(DATA, "server.key"))
        self.operator_key = os.path.join(self.tmp, "operator.key")
        self.bus_pub = sgtest.keygen(os.path.join(DATA, "bus.key"))
        keys = {}
        for obs in OBSERVERS:
            ident = obs.split("@")[0]
            keys[ident] = sgtest.keygen(self.key_file(ident))
        sgtest.write_config(os.path.join(DATA, "siteguard.yaml"), CONFIG.format(
            port=self.port, metrics_port=self.metrics_port, control_port=self.control_port,
            operator_key=sgtest.keygen(self.operator_key),
            sites=sgtest.sites_yaml(*OBSERVERS, keys=keys)))
        self.exe = win_path(os.path.join(WIN_BUILD, "siteguard.exe"))
        self.procs, self.listeners, self.pub = [], [], None

    def tearDown(self):
        if self.pub:
            self.pub.close()
        for p in self.procs:
            p.stop()
        for l in self.listeners:
            l.close()

    def key_file(self, observer):
        return os.path.join(self.tmp, observer + ".key")

    def start_probe(self, observer, site):
        p = sgtest.start_probe(self.endpoint, observer, site, self.site_port, self.tmp,
                               curve=(self.key_file(observer), self.bus_pub))
        self.procs.append(p)
        return p

    def outcomes(self, kind=None):
        return sgtest.outcomes(DATA, kind)

    def test_sc_create_net_start_site_loss_fails_over_and_net_stop_is_clean(self):
        name = "siteguard-wine"
        bin_path = '%s service --name %s -c %s\\siteguard.yaml' % (self.exe, name, DATA_WIN)
        r = wine("sc", "create", name, "binPath=", bin_path)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        try:
            r = wine("net", "start", name)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr + log_text(name) +
                             wine("sc", "query", name).stdout)
            wait_for(lambda: "service %s: config" % name in log_text(name), what="the service's log")

            probe_a = self.start_probe("probe-a", "A")
            self.start_probe("probe-b", "B")
            self.listeners.append(sgtest.listener(self.site_port["W"]))
            pub, sec = sgtest.key_pair(self.key_file("py-w"))
            self.pub = Publisher(self.endpoint, "py-w", "W", curve=(self.bus_pub, pub, sec))
            try:
                self.pub.wait_subscribed()
            except AssertionError:
                self.fail("no subscription from the service:\n" + log_text(name)[-3000:])
            sgtest.witness_for(self.pub, self.site_port, 1.0)
            probe_a.stop()
            failed_over = lambda: len(self.outcomes("succeeded")) >= 2
            sgtest.witness_until(self.pub, self.site_port, failed_over, 60,
                                 "collections did not fail over", lambda: log_text(name))
            out = self.outcomes()
            lost = [o for o in out if o["kind"] == "site_lost"]
            self.assertEqual([o["site"] for o in lost], ["A"])
            decisions = [o["collection"] for o in out if o["kind"] == "decision"]
            self.assertEqual(decisions, ["a-db", "a-app"])
            for o in out:
                if o["kind"] == "job_started":
                    self.assertIn("Msvm_ConcreteJob", o["job_path"])

            # the metrics endpoint (libmicrohttpd) answers from the service;
            # every event came with its observer's own key
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.metrics_port,
                                        timeout=10) as resp:
                self.assertEqual(resp.status, 200)
                self.assertIn("siteguard_events_received_total", resp.read().decode())
            m = sgtest.metrics(self.metrics_port)
            self.assertEqual(m["siteguard_bus_handshakes_refused_total"], 0)
            for reason in ("impostor", "revoked", "incarnation"):
                self.assertEqual(m['siteguard_events_dropped_total{reason="%s"}' % reason], 0)
            self.assertIn("(CURVE: observers' keys only)", log_text(name))

            # the control endpoint: loopback tcp with CURVE, by the native siteguardctl
            r = sgtest.ctl_curve(self.control_port, self.server_pub, self.operator_key, "status")
            self.assertEqual(r.returncode, 0, r.stderr + log_text(name)[-3000:])
            self.assertIn("a-app", r.stdout)

            r = wine("net", "stop", name)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr + log_text(name)[-3000:])
            # net stop may return while the service still drains (STOP_PENDING)
            wait_for(lambda: "STOPPED" in wine("sc", "query", name).stdout, timeout=60,
                     what="the service to report STOPPED after net stop")
            self.assertNotIn(" error ", log_text(name))
        finally:
            wine("net", "stop", name)
            wine("sc", "delete", name)

    def test_siteguard_install_start_stop_uninstall(self):
        name = "siteguard-cmd"
        cfg = DATA_WIN + "\\siteguard.yaml"
        r = wine(self.exe, "install", "--name", name, "-c", cfg)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("install: %s: done" % name, r.stdout)
        try:
            key = "HKLM\\System\\CurrentControlSet\\Services\\" + name
            q = wine("reg", "query", key)
            self.assertIn('service --name %s -c "%s"' % (name, cfg), q.stdout, q.stdout + q.stderr)
            self.assertRegex(q.stdout, r"Start\s+REG_DWORD\s+0x2")                 # automatic
            self.assertRegex(q.stdout, r"PreshutdownTimeout\s+REG_DWORD\s+0x7530")  # 30 s
            self.assertRegex(q.stdout, r"DependOnService\s+REG_MULTI_SZ\s+Winmgmt")  # WMI first
            # (Wine accepts the recovery actions but keeps no FailureActions value.)
            q = wine("reg", "query", "HKLM\\System\\CurrentControlSet\\Services\\EventLog"
                     "\\Application\\" + name)
            self.assertRegex(q.stdout, r"EventMessageFile\s+REG_EXPAND_SZ\s+.*siteguard\.exe",
                             q.stdout + q.stderr)
            r = wine(self.exe, "start", "--name", name)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr + log_text(name))
            q = wine("sc", "query", name)
            self.assertIn("RUNNING", q.stdout, q.stdout)
            r = wine(self.exe, "stop", "--name", name)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr + log_text(name))
            self.assertIn("STOPPED", wine("sc", "query", name).stdout)
        finally:
            r = wine(self.exe, "uninstall", "--name", name)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotEqual(wine("sc", "query", name).returncode, 0)

    def test_a_service_with_an_invalid_config_fails_to_start(self):
        name = "siteguard-bad"
        with open(os.path.join(DATA, "bad.yaml"), "w") as f:
            f.write("sites: [oops\n")
        r = wine(self.exe, "install", "--name", name, "-c", DATA_WIN + "\\siteguard.yaml")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        try:
            # the service's command line names the bad file from now on
            os.replace(os.path.join(DATA, "bad.yaml"), os.path.join(DATA, "siteguard.yaml"))
            r = wine(self.exe, "start", "--name", name)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("the service stopped", r.stderr)
            self.assertIn("siteguard.yaml", log_text(name))
        finally:
            wine(self.exe, "uninstall", "--name", name)


if __name__ == "__main__":
    unittest.main(verbosity=2)
