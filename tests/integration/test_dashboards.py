"""The operator's view against what siteguard really exports: every metric name
and every label name a matcher uses, in every expression of the Grafana
dashboard (deploy/grafana/siteguard.json: its panels, variables and
annotations) and of the Prometheus rules (deploy/prometheus/siteguard.rules.yaml),
exists in a scrape of a real siteguard's /metrics on 127.0.0.1, taken after
a drill and a site loss (so the drill's, the runs' and the failovers' series
are there). A recorded name (level:metric:operation) must be one the rules
record. The dashboard is also checked as an importable dashboard, and its
PromQL by promtool (no promtool is a failure: scripts/deps installs it).

The names are read out of PromQL by a small tokenizer (strings, ranges and
Grafana variables skipped; a name followed by `(` is a function); its own
tests come first."""
import json
import os
import re
import subprocess
import tempfile
import unittest

import yaml

import sgtest
from sgtest import wait_for

SOURCE = os.environ.get("SG_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")
DASHBOARD = os.path.join(SOURCE, "deploy", "grafana", "siteguard.json")
RULES = os.path.join(SOURCE, "deploy", "prometheus", "siteguard.rules.yaml")

# Labels Prometheus itself puts on every scraped series: a matcher may use them.
TARGET_LABELS = {"job", "instance"}

# ---- names out of PromQL ------------------------------------------------------------

TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<range>\[[^\]]*\])
  | (?P<var>\$(?:\{[^}]*\}|\w+))
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^<>=,(){}@])
""", re.X)


def tokens(expr):
    """(kind, text) of each token but whitespace; a ValueError on what is no token."""
    out, pos = [], 0
    while pos < len(expr):
        m = TOKEN.match(expr, pos)
        if not m:
            raise ValueError("cannot read %r at %d" % (expr[pos:pos + 20], pos))
        if m.lastgroup != "ws":
            out.append((m.lastgroup, m.group()))
        pos = m.end()
    return out


def selectors(expr):
    """{metric name: set of label names its matchers use} for every series
    selector of `expr` whose name starts with "siteguard" (siteguard_... or a
    recorded siteguard:...), also one written {__name__="..."}."""
    toks = tokens(expr)
    found = {}
    i = 0
    while i < len(toks):
        kind, text = toks[i]
        nxt = toks[i + 1][1] if i + 1 < len(toks) else None
        if kind == "ident" and nxt == "(":  # a function or an aggregation
            i += 1
            continue
        name = None
        if kind == "ident" and text.startswith("siteguard"):
            name = text
            i += 1
        elif text == "{":  # braces not right after a name (those are read with it)
            name = ""
        else:
            i += 1
            continue
        labels = set()
        if i < len(toks) and toks[i][1] == "{":
            i += 1
            while i < len(toks) and toks[i][1] != "}":
                if toks[i][1] == ",":
                    i += 1
                    continue
                label, op, value = toks[i][1], toks[i + 1][1], toks[i + 2][1]
                if op not in ("=", "!=", "=~", "!~") or toks[i + 2][0] != "str":
                    raise ValueError("bad matcher in %r" % expr)
                if label == "__name__" and op == "=":
                    name = value[1:-1]
                else:
                    labels.add(label)
                i += 3
            i += 1
        if name and name.startswith("siteguard"):
            found.setdefault(name, set()).update(labels)
    return found


def scrape_labels(text):
    """{series name: set of label names} of an exposition text."""
    series = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s", line)
        if not m:
            raise AssertionError("not an exposition line: %r" % line)
        labels = re.findall(r'([A-Za-z_][A-Za-z0-9_]*)="(?:[^"\\]|\\.)*"', m.group(2) or "")
        series.setdefault(m.group(1), set()).update(labels)
    return series


def problems(exprs, exported, recorded):
    """What is wrong with the names of exprs ([(where, expr)]) against the
    exported series ({name: labels}) and the recorded names: one line each."""
    out = []
    for where, expr in exprs:
        for name, labels in sorted(selectors(expr).items()):
            if ":" in name:
                if name not in recorded:
                    out.append("%s: %s is recorded by no rule" % (where, name))
                have = TARGET_LABELS
            elif name not in exported:
                out.append("%s: %s is not exported" % (where, name))
                continue
            else:
                have = exported[name] | TARGET_LABELS
            for label in sorted(labels - have):
                out.append("%s: %s has no label %s" % (where, name, label))
    return out


# ---- the files ------------------------------------------------------------------------


def load_dashboard():
    with open(DASHBOARD) as f:
        return json.load(f)


def load_rules():
    with open(RULES) as f:
        return yaml.safe_load(f)


def all_panels(dash):
    for p in dash["panels"]:
        yield p
        yield from p.get("panels", [])  # a collapsed row holds its panels


def dashboard_exprs(dash):
    """[(where, expr)] of every query of the dashboard."""
    out = []
    for p in all_panels(dash):
        for t in p.get("targets", []):
            out.append(("panel '%s' %s" % (p["title"], t.get("refId")), t["expr"]))
    for v in dash["templating"]["list"]:
        if v["type"] == "query":
            query = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
            out.append(("variable %s" % v["name"], query))
    for a in dash["annotations"]["list"]:
        if "expr" in a:
            out.append(("annotation '%s'" % a["name"], a["expr"]))
    return out


def rules_exprs(rules):
    return [("rule %s" % (r.get("alert") or r.get("record")), r["expr"])
            for g in rules["groups"] for r in g["rules"]]


def recorded(rules):
    return {r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r}


def as_promql(expr):
    """A dashboard query as plain PromQL: Grafana's variables given values."""
    expr = re.sub(r"\$__(rate_interval|interval|range)\b", "5m", expr)
    return re.sub(r"\$\{?\w+\}?", ".*", expr)


class PromQLNames(unittest.TestCase):
    """The tokenizer that reads names out of expressions."""

    def test_names_and_matcher_labels_are_read_and_strings_ranges_and_functions_skipped(self):
        expr = ('sum by (le, instance) (rate(siteguard_a_bucket{le=~"1|1.0",job=~"$job"}'
                '[$__rate_interval])) / ignoring (le) siteguard_b and on (job, instance) '
                '(siteguard_c == 1) or absent(siteguard_d) or siteguard:e:sum > 0 '
                'or label_replace(siteguard_f{x!="siteguard_fake{y=\\"1\\"}"}, "a", "b", "c", "d")'
                ' or {__name__="siteguard_g", z!~"q"} offset 5m')
        self.assertEqual(selectors(expr), {
            "siteguard_a_bucket": {"le", "job"}, "siteguard_b": set(), "siteguard_c": set(),
            "siteguard_d": set(), "siteguard:e:sum": set(), "siteguard_f": {"x"},
            "siteguard_g": {"z"}})

    def test_a_wrong_name_or_label_or_recording_is_reported(self):
        exported = {"siteguard_x": {"site"}, "siteguard_x_bucket": {"le"}}
        exprs = [("p1", 'siteguard_x{site="A",instance="i"}'),
                 ("p2", 'rate(siteguard_x_bucket{le="1"}[5m])'),
                 ("p3", 'siteguard_y'), ("p4", 'siteguard_x{state="lost"}'),
                 ("p5", 'siteguard:x:sum'), ("p6", 'siteguard:z:sum')]
        self.assertEqual(problems(exprs, exported, {"siteguard:x:sum"}), [
            "p3: siteguard_y is not exported", "p4: siteguard_x has no label state",
            "p6: siteguard:z:sum is recorded by no rule"])


class DashboardFile(unittest.TestCase):
    """The dashboard as Grafana imports it."""

    def test_it_is_an_importable_dashboard_on_a_prometheus_input(self):
        dash = load_dashboard()
        self.assertGreaterEqual(dash["schemaVersion"], 36)
        self.assertIsNone(dash.get("id"))
        self.assertEqual([(i["name"], i["type"], i["pluginId"]) for i in dash["__inputs"]],
                         [("DS_PROMETHEUS", "datasource", "prometheus")])
        ids = [p["id"] for p in all_panels(dash)]
        self.assertEqual(len(ids), len(set(ids)), "panel ids are unique")
        for p in all_panels(dash):
            self.assertTrue({"h", "w", "x", "y"} <= set(p["gridPos"]), p["title"])
            if p["type"] == "row":
                continue
            self.assertEqual(p["datasource"], {"type": "prometheus", "uid": "${DS_PROMETHEUS}"},
                             p["title"])
            self.assertTrue(p["targets"], p["title"])
            for t in p["targets"]:
                self.assertEqual(t["datasource"]["uid"], "${DS_PROMETHEUS}", p["title"])
        for v in dash["templating"]["list"]:
            self.assertEqual(v["datasource"]["uid"], "${DS_PROMETHEUS}", v["name"])
        titles = " | ".join(p["title"] for p in all_panels(dash)).lower()
        for wanted in ("site state", "collections by verdict", "runs by result", "run duration",
                       "event age", "loop turn", "event to call", "outbox depth",
                       "sink outcomes", "leader", "epoch", "journal", "drills"):
            self.assertIn(wanted, titles)

    def test_its_queries_are_promql_that_promtool_reads(self):
        """Each query, its variables given values, as a recording rule for
        `promtool check rules`."""
        rules = {"groups": [{"name": "dashboard", "rules": [
            {"record": "dashboard:query:%d" % i, "expr": as_promql(expr)}
            for i, (where, expr) in enumerate(dashboard_exprs(load_dashboard()))
            if not expr.startswith("label_values(")]}]}
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            yaml.safe_dump(rules, f)
            f.flush()
            try:
                r = subprocess.run(["promtool", "check", "rules", f.name], capture_output=True,
                                   text=True, timeout=60)
            except FileNotFoundError:
                self.fail("promtool not found: scripts/deps installs it (Debian package "
                          "prometheus)")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


# ---- against a real scrape ---------------------------------------------------------------

# part of the CONFIG template: braces doubled
DRILLS = """\
drills:
  - name: b-hourly
    collections: [b-db]
    schedule: '@every 1h'
    run_at_start: true
"""

CONFIG = (sgtest.bus_yaml("{port}") + sgtest.sites_yaml("probe-a@A", "probe-b@B", "probe-w@W")
          + sgtest.policy_yaml(mode="auto")
          + sgtest.sim_provider_yaml("200ms", "{dir}", workers=2)
          + sgtest.journal_yaml("{dir}") + sgtest.jsonl_sink_yaml("{dir}/outcomes.jsonl")
          + sgtest.metrics_yaml("{metrics_port}") + "collections:\n"
          + sgtest.collection_yaml("a-db", "DASH-a-db", "A", "B")
          + sgtest.collection_yaml("b-db", "DASH-b-db", "B", "A") + DRILLS)


class AgainstAScrape(unittest.TestCase):
    """One real siteguard: sites A, B and W heard through sg-probe, a drill at
    start, then A's probe stopped: A is lost and a-db fails over. The scrape
    taken then is what the names are checked against."""

    @classmethod
    def setUpClass(cls):
        sgtest.service_case(cls)
        sgtest.write_config(cls.cfg, CONFIG.format(port=cls.port, dir=cls.dir,
                                                   metrics_port=cls.metrics_port))
        check = sgtest.check_config(cls.cfg)
        assert check.returncode == 0, check.stderr
        cls.svc = sgtest.start_service(cls.cfg, os.path.join(cls.dir, "siteguard.log"))
        cls.probes = {}
        try:
            cls.probes = sgtest.start_probes(cls.endpoint, cls.site_port, cls.dir)
            m = lambda: sgtest.metrics(cls.metrics_port)
            wait_for(lambda: m().get('siteguard_drill_last_result{drill="b-hourly",'
                                     'result="passed"}') == 1,
                     timeout=30, what=lambda: "the drill at start to pass:\n" + cls.tail())
            cls.probes.pop("A").stop()  # A falls silent, its endpoint goes away
            wait_for(lambda: m().get('siteguard_collection_state{collection="a-db",'
                                     'verdict="failed over"}') == 1,
                     timeout=30, what=lambda: "a-db failed over:\n" + cls.tail())
            cls.text = sgtest.metrics_text(cls.metrics_port)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for p in cls.probes.values():
            p.stop()
        cls.probes = {}
        cls.svc.stop()

    @classmethod
    def tail(cls):
        return cls.svc.output()[-3000:]

    def exported(self):
        return scrape_labels(self.text)

    def test_every_name_the_dashboard_uses_is_exported(self):
        self.assertEqual(problems(dashboard_exprs(load_dashboard()), self.exported(),
                                  recorded(load_rules())), [])

    def test_every_name_the_rules_use_is_exported(self):
        rules = load_rules()
        self.assertEqual(problems(rules_exprs(rules), self.exported(), recorded(rules)), [])

    def test_every_exported_family_is_on_the_dashboard(self):
        """Nothing siteguard exports is left off the operator's view."""
        used = set()
        for _, expr in dashboard_exprs(load_dashboard()):
            used |= set(selectors(expr))
        families = {re.sub(r"_(bucket|sum|count)$", "", n) for n in self.exported()}
        used = {re.sub(r"_(bucket|sum|count)$", "", n) for n in used}
        self.assertEqual(sorted(families - used), [])

    def test_the_scrape_passes_promtool_check_metrics(self):
        """The exposition's own lint (names, types, HELP)."""
        try:
            r = subprocess.run(["promtool", "check", "metrics"], input=self.text,
                               capture_output=True, text=True, timeout=60)
        except FileNotFoundError:
            self.fail("promtool not found: scripts/deps installs it (Debian package prometheus)")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_the_scrape_has_the_loss_and_the_drill(self):
        s = sgtest.metrics(self.metrics_port)
        self.assertEqual(s['siteguard_site_state{site="A",state="lost"}'], 1)
        self.assertGreaterEqual(s['siteguard_runs_total{result="succeeded"}'], 1)
        self.assertGreaterEqual(s["siteguard_run_duration_seconds_count"], 1)
        self.assertEqual(s['siteguard_sink_outcomes_total{sink="outcomes",state="dead"}'], 0)
        # the drill's series: its result, its pass, due an hour after it
        results = {"passed": 1, "objectives_missed": 0, "failed": 0, "preempted": 0,
                   "interrupted": 0}
        for result, value in results.items():
            self.assertEqual(s['siteguard_drill_last_result{drill="b-hourly",result="%s"}'
                               % result], value, result)
        passed = s['siteguard_drill_last_success_timestamp_seconds{drill="b-hourly"}']
        self.assertEqual(s['siteguard_drill_last_end_timestamp_seconds{drill="b-hourly"}'], passed)
        self.assertAlmostEqual(s['siteguard_drill_due_timestamp_seconds{drill="b-hourly"}'],
                               passed + 3600, places=2)
        self.assertEqual(s["siteguard_drill_running"], 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
