#!/usr/bin/env bash
# Backup and restore end to end (issue 9 item 5): a ticket issued by appliance A before the
# backup resolves at appliance B, built from an empty database restored from the backup and
# a clone of A's token (the documented way to move the backup key and the long-term keys:
# docs/operations.md "Backup and restore"). Refusals: a tampered backup, a backup of another
# key, restoring over an existing database, a token without the keys. Replay state (spec
# §9.1): a request A answered after the backup is refused by B after the restore.
# Usage: backup_roundtrip.sh BUILD_DIR SOURCE_DIR; exit 0 when every check holds.
# shellcheck source=tests/integration/kmsctl/lib.sh
. "$(dirname "$0")/lib.sh" "$@"

a="$tmp/a"
start_appliance "$a"
"${client[@]}" request --cred-dir "$a/users/alice" --responder sip:bob@example.org "${kms[@]}" \
  --out "$tmp/ticket.state" >/dev/null 2>&1 || fail "request at A"
"${client[@]}" transfer --cred-dir "$a/users/alice" --ticket "$tmp/ticket.state" \
  --responder sip:bob@example.org --state "$tmp/xfer.state" >"$tmp/offer" 2>/dev/null ||
  fail "transfer"
kill "$KMSD_PID"; wait "$KMSD_PID" 2>/dev/null

ctl_a=("$bin/src/cli/kmsctl" --token "pkcs11:token=kms-demo" --pin-file "$a/user.pin"
       --operator backup-test)
"${ctl_a[@]}" --db "$a/policy.db" backup create "$tmp/kms.backup" >/dev/null ||
  fail "backup create"
[ "$(stat -c %a "$tmp/kms.backup")" = 600 ] || fail "backup file mode"
"${ctl_a[@]}" --db "$a/policy.db" backup create "$tmp/kms.backup" 2>/dev/null &&
  fail "backup create overwrote a file"
grep -q "sip:alice@example.org" "$tmp/kms.backup" && fail "backup holds plaintext identities"

# A answers one more request after the backup: its replay mark is not in the backup.
kms_start_kmsd "$a" "$bin" || fail "restart kmsd A"
pids+=("$KMSD_PID")
"${client[@]}" request --cred-dir "$a/users/alice" --responder sip:bob@example.org \
  --kms-url "https://127.0.0.1:$KMS_PORT/kms" --kms-id "https://127.0.0.1/kms" \
  --ca-file "$a/tls.crt" --out "$tmp/after.state" >/dev/null 2>&1 ||
  fail "request at A after the backup"
kill "$KMSD_PID"; wait "$KMSD_PID" 2>/dev/null
python3 -c 'import json,sys; sys.stdout.buffer.write(bytes.fromhex(json.load(open(sys.argv[1]))["request_init"]))' \
  "$tmp/after.state" >"$tmp/after.bin" || fail "request bytes"

# Appliance B: a clone of A's token (SoftHSM2: the token directory; a network HSM: the
# vendor's cloning ceremony), an empty database path, the same TLS identity.
b="$tmp/b"
mkdir -p "$b" && chmod 700 "$b"
cp -a "$a/tokens" "$a/user.pin" "$a/tls.crt" "$a/tls.key" "$b/"
sed "s#$a/tokens#$b/tokens#" "$a/softhsm2.conf" >"$b/softhsm2.conf"
sed "s#$a/#$b/#g" "$a/kmsd.toml" >"$b/kmsd.toml"
export SOFTHSM2_CONF="$b/softhsm2.conf"
ctl_b=("$bin/src/cli/kmsctl" --token "pkcs11:token=kms-demo" --pin-file "$b/user.pin"
       --operator backup-test --db "$b/policy.db")

# Refusals first: each leaves no database behind.
cp "$tmp/kms.backup" "$tmp/tampered.backup"
printf '\x01' | dd of="$tmp/tampered.backup" bs=1 seek=200 conv=notrunc 2>/dev/null
"${ctl_b[@]}" backup restore "$tmp/tampered.backup" 2>"$tmp/err" && fail "tampered restored"
grep -q "does not authenticate" "$tmp/err" || fail "tampered: $(cat "$tmp/err")"
head -c 100 "$tmp/kms.backup" >"$tmp/short.backup"
"${ctl_b[@]}" backup restore "$tmp/short.backup" 2>/dev/null && fail "truncated restored"
printf 'KMSBK001\0\0\0\x07' | cat - <(tail -c +13 "$tmp/kms.backup") >"$tmp/v7.backup"
"${ctl_b[@]}" backup restore "$tmp/v7.backup" 2>"$tmp/err" && fail "wrong key version restored"
grep -q "kms-backup-v7" "$tmp/err" || fail "v7: $(cat "$tmp/err")"
[ -e "$b/policy.db" ] && fail "a refused restore left a database"

# A token without the backup key (a fresh token) and a clone that lost a long-term key: both
# refused, nothing written.
c="$tmp/c"
mkdir -p "$c/tokens" && chmod 700 "$c"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
  "$c/tokens" >"$c/softhsm2.conf"
SOFTHSM2_CONF="$c/softhsm2.conf" softhsm2-util --init-token --free --label kms-demo \
  --so-pin 1111 --pin "$(cat "$a/user.pin")" >/dev/null
SOFTHSM2_CONF="$c/softhsm2.conf" "$bin/src/cli/kmsctl" --token "pkcs11:token=kms-demo" \
  --pin-file "$a/user.pin" --db "$c/policy.db" backup restore "$tmp/kms.backup" \
  2>"$tmp/err" && fail "restored into a token without the backup key"
grep -q "kms-backup-v1 is not in this token" "$tmp/err" || fail "no key: $(cat "$tmp/err")"
d="$tmp/d"
mkdir -p "$d" && chmod 700 "$d"
cp -a "$a/tokens" "$d/"
sed "s#$a/tokens#$d/tokens#" "$a/softhsm2.conf" >"$d/softhsm2.conf"
SOFTHSM2_CONF="$d/softhsm2.conf" pkcs11-tool --module /usr/lib/softhsm/libsofthsm2.so \
  --token-label kms-demo --login --pin "$(cat "$a/user.pin")" --delete-object \
  --type secrkey --label kms-tpk-v1 >/dev/null 2>&1 || fail "pkcs11-tool delete"
SOFTHSM2_CONF="$d/softhsm2.conf" "$bin/src/cli/kmsctl" --token "pkcs11:token=kms-demo" \
  --pin-file "$a/user.pin" --db "$d/policy.db" backup restore "$tmp/kms.backup" \
  2>"$tmp/err" && fail "restored into a token without the TPK"
grep -q "the token lacks kms-tpk-v1" "$tmp/err" || fail "no TPK: $(cat "$tmp/err")"
[ -e "$d/policy.db" ] || [ -e "$d/policy.db.restoring" ] && fail "refused restore left files"

"${ctl_b[@]}" backup restore "$tmp/kms.backup" >/dev/null || fail "restore"
"${ctl_b[@]}" backup restore "$tmp/kms.backup" 2>/dev/null && fail "restore over a database"
"${ctl_b[@]}" audit verify >/dev/null || fail "audit verify after restore"
"${ctl_b[@]}" --json audit export --action backup.restore | grep -q '"actor": "admin:backup-test"' ||
  fail "restore not audited"
"${ctl_b[@]}" user list | grep -q "^alice" || fail "users not restored"

kms_start_kmsd "$b" "$bin" || fail "start kmsd B"
pids+=("$KMSD_PID")
"${client[@]}" resolve --cred-dir "$a/users/bob" --offer "$tmp/offer" \
  --kms-url "https://127.0.0.1:$KMS_PORT/kms" --kms-id "https://127.0.0.1/kms" \
  --ca-file "$b/tls.crt" --out "$tmp/resolved.state" >/dev/null 2>"$tmp/err" ||
  fail "ticket from before the backup does not resolve after restore: $(cat "$tmp/err")"
# Spec §9.1: the restored database knows nothing of what A answered after the backup, so
# B refuses everything sent before the restore: the request A answered after the backup,
# replayed to B, gets MIKEY error 1 instead of a second ticket.
grep -q "event=replay_state_lost" "$b/kmsd.log" || fail "B did not log the lost replay state"
curl -s --cacert "$b/tls.crt" -X POST -H 'Content-Type: application/mikey' \
  --data-binary @"$tmp/after.bin" -o "$tmp/after.reply" "https://127.0.0.1:$KMS_PORT/kms" ||
  fail "replay to B"
"${client[@]}" decode --compact "$tmp/after.reply" | grep -q '"error_no":1' ||
  fail "a request answered after the backup was not refused after the restore: $("${client[@]}" decode --compact "$tmp/after.reply" | head -c 300)"
echo "backup round trip: ok"
