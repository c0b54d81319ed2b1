"""The alerting plugins against real receivers on 127.0.0.1: an HTTP server
that records requests (and can answer 500 first, or 400), an SMTP server
(aiosmtpd), syslog listeners on UDP and TCP, and programs run by exec.

The real plugins are loaded by the real notify through sg-notify-drive,
which posts outcomes from a JSON-lines file, drains, and prints notify's
counters. Payloads are checked field by field."""
import email
import email.policy
import email.utils
import hashlib
import hmac
import json
import os
import re
import socket
import stat
import ssl
import subprocess
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import sgtest
from sgtest import wait_for

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

DRIVE = os.path.join(sgtest.BUILD, "sg-notify-drive")
PLUGINS = os.path.join(sgtest.BUILD, "plugins")
T0 = 1795626003120  # 2026-11-25T17:00:03.120Z

HEAD = ("log_level: debug\nplugin_dir: {plugins}\n" + sgtest.sites_yaml("o1@A", witness=False)
        + "collections:\n" + sgtest.collection_yaml("sql", "1", "A", "B")
        + "sinks:\n  - name: {name}\n    plugin: {plugin}\n    options:\n")

FAILED = {"kind": "failed", "time_ms": T0, "run_id": 9, "site": "A", "replica_site": "B",
          "collection": "sql", "attempt": 1, "return_value": 4096, "error_code": 32789,
          "job_path": "job-7", "message": "job ended in Exception"}
SUCCEEDED = {"kind": "succeeded", "time_ms": T0 + 5000, "run_id": 9, "site": "A",
             "replica_site": "B", "collection": "sql", "message": "in 2.1 s"}
DECISION = {"kind": "decision", "time_ms": T0 - 1000, "run_id": 9, "site": "A",
            "replica_site": "B", "collection": "sql", "message": "site A lost"}
SITE_LOST = {"kind": "site_lost", "time_ms": T0 - 2000, "site": "A",
             "message": "silent for 3.0 s (hold-down 3 s)"}
SITE_RECOVERED = {"kind": "site_recovered", "time_ms": T0 + 9000, "site": "A"}


def drive(tmp, plugin, options, outcomes, name="sink"):
    """Runs sg-notify-drive with one sink; returns (exit code, stats, log)."""
    cfg = os.path.join(tmp, "config.yaml")
    lines = "".join("      %s: %s\n" % (k, json.dumps(v)) for k, v in options.items())
    sgtest.write_config(cfg, HEAD.format(plugins=PLUGINS, name=name, plugin=plugin) + lines)
    src = os.path.join(tmp, "outcomes.jsonl")
    with open(src, "w") as f:
        for o in outcomes:
            f.write(json.dumps(o) + "\n")
    p = subprocess.run([DRIVE, cfg, src, "60000"], capture_output=True, timeout=120)
    log = p.stderr.decode(errors="replace")
    stats = json.loads(p.stdout) if p.stdout.strip() else None
    return p.returncode, stats, log


def check_outcome_json(test, doc, want):
    """The service's outcome JSON: kind, severity, time, time_ms, dedup_key,
    run_id and the fields that are set."""
    for k, v in want.items():
        test.assertEqual(doc[k], v, k)
    test.assertEqual(doc["time"], time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(
        want["time_ms"] // 1000)) + ".%03dZ" % (want["time_ms"] % 1000))
    test.assertIn(doc["severity"], ("info", "warning", "critical"))
    test.assertIn("dedup_key", doc)
    test.assertEqual(doc["run_id"], want.get("run_id", 0))


# --- an HTTP receiver ----------------------------------------------------------------------

class Recorder:
    """Records every request; answers `fail_status` to the first `fail_first`
    requests and `status` to the rest."""

    def __init__(self, status=200, fail_first=0, fail_status=500):
        self.requests = []
        self.answers = []
        self.lock = threading.Lock()
        rec = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with rec.lock:
                    n = len(rec.requests)
                    rec.requests.append({"method": self.command, "path": self.path,
                                         "headers": dict(self.headers.items()), "body": body})
                    code = fail_status if n < fail_first else status
                    rec.answers.append(code)
                payload = b'{"status":"ok"}'
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class HttpCase(unittest.TestCase):
    def setUp(self):
        self.tmp = sgtest.tempdir()
        self.rec = None

    def tearDown(self):
        if self.rec:
            self.rec.close()

    def serve(self, **kw):
        self.rec = Recorder(**kw)
        return self.rec


class TestWebhook(HttpCase):
    SECRET_PATH = "/hook/T0K3N-in-the-path"
    HMAC = "hmac-k3y-not-for-logs"

    def test_posts_each_outcome_json_with_headers_and_an_hmac_signature(self):
        rec = self.serve()
        before = int(time.time())
        rc, stats, log = drive(self.tmp, "webhook", {
            "url": rec.url(self.SECRET_PATH), "headers": "X-A: 1; X-B: two",
            "hmac_secret": self.HMAC, "timeout": "5s"}, [SITE_LOST, FAILED])
        after = int(time.time())
        self.assertEqual(rc, 0, log)
        self.assertEqual(stats, {"queued": 2, "delivered": 2, "retries": 0, "dead": 0})
        self.assertEqual(len(rec.requests), 2)
        # sent at once (connections: 4 by default): they may come in either order
        by_kind = {r["headers"]["X-Siteguard-Event"]: r for r in rec.requests}
        for want in [SITE_LOST, FAILED]:
            req = by_kind[want["kind"]]
            self.assertEqual(req["method"], "POST")
            self.assertEqual(req["path"], self.SECRET_PATH)
            h = req["headers"]
            self.assertEqual(h["Content-Type"], "application/json")
            self.assertEqual(h["X-A"], "1")
            self.assertEqual(h["X-B"], "two")
            doc = json.loads(req["body"])
            check_outcome_json(self, doc, want)
            self.assertEqual(h["X-Siteguard-Event"], want["kind"])
            self.assertEqual(h["X-Siteguard-Dedup-Key"], doc["dedup_key"])
            self.assertTrue(before <= int(h["X-Siteguard-Timestamp"]) <= after)
            sig = hmac.new(self.HMAC.encode(), req["body"], hashlib.sha256).hexdigest()
            self.assertEqual(h["X-Siteguard-Signature"], "sha256=" + sig)
        self.assertEqual(json.loads(by_kind["failed"]["body"])["dedup_key"], "9/sql/failed")
        self.assertEqual(json.loads(by_kind["failed"]["body"])["error_code"], 32789)
        self.assertNotIn("T0K3N", log)
        self.assertNotIn(self.HMAC, log)

    def test_batch_posts_arrays_with_a_count_header_signed_over_the_whole_body(self):
        rec = self.serve()
        rc, stats, log = drive(self.tmp, "webhook", {
            "url": rec.url("/hook"), "hmac_secret": self.HMAC, "batch": 10, "connections": 2},
            [SITE_LOST, DECISION, FAILED])
        self.assertEqual(rc, 0, log)
        self.assertEqual(stats, {"queued": 3, "delivered": 3, "retries": 0, "dead": 0})
        docs = []
        for req in rec.requests:  # as many as the sink's turns found outcomes posted
            h = req["headers"]
            body = json.loads(req["body"])
            self.assertIsInstance(body, list)
            self.assertEqual(h["X-Siteguard-Batch"], str(len(body)))
            self.assertEqual(h["Content-Type"], "application/json")
            self.assertNotIn("X-Siteguard-Dedup-Key", h)
            self.assertNotIn("X-Siteguard-Event", h)
            sig = hmac.new(self.HMAC.encode(), req["body"], hashlib.sha256).hexdigest()
            self.assertEqual(h["X-Siteguard-Signature"], "sha256=" + sig)
            docs += body
        self.assertEqual(sorted(d["dedup_key"] for d in docs),
                         sorted(["0/A/site_lost", "9/sql/decision", "9/sql/failed"]))
        for doc in docs:
            check_outcome_json(self, doc, {"site_lost": SITE_LOST, "decision": DECISION,
                                           "failed": FAILED}[doc["kind"]])
        self.assertNotIn(self.HMAC, log)

    def test_a_batch_answered_500_is_sent_again_whole_then_delivered_once(self):
        rec = self.serve(fail_first=1)
        rc, stats, log = drive(self.tmp, "webhook", {"url": rec.url("/hook"), "batch": 10},
                               [SITE_LOST])
        self.assertEqual(rc, 0, log)
        self.assertEqual(stats, {"queued": 1, "delivered": 1, "retries": 1, "dead": 0})
        self.assertEqual(rec.answers, [500, 200])
        self.assertEqual(rec.requests[0]["body"], rec.requests[1]["body"])
        self.assertEqual(len(json.loads(rec.requests[1]["body"])), 1)

    def test_500_then_200_is_delivered_exactly_once_after_retries(self):
        rec = self.serve(fail_first=2)
        rc, stats, log = drive(self.tmp, "webhook", {"url": rec.url(self.SECRET_PATH)}, [FAILED])
        self.assertEqual(rc, 0, log)
        self.assertEqual(stats, {"queued": 1, "delivered": 1, "retries": 2, "dead": 0})
        self.assertEqual(rec.answers, [500, 500, 200])
        self.assertEqual(len({r["body"] for r in rec.requests}), 1)  # the same body each time
        self.assertIn("HTTP 500", log)
        self.assertNotIn("T0K3N", log)

    def test_400_is_dead_lettered_without_retries(self):
        rec = self.serve(status=400)
        rc, stats, log = drive(self.tmp, "webhook", {"url": rec.url("/hook")}, [FAILED])
        self.assertEqual(rc, 0, log)
        self.assertEqual(stats, {"queued": 1, "delivered": 0, "retries": 0, "dead": 1})
        self.assertEqual(len(rec.requests), 1)
        self.assertIn("dead letter", log)

    def test_unreachable_receiver_is_retried(self):
        port = sgtest.free_port()
        rc, stats, log = drive(self.tmp, "webhook", {"url": "http://127.0.0.1:%d/x" % port,
                                                     "timeout": "2s"}, [SITE_LOST], )
        self.assertEqual(rc, 0, log)
        self.assertEqual(stats["delivered"], 0)
        self.assertEqual(stats["retries"], 7)
        self.assertEqual(stats["dead"], 1)
        self.assertIn("retries exhausted", log)


class TestPagerDuty(HttpCase):
    KEY = "R0UT1NGKEY0123456789abcdef012345"

    def test_triggers_and_resolves_with_stable_dedup_keys(self):
        rec = self.serve(status=202)
        rc, stats, log = drive(self.tmp, "pagerduty", {
            "routing_key": self.KEY, "url": rec.url("/v2/enqueue"), "source": "dr-host"},
            [SITE_LOST, DECISION, FAILED, SUCCEEDED, SITE_RECOVERED])
        self.assertEqual(rc, 0, log)
        self.assertEqual(stats["delivered"], 5)  # the decision is delivered by not paging
        bodies = [json.loads(r["body"]) for r in rec.requests]
        self.assertEqual([r["path"] for r in rec.requests], ["/v2/enqueue"] * 4)
        self.assertEqual([(b["event_action"], b["dedup_key"]) for b in bodies], [
            ("trigger", "siteguard/site/A"), ("trigger", "siteguard/9/sql"),
            ("resolve", "siteguard/9/sql"), ("resolve", "siteguard/site/A")])
        for b in bodies:
            self.assertEqual(b["routing_key"], self.KEY)
        p = bodies[1]["payload"]
        self.assertEqual(p["summary"], "failover of sql from A to B failed: job ended in Exception")
        self.assertEqual(p["source"], "dr-host")
        self.assertEqual(p["severity"], "critical")
        self.assertEqual(p["timestamp"], "2026-11-25T17:00:03.120Z")
        self.assertEqual(p["component"], "sql")
        self.assertEqual(p["group"], "A")
        self.assertEqual(p["class"], "failed")
        check_outcome_json(self, p["custom_details"], FAILED)
        self.assertEqual(bodies[0]["payload"]["summary"],
                         "site A lost: silent for 3.0 s (hold-down 3 s)")
        self.assertNotIn("payload", bodies[2])
        self.assertNotIn(self.KEY, log)

    def test_429_is_retried(self):
        rec = self.serve(fail_first=1, fail_status=429, status=202)
        rc, stats, log = drive(self.tmp, "pagerduty", {
            "routing_key": self.KEY, "url": rec.url("/v2/enqueue")}, [FAILED])
        self.assertEqual(rc, 0, log)
        self.assertEqual(stats, {"queued": 1, "delivered": 1, "retries": 1, "dead": 0})
        self.assertEqual(rec.answers, [429, 202])


class TestSlackAndTeams(HttpCase):
    def test_slack_message_has_text_and_blocks(self):
        rec = self.serve()
        rc, stats, log = drive(self.tmp, "slack", {"url": rec.url("/services/T/B/S3CR3T")}, [FAILED])
        self.assertEqual(rc, 0, log)
        self.assertEqual(stats["delivered"], 1)
        m = json.loads(rec.requests[0]["body"])
        self.assertEqual(m["text"], "failover of sql from A to B failed: job ended in Exception")
        blocks = m["blocks"]
        self.assertEqual([b["type"] for b in blocks], ["header", "section", "section", "context"])
        self.assertEqual(blocks[0]["text"], {"type": "plain_text",
                                             "text": "failover of sql from A to B failed"})
        self.assertEqual(blocks[1]["text"]["text"], "job ended in Exception")
        fields = [f["text"] for f in blocks[2]["fields"]]
        self.assertIn("*Collection*\nsql", fields)
        self.assertIn("*Error code*\n32789", fields)
        self.assertNotIn("S3CR3T", log)

    def test_teams_message_is_an_adaptive_card(self):
        rec = self.serve(status=202)
        rc, stats, log = drive(self.tmp, "teams", {"url": rec.url("/workflows/S3CR3T")}, [SUCCEEDED])
        self.assertEqual(rc, 0, log)
        self.assertEqual(stats["delivered"], 1)
        m = json.loads(rec.requests[0]["body"])
        self.assertEqual(m["type"], "message")
        att = m["attachments"][0]
        self.assertEqual(att["contentType"], "application/vnd.microsoft.card.adaptive")
        card = att["content"]
        self.assertEqual((card["type"], card["version"]), ("AdaptiveCard", "1.4"))
        self.assertEqual(card["body"][0]["text"], "sql failed over from A to B")
        self.assertEqual(card["body"][0]["color"], "Good")
        self.assertEqual(card["body"][1]["text"], "in 2.1 s")
        facts = {f["title"]: f["value"] for f in card["body"][2]["facts"]}
        self.assertEqual(facts["Collection"], "sql")
        self.assertEqual(facts["Replica site"], "B")
        self.assertEqual(facts["Dedup key"], "9/sql/succeeded")
        self.assertNotIn("S3CR3T", log)


class TestAlertmanager(HttpCase):
    def test_fires_then_resolves_with_equal_labels(self):
        rec = self.serve()
        rc, stats, log = drive(self.tmp, "alertmanager", {
            "url": rec.url(""), "generator_url": "http://sg.example/"},
            [SITE_LOST, FAILED, SUCCEEDED])
        self.assertEqual(rc, 0, log)
        self.assertEqual(stats["delivered"], 3)
        self.assertEqual([r["path"] for r in rec.requests], ["/api/v2/alerts"] * 3)
        lost, fired, resolved = [json.loads(r["body"]) for r in rec.requests]
        self.assertEqual(lost[0]["labels"], {"alertname": "SiteguardSiteLost", "kind": "site_lost",
                                             "severity": "critical", "site": "A"})
        self.assertEqual(len(fired), 1)
        a = fired[0]
        self.assertEqual(a["labels"], {"alertname": "SiteguardFailoverFailed", "kind": "failed",
                                       "severity": "critical", "site": "A", "collection": "sql"})
        self.assertEqual(a["annotations"]["summary"],
                         "failover of sql from A to B failed: job ended in Exception")
        self.assertEqual(a["annotations"]["description"], "job ended in Exception")
        self.assertEqual(a["annotations"]["run_id"], "9")
        self.assertEqual(a["startsAt"], "2026-11-25T17:00:03.120Z")
        self.assertEqual(a["endsAt"], "2026-11-26T17:00:03.120Z")  # hold: 24h
        self.assertEqual(a["generatorURL"], "http://sg.example/")
        # only what fired is resolved: Alertmanager would list the others as
        # resolved in the group's notification
        self.assertEqual(len(resolved), 1)
        self.assertEqual(resolved[0]["labels"], a["labels"])
        self.assertEqual(resolved[0]["endsAt"], "2026-11-25T17:00:08.120Z")


# --- SMTP -------------------------------------------------------------------------------------

class MailBox:
    def __init__(self, fail_first=0, fail_reply="451 4.3.0 try again later", reply=None):
        self.messages = []
        self.logins = []
        self.calls = 0
        self.fail_first = fail_first
        self.fail_reply = fail_reply
        self.reply = reply

    async def handle_DATA(self, server, session, envelope):
        self.calls += 1
        if self.reply:
            return self.reply
        if self.calls <= self.fail_first:
            return self.fail_reply
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        self.logins.append((auth_data.login, auth_data.password))
        if auth_data.password == b"pa55-w0rd":
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False,
                          message="535 5.7.8 Authentication credentials invalid")


class TestSmtp(unittest.TestCase):
    PASSWORD = "pa55-w0rd"

    def setUp(self):
        self.tmp = sgtest.tempdir()
        self.ctl = None

    def tearDown(self):
        if self.ctl:
            self.ctl.stop()

    def serve(self, box):
        port = sgtest.free_port()
        self.ctl = Controller(box, hostname="127.0.0.1", port=port, authenticator=box.authenticate,
                              auth_require_tls=False)
        self.ctl.start()
        return "smtp://127.0.0.1:%d" % port

    def options(self, url, **kw):
        opts = {"url": url, "from": "siteguard <sg@example.com>",
                "to": "ops@example.com, DR <dr@example.com>", "username": "sg",
                "password": self.PASSWORD, "timeout": "10s"}
        opts.update(kw)
        return opts

    def test_mails_an_rfc_5322_message_after_logging_in(self):
        box = MailBox()
        before = time.time()
        rc, stats, log = drive(self.tmp, "smtp", self.options(self.serve(box)), [FAILED])
        self.assertEqual(rc, 0, log)
        self.assertEqual(stats, {"queued": 1, "delivered": 1, "retries": 0, "dead": 0})
        self.assertEqual(box.logins, [(b"sg", self.PASSWORD.encode())])
        mail_from, rcpts, content = box.messages[0]
        self.assertEqual(mail_from, "sg@example.com")
        self.assertEqual(rcpts, ["ops@example.com", "dr@example.com"])
        msg = email.message_from_bytes(content, policy=email.policy.default)
        self.assertEqual(msg["Subject"],
                         "[siteguard] failover of sql from A to B failed: job ended in Exception")
        self.assertEqual(msg["From"], "siteguard <sg@example.com>")
        self.assertEqual(msg["To"], "ops@example.com, DR <dr@example.com>")
        sent = email.utils.parsedate_to_datetime(msg["Date"]).timestamp()
        self.assertTrue(before - 1 <= sent <= time.time() + 1)
        self.assertRegex(msg["Message-ID"], r"^<1795626003120\.[0-9a-f]{32}@siteguard>$")
        self.assertEqual(msg.get_content_type(), "text/plain")
        body = msg.get_content().replace("\r\n", "\n")
        self.assertTrue(body.startswith(
            "failover of sql from A to B failed: job ended in Exception\n"), body)
        self.assertIn("Collection: sql\n", body)
        self.assertIn("Error code: 32789\n", body)
        self.assertIn("Dedup key: 9/sql/failed\n", body)
        self.assertNotIn(self.PASSWORD, log)

    def tls_context(self):
        """A self-signed certificate for 127.0.0.1, made for this test."""
        cert, key = os.path.join(self.tmp, "cert.pem"), os.path.join(self.tmp, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        return ctx, cert

    def serve_tls(self, box, ctx):
        port = sgtest.free_port()
        self.ctl = Controller(box, hostname="127.0.0.1", port=port, authenticator=box.authenticate,
                              tls_context=ctx, require_starttls=True)
        self.ctl.start()
        return "smtp://127.0.0.1:%d" % port

    def test_starttls_with_a_trusted_ca_logs_in_over_tls_and_delivers(self):
        box = MailBox()
        ctx, cert = self.tls_context()
        url = self.serve_tls(box, ctx)
        rc, stats, log = drive(self.tmp, "smtp", self.options(url, use_ssl="required",
                                                              ca_file=cert), [FAILED])
        self.assertEqual(rc, 0, log)
        self.assertEqual(stats["delivered"], 1, log)
        self.assertEqual(box.logins, [(b"sg", self.PASSWORD.encode())])  # only possible over TLS
        self.assertEqual(len(box.messages), 1)

    def test_starttls_with_an_untrusted_certificate_never_sends(self):
        box = MailBox()
        ctx, _ = self.tls_context()
        url = self.serve_tls(box, ctx)
        rc, stats, log = drive(self.tmp, "smtp", self.options(url, use_ssl="required"), [FAILED])
        self.assertEqual(stats["delivered"], 0, log)
        self.assertEqual(stats["dead"], 1, log)  # a TLS failure, retried to the limit
        self.assertEqual(box.logins, [])
        self.assertEqual(box.messages, [])

    def test_utf8_subject_arrives_decoded(self):
        box = MailBox()
        lost = dict(SITE_LOST, message="Z\u00fcrich unreachable")
        rc, stats, log = drive(self.tmp, "smtp", self.options(self.serve(box), subject_prefix="SG:"),
                               [lost])
        self.assertEqual(rc, 0, log)
        msg = email.message_from_bytes(box.messages[0][2], policy=email.policy.default)
        self.assertEqual(msg["Subject"], "SG: site A lost: Z\u00fcrich unreachable")
        self.assertIn("Z\u00fcrich unreachable", msg.get_content())
        self.assertEqual(msg.get_content_charset(), "utf-8")

    def test_451_is_retried_and_the_mail_arrives_once(self):
        box = MailBox(fail_first=1)
        rc, stats, log = drive(self.tmp, "smtp", self.options(self.serve(box)), [FAILED])
        self.assertEqual(rc, 0, log)
        self.assertEqual(stats, {"queued": 1, "delivered": 1, "retries": 1, "dead": 0})
        self.assertEqual(box.calls, 2)
        self.assertEqual(len(box.messages), 1)
        self.assertIn("SMTP 451", log)

    def test_550_is_dead_lettered(self):
        box = MailBox(reply="550 5.1.1 mailbox unavailable")
        rc, stats, log = drive(self.tmp, "smtp", self.options(self.serve(box)), [FAILED])
        self.assertEqual(rc, 0, log)
        self.assertEqual(stats, {"queued": 1, "delivered": 0, "retries": 0, "dead": 1})
        self.assertEqual(box.calls, 1)

    def test_wrong_password_is_dead_lettered(self):
        box = MailBox()
        rc, stats, log = drive(self.tmp, "smtp", self.options(self.serve(box), password="nope"),
                               [FAILED])
        self.assertEqual(rc, 0, log)
        self.assertEqual(stats, {"queued": 1, "delivered": 0, "retries": 0, "dead": 1})
        self.assertEqual(box.messages, [])
        self.assertIn("SMTP 535", log)
        self.assertNotIn("nope", log.replace("password = (secret)", ""))


# --- syslog -----------------------------------------------------------------------------------

RFC5424 = re.compile(r'^<(\d+)>1 (\S+) (\S+) (\S+) (\d+) (\S+) \[(\S+)((?: \w+="(?:[^"\\]|\\.)*")*)\] (.*)$',
                     re.S)


def parse_5424(text):
    m = RFC5424.match(text)
    assert m, text
    params = dict(re.findall(r' (\w+)="((?:[^"\\]|\\.)*)"', m.group(8)))
    return {"pri": int(m.group(1)), "time": m.group(2), "host": m.group(3), "app": m.group(4),
            "procid": m.group(5), "msgid": m.group(6), "sd_id": m.group(7), "params": params,
            "msg": m.group(9)}


class TestSyslog(unittest.TestCase):
    def setUp(self):
        self.tmp = sgtest.tempdir()

    def check(self, msgs):
        lost, failed = [parse_5424(m) for m in msgs]
        self.assertEqual(lost["pri"], 16 * 8 + 2)  # local0, critical
        self.assertEqual(lost["time"], "2026-11-25T17:00:01.120Z")
        self.assertEqual((lost["host"], lost["app"], lost["msgid"]), ("dr-host", "sg", "site_lost"))
        self.assertEqual(lost["params"]["site"], "A")
        self.assertEqual(lost["params"]["run_id"], "0")
        self.assertEqual(lost["msg"], "site A lost: silent for 3.0 s (hold-down 3 s)")
        self.assertEqual(failed["sd_id"], "siteguard@32473")
        self.assertEqual(failed["params"], {
            "run_id": "9", "kind": "failed", "severity": "critical", "site": "A",
            "replica_site": "B", "collection": "sql", "dedup_key": "9/sql/failed"})
        self.assertEqual(failed["msg"], "failover of sql from A to B failed: job ended in Exception")
        self.assertEqual(int(failed["procid"]), int(lost["procid"]))

    def test_udp_datagrams_are_rfc_5424(self):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(10)
        port = sock.getsockname()[1]
        try:
            rc, stats, log = drive(self.tmp, "syslog", {
                "address": "udp://127.0.0.1:%d" % port, "app_name": "sg", "facility": "local0",
                "hostname": "dr-host"}, [SITE_LOST, FAILED])
            self.assertEqual(rc, 0, log)
            self.assertEqual(stats["delivered"], 2)
            self.check([sock.recv(65536).decode(), sock.recv(65536).decode()])
        finally:
            sock.close()

    def test_tcp_stream_uses_octet_counting(self):
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        srv.settimeout(10)
        port = srv.getsockname()[1]
        received = []

        def serve():
            conn, _ = srv.accept()
            conn.settimeout(10)
            data = b""
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            conn.close()
            received.append(data)

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        try:
            rc, stats, log = drive(self.tmp, "syslog", {
                "address": "tcp://127.0.0.1:%d" % port, "app_name": "sg", "facility": "local0",
                "hostname": "dr-host"}, [SITE_LOST, FAILED])
            self.assertEqual(rc, 0, log)
            self.assertEqual(stats["delivered"], 2)
            t.join(10)
            data = received[0]
            msgs = []
            while data:
                length, _, rest = data.partition(b" ")
                msgs.append(rest[:int(length)].decode())
                data = rest[int(length):]
            self.assertEqual(len(msgs), 2)
            self.check(msgs)
        finally:
            srv.close()

    def test_tcp_receiver_that_is_down_is_retried(self):
        port = sgtest.free_port()
        rc, stats, log = drive(self.tmp, "syslog", {"address": "tcp://127.0.0.1:%d" % port},
                               [SITE_LOST])
        self.assertEqual(rc, 0, log)
        self.assertEqual((stats["retries"], stats["dead"]), (7, 1))


# --- exec --------------------------------------------------------------------------------------

SCRIPT = """#!/usr/bin/python3
import json, os, sys, time
out = sys.argv[1]
n = len([f for f in os.listdir(out) if f.startswith("call-")]) + 1
record = {"argv": sys.argv[1:], "stdin": sys.stdin.read(), "pid": os.getpid(),
          "env": {k: v for k, v in os.environ.items()}}
with open(os.path.join(out, "call-%d.json" % n), "w") as f:
    json.dump(record, f)
plan = sys.argv[2].split(",")
step = plan[min(n, len(plan)) - 1]
if step == "sleep":
    time.sleep(60)
sys.exit(int(step) if step != "sleep" else 0)
"""


class TestExec(unittest.TestCase):
    def setUp(self):
        self.tmp = sgtest.tempdir()
        self.calls_dir = os.path.join(self.tmp, "calls")
        os.mkdir(self.calls_dir)
        self.script = os.path.join(self.tmp, "hook.py")
        with open(self.script, "w") as f:
            f.write(SCRIPT)
        os.chmod(self.script, stat.S_IRWXU)

    def calls(self):
        n = len(os.listdir(self.calls_dir))
        out = []
        for i in range(1, n + 1):
            with open(os.path.join(self.calls_dir, "call-%d.json" % i)) as f:
                out.append(json.load(f))
        return out

    def run_plan(self, plan, outcome, timeout="10s"):
        return drive(self.tmp, "exec", {"command": self.script,
                                        "args": "%s %s" % (self.calls_dir, plan),
                                        "timeout": timeout}, [outcome])

    def test_program_gets_the_outcome_in_env_and_json_on_stdin_never_as_shell(self):
        evil = dict(FAILED, message="$(touch %s/pwned); `touch %s/pwned2` ; rm -rf /" % (
            self.tmp, self.tmp), collection="sql")
        rc, stats, log = self.run_plan("0", evil)
        self.assertEqual(rc, 0, log)
        self.assertEqual(stats["delivered"], 1)
        (call,) = self.calls()
        self.assertEqual(call["argv"], [self.calls_dir, "0"])
        env = call["env"]
        self.assertEqual(env["SG_KIND"], "failed")
        self.assertEqual(env["SG_SEVERITY"], "critical")
        self.assertEqual(env["SG_SITE"], "A")
        self.assertEqual(env["SG_REPLICA_SITE"], "B")
        self.assertEqual(env["SG_COLLECTION"], "sql")
        self.assertEqual(env["SG_RUN_ID"], "9")
        self.assertEqual(env["SG_DEDUP_KEY"], "9/sql/failed")
        self.assertEqual(env["SG_ERROR_CODE"], "32789")
        self.assertEqual(env["SG_MESSAGE"], evil["message"])
        self.assertNotIn("HOME", env)
        doc = json.loads(call["stdin"])
        self.assertTrue(call["stdin"].endswith("}\n"))
        check_outcome_json(self, doc, evil)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "pwned")))
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "pwned2")))

    def test_exit_75_is_retried_then_0_delivers_once(self):
        rc, stats, log = self.run_plan("75,0", FAILED)
        self.assertEqual(rc, 0, log)
        self.assertEqual(stats, {"queued": 1, "delivered": 1, "retries": 1, "dead": 0})
        self.assertEqual(len(self.calls()), 2)

    def test_other_exit_codes_are_dead_lettered(self):
        rc, stats, log = self.run_plan("3", FAILED)
        self.assertEqual(rc, 0, log)
        self.assertEqual(stats, {"queued": 1, "delivered": 0, "retries": 0, "dead": 1})
        self.assertIn("exited 3", log)

    def test_program_over_its_timeout_is_killed_and_retried(self):
        # The limit leaves a loaded machine ample time to start the second
        # attempt's interpreter; the first attempt sleeps far past it.
        rc, stats, log = self.run_plan("sleep,0", FAILED, timeout="5s")
        self.assertEqual(rc, 0, log)
        self.assertEqual(stats, {"queued": 1, "delivered": 1, "retries": 1, "dead": 0})
        first = self.calls()[0]["pid"]

        def gone():
            try:
                os.kill(first, 0)
                return False
            except ProcessLookupError:
                return True
        wait_for(gone, 10, "the timed-out program to be gone")
        self.assertIn("killed after 5000 ms", log)


if __name__ == "__main__":
    unittest.main(verbosity=2)
