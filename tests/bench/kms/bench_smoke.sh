#!/usr/bin/env bash
# Smoke test of kms-bench: 20 users, 200 requests and 200 resolves, one repetition, a short
# ceiling and a short half-load phase. Passes when kms-bench exits 0 (no errors of any kind)
# and its --json report has every figure the documentation quotes, within sane bounds.
set -euo pipefail
bench="$1" kmsd="$2"
out="$(mktemp)"
trace="$(mktemp -d)"
trap 'rm -rf "$out" "$trace"' EXIT
"$bench" --kmsd "$kmsd" --users 20 --requests 200 --repeat 1 --connections 2 \
  --ceiling-seconds 0.5 --half-load --half-load-seconds 1 --latency-trace "$trace/half" \
  --json >"$out"
python3 - "$out" "$trace/half" <<'PY'
import json, os, sys
r = json.load(open(sys.argv[1]))
def check(cond, what):
    if not cond:
        sys.exit("kms-bench report: " + what)
check(r["errors_total"] == 0, "errors_total is not 0")
calls = r["token_calls"]
check(calls["request"]["hmac"] >= 2 and calls["resolve"]["hmac"] >= 2, "no HMAC calls recorded")
run = r["runs"][0]
for leg in ("request", "resolve"):
    p = run[leg]
    check(p["messages"] == 200 and p["ok"] >= 200, leg + ": not every message answered")
    lat = p["latency"]
    check(0 < lat["p50_ms"] <= lat["p90_ms"] <= lat["p99_ms"] <= lat["max_ms"], leg + ": latency order")
    check(p["connections_opened"] == 2, leg + ": connections were not kept alive")
check(run["ceiling"]["pairs_per_s"] > 0 and run["pairs_per_s"] > 0, "zero throughput")
check(0 < run["ratio_to_ceiling"] < 10, "ratio out of range")
check(r["half_load"]["request"]["latency"]["count"] > 0, "no half-load samples")
# Each phase says what the machine did meanwhile: steal share and kmsd's audit commits
# (read from its /metrics): at least one group commit per phase, none counted twice.
for p in (run["request"], run["resolve"], r["half_load"]["request"], r["half_load"]["resolve"]):
    check(0 <= p["host_steal_pct"] <= 100, "host steal out of range")
    check(isinstance(p["audit_commits"], int) and 1 <= p["audit_commits"] <= p["messages"] + 2,
          "audit commits not read from /metrics")
    check(0 <= p["audit_commits_over_10ms"] <= p["audit_commits"], "slow commits out of range")
    check(0 < p["audit_commit_mean_ms"] < 1000, "mean audit commit out of range")
# The verdict on the target follows the leg's own p99.
for leg in ("request", "resolve"):
    p = r["half_load"][leg]
    check(p["target_met"] == (p["latency"]["p99_ms"] < r["half_load"]["target_p99_ms"]),
          leg + ": target_met disagrees with p99")
# The half-load baseline: the token calls alone, open loop at the same rates, no failures.
for leg in ("request", "resolve"):
    t = r["half_load"]["token_alone"][leg]
    check(t["token_failures"] == 0 and t["latency"]["count"] >= 50, leg + ": no token-alone legs")
    check(abs(t["rate_per_s"] - r["half_load"][leg + "_rate_per_s"]) < 1e-6, leg + ": baseline rate")
    check(0 < t["latency"]["p50_ms"] <= t["latency"]["p99_ms"], leg + ": token-alone latency order")
# --latency-trace: one line per half-load message (slot, due ms, latency ms) after t0.
for leg in ("request", "resolve"):
    lines = open(sys.argv[2] + "." + leg + ".txt").read().split("\n")
    check(lines[0].startswith("t0 ") and float(lines[0].split()[1]) > 0, leg + " trace: no t0")
    rows = [l.split() for l in lines[1:] if l]
    check(len(rows) == r["half_load"][leg]["latency"]["count"], leg + " trace: one line per message")
    check(all(int(c) in (0, 1) and float(d) >= 0 and float(m) > 0 for c, d, m in rows),
          leg + " trace: bad line")
    # Open loop: the last message is not due before (count - 1) / rate, so a driver that sent
    # each message as soon as a slot was free (closed loop, twice the rate here) ends early.
    count = r["half_load"][leg]["latency"]["count"]
    check(r["half_load"][leg]["seconds"] >= (count - 1) / r["half_load"][leg + "_rate_per_s"],
          leg + ": half-load leg ended before its last message was due")
check(r["kmsd"]["rss_kib_ready"] > 0 and r["kmsd"]["startup_ms"] > 0, "no kmsd figures")
# HTTP threads and kmsd's decision workers default to one per session (2 here) but no more
# than the CPUs the processes may run on (kmsd reports its choice on its started line).
cpus = len(os.sched_getaffinity(0))
check(r["kmsd"]["http_threads"] == min(2, cpus), "HTTP threads not min(sessions, CPUs)")
check(r["kmsd"]["decision_workers"] == min(2, cpus), "decision workers not min(sessions, CPUs)")
print("kms-bench smoke: %.0f pairs/s, %.1f%% of the ceiling, p99 request %.2f ms" % (
    run["pairs_per_s"], 100 * run["ratio_to_ceiling"], run["request"]["latency"]["p99_ms"]))
PY
# --perf-half-load profiles the half-load legs, so without --half-load it is a usage error
# (exit 2) before anything is provisioned.
set +e
"$bench" --kmsd "$kmsd" --perf-half-load "$trace/perf" >/dev/null 2>"$trace/usage.err"
rc=$?
set -e
if [[ $rc -ne 2 ]] || ! grep -q -- "--perf-half-load requires --half-load" "$trace/usage.err"; then
  echo "kms-bench: --perf-half-load without --half-load gave exit $rc" >&2
  exit 1
fi
