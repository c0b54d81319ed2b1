"""The status page in a browser: headless Chromium (Debian's chromium,
driven through the DevTools protocol over a pipe, cdp.py) loads the page of a
real siteguard on the simulator while every site is healthy; site A's probe
stops; without a reload the page shows A lost and its collections moving
through "failing over" to "failed over", the runs on the episode's timeline.
Hostile strings (a collection named <script>alert(1)</script>, quotes and
markup in a pause's reason) appear as text in the DOM, the page's own script
is the only one, the policy blocks nothing the page needs (no console
errors). The latest drill report opens from its link; with scripts off the
server-rendered page says the same.

One Chromium process for the whole test. Screenshots stay in the build
folder (status-page/); with SG_UPDATE_DOC_IMAGES=1 the last one is also
copied to docs/img/status-page.png, the README's picture."""
import json
import os
import shutil
import time
import unittest
import urllib.request

import cdp
import sgtest
from sgtest import free_port, wait_for

HOSTILE = "<script>alert(1)</script>"
REASON = 'storage "maintenance" <b>until</b> Friday'
A_COLLS = ["a-db", "a-app", HOSTILE, "a-web"]

CONFIG = (sgtest.bus_yaml("{port}", max_age=None)
          + sgtest.sites_yaml("probe-a@A", "probe-b@B", "probe-w@W") + "collections:\n"
          + sgtest.collection_yaml("a-db", "a-db", "A", "B")
          + sgtest.collection_yaml("a-app", "a-app", "A", "B", group=1, depends_on="a-db")
          + sgtest.collection_yaml("'" + HOSTILE + "'", "a-hostile", "A", "B", group=1)
          + sgtest.collection_yaml("a-web", "a-web", "A", "B", group=2, depends_on="a-app")
          + sgtest.collection_yaml("b-db", "b-db", "B", "A")
          + sgtest.collection_yaml("b-app", "b-app", "B", "A", group=1)
          + sgtest.policy_yaml() + sgtest.sim_provider_yaml("1500ms", "{dir}")
          + "drills:\n  - name: site-b\n    plan: site B\n    objectives: {{rto: 1m, rpo: 1h}}\n"
          + "    run_at_start: true\n"
          + sgtest.journal_yaml("{dir}") + sgtest.jsonl_sink_yaml("{dir}/outcomes.jsonl")
          + sgtest.control_yaml("{dir}") + sgtest.metrics_yaml("{http}"))

ARTIFACTS = os.path.join(sgtest.BUILD, "status-page")
DOC_IMAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "img",
                         "status-page.png")

# What the test reads of the page's DOM: site states, collection verdicts,
# the episode's runs, updates so far, and the marker set at load.
READ = """(() => {
  const rows = sel => [...document.querySelectorAll(sel + ' tbody tr')]
      .map(tr => [...tr.cells].map(td => td.textContent));
  return {sites: rows('#sites'), colls: rows('#collections'), runs: rows('#episode'),
          updates: +document.body.dataset.updates || 0, mark: window.sgMark || null,
          live: document.getElementById('live').textContent};
})()"""


class StatusBrowser(unittest.TestCase):
    def setUp(self):
        self.t0 = time.monotonic()
        self.dir = sgtest.tempdir()
        self.port = free_port()
        self.http = free_port()
        self.url = "http://127.0.0.1:%d" % self.http
        self.cfg = os.path.join(self.dir, "siteguard.yaml")
        sgtest.write_config(self.cfg, CONFIG.format(port=self.port, dir=self.dir, http=self.http))
        check = sgtest.check_config(self.cfg)
        self.assertEqual(check.returncode, 0, check.stderr)
        self.svc = sgtest.start_service(self.cfg, os.path.join(self.dir, "siteguard.log"))
        self.probes = sgtest.start_probes(sgtest.tcp_endpoint(self.port), sgtest.site_ports(),
                                          self.dir)
        self.browser = None
        os.makedirs(ARTIFACTS, exist_ok=True)

    def tearDown(self):
        if self.browser:
            self.browser.close()
        for p in self.probes.values():
            p.stop()
        self.svc.stop()
        print("test_status_browser: %.1f s in all" % (time.monotonic() - self.t0))

    def api(self):
        with urllib.request.urlopen(self.url + "/api/v1/status", timeout=10) as r:
            return json.loads(r.read())

    def read(self):
        d = self.browser.evaluate(READ)
        d["site"] = {row[0]: row[1] for row in d["sites"]}
        d["verdict"] = {row[0]: row[4] for row in d["colls"]}
        return d

    def test_the_page_follows_a_site_loss_without_a_reload(self):
        # all healthy, the drill of site B reported, a pause with a reason
        def ready():
            try:
                doc = self.api()
            except OSError:  # not listening yet
                return None
            healthy = all(s["state"] == "healthy" for s in doc["sites"])
            return healthy and doc["drills"][0]["report"] and not doc["drill_running"]
        wait_for(ready, timeout=90, what="healthy sites and the drill's report")
        r = sgtest.ctl_ipc(self.dir, "pause", "b-app", "--for", "1h", "--reason", REASON)
        self.assertEqual(r.returncode, 0, r.stderr)

        t = time.monotonic()
        self.browser = cdp.Browser(width=1360, height=1000)
        self.browser.navigate(self.url + "/")
        start = time.monotonic() - t
        self.browser.evaluate("window.sgMark = 'loaded once'")
        first = wait_for(lambda: (lambda d: d if d["updates"] >= 1 else None)(self.read()),
                         what="the page's first update")
        self.assertEqual(first["site"]["A"], "healthy")
        self.assertEqual(first["live"], "live")

        # site A falls silent; the page follows, polled here every 200 ms
        self.probes["A"].stop()
        seen, shot_mid = [], None

        def followed():
            nonlocal shot_mid
            d = self.read()
            seen.append((d["site"].get("A"), d["verdict"].get("a-db"), d["verdict"].get("a-web")))
            states = [row[9] for row in d["runs"] if len(row) > 9]
            if shot_mid is None and "succeeded" in states and \
                    any(s.startswith("running") for s in states):
                shot_mid = os.path.join(ARTIFACTS, "status-page-failover.png")
                self.browser.screenshot(shot_mid)
            done = d["site"].get("A") == "lost" and \
                all(d["verdict"].get(c) == "failed over" for c in A_COLLS)
            return d if done else None
        try:
            last = wait_for(followed, timeout=90, what="A lost and its collections failed over")
        except AssertionError:
            self.fail("the page did not follow: %s\n%s" % (seen[-3:], self.svc.output()[-3000:]))

        # no reload: the marker survives, one navigation, updates went on
        self.assertEqual(last["mark"], "loaded once")
        self.assertEqual(self.browser.evaluate(
            "performance.getEntriesByType('navigation').length"), 1)
        self.assertGreater(last["updates"], first["updates"] + 2)
        a_db = [v for _, v, _ in seen]
        self.assertIn("failing over", a_db)
        self.assertLess(a_db.index("failing over"), a_db.index("failed over"))
        self.assertIn("lost", [s for s, _, _ in seen])
        runs = {row[0]: row for row in last["runs"]}
        self.assertEqual(sorted(runs), sorted(A_COLLS))
        self.assertTrue(all(row[9] == "succeeded" for row in runs.values()), runs)
        for row in runs.values():  # decided, intent, called, ended: offsets from the loss
            for cell in (row[4], row[5], row[6], row[8]):
                self.assertRegex(cell, r"^\+\d+\.\d\d s$", row)
        self.assertEqual(self.browser.evaluate(
            "document.querySelectorAll('#episode svg.bar rect.j.b-succeeded').length"), 4)

        # an operator commits a-db: its life-cycle step shows, still without a reload
        r = sgtest.ctl_ipc(self.dir, "commit", "a-db", "--reason", "A is gone for good")
        self.assertEqual(r.returncode, 0, r.stderr)
        step = wait_for(lambda: (lambda t: t if "succeeded" in t else None)(self.browser.evaluate(
            "[...document.querySelectorAll('#collections tbody tr')].filter(tr => "
            "tr.cells[0].textContent === 'a-db')[0].cells[11].textContent")),
            timeout=60, what="the commit on the page")
        self.assertRegex(step, r"^commit succeeded \(step \d+\)$")
        self.assertEqual(self.browser.evaluate("window.sgMark"), "loaded once")

        # hostile strings are text; the page's script is the only one
        dom = self.browser.evaluate("""(() => ({
            scripts: document.scripts.length,
            inMain: document.querySelectorAll('main script, main b, main img').length,
            hostile: [...document.querySelectorAll('#collections tbody tr')]
                .map(tr => tr.cells[0].textContent).filter(t => t.includes('alert')),
            rowKey: document.querySelector('#collections tbody tr[data-row*="alert"]')
                .dataset.row,
            paused: [...document.querySelectorAll('#collections tbody tr')]
                .filter(tr => tr.cells[0].textContent === 'b-app')[0].cells[10].textContent,
            reason: [...document.querySelectorAll('#audit tbody tr')]
                .map(tr => tr.cells[5].textContent)}))()""")
        self.assertEqual(dom["scripts"], 1)
        self.assertEqual(dom["inMain"], 0)
        self.assertEqual(dom["hostile"], [HOSTILE])
        self.assertEqual(dom["rowKey"], HOSTILE)
        self.assertTrue(dom["paused"].endswith(": " + REASON), dom["paused"])
        self.assertIn(REASON, dom["reason"])
        self.assertEqual(self.browser.console_errors(), [])

        png = os.path.join(ARTIFACTS, "status-page.png")
        shot = self.browser.screenshot(png)
        self.assertTrue(shot.startswith(b"\x89PNG\r\n\x1a\n"))
        self.assertGreater(len(shot), 50000)
        if os.environ.get("SG_UPDATE_DOC_IMAGES") == "1":
            os.makedirs(os.path.dirname(DOC_IMAGE), exist_ok=True)
            shutil.copyfile(png, DOC_IMAGE)

        # the drill's latest report opens from its link
        href = self.browser.evaluate("document.querySelector('#drills tbody a').href")
        self.assertEqual(href, self.url + "/drills/report?drill=site-b")
        self.browser.navigate(href)
        report = self.browser.evaluate("document.body.textContent")
        self.assertIn("site-b", report)
        self.assertIn("TestReplicaCollection", report)

        # scripts off: the server's page says the same; a refresh reloads it
        self.browser.page("Emulation.setScriptExecutionDisabled", value=True)
        self.browser.navigate(self.url + "/")
        off = self.browser.evaluate  # evaluation runs even when the page's scripts may not
        self.assertEqual(off("document.getElementById('live').textContent"), "reload to refresh")
        self.assertEqual(off("document.body.dataset.updates || null"), None)
        self.assertEqual(off("document.querySelector('#sites tbody tr[data-row=A] .b')"
                             ".textContent"), "lost")
        self.assertEqual(off("document.querySelectorAll('meta[http-equiv=refresh]').length"), 1)
        print("test_status_browser: chromium started in %.1f s, loaded the page in %.1f s; "
              "%d polls of the DOM; png %d bytes%s" % (
                  self.browser.start_seconds, start, len(seen), len(shot),
                  "; mid-failover screenshot taken" if shot_mid else ""))


if __name__ == "__main__":
    unittest.main(verbosity=2)
