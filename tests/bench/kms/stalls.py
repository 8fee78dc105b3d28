#!/usr/bin/env python3
"""stalls.py: where the slow messages of a kms-bench half-load phase spent their time.

Inputs: the phase's --latency-trace file (PREFIX.request.txt or PREFIX.resolve.txt) and
`perf script -F tid,cpu,time,event,trace` of a system-wide
`perf record -k CLOCK_MONOTONIC -a -e sched:sched_switch
 -e syscalls:sys_enter_fdatasync,syscalls:sys_exit_fdatasync` taken during the phase
(docs/performance-2.80ghz.md, "Where the half-load stalls come from").

For every cluster of messages slower than --slow-ms (messages less than 50 ms apart join a
cluster) it prints what ran on the CPUs during the cluster's worst message (per task name,
milliseconds; swapper = idle) and the longest time between two fdatasync calls, i.e. how
long the audit writer's disk kept every waiting reply.
"""
import argparse
import collections
import re


def load_trace(path):
    lines = open(path).read().split("\n")
    t0_ms = float(lines[0].split()[1]) * 1000
    rows = [tuple(map(float, l.split())) for l in lines[1:] if l]
    return t0_ms, sorted(rows, key=lambda r: r[1])


def load_perf(path):
    switch = re.compile(r"prev_comm=(.*) prev_pid=(\d+) .*==> next_comm=(.*) next_pid=(\d+)")
    line_re = re.compile(r"\s*(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+(\S+):\s*(.*)")
    running = collections.defaultdict(list)  # cpu -> [(start, end, task)]
    current = {}
    fdatasync_enter = []
    for line in open(path):
        m = line_re.match(line)
        if not m:
            continue
        cpu, t, event = int(m[2]), float(m[3]) * 1000, m[4]
        if event == "sched:sched_switch":
            s = switch.search(m[5])
            if not s:
                continue
            if cpu in current:
                start, task = current[cpu]
                running[cpu].append((start, t, task))
            current[cpu] = (t, s[3])
        elif event.endswith("sys_enter_fdatasync"):
            fdatasync_enter.append(t)
    return running, fdatasync_enter


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("trace")
    ap.add_argument("perf_script")
    ap.add_argument("--slow-ms", type=float, default=8.0)
    a = ap.parse_args()
    t0, rows = load_trace(a.trace)
    running, fsyncs = load_perf(a.perf_script)
    slow = [r for r in rows if r[2] > a.slow_ms]
    clusters = []
    for r in slow:
        if clusters and r[1] - clusters[-1][-1][1] < 50:
            clusters[-1].append(r)
        else:
            clusters.append([r])
    print("%d messages, %d slower than %.1f ms, %d clusters" %
          (len(rows), len(slow), a.slow_ms, len(clusters)))
    for c in clusters:
        worst = max(x[2] for x in c)
        begin, end = t0 + c[0][1], t0 + c[0][1] + worst
        use = collections.Counter()
        for spans in running.values():
            for s, e, task in spans:
                overlap = min(e, end) - max(s, begin)
                if overlap > 0:
                    use[task] += overlap
        calls = [t for t in fsyncs if begin - 5 <= t <= end]
        gap = max([y - x for x, y in zip(calls, calls[1:])] or [0])
        print("at %7.0f ms: %4d slow, worst %6.1f ms; longest fdatasync gap %5.1f ms; cpu: %s" %
              (c[0][1], len(c), worst, gap,
               ", ".join("%s %.1f" % kv for kv in use.most_common(5))))


if __name__ == "__main__":
    main()
