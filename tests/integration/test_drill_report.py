"""Drill reports as audit documents, end to end: a real siteguard on the
simulator runs a drill that an operator starts with siteguardctl (twice, for a
history); `siteguardctl drill report --format html|csv|json` and `drill history
--format html` render them; headless Chromium (Debian's chromium) loads the
page and the test reads the DOM it built (the collections, one bar group per
collection in the SVG timeline, a name full of markup shown as text), prints
it to PDF and takes a screenshot.

The documents, the PDF and the screenshot stay in the build folder
(drill-report/) as artifacts. With SG_UPDATE_DOC_IMAGES=1 the screenshot is
also copied to docs/img/drill-report.png, the picture in the README.

Chromium is started four times (a few seconds each on two cores); each call
has its own throwaway profile."""
import csv
import hashlib
import html.parser
import io
import json
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import unittest

import sgtest
from sgtest import free_port, wait_for

NASTY = '<script>alert("x")</script> & \'web\''

DRILLS = """\
drills:
  - name: site-a
    plan: site A
    objectives: {{rto: 1m, rpo: 1h}}
"""

CONFIG = (sgtest.bus_yaml("{port}", max_age=None) + sgtest.sites_yaml("probe-a@A", "probe-b@B")
          + "collections:\n" + sgtest.collection_yaml("a-db", "a-db", "A", "B")
          + sgtest.collection_yaml("a-app", "a-app", "A", "B", group=1, depends_on="a-db")
          + sgtest.collection_yaml("'" + NASTY.replace("'", "''") + "'", "a-web", "A", "B",
                                   group=1)
          + sgtest.collection_yaml("b-db", "b-db", "B", "A")
          + sgtest.sim_provider_yaml("600ms", "{dir}", kind=None) + DRILLS
          + sgtest.control_yaml("{dir}") + "metrics:\n  listen: 'off'\n"
          + sgtest.jsonl_sink_yaml("{dir}/outcomes.jsonl"))

ARTIFACTS = os.path.join(sgtest.BUILD, "drill-report")
DOC_IMAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "img",
                         "drill-report.png")


def chromium_binary():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise AssertionError("no chromium: scripts/deps installs Debian's chromium package")


class Chromium:
    """Headless Chromium, one process per call, timed."""

    def __init__(self):
        self.binary = chromium_binary()
        self.seconds = []

    def run(self, url, *flags, timeout=120):
        with tempfile.TemporaryDirectory(prefix="sg-chromium-") as profile:
            args = [self.binary, "--headless", "--disable-gpu", "--no-sandbox",
                    "--no-first-run", "--disable-extensions", "--hide-scrollbars",
                    "--user-data-dir=" + profile] + list(flags) + [url]
            t0 = time.monotonic()
            p = subprocess.run(args, capture_output=True, timeout=timeout)
            self.seconds.append(time.monotonic() - t0)
        if p.returncode != 0:
            raise AssertionError("chromium %s failed (%d): %s" % (
                " ".join(flags), p.returncode, p.stderr.decode(errors="replace")[-2000:]))
        return p.stdout.decode()


class Dom(html.parser.HTMLParser):
    """What the test reads of the DOM Chromium built: the timeline's row
    groups with their bars, the elements seen, the text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.rows = []        # [data-collection, [bar classes]]
        self.tags = set()
        self.text = []
        self.trend_charts = []
        self._row_depth = None
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.add(tag)
        self._depth += 1
        classes = (a.get("class") or "").split()
        if tag == "g" and "row" in classes:
            self.rows.append([a.get("data-collection"), []])
            self._row_depth = self._depth
        elif tag == "rect" and "bar" in classes and self._row_depth is not None:
            self.rows[-1][1].append(a)
        elif tag == "svg" and "trend-chart" in classes:
            self.trend_charts.append(a.get("data-measure"))

    def handle_endtag(self, tag):
        if tag == "g" and self._row_depth == self._depth:
            self._row_depth = None
        self._depth -= 1

    def handle_data(self, data):
        self.text.append(data)


def parse_dom(text):
    d = Dom()
    d.feed(text)
    d.all_text = "".join(d.text)
    return d


class DrillReportDocuments(unittest.TestCase):
    def setUp(self):
        self.t0 = time.monotonic()
        self.dir = sgtest.tempdir()
        self.cfg = os.path.join(self.dir, "siteguard.yaml")
        port = free_port()
        sgtest.write_config(self.cfg, CONFIG.format(port=port, dir=self.dir))
        check = sgtest.check_config(self.cfg)
        self.assertEqual(check.returncode, 0, check.stderr)
        self.svc = sgtest.start_service(self.cfg, os.path.join(self.dir, "siteguard.log"))
        self.probes = sgtest.start_probes(sgtest.tcp_endpoint(port), sgtest.site_ports("AB"),
                                          self.dir)
        os.makedirs(ARTIFACTS, exist_ok=True)

    def tearDown(self):
        self.svc.stop()
        for p in self.probes.values():
            p.stop()
        print("test_drill_report: %.1f s in all" % (time.monotonic() - self.t0))

    def ctl(self, *args):
        return sgtest.ctl_ipc(self.dir, *args)

    def run_drill(self, previous):
        """Starts the drill by hand (refused until the sites are heard healthy)
        and waits for its report; returns it."""
        def started():
            r = self.ctl("drill", "run", "site-a")
            return r.returncode == 0 and r
        wait_for(started, timeout=60, what="the drill to start")

        def reported():
            r = self.ctl("drill", "report")
            if r.returncode != 0:
                return None
            rep = json.loads(r.stdout)
            return rep if rep["id"] != previous else None
        try:
            return wait_for(reported, timeout=60, what="the drill's report")
        except AssertionError:
            self.fail("no drill report:\n" + self.svc.output()[-3000:])

    def render(self, name, *args):
        path = os.path.join(ARTIFACTS, name)
        r = self.ctl(*args, "--out", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(path, "rb") as f:
            return path, f.read()

    def test_a_drill_report_renders_prints_and_shows_in_chromium(self):
        first = self.run_drill(None)
        rep = self.run_drill(first["id"])
        names = ["a-db", "a-app", NASTY]
        self.assertEqual([c["collection"] for c in rep["collections"]], names)
        self.assertEqual(rep["result"], "passed", json.dumps(rep))
        me = pwd.getpwuid(os.getuid()).pw_name
        self.assertEqual(rep["started_by"], "%s (uid %d)" % (me, os.getuid()))
        with open(self.cfg, "rb") as f:
            self.assertEqual(rep["config_digest"], "sha256:" + hashlib.sha256(f.read()).hexdigest())

        # json: the report as it is; csv: a row per step, RFC 4180
        _, js = self.render("report.json", "drill", "report", rep["id"], "--format", "json")
        self.assertEqual(json.loads(js), rep)
        _, raw = self.render("report.csv", "drill", "report", rep["id"], "--format", "csv")
        self.assertIn(b"\r\n", raw)
        rows = list(csv.DictReader(io.StringIO(raw.decode(), newline="")))
        self.assertEqual(len(rows), sum(len(c["steps"]) for c in rep["collections"]))
        self.assertEqual({r["collection"] for r in rows}, set(names))
        self.assertTrue(all(r["step_result"] == "ok" for r in rows), rows)

        # html, read in Chromium's DOM
        page, body = self.render("report.html", "drill", "report", rep["id"], "--format", "html")
        self.assertNotIn(b"<script>", body)
        chrome = Chromium()
        url = "file://" + page
        dom = parse_dom(chrome.run(url, "--dump-dom"))
        self.assertNotIn("script", dom.tags)  # the name is text, not an element
        self.assertIn("svg", dom.tags)
        self.assertEqual([r[0] for r in dom.rows], names)
        for name, bars in dom.rows:
            steps = [b["data-step"] for b in bars]
            self.assertEqual(steps, ["recovery_point", "TestReplicaCollection",
                                     "RevertTestReplicaCollection", "verify"], name)
            xs = [float(b["x"]) for b in bars]
            self.assertEqual(xs, sorted(xs), name)
            self.assertTrue(all("ok" in b["class"].split() for b in bars), bars)
        self.assertIn(NASTY, dom.all_text)
        self.assertIn(rep["id"], dom.all_text)
        self.assertIn(rep["started_by"], dom.all_text)
        self.assertIn(rep["config_digest"], dom.all_text)

        # printed to PDF
        pdf = os.path.join(ARTIFACTS, "report.pdf")
        chrome.run(url, "--no-pdf-header-footer", "--print-to-pdf=" + pdf)
        with open(pdf, "rb") as f:
            data = f.read()
        self.assertTrue(data.startswith(b"%PDF-"), data[:16])
        self.assertGreater(len(data), 20000)
        self.assertGreaterEqual(data.count(b"/Type /Page\n") + data.count(b"/Type /Page "), 1)

        # a screenshot, kept as an artifact (and as the README's picture on request)
        png = os.path.join(ARTIFACTS, "drill-report.png")
        chrome.run(url, "--screenshot=" + png, "--window-size=1200,1600")
        with open(png, "rb") as f:
            shot = f.read()
        self.assertTrue(shot.startswith(b"\x89PNG\r\n\x1a\n"))
        self.assertGreater(len(shot), 30000)
        if os.environ.get("SG_UPDATE_DOC_IMAGES") == "1":
            os.makedirs(os.path.dirname(DOC_IMAGE), exist_ok=True)
            shutil.copyfile(png, DOC_IMAGE)

        # the history: both runs, a trend (RTO and RPO charts) per collection
        hist, hbody = self.render("history.html", "drill", "history", "site-a", "--format",
                                  "html")
        hdom = parse_dom(chrome.run("file://" + hist, "--dump-dom"))
        self.assertNotIn("script", hdom.tags)
        self.assertEqual(hdom.trend_charts, ["rto", "rpo"] * len(names))
        self.assertIn(first["id"], hdom.all_text)
        self.assertIn(rep["id"], hdom.all_text)
        _, hcsv = self.render("history.csv", "drill", "history", "--format", "csv")
        hrows = list(csv.DictReader(io.StringIO(hcsv.decode(), newline="")))
        self.assertEqual([r["run"] for r in hrows], [first["id"]] * 3 + [rep["id"]] * 3)
        print("test_drill_report: chromium calls took %s s; pdf %d bytes, png %d bytes" % (
            ", ".join("%.1f" % s for s in chrome.seconds), len(data), len(shot)))


if __name__ == "__main__":
    unittest.main()
