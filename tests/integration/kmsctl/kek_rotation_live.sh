#!/usr/bin/env bash
# KEK rotation on a running appliance (issue 9 item 3): while kmsd serves, `kmsctl key rotate
# kek --so-pin-file` re-wraps every credential inside the token; kmsd, not restarted, keeps
# answering the same users (it finds the new KEK version by itself: Token::RefreshKeyIndex),
# the old KEK is destroyed and calls still work; the SRTP keys of both sides agree.
# Usage: kek_rotation_live.sh BUILD_DIR SOURCE_DIR; exit 0 when every check holds.
# shellcheck source=tests/integration/kmsctl/lib.sh
. "$(dirname "$0")/lib.sh" "$@"

a="$tmp/a"
start_appliance "$a"

# call N: alice requests, transfers to bob, bob resolves; prints nothing, fails loudly.
call() {
  local n="$1"
  "${client[@]}" request --cred-dir "$a/users/alice" --responder sip:bob@example.org \
    "${kms[@]}" --out "$tmp/t$n.state" >/dev/null 2>"$tmp/err" || fail "request $n: $(cat "$tmp/err")"
  "${client[@]}" transfer --cred-dir "$a/users/alice" --ticket "$tmp/t$n.state" \
    --responder sip:bob@example.org --state "$tmp/x$n.state" >"$tmp/offer$n" 2>"$tmp/err" ||
    fail "transfer $n: $(cat "$tmp/err")"
  "${client[@]}" resolve --cred-dir "$a/users/bob" --offer "$tmp/offer$n" "${kms[@]}" \
    --out "$tmp/r$n.state" >/dev/null 2>"$tmp/err" || fail "resolve $n: $(cat "$tmp/err")"
}

call 1  # fills kmsd's credential cache with copies unwrapped under KEK v1
out=$("${ctl[@]}" key rotate kek --so-pin-file "$a/so.pin") || fail "rotate kek"
echo "$out" | grep -q "re-wrapped [1-9][0-9]* credential(s) under KEK v2" || fail "rotate: $out"
"${ctl[@]}" --json user show alice | grep -q '"kek_version": 2' || fail "alice not under v2"
call 2  # same kmsd process: the new blobs need KEK v2, which it had not indexed
"${ctl[@]}" key destroy kek 1 >/dev/null || fail "destroy kek 1 after the re-wrap"
call 3
kill -0 "$pid" 2>/dev/null || fail "kmsd is not the same process"
"${ctl[@]}" audit verify >/dev/null || fail "audit verify"
n=$("${ctl[@]}" --json audit export --action credential.rewrap | grep -c '"actor": "admin:rotation-test"')
[ "$n" -ge 2 ] || fail "re-wraps not audited ($n rows)"
echo "kek rotation live: ok"
