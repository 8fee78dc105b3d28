#!/usr/bin/env bash
# Tests of appliance/lib/{deps,provision}.sh helpers that quickstart.sh relies on: a fake
# kmsd, real openssl, and a private SoftHSM2 token. Usage: appliance_lib_test.sh SOURCE_DIR
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

# --- kms_start_kmsd / kms_stop_kmsd with a fake kmsd ----------------------------------------
# fake_kmsd BODY: BIN/src/daemon/kmsd records its PID in STATE/fake.pid, then runs BODY.
state="$tmp/state"
bin="$tmp/bin"
mkdir -p "$state" "$bin/src/daemon"
fake_kmsd() {
  printf '#!/bin/sh\necho $$ >"%s/fake.pid"\n%s\n' "$state" "$1" >"$bin/src/daemon/kmsd"
  chmod +x "$bin/src/daemon/kmsd"
  rm -f "$state/fake.pid"
}
# gone: the fake kmsd's process no longer exists (it was reaped, not just signalled).
gone() { ! kill -0 "$(cat "$state/fake.pid")" 2>/dev/null; }

# Alive but never logs event=started: the helper times out, and under set -e the caller ends
# on its return 1, so the helper itself must stop what it started.
# (Not `( ... ) && rc=0`: set -e is ignored in a subshell that is part of an && list.)
fake_kmsd 'exec sleep 60'
set +e
(
  set -e
  KMSD_START_TIMEOUT=1 kms_start_kmsd "$state" "$bin" 2>"$tmp/start.err"
  echo "not reached"
)
rc=$?
set -e
if [ "$rc" -ne 0 ] && [ -s "$state/fake.pid" ] && gone &&
  grep -q "kmsd did not start" "$tmp/start.err"; then
  pass "start timeout: kms_start_kmsd fails and stops the hung kmsd"
else
  fail "start timeout: rc=$rc, fake kmsd $(gone && echo gone || echo STILL RUNNING)"
  kill "$(cat "$state/fake.pid")" 2>/dev/null || true
fi

# Exits at once: the helper fails and shows the log.
fake_kmsd 'echo "config: no such file" >&2; exit 1'
(KMSD_START_TIMEOUT=1 kms_start_kmsd "$state" "$bin" 2>"$tmp/start.err") && rc=0 || rc=$?
[ "$rc" -eq 1 ] && grep -q "config: no such file" "$tmp/start.err" &&
  pass "start failure: kmsd's log shown" || fail "start failure: rc=$rc"

# Starts: ports parsed; kms_stop_kmsd stops it and is harmless a second time.
fake_kmsd 'echo "event=started https_port=4433 ops_port=9100" >&2; exec sleep 60'
kms_start_kmsd "$state" "$bin" && rc=0 || rc=$?
if [ "$rc" -eq 0 ] && [ "$KMS_PORT" = 4433 ] && [ "$KMS_OPS_PORT" = 9100 ] &&
  [ "$KMSD_PID" = "$(cat "$state/fake.pid")" ]; then
  kms_stop_kmsd
  kms_stop_kmsd
  gone && [ "$KMSD_PID" = 0 ] && pass "start and stop" || fail "kms_stop_kmsd left kmsd running"
else
  fail "start: rc=$rc port=${KMS_PORT:-} ops=${KMS_OPS_PORT:-}"
  kms_stop_kmsd
fi

# --- kms_tls_cert: the demo's TLS certificate ------------------------------------------------
tls="$tmp/tls"
mkdir -p "$tls"
fingerprint() { openssl x509 -in "$tls/tls.crt" -noout -fingerprint -sha256; }
# renewed BEFORE: tls.crt is no longer the certificate of fingerprint BEFORE; it is valid for
# more than 7 days and matches tls.key.
renewed() {
  local before="$1"
  [ "$(fingerprint)" != "$before" ] &&
    openssl x509 -in "$tls/tls.crt" -noout -checkend $((7 * 86400)) >/dev/null &&
    [ "$(openssl x509 -in "$tls/tls.crt" -noout -pubkey)" = \
      "$(openssl pkey -in "$tls/tls.key" -pubout)" ]
}
kms_tls_cert "$tls"
[ -s "$tls/tls.crt" ] && [ "$(stat -c %a "$tls/tls.key")" = 600 ] &&
  pass "tls: made when missing, key owner-only" || fail "tls: not made, or key readable by others"
before=$(fingerprint)
kms_tls_cert "$tls"
[ "$(fingerprint)" = "$before" ] && pass "tls: a valid certificate is kept" ||
  fail "tls: a valid certificate was replaced"
# Expires tomorrow (as a 30-day one does a month later): replaced.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=old" \
  -keyout "$tls/tls.key" -out "$tls/tls.crt" 2>/dev/null
before=$(fingerprint)
kms_tls_cert "$tls"
renewed "$before" && pass "tls: a certificate about to expire is renewed" ||
  fail "tls: a certificate about to expire was kept"
# Not a certificate at all, or the key missing: made anew.
echo garbage >"$tls/tls.crt"
kms_tls_cert "$tls"
renewed "" && pass "tls: an unreadable certificate is replaced" ||
  fail "tls: an unreadable certificate was kept"
before=$(fingerprint)
rm "$tls/tls.key"
kms_tls_cert "$tls"
renewed "$before" && pass "tls: a certificate without its key is replaced" ||
  fail "tls: a certificate without its key was kept"

# --- kms_init_token: the SoftHSM2 token, PINs never on a command line -----------------------
# Every softhsm2-util and pkcs11-tool the helper runs goes through a wrapper on PATH that
# records its arguments (what ps shows to every local user) before running the real tool.
wrap="$tmp/wrap"
mkdir -p "$wrap"
for tool in softhsm2-util pkcs11-tool; do
  real=$(command -v "$tool") || { fail "$tool is not installed"; continue; }
  printf '#!/bin/sh\necho "%s $*" >>"%s/argv.log"\nexec "%s" "$@"\n' "$tool" "$tmp" "$real" \
    >"$wrap/$tool"
  chmod +x "$wrap/$tool"
done
tok="$tmp/token-state"
# login PIN-FILE: a user login to kms-demo under $tok with that PIN works.
login() {
  PIN="$(cat "$1")" SOFTHSM2_CONF="$tok/softhsm2.conf" pkcs11-tool \
    --module "$KMS_SOFTHSM2_MODULE" --token-label kms-demo --login --pin env:PIN \
    --list-objects >/dev/null 2>&1
}
no_pin_on_argv() {
  ! grep -qF -e "$(cat "$tok/so.pin")" -e "$(cat "$tok/user.pin")" "$tmp/argv.log"
}
(PATH="$wrap:$PATH" kms_init_token "$tok") && rc=0 || rc=$?
if [ "$rc" -eq 0 ] && [ -s "$tmp/argv.log" ] && no_pin_on_argv && login "$tok/user.pin"; then
  pass "token: initialised, user PIN set, no PIN on any command line"
else
  fail "token: rc=$rc, $(no_pin_on_argv && echo "no PIN on argv" || echo "A PIN WAS ON ARGV")"
fi
serial() { SOFTHSM2_CONF="$tok/softhsm2.conf" softhsm2-util --show-slots | grep -m1 Serial; }
before=$(serial)
: >"$tmp/argv.log"
(PATH="$wrap:$PATH" kms_init_token "$tok") && [ "$(serial)" = "$before" ] &&
  ! grep -q -- --init "$tmp/argv.log" && login "$tok/user.pin" &&
  pass "token: a second run keeps the token" || fail "token: a second run changed the token"
# An earlier run stopped between the two steps: the token exists without its user PIN.
rm -rf "$tok"
mkdir -p "$tok/tokens"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\n' "$tok" >"$tok/softhsm2.conf"
SO=so-pin-1234 SOFTHSM2_CONF="$tok/softhsm2.conf" pkcs11-tool --module "$KMS_SOFTHSM2_MODULE" \
  --slot-index 0 --init-token --label kms-demo --so-pin env:SO >/dev/null 2>&1
echo -n so-pin-1234 >"$tok/so.pin"
(kms_init_token "$tok") && login "$tok/user.pin" &&
  pass "token: a token without its user PIN gets it" ||
  fail "token: a token without its user PIN was left so"

[ "$failures" -eq 0 ] || { echo "$failures check(s) failed" >&2; exit 1; }
echo "all appliance helper checks passed"
