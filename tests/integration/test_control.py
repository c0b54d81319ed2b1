"""Operator control, end to end: a real siteguard driven by real siteguardctl
processes over its ipc control sockets, sg-probe processes as the sites'
observers, /metrics scraped over HTTP, the audit trail read back with
`siteguardctl history`, and the config reloaded live."""
import json
import os
import pwd
import re
import signal
import subprocess
import unittest
import urllib.request

import zmq

import sgtest
from sgtest import free_port, wait_for

CONFIG = ("log_level: debug\nlog_format: {log_format}\n"
          + sgtest.bus_yaml("{port}", max_age=None)
          + sgtest.sites_yaml("probe-a@A", "probe-b@B", "probe-w@W") + "collections:\n"
          + sgtest.collection_yaml("a-db", "11111111-0000-0000-0000-00000000000b", "A", "B")
          + sgtest.collection_yaml("b-db", "22222222-0000-0000-0000-00000000000b", "B", "A")
          + sgtest.policy_yaml(hold_down="{hold_down}", mode="{mode}")
          + sgtest.sim_provider_yaml("300ms", "{dir}") + sgtest.journal_yaml("{dir}")
          + sgtest.jsonl_sink_yaml("{dir}/outcomes.jsonl")
          + sgtest.control_yaml("{dir}", readonly=True) + sgtest.metrics_yaml("{metrics_port}"))


class Control(unittest.TestCase):
    def setUp(self):
        self.dir = sgtest.tempdir()
        self.port = free_port()
        self.metrics_port = free_port()
        self.site_port = sgtest.site_ports()
        self.procs = []
        self.cfg = os.path.join(self.dir, "siteguard.yaml")

    def tearDown(self):
        for p in reversed(self.procs):
            p.stop()

    def write_config(self, mode="auto", hold_down="1500ms", log_format="text", extra=""):
        sgtest.write_config(self.cfg, CONFIG.format(
            port=self.port, dir=self.dir, mode=mode, hold_down=hold_down,
            log_format=log_format, metrics_port=self.metrics_port) + extra)

    def read_config(self):
        with open(self.cfg) as f:
            return f.read()

    def start(self, **kw):
        self.write_config(**kw)
        self.svc = sgtest.start_service(self.cfg, os.path.join(self.dir, "siteguard.log"))
        self.procs.append(self.svc)
        wait_for(lambda: os.path.exists(os.path.join(self.dir, "control.sock")),
                 what="the control socket")
        probes = sgtest.start_probes(sgtest.tcp_endpoint(self.port), self.site_port, self.dir)
        self.procs.extend(probes.values())
        sgtest.wait_healthy(self.status)
        return probes

    def ctl(self, *args, socket="control.sock"):
        return sgtest.ctl_ipc(self.dir, *args, socket=socket)

    def status(self):
        return sgtest.ctl_status(self.dir, socket="control-ro.sock")

    def verdict(self, collection):
        return next(c for c in self.status()["collections"] if c["name"] == collection)["verdict"]

    def outcomes(self, kind=None, collection=None):
        return sgtest.outcomes(self.dir, kind, collection)

    def history(self):
        r = self.ctl("--json", "history", "--limit", "100", socket="control-ro.sock")
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout).get("history", [])

    def scrape(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.metrics_port,
                                    timeout=5) as resp:
            self.assertEqual(resp.status, 200)
            self.assertIn("text/plain", resp.headers["Content-Type"])
            text = resp.read().decode()
        samples = {}
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            m = re.fullmatch(r'([a-z_]+)(\{[^}]*\})? (\S+)', line)
            self.assertIsNotNone(m, "not an exposition line: " + line)
            samples[m.group(1) + (m.group(2) or "")] = float(m.group(3))
        return samples

    def test_approve_flow_status_explain_and_metrics(self):
        probes = self.start(mode="approve")
        out = self.ctl("status").stdout
        self.assertIn("single instance (leader: none)", out)
        self.assertRegex(out, r"a-db\s+A\s+B\s+0\s+idle")
        probes["A"].stop()
        wait_for(lambda: self.verdict("a-db") == "awaiting approval", what="a-db awaiting")
        explain = self.ctl("explain", "a-db", socket="control-ro.sock")
        self.assertEqual(explain.returncode, 0, explain.stderr)
        self.assertIn("a-db", explain.stdout)
        site = self.ctl("explain", "A")
        self.assertIn("lost", site.stdout)
        self.assertEqual(self.ctl("explain", "nowhere").returncode, 1)
        # a reader may look, not approve
        denied = self.ctl("approve", "a-db", socket="control-ro.sock")
        self.assertEqual(denied.returncode, 1)
        self.assertIn("operator role", denied.stderr)
        self.assertEqual(self.verdict("a-db"), "awaiting approval")
        ok = self.ctl("approve", "a-db", "--reason", "site A confirmed down by phone")
        self.assertEqual(ok.returncode, 0, ok.stderr)
        wait_for(lambda: self.outcomes("succeeded", "a-db"), what="a-db failed over")
        self.assertIn("approved by an operator", self.outcomes("decision", "a-db")[0]["message"])
        self.assertEqual(self.ctl("approve", "a-db").returncode, 1)  # nothing awaits any more
        out = self.ctl("status").stdout
        self.assertRegex(out, r"a-db\s+A\s+B\s+0\s+failed over")
        self.assertRegex(out, r"A\s+lost")
        entries = self.history()
        approves = [e for e in entries if e["command"] == "approve"]
        self.assertEqual([e["role"] for e in approves], ["read-only", "operator", "operator"])
        self.assertEqual(approves[1]["reason"], "site A confirmed down by phone")
        self.assertTrue(approves[1]["result"].startswith("ok"))
        self.assertIn("uid %d" % os.getuid(), approves[1]["who"])
        # this config has no drills: a drill by that name is not found
        drill = self.ctl("drill", "run", "quarterly")
        self.assertNotEqual(drill.returncode, 0)
        self.assertIn("quarterly", drill.stderr)
        # /metrics: the scrape parses, and agrees with what happened
        def scraped():
            m = self.scrape()
            return m if m.get('siteguard_runs_total{result="succeeded"}') == 1 else None
        m = wait_for(scraped, what="metrics showing the run")
        self.assertEqual(m['siteguard_site_state{site="A",state="lost"}'], 1)
        self.assertEqual(m['siteguard_site_state{site="B",state="healthy"}'], 1)
        self.assertEqual(m['siteguard_decisions_total{kind="failover"}'], 1)
        self.assertGreaterEqual(m['siteguard_blocked_total{guard="awaiting_approval"}'], 1)
        self.assertEqual(m["siteguard_run_duration_seconds_count"], 1)
        self.assertEqual(m['siteguard_run_duration_seconds_bucket{le="+Inf"}'], 1)
        self.assertGreater(m["siteguard_events_accepted_total"], 0)
        self.assertEqual(m['siteguard_leader{mode="none"}'], 1)
        self.assertGreater(m["siteguard_journal_bytes"], 0)
        self.assertGreaterEqual(m["siteguard_control_requests_total"], 10)
        # per sink: the jsonl sink got everything, nothing is waiting for it
        def drained():
            m = self.scrape()
            return m if m.get('siteguard_outbox_depth{sink="outcomes"}') == 0 else None
        m = wait_for(drained, what="the outbox of the jsonl sink empty")
        self.assertGreater(m['siteguard_sink_outcomes_total{sink="outcomes",state="delivered"}'], 0)
        self.assertEqual(m['siteguard_sink_outcomes_total{sink="outcomes",state="dead"}'], 0)

    def test_pause_expires_and_manual_failover_needs_force_past_a_guard(self):
        probes = self.start(mode="auto")
        r = self.ctl("pause", "A", "--for", "3s")
        self.assertEqual(r.returncode, 1)
        self.assertIn("reason", r.stderr)
        r = self.ctl("pause", "A", "--for", "3s", "--reason", "network work at A")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("network work at A", self.status()["collections"][0]["paused"])
        probes["A"].stop()
        blocked = wait_for(lambda: self.outcomes("blocked", "a-db"), what="a-db held back")
        self.assertIn("paused", blocked[0]["message"])
        # the pause runs out by itself: the failover goes ahead
        wait_for(lambda: self.outcomes("succeeded", "a-db"), what="a-db failed over after expiry")
        self.assertEqual(self.status()["collections"][0]["paused"], "")

        # manual failover of b-db (its site is healthy): a guard holds it back...
        self.assertEqual(self.ctl("pause", "b-db", "--for", "10m", "--reason", "hold").returncode, 0)
        r = self.ctl("failover", "b-db")
        self.assertEqual(r.returncode, 1)
        self.assertIn("paused", r.stderr)
        r = self.ctl("failover", "b-db", "--force")
        self.assertEqual(r.returncode, 1)
        self.assertIn("--force needs a reason", r.stderr)
        r = self.ctl("failover", "b-db", "--point", " ", "--force", "--reason", "x")
        self.assertEqual(r.returncode, 1)
        self.assertIn("is not latest, app, or a recovery point", r.stderr)
        self.assertEqual(self.verdict("b-db"), "idle")
        # ...and --force with a reason goes past it
        r = self.ctl("failover", "b-db", "--force", "--reason", "B's storage is failing")
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_for(lambda: self.outcomes("succeeded", "b-db"), what="b-db failed over")
        self.assertIn("forced past the guards", self.outcomes("decision", "b-db")[0]["message"])
        r = self.ctl("failover", "b-db", "--force", "--reason", "again")
        self.assertEqual(r.returncode, 1)
        self.assertIn("already failed over", r.stderr)
        self.assertEqual(self.ctl("resume", "b-db").returncode, 0)
        self.assertEqual(self.ctl("resume", "b-db").returncode, 1)  # no pause any more
        cmds = [(e["command"], e["target"], e["result"].split(":")[0]) for e in self.history()]
        self.assertEqual(cmds, [
            ("pause", "A", "invalid"), ("pause", "A", "ok"), ("pause", "b-db", "ok"),
            ("failover", "b-db", "refused"), ("failover --force", "b-db", "invalid"),
            ("failover --force", "b-db", "invalid"), ("failover --force", "b-db", "ok"),
            ("failover --force", "b-db", "refused"), ("resume", "b-db", "ok"),
            ("resume", "b-db", "not found")])
        table = self.ctl("history").stdout
        self.assertIn("B's storage is failing", table)

    def sim_calls(self, collection, method="InitiateFailover"):
        guid = {"a-db": "11111111-", "b-db": "22222222-"}[collection]
        return sgtest.sim_calls(self.dir, guid, method)

    def journal_run(self, collection):
        """The latest run of `collection` in the journal, as a dict, or None."""
        rows = sgtest.query(os.path.join(self.dir, "journal.db"),
                            "SELECT * FROM runs WHERE collection = ? ORDER BY run_id DESC "
                            "LIMIT 1", (collection,), dicts=True, timeout=5)
        return rows[0] if rows else None

    def test_manual_failover_with_its_own_recovery_point_also_after_a_restart(self):
        self.start(mode="auto")  # both collections are configured `latest`
        # --point app: InitiateFailover gets b-db's newest application-consistent point
        r = self.ctl("failover", "b-db", "--point", "app", "--force", "--reason", "B storage")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("with recovery point app", r.stdout)
        started = wait_for(lambda: self.outcomes("job_started", "b-db"), what="b-db's job")
        self.assertTrue(started[0]["recovery_point"].endswith(
            'Msvm_CollectionRecoveryPoint.CollectionID="22222222-0000-0000-0000-00000000000b",'
            'InstanceID="b-db:latest-app"'), started[0])
        self.assertEqual(self.outcomes("decision", "b-db")[0]["recovery_point"], "app")
        done = wait_for(lambda: self.outcomes("succeeded", "b-db"), what="b-db failed over")
        self.assertEqual(done[0]["recovery_point"], started[0]["recovery_point"])
        self.assertEqual(self.sim_calls("b-db"), (1, 1))
        run = next(r for r in self.status()["runs"] if r["collection"] == "b-db")
        self.assertEqual(run["recovery_point"], "app")
        self.assertRegex(self.ctl("status").stdout, r"b-db .* failed over\s+app")
        forced = [e for e in self.history() if e["target"] == "b-db"]
        self.assertIn("with recovery point app", forced[-1]["result"])

        # a point a-db does not have: the run fails, naming its points, with no call
        r = self.ctl("failover", "a-db", "--point", "b-db:latest-app", "--force", "--reason", "x")
        self.assertEqual(r.returncode, 0, r.stderr)
        failed = wait_for(lambda: self.outcomes("failed", "a-db"), what="a-db's run failed")
        self.assertIn("recovery point b-db:latest-app not found", failed[0]["message"])
        self.assertIn('a-db:latest-app" (application-consistent)', failed[0]["message"])
        self.assertEqual(self.sim_calls("a-db"), (0, 0))

        # killed between the intent and the call (a slow provider): the run
        # resumed after the restart calls with its own point, not a-db's `latest`
        self.svc.stop()
        sgtest.write_config(self.cfg, self.read_config().replace("call_latency: 10ms",
                                                                 "call_latency: 2s"))
        self.svc = sgtest.start_service(self.cfg, os.path.join(self.dir, "siteguard-2.log"))
        self.procs.append(self.svc)
        wait_for(lambda: self.ctl("status").returncode == 0, what="the control socket again")
        r = self.ctl("failover", "a-db", "--point", "app", "--force", "--reason", "again")
        self.assertEqual(r.returncode, 0, r.stderr)
        run = wait_for(lambda: (lambda r: r if r and r["point"] == "app" and r["intent_ms"]
                                else None)(self.journal_run("a-db")), what="a-db's intent")
        self.svc.kill()
        self.assertEqual(self.sim_calls("a-db"), (0, 0))  # the call never got through
        self.svc = sgtest.start_service(self.cfg, os.path.join(self.dir, "siteguard-3.log"))
        self.procs.append(self.svc)
        done = wait_for(lambda: [o for o in self.outcomes("succeeded", "a-db")
                                 if o["run_id"] == run["run_id"]], what="the resumed run")
        self.assertTrue(done[0]["recovery_point"].endswith('InstanceID="a-db:latest-app"'),
                        done[0])
        self.assertEqual(self.sim_calls("a-db"), (1, 1))

    def raw_resume(self, collection, user, reason):
        """A Resume request made by hand (proto/control.proto), claiming `user`,
        sent to the operator socket; True when an answer came."""
        def field(number, data):
            assert len(data) < 128
            return bytes([number << 3 | 2, len(data)]) + data
        req = (bytes([0x08, 1]) + field(2, user.encode()) + field(3, reason.encode())
               + field(15, field(1, collection.encode())))
        ctx = zmq.Context()
        sock = ctx.socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect("ipc://" + os.path.join(self.dir, "control.sock"))
        try:
            sock.send(req)
            return sock.poll(10000) != 0 and sock.recv() is not None
        finally:
            sock.close()
            ctx.term()

    def test_the_audit_trail_names_the_real_user_not_the_claimed_one(self):
        self.start()
        me = "%s (uid %d)" % (pwd.getpwuid(os.getuid()).pw_name, os.getuid())
        # siteguardctl with an environment that names someone else
        env = dict(os.environ, USER="mallory", LOGNAME="mallory", USERNAME="mallory")
        r = sgtest.ctl("-s", "ipc://" + os.path.join(self.dir, "control.sock"), "pause", "a-db",
                       "--for", "10m", "--reason", "env says mallory", env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        # a request made by hand that claims another user outright
        self.assertTrue(self.raw_resume("a-db", "mallory (uid 4242)", "claims mallory"))
        if os.getuid() == 0:
            # another user indeed: nobody, on the read-only socket, is refused and named
            os.chmod(self.dir, 0o711)
            nobody = pwd.getpwnam("nobody")
            r = subprocess.run([sgtest.CTL, "-s", "ipc://" + os.path.join(self.dir, "control-ro.sock"),
                                "approve", "a-db", "--reason", "as nobody"], capture_output=True,
                               text=True, timeout=30, user=nobody.pw_uid, group=nobody.pw_gid,
                               extra_groups=[], env=dict(env, USER="root"))
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("operator role", r.stderr)
        who = {e["reason"]: e["who"] for e in self.history()}
        self.assertEqual(who["env says mallory"], me)
        self.assertEqual(who["claims mallory"], me)
        if os.getuid() == 0:
            self.assertEqual(who["as nobody"], "nobody (uid %d)" % nobody.pw_uid)
        self.assertFalse([w for w in who.values() if "mallory" in w])

    def test_reload_applies_a_good_config_and_keeps_the_old_one_on_error(self):
        self.start(mode="auto")
        self.assertEqual(self.status()["mode"], "auto")
        self.write_config(mode="approve", log_format="json")
        r = self.ctl("reload")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.status()["mode"], "approve")
        wait_for(lambda: '"module":"control"' in self.svc.output(), what="JSON log lines")
        # a broken config: refused with file:line:column, the old one stays
        text = self.read_config().replace("  hold_down: 1500ms", "  hold_dwn: 1500ms")
        sgtest.write_config(self.cfg, text)
        line = text.split("\n").index("  hold_dwn: 1500ms") + 1
        r = self.ctl("reload")
        self.assertEqual(r.returncode, 1)
        self.assertIn("%s:%d:3:" % (self.cfg, line), r.stderr)
        self.assertEqual(self.status()["mode"], "approve")
        # what cannot change live is refused by name
        self.write_config(mode="shadow")
        sgtest.write_config(self.cfg, self.read_config().replace("  - name: W\n", "  - name: X\n")
                            .replace("site: W", "site: X"))
        r = self.ctl("reload")
        self.assertEqual(r.returncode, 1)
        self.assertIn("sites cannot change while siteguard runs", r.stderr)
        self.assertEqual(self.status()["mode"], "approve")
        # SIGHUP reloads as well
        self.write_config(mode="shadow", log_format="json")
        self.svc.signal(signal.SIGHUP)
        wait_for(lambda: self.status()["mode"] == "shadow", what="the SIGHUP reload")
        m = wait_for(lambda: (lambda s: s if s['siteguard_config_reloads_total{result="applied"}'] == 2
                              else None)(self.scrape()), what="reload counters")
        self.assertEqual(m['siteguard_config_reloads_total{result="refused"}'], 2)
        reloads = [e for e in self.history() if e["command"] == "reload"]
        self.assertEqual([e["result"].split(":")[0] for e in reloads], ["ok", "refused", "refused"])
        self.assertEqual(self.svc.stop(), 0, self.svc.output()[-3000:])


if __name__ == "__main__":
    unittest.main(verbosity=2)
