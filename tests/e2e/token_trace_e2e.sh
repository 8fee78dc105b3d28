#!/usr/bin/env bash
# shellcheck disable=SC2154  # $state: set by e2e_state (tools/checks.sh)
# End-to-end: every PKCS#11 call kmsd makes, recorded by OpenSC's pkcs11-spy between kmsd and
# SoftHSM2, from start-up (self-tests, timing decoy) through a full call (request, resolve),
# a wrong MAC, an unknown credential and a readiness probe to shutdown, checked by
# tools/pkcs11_trace_check.py: kmsd logs in only as the user (never the SO, never
# CKU_CONTEXT_SPECIFIC), changes no PIN or object in place, makes only session objects,
# reads no key value but public self-test values, wraps only its own short-lived decoy
# (evaluator checklist §1; docs/evaluator-traceability.md). The checker is shown to fail on
# traces of pkcs11-tool doing what kmsd must not do.
# The spy writes the PIN and every MAC into its log: the log stays in the state directory,
# which is removed at the end. Never put pkcs11-spy in front of a production token.
# Exits 77 (ctest: skipped) without pkcs11-spy (Debian package opensc-pkcs11).
# Usage: token_trace_e2e.sh <build-dir>
set -euo pipefail
bin="$(cd "$1" && pwd)"
here="$(cd "$(dirname "$0")/../.." && pwd)"
spy=""
for p in /usr/lib/x86_64-linux-gnu/pkcs11-spy.so /usr/lib/aarch64-linux-gnu/pkcs11-spy.so \
         /usr/lib/pkcs11-spy.so; do
  [ -f "$p" ] && spy="$p" && break
done
if [ -z "$spy" ]; then
  echo "SKIPPED: no pkcs11-spy.so (apt-get install opensc-pkcs11)"
  exit 77
fi
# shellcheck source=../../appliance/lib/provision.sh
source "$here/appliance/lib/provision.sh"
# shellcheck source=tools/checks.sh
source "$here/tests/e2e/tools/checks.sh"
e2e_state trace
checker="$here/tests/e2e/tools/pkcs11_trace_check.py"

kms_provision "$state" "$bin"
sed -i "s|^module = .*|module = \"$spy\"|" "$state/kmsd.toml"
grep -q "^module = \"$spy\"" "$state/kmsd.toml"
client() {  # client <A cred dir>: one call from A to bob; its exit status, stderr in client.err
  "$bin/src/cli/kms-client" call --a-cred-dir "$1" --b-cred-dir "$state/users/bob" \
    --kms-url "https://127.0.0.1:$KMS_PORT/kms" --kms-id "https://127.0.0.1/kms" \
    --ca-file "$state/tls.crt" >/dev/null 2>"$state/client.err"
}
refused() {  # refused <A cred dir>: the KMS answered the request with MIKEY Error 0
  if client "$1" || ! grep -q 'MIKEY Error 0 (unauthenticated)' "$state/client.err"; then
    cat "$state/client.err" >&2
    return 1
  fi
}
cp -r "$state/users/alice" "$state/users/wrong-mac"
python3 - "$state/users/wrong-mac/psk" <<'PY'
import sys
p = sys.argv[1]
k = open(p).read().strip()
open(p, "w").write(("0" if k[0] != "0" else "1") + k[1:] + "\n")
PY
cp -r "$state/users/alice" "$state/users/unknown"
echo "no-such-btid@bsf.example.org" >"$state/users/unknown/btid"

# One kmsd run through the spy. pkcs11-spy takes no lock, so calls of two kmsd threads can
# interleave in its log (the checker then exits 3): the run is recorded again, at most
# three times.
traced_run() {
  : >"$state/spy.log"
  PKCS11SPY="$KMS_SOFTHSM2_MODULE" PKCS11SPY_OUTPUT="$state/spy.log" kms_start_kmsd "$state" "$bin"
  check "a call through pkcs11-spy: request and resolve" client "$state/users/alice"
  check "a request with a wrong MAC is refused (MIKEY Error 0)" refused "$state/users/wrong-mac"
  check "a request naming an unknown credential is refused (MIKEY Error 0)" \
    refused "$state/users/unknown"
  check "/readyz (probes the token)" curl -sf "http://127.0.0.1:$KMS_OPS_PORT/readyz" -o /dev/null
  kms_stop_kmsd
}
judged=0
for attempt in 1 2 3; do
  traced_run
  rc=0
  python3 "$checker" "$state/spy.log" >"$state/verdict.txt" 2>&1 || rc=$?
  [ "$rc" -ne 3 ] && judged=1 && break
  echo "  attempt $attempt: $(tail -1 "$state/verdict.txt")"
done
traced() {
  [ "$judged" = 1 ] && grep -q "C_Sign" "$state/spy.log" && grep -q "C_Finalize" "$state/spy.log"
}
check "the trace covers kmsd from C_Initialize to C_Finalize, calls not interleaved" traced
kept_rules() { cat "$state/verdict.txt"; [ "$rc" -eq 0 ]; }
check "kmsd's PKCS#11 calls keep to the rules (pkcs11_trace_check.py)" kept_rules

# The checker can fail: pkcs11-tool through the spy doing what kmsd must not do.
conf_dir="$state/other"
mkdir -p "$conf_dir/tokens"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\n' "$conf_dir" \
  >"$conf_dir/softhsm2.conf"
tool() {  # tool <spy log> <pkcs11-tool args...>
  local log="$1"
  shift
  SOFTHSM2_CONF="$conf_dir/softhsm2.conf" PKCS11SPY="$KMS_SOFTHSM2_MODULE" \
    PKCS11SPY_OUTPUT="$log" pkcs11-tool --module "$spy" "$@" >/dev/null 2>&1
}
SOFTHSM2_CONF="$conf_dir/softhsm2.conf" softhsm2-util --init-token --free --label other \
  --so-pin 5678-so --pin 1234-user >/dev/null
refuses() {  # refuses <spy log> <expected violation text>
  local out rc=0
  out=$(python3 "$checker" "$1") || rc=$?
  if [ "$rc" -ne 1 ] || ! grep -q -- "$2" <<<"$out"; then
    echo "  rc=$rc: $out" >&2
    return 1
  fi
}
tool "$state/so.log" --token-label other --login --login-type so --so-pin 5678-so \
  --init-pin --new-pin 1234-again || true
so_flagged() {
  refuses "$state/so.log" 'C_Login as CKU_SO' && refuses "$state/so.log" 'C_InitPIN is never'
}
check "checker flags an SO login and C_InitPIN" so_flagged
tool "$state/read.log" --token-label other --login --pin 1234-again --keygen \
  --key-type GENERIC:32 --label exposed --extractable || true
# A separate process: its handles are its own (a read of an object this trace did not make).
tool "$state/read.log.2" --token-label other --login --pin 1234-again --read-object \
  --type secrkey --label exposed || true
read_flagged() {
  refuses "$state/read.log" 'makes a token object' &&
    refuses "$state/read.log.2" 'C_GetAttributeValue(CKA_VALUE) of object'
}
check "checker flags a token object and a read of its value" read_flagged
# Rules pkcs11-tool cannot show: small traces in pkcs11-spy's format.
call() {  # call <n> <function> <body lines...>: one call block
  local n="$1" fn="$2"
  shift 2
  printf '%s: %s\n2026-11-30 00:00:00.000\n' "$n" "$fn"
  printf '%s\n' "$@"
  printf '\n'
}
login() { call 1 C_Login '[in] hSession = 0x1' '[in] userType = CKU_USER' 'Returned:  0 CKR_OK'; }
{
  login
  call 2 C_FindObjects '[in] hSession = 0x1' '[out] Object = 0x4' 'Returned:  0 CKR_OK'
  call 3 C_WrapKey '[in] hSession = 0x1' '[in] hWrappingKey = 0x5' '[in] hKey = 0x4' \
    'Returned:  0 CKR_OK'
} >"$state/wrap.log"
{
  login
  call 2 C_GenerateKey '[in] hSession = 0x1' '[in] pTemplate[2]: ' \
    '    CKA_TOKEN             False' '    CKA_EXTRACTABLE       True' '[out] hKey = 0x6' \
    'Returned:  0 CKR_OK'
} >"$state/extractable.log"
{
  login
  call 2 C_UnwrapKey '[in] hSession = 0x1' '[in] hUnwrappingKey = 0x4' '[in] pTemplate[2]: ' \
    '    CKA_TOKEN             False' '    CKA_SENSITIVE         False' '[out] hKey = 0x7' \
    'Returned:  0 CKR_OK'
} >"$state/unwrap.log"
{
  login
  call 2 C_Sign '[in] hSession = 0x1'
  call 3 C_GenerateRandom '[in] hSession = 0x2' 'Returned:  0 CKR_OK' 'Returned:  0 CKR_OK'
} >"$state/mixed.log"
check "checker flags a wrap of a key it did not generate" \
  refuses "$state/wrap.log" 'C_WrapKey of object 0x4, not a key this trace generated'
check "checker flags an extractable object left alive" \
  refuses "$state/extractable.log" 'extractable object 0x6 is never destroyed'
check "checker flags a non-sensitive unwrap under a key from the token" \
  refuses "$state/unwrap.log" 'non-sensitive object under a key that is no self-test key'
mixed_refused() {
  local rc=0
  python3 "$checker" "$state/mixed.log" 2>/dev/null || rc=$?
  [ "$rc" -eq 3 ]
}
check "checker will not judge an interleaved trace (exit 3)" mixed_refused
empty_refused() {
  local rc=0
  : >"$state/empty.log"
  python3 "$checker" "$state/empty.log" 2>/dev/null || rc=$?
  [ "$rc" -eq 2 ]
}
check "checker refuses an empty trace" empty_refused

checks_summary
