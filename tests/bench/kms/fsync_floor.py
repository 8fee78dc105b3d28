#!/usr/bin/env python3
"""The disk's own floor under issue 10's half-load p99 target, with no kmsd running.

kmsd answers a message only after its audit row is durable (architecture §5: group commit,
durable before the reply), so a message that arrives while an fdatasync is stalled waits
for that stall to end. This probe does what kmsd's audit writer does to the disk and nothing
else: it overwrites 4 KiB pages of a preallocated file in turn (as SQLite reuses its WAL)
and calls fdatasync after each, at a fixed rate, and times every call.

From the stalls it computes, for each window of --window seconds (default 10, one half-load
phase of kms-bench; a last, shorter window counts with its own length), the share of that window's arrival time that falls more than --bound-ms before
the end of a stall: at any steady arrival rate, at least that share of the messages due in
the window would take longer than the bound, whatever the server does between commits.
A window whose share exceeds 1% cannot have a p99 under the bound.

Usage: fsync_floor.py DIR [--seconds 300] [--rate 200] [--window 10] [--bound-ms 10]
Prints one summary line per measure; --json for a report.
"""
import argparse
import json
import os
import sys
import time

PAGE = 4096


def percentile(sorted_values, q):
    if not sorted_values:
        return 0.0
    i = min(len(sorted_values) - 1, int(q * len(sorted_values)))
    return sorted_values[i]


def probe(directory, seconds, rate, pages):
    path = os.path.join(directory, "fsync-floor.dat")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        block = os.urandom(PAGE)
        for i in range(pages):  # allocate and make durable before timing, like a reused WAL
            os.pwrite(fd, block, i * PAGE)
        os.fsync(fd)
        calls = []  # (start, seconds) on CLOCK_MONOTONIC
        t0 = time.monotonic()
        n = 0
        while True:
            due = t0 + n / rate
            now = time.monotonic()
            if now - t0 >= seconds:
                break
            if due > now:
                time.sleep(due - now)
            os.pwrite(fd, block, (n % pages) * PAGE)
            start = time.monotonic()
            os.fdatasync(fd)
            calls.append((start - t0, time.monotonic() - start))
            n += 1
        return calls
    finally:
        os.close(fd)
        os.unlink(path)


def windows(calls, seconds, window, bound):
    """Per window: the share of its time that is more than `bound` before a stall's end.

    Windows tile [0, end), end being `seconds` or the end of the last call if later; the last
    window may be shorter and is divided by its own length.
    """
    end = max([seconds] + [start + took for start, took in calls])
    edges = []
    t = 0.0
    while t < end:
        edges.append((t, min(end, t + window)))
        t += window
    late = [0.0] * len(edges)
    for start, took in calls:
        if took <= bound:
            continue
        # Arrivals in [start, start + took - bound) wait more than `bound`.
        a, b = start, start + took - bound
        for w in range(int(a // window), min(len(edges), int(b // window) + 1)):
            lo, hi = max(a, edges[w][0]), min(b, edges[w][1])
            if hi > lo:
                late[w] += hi - lo
    return [x / (hi - lo) for x, (lo, hi) in zip(late, edges)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", help="a directory on the disk to measure (kmsd's database disk)")
    ap.add_argument("--seconds", type=float, default=300.0)
    ap.add_argument("--rate", type=float, default=200.0, help="fdatasync calls per second")
    ap.add_argument("--pages", type=int, default=2048, help="pages cycled (an 8 MiB WAL)")
    ap.add_argument("--window", type=float, default=10.0,
                    help="seconds per window (kms-bench's half-load phase)")
    ap.add_argument("--bound-ms", type=float, default=10.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if min(args.seconds, args.rate, args.window, args.pages, args.bound_ms) <= 0:
        ap.error("--seconds, --rate, --window, --pages and --bound-ms must be positive")
    if not os.path.isdir(args.dir):
        ap.error(f"not a directory: {args.dir}")

    bound = args.bound_ms / 1000.0
    try:
        calls = probe(args.dir, args.seconds, args.rate, args.pages)
    except OSError as e:
        ap.error(f"cannot write a probe file in {args.dir}: {e.strerror}")
    took = sorted(t for _, t in calls)
    shares = windows(calls, args.seconds, args.window, bound)
    report = {
        "calls": len(calls),
        "seconds": args.seconds,
        "rate": args.rate,
        "fdatasync_ms": {q: round(percentile(took, p) * 1000, 3)
                         for q, p in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99),
                                      ("p999", 0.999))},
        "fdatasync_max_ms": round(took[-1] * 1000, 3) if took else 0.0,
        "over_bound": sum(1 for t in took if t > bound),
        "stalls_over_bound": [{"at_s": round(s, 3), "ms": round(t * 1000, 1)}
                              for s, t in calls if t > bound],
        "windows": len(shares),
        "windows_with_a_stall": sum(1 for s in shares if s > 0),
        "windows_over_1pct": sum(1 for s in shares if s > 0.01),
        "late_share_per_window_pct": [round(s * 100, 3) for s in shares],
    }
    if args.json:
        json.dump(report, sys.stdout, indent=1)
        print()
        return 0
    f = report["fdatasync_ms"]
    print(f"fdatasync of a 4 KiB overwrite, {len(calls)} calls at {args.rate:g}/s over "
          f"{args.seconds:g} s: p50 {f['p50']} ms, p90 {f['p90']} ms, p99 {f['p99']} ms, "
          f"p99.9 {f['p999']} ms, max {report['fdatasync_max_ms']} ms")
    print(f"calls over {args.bound_ms:g} ms: {report['over_bound']} "
          f"({', '.join(str(s['ms']) for s in report['stalls_over_bound'][:20])}"
          f"{' ...' if report['over_bound'] > 20 else ''})")
    print(f"{args.window:g}-s windows: {report['windows']}, with a stall over "
          f"{args.bound_ms:g} ms: {report['windows_with_a_stall']}, where over 1% of arrivals "
          f"would wait longer than {args.bound_ms:g} ms: {report['windows_over_1pct']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
