"""The status page, end to end over HTTP: a real siteguard on the simulator
serves / and /api/v1/status on its metrics listener while sg-probe processes
play the sites and site A is lost; the document says what `siteguardctl
--json status` says (and more), hostile names and reasons come out escaped,
the answers carry their security headers, and the loop publishes only while
somebody reads. Then the listener's guard: TLS with a certificate the test
makes (openssl) and a bearer token, on 127.0.0.1: no token and a wrong one
are 401, the right one (Bearer, or Basic as a browser sends it) is let in,
for /metrics too; and check-config refuses a listener beyond loopback
without TLS or a token, at its line and column."""
import base64
import hashlib
import http.client
import json
import os
import re
import socket
import ssl
import subprocess
import time
import unittest
import urllib.error
import urllib.request

import sgtest
from sgtest import free_port, wait_for

HOSTILE = "<script>alert(1)</script>"
REASON = 'he said "no" <b>really</b> & left'

CONFIG = (sgtest.bus_yaml("{port}", max_age=None)
          + sgtest.sites_yaml("probe-a@A", "probe-b@B", "probe-w@W") + "collections:\n"
          + sgtest.collection_yaml("a-db", "a-db", "A", "B")
          + sgtest.collection_yaml("'" + HOSTILE + "'", "a-web", "A", "B", group=1)
          + sgtest.collection_yaml("b-db", "b-db", "B", "A")
          + sgtest.collection_yaml("b-app", "b-app", "B", "A")
          + sgtest.policy_yaml() + sgtest.sim_provider_yaml("700ms", "{dir}")
          + sgtest.journal_yaml("{dir}") + sgtest.jsonl_sink_yaml("{dir}/outcomes.jsonl")
          + sgtest.control_yaml("{dir}") + "{metrics}")


def script_hash(page):
    """The CSP source of the page's inline script: base64 of its SHA-256."""
    body = re.search(r"<script>(.*?)</script>", page, re.S).group(1)
    return base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()


class StatusPage(unittest.TestCase):
    def setUp(self):
        self.t0 = time.monotonic()
        self.dir = sgtest.tempdir()
        self.port = free_port()
        self.http = free_port()
        self.cfg = os.path.join(self.dir, "siteguard.yaml")
        self.procs = []

    def tearDown(self):
        for p in reversed(self.procs):
            p.stop()
        print("%s: %.1f s" % (self.id().rsplit(".", 1)[-1], time.monotonic() - self.t0))

    def start(self, metrics, probes=True):
        sgtest.write_config(self.cfg, CONFIG.format(port=self.port, dir=self.dir,
                                                    metrics=metrics))
        check = sgtest.check_config(self.cfg)
        self.assertEqual(check.returncode, 0, check.stderr)
        self.svc = sgtest.start_service(self.cfg, os.path.join(self.dir, "siteguard.log"))
        self.procs.append(self.svc)
        wait_for(lambda: os.path.exists(os.path.join(self.dir, "control.sock")),
                 what="the control socket")
        if probes:
            self.probes = sgtest.start_probes(sgtest.tcp_endpoint(self.port),
                                              sgtest.site_ports(), self.dir)
            self.procs.extend(self.probes.values())

    def get(self, path, headers=None, method="GET"):
        """(status, headers, body text) of a request to the listener."""
        conn = http.client.HTTPConnection("127.0.0.1", self.http, timeout=10)
        try:
            conn.request(method, path, headers=headers or {})
            r = conn.getresponse()
            return r.status, r.headers, r.read().decode()
        finally:
            conn.close()

    def api(self, query=""):
        status, _, body = self.get("/api/v1/status" + query)
        self.assertEqual(status, 200, body)
        return json.loads(body)

    def ctl(self, *args):
        return sgtest.ctl_ipc(self.dir, *args)

    def test_page_and_api_follow_a_site_loss(self):
        self.start(sgtest.metrics_yaml(self.http))
        sgtest.wait_healthy(lambda: self.api())
        r = self.ctl("pause", "b-db", "--for", "30m", "--reason", REASON)
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_for(lambda: self.api()["audit"], what="the pause in the document")

        # the page before the loss: rendered whole by the server
        status, headers, page = self.get("/")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "text/html; charset=utf-8")
        self.assertEqual(headers["X-Content-Type-Options"], "nosniff")
        self.assertEqual(headers["Cache-Control"], "no-store")
        csp = headers["Content-Security-Policy"]
        self.assertIn("script-src 'sha256-%s'" % script_hash(page), csp)
        self.assertTrue(csp.startswith("default-src 'none'; connect-src 'self';"), csp)
        self.assertNotIn("unsafe", csp)
        self.assertEqual(page.count("<script>"), 1)
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt;", page)
        self.assertNotIn(HOSTILE, page)
        self.assertIn("he said &quot;no&quot; &lt;b&gt;really&lt;/b&gt; &amp; left", page)
        self.assertNotIn("<b>really", page)

        # site A falls silent: lost, its collections fail over, in plan order
        self.probes["A"].stop()

        def failed_over():
            doc = self.api()
            colls = {c["name"]: c for c in doc["collections"]}
            ok = all(colls[n]["verdict"] == "failed over" for n in ("a-db", HOSTILE))
            return doc if ok else None
        doc = wait_for(failed_over, timeout=60, what="A's collections failed over")
        sites = {s["name"]: s for s in doc["sites"]}
        self.assertEqual(sites["A"]["state"], "lost")
        self.assertIn("vote it down (B, W", sites["A"]["explain"])
        self.assertIsInstance(sites["A"]["lost_ms"], int)
        ep = doc["episode"]
        self.assertEqual(ep["site"], "A")
        self.assertEqual(ep["started_ms"], sites["A"]["lost_ms"])
        self.assertEqual([r["collection"] for r in ep["runs"]], ["a-db", HOSTILE])
        for run in ep["runs"]:
            self.assertEqual(run["result"], "succeeded")
            self.assertEqual(run["origin"], "policy")
            self.assertEqual(run["percent"], 100)
            self.assertIn("Msvm_ConcreteJob", run["job_path"])
            self.assertLessEqual(ep["started_ms"], run["decided_ms"])
            self.assertLessEqual(run["decided_ms"], run["intent_ms"])
            self.assertLessEqual(run["intent_ms"], run["called_ms"])
            self.assertLess(run["called_ms"], run["ended_ms"])
        # plan order: the second group is decided once the first is failed over
        self.assertLessEqual(ep["runs"][0]["ended_ms"], ep["runs"][1]["decided_ms"])
        colls = {c["name"]: c for c in doc["collections"]}
        self.assertEqual([c["name"] for c in doc["collections"]][:2], ["a-db", HOSTILE])
        self.assertTrue(colls["b-db"]["paused"].endswith(": " + REASON), colls["b-db"])
        self.assertEqual(colls["a-db"]["run_state"], "succeeded")
        self.assertEqual(colls["a-db"]["recovery_point"], "latest (configured)")
        self.assertEqual(doc["verdicts"]["failed over"], 2)
        self.assertEqual(doc["verdicts"]["idle"], 2)
        audit = doc["audit"][-1]
        self.assertEqual((audit["command"], audit["target"], audit["reason"]),
                         ("pause", "b-db", REASON))
        self.assertEqual(doc["outbox"][0]["sink"], "outcomes")
        self.assertEqual(doc["outbox"][0]["dead"], 0)
        self.assertEqual(doc["leader_info"]["mode"], "none")
        self.assertTrue(doc["leader_info"]["is_leader"])

        # a life-cycle step after the failover: commit a-db
        r = self.ctl("commit", "a-db", "--reason", "site A confirmed gone")
        self.assertEqual(r.returncode, 0, r.stderr)
        committed = lambda: {c["name"]: c for c in self.api()["collections"]}["a-db"]["last_step"]
        self.assertRegex(wait_for(lambda: (lambda t: t if "succeeded" in t else None)(
            committed()), what="the commit in the document"), r"^commit succeeded \(step \d+\)$")

        # the same data as siteguardctl --json status: one source
        ctl = sgtest.ctl_status(self.dir)
        doc = self.api()
        for key in ("leader", "mode", "config"):
            self.assertEqual(doc[key], ctl[key], key)
        self.assertEqual(doc["runs"], ctl["runs"])
        self.assertEqual(doc["steps"], ctl["steps"])
        self.assertEqual([s["action"] for s in doc["steps"]], ["commit"])
        for name in ("sites", "observers"):
            mine = [{k: v for k, v in x.items() if k in y} for x, y in zip(doc[name], ctl[name])]
            self.assertEqual(mine, ctl[name], name)
        by_name = {c["name"]: c for c in doc["collections"]}
        for c in ctl["collections"]:
            mine = {k: by_name[c["name"]][k] for k in c}
            # the remaining seconds of a pause move between the two calls
            mine["paused"] = re.sub(r"^\d+ s", "N s", mine["paused"])
            c["paused"] = re.sub(r"^\d+ s", "N s", c["paused"])
            self.assertEqual(mine, c)

        # the page after: the same, escaped; the raw JSON escapes '/' too
        status, _, page = self.get("/")
        self.assertIn('<span class="b b-lost">lost</span>', page)
        self.assertIn('<tr data-row="&lt;script&gt;alert(1)&lt;/script&gt;">', page)
        self.assertNotIn(HOSTILE, page)
        _, headers, raw = self.get("/api/v1/status")
        self.assertEqual(headers["Content-Type"], "application/json")
        self.assertEqual(headers["Cache-Control"], "no-store")
        self.assertEqual(headers["X-Content-Type-Options"], "nosniff")
        self.assertEqual(headers["Content-Security-Policy"],
                         "default-src 'none'; frame-ancestors 'none'")
        self.assertIn("<\\/script>", raw)
        self.assertNotIn("</script>", raw)

        # ?limit=, errors, the host check, and /metrics as before
        small = self.api("?limit=1")
        self.assertEqual(len(small["collections"]), 1)
        self.assertEqual(small["collections_omitted"], 3)
        self.assertEqual(self.get("/api/v1/status?limit=0")[0], 400)
        self.assertEqual(self.get("/nothing")[0], 404)
        self.assertEqual(self.get("/", method="POST")[0], 405)
        self.assertEqual(self.get("/", headers={"Host": "attacker.example"})[0], 403)
        status, headers, metrics = self.get("/metrics")
        self.assertEqual(status, 200)
        self.assertIn('siteguard_site_state{site="A",state="lost"} 1', metrics)
        self.assertTrue(headers["Content-Type"].startswith("text/plain; version=0.0.4"))

    def test_the_loop_builds_the_document_only_while_somebody_reads(self):
        self.start(sgtest.metrics_yaml(self.http), probes=False)
        wait_for(lambda: self.get("/metrics")[0] == 200, what="the first metrics")
        t0 = time.monotonic()
        first = self.api()
        waited = time.monotonic() - t0
        self.assertLess(waited, 2.5)  # asked of the loop, published within its turn
        time.sleep(1.6)
        second = self.api()
        self.assertGreater(second["generated_ms"], first["generated_ms"])
        print("test_status_page: first document after %.0f ms" % (waited * 1000))


class Guarded(unittest.TestCase):
    """metrics.tls and a token, on 127.0.0.1."""

    def setUp(self):
        self.t0 = time.monotonic()
        self.dir = sgtest.tempdir()
        self.port = free_port()
        self.http = free_port()
        self.cfg = os.path.join(self.dir, "siteguard.yaml")
        self.svc = None

    def tearDown(self):
        if self.svc:
            self.svc.stop()
        print("%s: %.1f s" % (self.id().rsplit(".", 1)[-1], time.monotonic() - self.t0))

    def make_cert(self):
        cert, key = os.path.join(self.dir, "cert.pem"), os.path.join(self.dir, "key.pem")
        r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                            "-keyout", key, "-out", cert], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        os.chmod(key, 0o600)
        return cert, key

    def https(self, path, ctx, auth=None):
        conn = http.client.HTTPSConnection("127.0.0.1", self.http, context=ctx, timeout=10)
        try:
            conn.request("GET", path, headers={"Authorization": auth} if auth else {})
            version = conn.sock.version()
            r = conn.getresponse()
            return r.status, r.headers, r.read().decode(), version
        finally:
            conn.close()

    def test_tls_and_a_bearer_token_guard_every_path(self):
        cert, key = self.make_cert()
        token = base64.b16encode(os.urandom(24)).decode().lower()
        token_file = os.path.join(self.dir, "token")
        with open(os.open(token_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(token + "\n")
        metrics = ("metrics:\n  listen: 127.0.0.1:%d\n  tls: {cert_file: %s, key_file: %s}\n"
                   "  token_file: %s\n" % (self.http, cert, key, token_file))
        sgtest.write_config(self.cfg, CONFIG.format(port=self.port, dir=self.dir,
                                                    metrics=metrics))
        check = sgtest.check_config(self.cfg)
        self.assertEqual(check.returncode, 0, check.stderr)
        self.svc = sgtest.start_service(self.cfg, os.path.join(self.dir, "siteguard.log"))
        ctx = ssl.create_default_context(cafile=cert)

        def listening():
            try:
                return self.https("/metrics", ctx)
            except OSError:
                return None
        wait_for(listening, what="the HTTPS listener")
        for path in ("/metrics", "/", "/api/v1/status"):
            status, headers, _, _ = self.https(path, ctx)
            self.assertEqual(status, 401, path)
            self.assertIn('Bearer realm="siteguard"', headers.get_all("WWW-Authenticate"))
            self.assertEqual(self.https(path, ctx, "Bearer " + token[:-1] + "x")[0], 401, path)
            self.assertEqual(self.https(path, ctx, "Bearer " + token + "0")[0], 401, path)
        status, _, body, version = self.https("/api/v1/status", ctx, "Bearer " + token)
        self.assertEqual(status, 200, body)
        self.assertIn(version, ("TLSv1.2", "TLSv1.3"))
        self.assertEqual(json.loads(body)["sites"][0]["name"], "A")
        wait_for(lambda: self.https("/metrics", ctx, "Bearer " + token)[0] == 200,
                 what="/metrics with the token")
        basic = base64.b64encode(("anyone:" + token).encode()).decode()
        status, _, page, _ = self.https("/", ctx, "Basic " + basic)
        self.assertEqual(status, 200)
        self.assertIn("<h1>siteguard</h1>", page)
        # nothing in plain text: an HTTP request gets no answer
        with self.assertRaises((http.client.HTTPException, OSError)):
            conn = http.client.HTTPConnection("127.0.0.1", self.http, timeout=5)
            conn.request("GET", "/metrics")
            conn.getresponse().read()
        # a certificate this client does not trust: no connection
        with self.assertRaises(ssl.SSLError):
            self.https("/metrics", ssl.create_default_context())
        self.assertNotIn(token, self.svc.output())

    def test_check_config_refuses_a_listener_beyond_loopback_without_tls_or_token(self):
        cert, key = self.make_cert()
        for metrics, missing in (
                ("metrics:\n  listen: 0.0.0.0:%d\n" % self.http,
                 "needs TLS (metrics.tls: {cert_file, key_file}) and a bearer token"),
                ("metrics:\n  listen: 0.0.0.0:%d\n  tls: {cert_file: %s, key_file: %s}\n"
                 % (self.http, cert, key), "needs a bearer token")):
            text = CONFIG.format(port=self.port, dir=self.dir, metrics=metrics)
            sgtest.write_config(self.cfg, text)
            line = text.split("\n").index("  listen: 0.0.0.0:%d" % self.http) + 1
            r = sgtest.check_config(self.cfg)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("%s:%d:11: 'listen' 0.0.0.0:%d is beyond the loopback address"
                          % (self.cfg, line, self.http), r.stderr)
            self.assertIn(missing, r.stderr)
            run = subprocess.run([sgtest.SITEGUARD, "run", "-c", self.cfg], capture_output=True,
                                 text=True, timeout=30)
            self.assertNotEqual(run.returncode, 0)
            # and nothing listens there
            with socket.socket() as s:
                self.assertNotEqual(s.connect_ex(("127.0.0.1", self.http)), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
