#!/usr/bin/env python3
"""fsync_floor.py: the window arithmetic on made-up stalls, its refusals, and a short real run."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fsync_floor  # noqa: E402

SCRIPT = os.path.join(HERE, "fsync_floor.py")


class WindowsTest(unittest.TestCase):
    def test_fast_calls_make_no_late_time(self):
        calls = [(t / 100, 0.002) for t in range(600)]
        self.assertEqual(fsync_floor.windows(calls, 6.0, 6.0, 0.010), [0.0])

    def test_a_stall_counts_its_time_beyond_the_bound(self):
        # 70 ms stall, 10 ms bound: arrivals in its first 60 ms wait longer than 10 ms,
        # which is 1% of a 6-s window.
        shares = fsync_floor.windows([(1.0, 0.070)], 12.0, 6.0, 0.010)
        self.assertAlmostEqual(shares[0], 0.01, places=9)
        self.assertEqual(shares[1], 0.0)

    def test_a_last_shorter_window_counts_with_its_own_length(self):
        # 10 s in 6-s windows: [0, 6) and [6, 10); a 50 ms stall at 8 s is 40 ms of 4 s.
        shares = fsync_floor.windows([(8.0, 0.050)], 10.0, 6.0, 0.010)
        self.assertEqual(len(shares), 2)
        self.assertEqual(shares[0], 0.0)
        self.assertAlmostEqual(shares[1], 0.01, places=9)

    def test_a_stall_past_the_end_is_not_dropped(self):
        shares = fsync_floor.windows([(0.99, 0.110)], 1.0, 1.0, 0.010)
        self.assertEqual(len(shares), 2)
        self.assertAlmostEqual(sum(s * w for s, w in zip(shares, (1.0, 0.1))), 0.1, places=9)

    def test_a_stall_across_two_windows_is_split(self):
        shares = fsync_floor.windows([(5.98, 0.050)], 12.0, 6.0, 0.010)
        self.assertAlmostEqual(shares[0], 0.02 / 6.0, places=9)
        self.assertAlmostEqual(shares[1], 0.02 / 6.0, places=9)

    def test_a_call_exactly_at_the_bound_is_not_a_stall(self):
        self.assertEqual(fsync_floor.windows([(1.0, 0.010)], 6.0, 6.0, 0.010), [0.0])

    def test_percentile_of_nothing_is_zero(self):
        self.assertEqual(fsync_floor.percentile([], 0.99), 0.0)


class CommandTest(unittest.TestCase):
    def run_script(self, *args):
        return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True,
                              timeout=60, check=False)

    def test_refuses_bad_arguments(self):
        with tempfile.TemporaryDirectory() as d:
            for bad in (["--rate", "0"], ["--seconds", "-1"], ["--window", "0"],
                        ["--pages", "0"], ["--bound-ms", "0"]):
                r = self.run_script(d, *bad)
                self.assertEqual(r.returncode, 2, bad)
                self.assertIn("must be positive", r.stderr)
        r = self.run_script("/nonexistent-fsync-floor-dir")
        self.assertEqual(r.returncode, 2)
        self.assertIn("not a directory", r.stderr)
        r = self.run_script("/proc/self", "--seconds", "1")  # a directory nobody can write to
        self.assertEqual(r.returncode, 2)
        self.assertIn("cannot write a probe file", r.stderr)

    def test_a_short_run_reports_every_call_and_leaves_no_file(self):
        with tempfile.TemporaryDirectory() as d:
            r = self.run_script(d, "--seconds", "1", "--rate", "100", "--pages", "16",
                                "--window", "0.5", "--json")
            self.assertEqual(r.returncode, 0, r.stderr)
            report = json.loads(r.stdout)
            self.assertEqual(os.listdir(d), [])
        # At most the rate asks for; fewer on a slow disk (each call blocks the next).
        self.assertGreaterEqual(report["calls"], 1)
        self.assertLessEqual(report["calls"], 101)
        self.assertGreaterEqual(report["windows"], 2)
        self.assertEqual(len(report["late_share_per_window_pct"]), report["windows"])
        ms = report["fdatasync_ms"]
        self.assertLessEqual(ms["p50"], ms["p99"])
        self.assertLessEqual(ms["p99"], report["fdatasync_max_ms"])
        self.assertEqual(report["over_bound"], len(report["stalls_over_bound"]))


if __name__ == "__main__":
    unittest.main()
