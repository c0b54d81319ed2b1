"""Tests for scripts/modgraph on small generated source trees."""
import os
import subprocess
import sys
import tempfile
import unittest

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      '..', '..', 'scripts', 'modgraph')


class ModgraphTest(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.dir = tmp.name

    def write(self, files):
        """files: {path below src/: list of include targets}."""
        for path, targets in files.items():
            full = os.path.join(self.dir, 'src', path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, 'w') as f:
                f.write('/* %s */\n' % path)
                for t in targets:
                    f.write('#include "%s"\n' % t)
                f.write('#include <stdio.h>\n')

    def run_modgraph(self, *extra):
        cmd = [sys.executable, SCRIPT, 'src', '--root', 'src',
               '--root', 'include'] + list(extra)
        return subprocess.run(cmd, cwd=self.dir, capture_output=True,
                              text=True)

    def assert_clean(self, modules, edges):
        r = self.run_modgraph()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stdout.strip(), 'modgraph: %d modules, %d edges, '
                         'no cycle' % (modules, edges))

    def test_clean_tree_passes(self):
        self.write({'a.c': ['a.h', 'b.h'], 'a.h': [], 'b.c': ['b.h', 'c.h'],
                    'b.h': ['c.h'], 'c.h': []})
        self.assert_clean(3, 2)

    def test_own_header_is_not_a_cycle(self):
        self.write({'a.c': ['a.h'], 'a.h': []})
        self.assert_clean(1, 0)

    def test_two_module_cycle(self):
        self.write({'config.c': ['config.h', 'schedule.h'], 'config.h': [],
                    'schedule.h': ['config.h']})
        r = self.run_modgraph()
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn('cycle: config -> schedule -> config\n'
                      '  src/config.c:3 includes "schedule.h"\n'
                      '  src/schedule.h:2 includes "config.h"\n', r.stdout)

    def test_three_module_cycle(self):
        self.write({'a/x.c': ['x.h', 'b/y.h'], 'a/x.h': [],
                    'b/y.h': ['../c/z.h'], 'c/z.c': ['z.h'],
                    'c/z.h': ['a/x.h']})
        r = self.run_modgraph()
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn('module cycle among 3: a/x, b/y, c/z', r.stdout)
        self.assertIn('cycle: a/x -> b/y -> c/z -> a/x\n'
                      '  src/a/x.c:3 includes "b/y.h"\n'
                      '  src/b/y.h:2 includes "../c/z.h"\n'
                      '  src/c/z.h:2 includes "a/x.h"\n', r.stdout)

    def test_private_int_header_belongs_to_module(self):
        self.write({'policy/engine.c': ['engine.h', 'engine_int.h'],
                    'policy/engine.h': [],
                    'policy/engine_int.h': ['engine.h', 'verdict.h'],
                    'policy/verdict.c': ['verdict.h', 'engine_int.h'],
                    'policy/verdict.h': []})
        # engine_int.h is part of policy/engine: its include of verdict.h
        # is an engine -> verdict edge, and verdict.c including it is a
        # verdict -> engine edge.
        r = self.run_modgraph()
        self.assertIn('cycle: policy/engine -> policy/verdict -> '
                      'policy/engine\n'
                      '  src/policy/engine_int.h:3 includes "verdict.h"\n'
                      '  src/policy/verdict.c:3 includes "engine_int.h"\n',
                      r.stdout)
        # Shared by both .c files, including only engine.h: no cycle.
        self.write({'policy/engine_int.h': ['engine.h']})
        self.assert_clean(2, 1)

    def test_parent_folder_includes_resolve(self):
        self.write({'err.c': ['err.h', 'provider/sim.h'], 'err.h': [],
                    'provider/sim.c': ['sim.h', '../err.h'],
                    'provider/sim.h': []})
        r = self.run_modgraph()
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn('  src/provider/sim.c:3 includes "../err.h"', r.stdout)

    def test_missing_and_outside_headers_are_ignored(self):
        self.write({'health.c': ['health.h', 'proto/health.pb-c.h',
                                 'lib/plugin.h'],
                    'health.h': []})
        os.makedirs(os.path.join(self.dir, 'include', 'lib'))
        with open(os.path.join(self.dir, 'include', 'lib', 'plugin.h'),
                  'w') as f:
            f.write('#include "health.h"\n')
        self.assert_clean(1, 0)

    def test_folders_informational_unless_strict(self):
        self.write({'top.c': ['sub/low.h'], 'top.h': [],
                    'sub/low.h': [], 'sub/other.c': ['../top.h']})
        r = self.run_modgraph('--folders')
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn('folder . -> sub  1\nfolder sub -> .  1\n', r.stdout)
        self.assertEqual(self.run_modgraph('--strict-folders').returncode, 1)

    def test_dot_and_help(self):
        self.write({'a.c': ['b.h'], 'b.h': []})
        self.assertIn('"a" -> "b";', self.run_modgraph('--dot').stdout)
        self.assertIn('usage: modgraph', self.run_modgraph('-h').stdout)


if __name__ == '__main__':
    unittest.main()
