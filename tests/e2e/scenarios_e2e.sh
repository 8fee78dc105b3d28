#!/usr/bin/env bash
# End-to-end scenarios of issue 8 item 5 against a real kmsd (SoftHSM2 token, SQLite policy
# and audit, HTTPS on 127.0.0.1), driven by `kms-client call`: ticket reuse (RFC 6043 §5.3),
# a group ticket (§9, §12.5), a mode-3 ticket (§4.1.1, App. A) and a CSB update (§5.2),
# with SRTP media, plus the refusals: an outsider resolving a group ticket, a CSB update
# with a tampered MAC, a reused ticket past its validity, a TRANSFER_INIT resolved again by
# the one-shot `resolve` (replay cache file). Each scenario is checked twice:
# on the clients' JSON (equal key fingerprints on both sides, SRTP packets decrypted, which
# messages reached the KMS) and on the KMS audit trail (exactly the expected rows for the
# scenario's ticket, found by the ticket id both sides compute as SHA-256(Ticket Data)).
# Usage: scenarios_e2e.sh <build-dir> [seccomp]   (seccomp: kmsd runs under its filter)
set -euo pipefail
bin="$(cd "$1" && pwd)"
# plain: without kmsd's allow-list (its default is on), which the sanitizer builds need
if [ "${2:-plain}" = seccomp ]; then export KMS_SECCOMP=true; else export KMS_SECCOMP=false; fi
here="$(cd "$(dirname "$0")/../.." && pwd)"
state="$(mktemp -d /tmp/kms-scen.XXXXXX)"
trap '[ "${KMSD_PID:-0}" -gt 0 ] && kill -TERM "$KMSD_PID" 2>/dev/null; [ -n "${KMS_E2E_KEEP:-}" ] || rm -rf "$state"' EXIT
# shellcheck source=../../appliance/lib/provision.sh
source "$here/appliance/lib/provision.sh"

passed=()
failed=()
check() {  # check "<what>" <command...>: runs every check, the summary names the failures
  if "${@:2}"; then passed+=("$1"); echo "ok: $1"; else failed+=("$1"); echo "FAILED: $1"; fi
}

kms_provision "$state" "$bin"
kms_provision_scenarios "$state" "$bin"
kms_start_kmsd "$state" "$bin"
url="https://127.0.0.1:$KMS_PORT/kms"
u="$state/users"
ctl=("$bin/src/cli/kmsctl" --db "$state/policy.db" --token "pkcs11:token=kms-demo"
     --pin-file "$state/user.pin")

# call <name> <expected exit code> <kms-client call options...>: runs one call with --json
# into $state/<name>.json, its stderr into $state/<name>.err. A is alice unless $a_dir.
call() {
  local name="$1" want="$2" rc=0
  shift 2
  "$bin/src/cli/kms-client" call --a-cred-dir "${a_dir:-$u/alice}" --kms-url "$url" \
    --kms-id "https://127.0.0.1/kms" --ca-file "$state/tls.crt" --json "$@" \
    >"$state/$name.json" 2>"$state/$name.err" || rc=$?
  [ "$rc" = "$want" ] && return 0
  echo "  $name: exit $rc, expected $want: $(cat "$state/$name.err")" >&2
  return 1
}

# js <name> <python expression over j>: the expression must be true for $state/<name>.json.
js() {
  python3 - "$state/$1.json" "$2" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
try:
    ok = eval("(" + sys.argv[2] + ")", {"j": j})  # parenthesized: may span lines
except Exception as e:  # a missing field is a failed expectation, with its reason
    print(f"  {sys.argv[2]}: {type(e).__name__}: {e}", file=sys.stderr)
    sys.exit(1)
if ok is not True:
    print(f"  not true: {sys.argv[2]}", file=sys.stderr)
    sys.exit(1)
PY
}

ticket_id() {  # the ticket id a call reported (64 hex digits, else nothing)
  python3 -c 'import json,re,sys; t=json.load(open(sys.argv[1]))["ticket"]["id"]; print(t if re.fullmatch("[0-9a-f]{64}", t) else "")' \
    "$state/$1.json"
}

# audit_is <name> <row...>: the audit rows of the call's ticket, as "ACTION outcome actor
# rule", are exactly the given rows (as a multiset).
audit_is() {
  local id got want
  id=$(ticket_id "$1")
  [ -n "$id" ] || { echo "  $1: no ticket id" >&2; return 1; }
  shift
  got=$(sqlite3 "$state/policy.db" "SELECT action||' '||outcome||' '||actor||' '||rule FROM audit_log WHERE ticket_id='$id'" | LC_ALL=C sort)
  want=$(printf '%s\n' "$@" | LC_ALL=C sort)
  [ "$got" = "$want" ] && return 0
  printf '  audit rows:\n%s\n  expected:\n%s\n' "$got" "$want" >&2
  return 1
}

req_ok="REQUEST_INIT_PSK granted ue:sip:alice@example.org ticket.allow"
res_ok() { echo "RESOLVE_INIT_PSK granted ue:$1 resolve.allow"; }

# Shared expectation of an answered and taken device: its fingerprints equal A's, and all
# media packets decrypted.
taken() {  # taken <name> <call index> <device index>
  js "$1" "(lambda d: d['answered'] and d['accepted'] and d['keys_match'] and
            d['fingerprints'] == d['a_fingerprints'] and len(d['fingerprints']) == 2 and
            d['media'] == {'decrypted': 5, 'auth_failures': 0})(j['calls'][$2]['devices'][$3])"
}

# 1. Ticket reuse: one REQUEST_INIT, two calls; the second resolves the cached ticket again
#    without a new request, with new RANDs and therefore new SRTP keys.
check "reuse: two calls with one ticket" call reuse 0 --b-cred-dir "$u/bob" --reuse-ticket \
  --validity 300 --media
check "reuse: J granted, KMS contacted for 1 REQUEST + 1 RESOLVE, then 0 + 1" js reuse \
  "'J' in j['ticket']['flags'] and len(j['calls']) == 2 and
   [(c['kms_requests'], c['kms_resolves'], c['reused_ticket']) for c in j['calls']] ==
   [(1, 1, False), (0, 1, True)]"
check "reuse: call 1 keys equal on both sides, media decrypted" taken reuse 0 0
check "reuse: call 2 keys equal on both sides, media decrypted" taken reuse 1 0
check "reuse: call 2 has new keys" js reuse \
  "j['calls'][0]['devices'][0]['fingerprints'] != j['calls'][1]['devices'][0]['fingerprints']"
check "reuse: audit has 1 REQUEST_INIT_PSK and 2 RESOLVE_INIT_PSK rows for the ticket" \
  audit_is reuse "$req_ok" "$(res_ok sip:bob@example.org)" "$(res_ok sip:bob@example.org)"

# 2. A reused ticket past its validity: the UE's cache stops handing it out; offered anyway,
#    the responder's early checks still let it through (clock skew allowance) and the KMS
#    refuses to resolve it.
check "expired reuse: the ticket cache refuses it" call stale 5 --b-cred-dir "$u/bob" \
  --reuse-ticket --validity 4 --min-remaining 1 --reuse-after 6
check "expired reuse: reason is the cache, only one call made" bash -c \
  "grep -q 'ticket cache no longer hands out' '$state/stale.err'"
check "expired reuse (cache): audit has only the first call's rows" \
  audit_is stale "$req_ok" "$(res_ok sip:bob@example.org)"
check "expired reuse, offered anyway: refused" call stale2 5 --b-cred-dir "$u/bob" \
  --reuse-ticket --validity 4 --min-remaining 1 --reuse-after 6 --reuse-expired
check "expired reuse, offered anyway: call 2 asked the KMS and got no keys" js stale2 \
  "len(j['calls']) == 2 and j['calls'][1]['kms_resolves'] == 1 and
   j['calls'][1]['devices'][0]['answered'] is False and j['ok'] is False"
check "expired reuse, offered anyway: the KMS refused it as expired" audit_is stale2 \
  "$req_ok" "$(res_ok sip:bob@example.org)" \
  "RESOLVE_INIT_PSK denied ue:sip:bob@example.org ticket.expired"

# 3. Group ticket: the ticket names sip:team@example.org; bob and carol (members) each
#    resolve with their own identity and get their own forked keys; dave (not a member) is
#    refused by the KMS. Then every pair is re-keyed with a CSB update.
check "group: call to sip:team@example.org" call group 0 --group sip:team@example.org \
  --member "$u/bob" --member "$u/carol" --outsider "$u/dave" --media --csb-update
check "group: the ticket names only the group" js group \
  "j['ticket']['responders'] == ['sip:team@example.org'] and j['calls'][0]['kms_requests'] == 1
   and j['calls'][0]['kms_resolves'] == 3"
check "group: bob's keys equal A's, media decrypted" taken group 0 0
check "group: carol's keys equal A's, media decrypted" taken group 0 1
check "group: members have different (forked) keys" js group \
  "j['calls'][0]['devices'][0]['fingerprints'] != j['calls'][0]['devices'][1]['fingerprints']"
check "group: outsider dave got no keys" js group \
  "(lambda d: d['identity'] == 'sip:dave@example.org' and d['answered'] is False and
    d['accepted'] is False and 'fingerprints' not in d)(j['calls'][0]['devices'][2])"
check "group: both pairs re-keyed by CSB update, no KMS message" js group \
  "j['csb_update']['kms_messages'] == 0 and len(j['csb_update']['pairs']) == 2 and
   all(p['keys_match'] and p['rekeyed'] and p['fingerprints'] == p['a_fingerprints'] and
       p['media'] == {'decrypted': 5, 'auth_failures': 0} for p in j['csb_update']['pairs'])"
check "group: audit has the request, 2 member resolves and dave's refusal" audit_is group \
  "$req_ok" "$(res_ok sip:bob@example.org)" "$(res_ok sip:carol@example.org)" \
  "RESOLVE_INIT_PSK denied ue:sip:dave@example.org resolve.not_named"

# 4. Mode 3: alice builds the ticket with her own key; no REQUEST_INIT at all; both forked
#    devices of bob resolve it at the KMS, only the answering one shares A's keys.
check "mode 3: call with an initiator-built ticket, 2 forked devices" call mode3 0 \
  --b-cred-dir "$u/bob" --mode3 --fork 2 --media
check "mode 3: D=0 ticket, no REQUEST_INIT, 2 RESOLVE_INIT" js mode3 \
  "j['ticket']['mode'] == 3 and 'D' not in j['ticket']['flags'] and
   (j['calls'][0]['kms_requests'], j['calls'][0]['kms_resolves']) == (0, 2)"
check "mode 3: answering device's keys equal A's, media decrypted" taken mode3 0 0
check "mode 3: the sibling device cannot decrypt" js mode3 \
  "(lambda d: d['answered'] and not d['accepted'] and not d['keys_match'] and
    d['media'] == {'decrypted': 0, 'auth_failures': 5})(j['calls'][0]['devices'][1])"
check "mode 3: audit has two RESOLVE_INIT_PSK rows and no REQUEST_INIT_PSK row" \
  audit_is mode3 "$(res_ok sip:bob@example.org)" "$(res_ok sip:bob@example.org)"

# 4b. A mode-3 key seals tickets only for its owner (spec §1.2): bob builds a ticket naming
#     himself as initiator but sealed with alice's mode-3 key; carol's resolve is refused.
as_bob() { a_dir="$u/bob" call "$@"; }
check "mode 3 with another user's key: refused" as_bob impostor 5 --b-cred-dir "$u/carol" \
  --mode3 --mode3-key-file "$u/alice/mode3.key" --mode3-key-id "$(cat "$u/alice/mode3.id")"
check "mode 3 with another user's key: carol got no keys" js impostor \
  "j['ok'] is False and j['calls'][0]['devices'][0]['answered'] is False"
check "mode 3 with another user's key: the KMS refused it as not the initiator's key" \
  audit_is impostor "RESOLVE_INIT_PSK denied ue:sip:carol@example.org mode3.key_not_initiators"

# 5. CSB update (spec §2.8): after the first media run A re-keys the call; a copy with one
#    MAC bit flipped is rejected first; both sides then derive the same new keys.
check "csb update: call, tampered update, update, media again" call csb 0 \
  --b-cred-dir "$u/bob" --media --csb-update --csb-tamper
check "csb update: tampered MAC rejected" js csb \
  "(lambda p: p['tampered_rejected'] is True and 'MAC' in p['tampered_error'])(
     j['csb_update']['pairs'][0])"
check "csb update: new keys equal on both sides, differ from the old, media decrypted" js csb \
  "(lambda p, d: p['keys_match'] and p['rekeyed'] and p['fingerprints'] == p['a_fingerprints']
    and p['old_fingerprints'] == d['fingerprints'] and p['fingerprints'] != d['fingerprints']
    and p['media'] == {'decrypted': 5, 'auth_failures': 0})(
     j['csb_update']['pairs'][0], j['calls'][0]['devices'][0])"
check "csb update: the KMS saw only the initial request and resolve" audit_is csb \
  "$req_ok" "$(res_ok sip:bob@example.org)"

# 6. The one-shot responder steps keep bob's replay cache in a file (default
#    <cred-dir>/replay-cache; spec §7.4, §9.1): `respond` answers the TRANSFER_INIT that
#    `resolve` accepted, and a second `resolve` run given the same TRANSFER_INIT refuses it
#    as a replay (exit 5) without writing a state.
kc="$bin/src/cli/kms-client"
kms=(--kms-url "$url" --kms-id "https://127.0.0.1/kms" --ca-file "$state/tls.crt")
one_shot() {
  "$kc" request --cred-dir "$u/alice" --responder sip:bob@example.org "${kms[@]}" \
    --out "$state/os.ticket" >/dev/null &&
    "$kc" transfer --cred-dir "$u/alice" --ticket "$state/os.ticket" \
      --responder sip:bob@example.org --state "$state/os.xfer" >"$state/os.offer" &&
    "$kc" resolve --cred-dir "$u/bob" --offer "$state/os.offer" "${kms[@]}" \
      --out "$state/os.res1" >/dev/null &&
    "$kc" respond --cred-dir "$u/bob" --state "$state/os.res1" >"$state/os.answer" 2>/dev/null &&
    "$kc" transfer --cred-dir "$u/alice" --state "$state/os.xfer" --answer "$state/os.answer" \
      >/dev/null
}
check "one-shot steps: request, transfer, resolve, respond, A takes the answer" one_shot
replayed_resolve() {
  local rc=0
  "$kc" resolve --cred-dir "$u/bob" --offer "$state/os.offer" "${kms[@]}" \
    --out "$state/os.res2" >/dev/null 2>"$state/os.err" || rc=$?
  [ "$rc" = 5 ] && grep -q "TRANSFER_INIT replayed" "$state/os.err" && [ ! -e "$state/os.res2" ] &&
    return 0
  echo "  exit $rc: $(cat "$state/os.err")" >&2
  return 1
}
check "one-shot resolve: the same TRANSFER_INIT in a second run is a replay (exit 5)" \
  replayed_resolve
cache_file_ok() {  # mode 0600; one entry of exactly a MAC and an expiry (no key material)
  [ "$(stat -c %a "$u/bob/replay-cache")" = 600 ] &&
    python3 - "$u/bob/replay-cache" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))["entries"]
sys.exit(0 if len(e) == 1 and set(e[0]) == {"mac", "expires"} else 1)
PY
}
check "one-shot: the replay cache file is mode 0600 and holds a MAC and expiry only" \
  cache_file_ok
other_cache_refuses() {  # respond answers only what its own cache recorded
  local rc=0
  "$kc" respond --cred-dir "$u/bob" --replay-cache "$state/empty.replay" \
    --state "$state/os.res1" >/dev/null 2>"$state/os.err" || rc=$?
  [ "$rc" = 5 ] && grep -q "not in the replay cache" "$state/os.err" && return 0
  echo "  exit $rc: $(cat "$state/os.err")" >&2
  return 1
}
check "one-shot respond: a state its replay cache never recorded is refused (exit 5)" \
  other_cache_refuses

# The audit trail the scenarios wrote is intact.
check "audit trail verifies" "${ctl[@]}" audit verify

echo "${#passed[@]} passed, ${#failed[@]} failed"
[ "${#failed[@]}" -eq 0 ] || { printf '  failed: %s\n' "${failed[@]}"; exit 1; }
