"""The control endpoint over loopback tcp with CURVE, end to end: a real
siteguard with a tcp control endpoint on 127.0.0.1 and client keys per role,
driven by real siteguardctl processes with keys made by `siteguardctl keygen`.
The role is the client key's; the audit trail names the key; an unlisted key
is refused at the handshake."""
import json
import os
import re
import stat
import subprocess
import unittest

import sgtest
from sgtest import ctl, free_port, keygen, wait_for

# part of the CONFIG template: operators and readers by key
CONTROL = """\
control:
  endpoint: tcp://127.0.0.1:{control_port}
  secret_key_file: server.key
  operators:
    - name: alice
      key: '{alice}'
  readers:
    - name: monitoring
      key: '{monitoring}'
"""

CONFIG = (sgtest.bus_yaml("{bus_port}", max_age=None)
          + sgtest.sites_yaml("probe-a@A", "probe-b@B", witness=False) + "collections:\n"
          + sgtest.collection_yaml("a-db", "11111111-0000-0000-0000-00000000000c", "A", "B")
          + "provider:\n  kind: sim\n  sim:\n    state_file: {dir}/sim-state.json\n"
          + sgtest.journal_yaml("{dir}") + sgtest.metrics_yaml("{metrics_port}") + CONTROL)


class ControlCurve(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = sgtest.tempdir()
        cls.port = free_port()
        cls.metrics_port = free_port()
        key = lambda name: os.path.join(cls.dir, name + ".key")
        cls.server_pub = keygen(key("server"))
        cls.alice_key, cls.monitoring_key, cls.stranger_key = (
            key("alice"), key("monitoring"), key("stranger"))
        cls.cfg = os.path.join(cls.dir, "siteguard.yaml")
        sgtest.write_config(cls.cfg, CONFIG.format(
            bus_port=free_port(), control_port=cls.port, metrics_port=cls.metrics_port,
            dir=cls.dir,
            alice=keygen(cls.alice_key), monitoring=keygen(cls.monitoring_key)))
        keygen(cls.stranger_key)
        cls.svc = sgtest.start_service(cls.cfg, os.path.join(cls.dir, "siteguard.log"))
        wait_for(lambda: "operator socket on tcp://" in cls.svc.output() or cls.svc.p.poll()
                 is not None, what="the control socket")
        if cls.svc.p.poll() is not None:
            raise AssertionError("siteguard exited:\n" + cls.svc.output())

    @classmethod
    def tearDownClass(cls):
        cls.svc.stop()

    def as_key(self, key_file, *args, timeout_ms=10000):
        return sgtest.ctl_curve(self.port, self.server_pub, key_file, *args,
                                timeout_ms=timeout_ms)

    def test_keygen_writes_a_private_secret_key_and_never_overwrites_it(self):
        path = os.path.join(self.dir, "server.key")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        with open(path) as f:
            text = f.read()
        self.assertIn("public key: " + self.server_pub, text)
        r = ctl("keygen", "--out", path)
        self.assertEqual(r.returncode, 1)
        self.assertIn("never overwritten", r.stderr)
        with open(path) as f:
            self.assertEqual(f.read(), text)

    def test_keygen_under_umask_022_still_writes_the_secret_key_0600(self):
        path = os.path.join(self.dir, "umask022.key")
        r = subprocess.run([sgtest.CTL, "keygen", "--out", path], capture_output=True, text=True,
                           timeout=30, umask=0o022)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        # the public key is printed, not written: nothing else appeared
        self.assertEqual(len(r.stdout.strip()), 40)
        self.assertEqual([f for f in os.listdir(self.dir) if f.startswith("umask022")],
                         ["umask022.key"])

    def test_reader_key_reads_status_but_may_not_pause(self):
        r = self.as_key(self.monitoring_key, "--json", "status")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([s["name"] for s in json.loads(r.stdout)["status"]["sites"]], ["A", "B"])
        r = self.as_key(self.monitoring_key, "pause", "a-db", "--for", "10m", "--reason", "x")
        self.assertEqual(r.returncode, 1)
        self.assertIn("denied", r.stderr)
        self.assertIn("key 'monitoring' has the read-only role", r.stderr)

    def test_operator_key_pauses_and_the_audit_trail_names_the_key(self):
        r = self.as_key(self.alice_key, "pause", "a-db", "--for", "10m", "--reason", "patching")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.as_key(self.monitoring_key, "--json", "history")
        self.assertEqual(r.returncode, 0, r.stderr)
        entries = [e for e in json.loads(r.stdout)["history"]
                   if e["command"] == "pause" and e["reason"] == "patching"]
        self.assertEqual(len(entries), 1)
        self.assertEqual(entries[0]["who"], "alice")
        self.assertEqual(entries[0]["role"], "operator")
        self.assertTrue(entries[0]["result"].startswith("ok"))
        who = [row[0] for row in sgtest.query(os.path.join(self.dir, "journal.db"),
                                              "SELECT who FROM audit WHERE reason = 'patching'")]
        self.assertEqual(who, ["alice"])

    def keys_refused(self):
        text = sgtest.metrics_text(self.metrics_port)
        m = re.search(r"^siteguard_control_keys_refused_total (\d+)$", text, re.M)
        self.assertIsNotNone(m, text)
        return int(m.group(1))

    def test_unlisted_key_is_refused_with_a_clear_error(self):
        r = self.as_key(self.stranger_key, "status", timeout_ms=5000)
        self.assertEqual(r.returncode, 3)
        self.assertIn("refused this client's key", r.stderr)
        self.assertEqual(r.stdout, "")
        wait_for(lambda: re.search(r"\[zap\] refused a client .*is not listed",
                                   self.svc.output()), what="the refusal in the log")
        wait_for(lambda: self.keys_refused() >= 1, what="the refusal in /metrics")

    def test_environment_variables_stand_for_the_options(self):
        env = dict(os.environ, SITEGUARDCTL_ENDPOINT="tcp://127.0.0.1:%d" % self.port,
                   SITEGUARDCTL_SERVER_KEY=self.server_pub,
                   SITEGUARDCTL_KEY_FILE=self.monitoring_key)
        r = ctl("status", env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("a-db", r.stdout)

    def test_tcp_without_keys_is_a_clear_client_error(self):
        r = ctl("-s", "tcp://127.0.0.1:%d" % self.port, "status")
        self.assertEqual(r.returncode, 2)
        self.assertIn("needs CURVE keys", r.stderr)

    def test_check_config_refuses_tcp_control_without_curve(self):
        path = os.path.join(self.dir, "no-curve.yaml")
        with open(self.cfg) as f:
            text = f.read()
        sgtest.write_config(path, text[:text.index("  secret_key_file")])
        r = sgtest.check_config(path, timeout=30)
        self.assertEqual(r.returncode, 1)
        line = text[:text.index("  endpoint: tcp")].count("\n") + 1
        self.assertIn("%s:%d:13: 'endpoint' tcp://127.0.0.1:%d is tcp and needs CURVE"
                      % (path, line, self.port), r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
