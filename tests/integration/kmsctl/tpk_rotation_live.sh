#!/usr/bin/env bash
# TPK and audit-key rotation on a running appliance (evaluator checklist item 30, issue 6
# §7): after `kmsctl key rotate tpk`, the same kmsd process seals new tickets under v2 within
# its 1 s key-watch tick (src/daemon/key_selection.h), a ticket sealed under v1 before the
# rotation still resolves until v1 is destroyed, and after `kmsctl key rotate audit` kmsd's checkpoints are sealed
# with audit key v2 and the trail verifies; with [keys] tpk_max_tickets kmsd rotates the TPK
# itself once that many tickets were sealed under it, counting across restarts.
# Usage: tpk_rotation_live.sh BUILD_DIR SOURCE_DIR; exit 0 when every check holds.
# shellcheck source=tests/integration/kmsctl/lib.sh
. "$(dirname "$0")/lib.sh" "$@"

a="$tmp/a"
start_appliance "$a"

request() {  # request N: alice's ticket for bob into t$N.state
  "${client[@]}" request --cred-dir "$a/users/alice" --responder sip:bob@example.org \
    "${kms[@]}" --out "$tmp/t$1.state" >/dev/null 2>"$tmp/err" || fail "request $1: $(cat "$tmp/err")"
}
resolve() {  # resolve N: alice transfers ticket N to bob, who resolves it at the KMS
  "${client[@]}" transfer --cred-dir "$a/users/alice" --ticket "$tmp/t$1.state" \
    --responder sip:bob@example.org --state "$tmp/x$1.state" >"$tmp/offer$1" 2>"$tmp/err" ||
    fail "transfer $1: $(cat "$tmp/err")"
  "${client[@]}" resolve --cred-dir "$a/users/bob" --offer "$tmp/offer$1" "${kms[@]}" \
    --out "$tmp/r$1.state" >/dev/null 2>"$tmp/err" || fail "resolve $1: $(cat "$tmp/err")"
}
sealed_under() {  # sealed_under N: the TPK id in ticket N's Ticket Data (IDRpsk, RFC 6043 §6.10)
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["request_resp"])' \
    "$tmp/t$1.state" | "${client[@]}" decode --compact - | grep -o '"IDRpsk":"tpk-[0-9]*"' |
    cut -d'"' -f4
}
wait_log() {  # wait_log PATTERN: up to 5 s for kmsd to log it
  local i
  for i in $(seq 1 50); do grep -q "$1" "$a/kmsd.log" && return 0; sleep 0.1; done
  fail "kmsd did not log '$1': $(tail -5 "$a/kmsd.log")"
}

grep -q "event=key_version_active kind=tpk version=1 " "$a/kmsd.log" ||
  fail "kmsd did not pin TPK v1 at start: $(cat "$a/kmsd.log")"
request 1
[ "$(sealed_under 1)" = tpk-0001 ] || fail "ticket 1 sealed under '$(sealed_under 1)'"
"${ctl[@]}" key rotate tpk >/dev/null || fail "rotate tpk"
wait_log "event=key_version_active kind=tpk version=2 previous=1"
request 2
[ "$(sealed_under 2)" = tpk-0002 ] || fail "ticket 2 sealed under '$(sealed_under 2)', not tpk-0002"
resolve 1  # sealed under the retired v1: still resolves
resolve 2

# Destroying v1 (checklist item 14; --force: ticket 1 may still be valid) makes the running
# kmsd refuse ticket 1 at once, with the reason in the audit trail; v2's tickets still work.
"${ctl[@]}" key destroy tpk 1 --force >/dev/null 2>&1 || fail "destroy tpk 1 --force"
"${client[@]}" transfer --cred-dir "$a/users/alice" --ticket "$tmp/t1.state" \
  --responder sip:bob@example.org --state "$tmp/x1b.state" >"$tmp/offer1b" 2>/dev/null ||
  fail "transfer of ticket 1 after the destroy"
"${client[@]}" resolve --cred-dir "$a/users/bob" --offer "$tmp/offer1b" "${kms[@]}" \
  --out "$tmp/r1b.state" >/dev/null 2>&1
rc=$?
[ "$rc" = 5 ] || fail "ticket under the destroyed TPK v1: kms-client exit $rc, not 5 (refused)"
"${ctl[@]}" --json audit export | grep -q 'ticket.tpk_destroyed' ||
  fail "no audit row names ticket.tpk_destroyed"
"${ctl[@]}" --json audit export --action key.destroy | grep -q '"actor": "admin:rotation-test"' ||
  fail "the destroy is not audited"
resolve 2

"${ctl[@]}" key rotate audit >/dev/null || fail "rotate audit"
wait_log "event=key_version_active kind=audit version=2 previous=1"
request 3
kill -0 "$pid" 2>/dev/null || fail "kmsd is not the same process"
kill -TERM "$pid" && wait "$pid" || fail "kmsd did not stop cleanly"
pids=()
last=$(sqlite3 "$a/policy.db" "SELECT key_version FROM audit_checkpoint ORDER BY seq DESC LIMIT 1")
[ "$last" = 2 ] || fail "kmsd's final checkpoint sealed with audit key v$last, not v2"
"${ctl[@]}" audit verify >/dev/null || fail "audit verify after the audit key rotation"
# Automatic rotation after [keys] tpk_max_tickets uses (checklist item 30). The count of v2
# was kept in the database by the kmsd above (requests 2 and 3, flushed at its shutdown), so
# a limit one above it makes the next ticket the last under v2: the restarted kmsd carries
# on from the durable count, rotates to v3 itself (audited as admin:kmsd) and seals under v3.
used=$(sqlite3 "$a/policy.db" "SELECT sealed FROM key_usage WHERE kind = 'tpk' AND version = 2")
[ "${used:-0}" -ge 2 ] || fail "TPK v2's use count was not kept: '$used'"
printf '\n[keys]\ntpk_max_tickets = %d\n' $((used + 1)) >>"$a/kmsd.toml"
kms_start_kmsd "$a" "$bin" || fail "restart kmsd"
pids+=("$KMSD_PID")
kms=(--kms-url "https://127.0.0.1:$KMS_PORT/kms" --kms-id "https://127.0.0.1/kms"
     --ca-file "$a/tls.crt")
request 4
[ "$(sealed_under 4)" = tpk-0002 ] || fail "ticket 4 sealed under '$(sealed_under 4)', not tpk-0002"
wait_log "event=key_rotation_due kind=tpk version=2"
wait_log "event=key_version_active kind=tpk version=3 previous=2"
request 5
[ "$(sealed_under 5)" = tpk-0003 ] || fail "ticket 5 sealed under '$(sealed_under 5)', not tpk-0003"
resolve 4  # v2, now retired, still resolves
"${ctl[@]}" --json audit export --action key.rotate | grep -q '"actor": "admin:kmsd"' ||
  fail "kmsd's rotation is not audited"
"${ctl[@]}" audit verify >/dev/null || fail "audit verify after kmsd's rotation"
echo "tpk rotation live: ok"
