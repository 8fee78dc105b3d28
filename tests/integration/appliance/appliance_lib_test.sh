#!/usr/bin/env bash
# Tests of appliance/lib/{deps,provision}.sh helpers that quickstart.sh relies on, each with a
# fake program in place of the real one. Usage: appliance_lib_test.sh SOURCE_DIR
set -euo pipefail
src="$1"
# shellcheck source=../../../appliance/lib/deps.sh
source "$src/appliance/lib/deps.sh"
# shellcheck source=../../../appliance/lib/provision.sh
source "$src/appliance/lib/provision.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

# --- kms_show_build_errors: quickstart's report of a failed build ---------------------------
# A log far larger than a pipe buffer: `grep | head -20` gets SIGPIPE and, under pipefail and
# set -e, ends the caller with 141 before "build failed; see ..." is printed.
awk 'BEGIN { for (i = 0; i < 100000; i++) print "src/x.cc:1:1: error: boom" }' >"$tmp/big.log"
out=$(bash -c 'set -euo pipefail; source "$1"; kms_show_build_errors "$2" 2>&1; echo reached' \
  _ "$src/appliance/lib/deps.sh" "$tmp/big.log") && rc=0 || rc=$?
if [ "$rc" -eq 0 ] && [ "$(grep -c 'error: boom' <<<"$out")" -eq 20 ] &&
  [ "$(tail -n1 <<<"$out")" = reached ]; then
  pass "build errors: first 20 lines of a large log, and the caller goes on"
else
  fail "build errors on a large log: rc=$rc, $(wc -l <<<"$out") lines"
fi
echo "nothing matches here" >"$tmp/quiet.log"
out=$(bash -c 'set -euo pipefail; source "$1"; kms_show_build_errors "$2" 2>&1; echo reached' \
  _ "$src/appliance/lib/deps.sh" "$tmp/quiet.log") && rc=0 || rc=$?
[ "$rc" -eq 0 ] && [ "$out" = reached ] && pass "build errors: a log without errors" ||
  fail "build errors on a log without errors: rc=$rc, output '$out'"

[ "$failures" -eq 0 ] || { echo "$failures check(s) failed" >&2; exit 1; }
echo "all appliance helper checks passed"
