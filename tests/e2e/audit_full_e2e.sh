#!/usr/bin/env bash
# End-to-end: the audit database's file system fills up under a running kmsd (evaluator
# checklist item 22, "audit storage full (ENOSPC via a small tmpfs)").
#
# The database lives on its own 16 MiB tmpfs; a filler file takes every free block. kmsd
# may go on answering while its WAL still has room (a row in the WAL is durable), but from
# the first commit that needs a new block every message is refused with 503 at once,
# /readyz says why, and the log has one event=audit_unavailable naming the full disk. Once
# the filler is gone the next message is served again without a restart, the log says
# event=audit_recovered, and afterwards the trail verifies and holds a row for every message
# that was answered (no reply without its durable row, no half-written row).
# Needs root (mount); exits 77 (ctest: skipped) where tmpfs cannot be mounted.
# Usage: audit_full_e2e.sh <build-dir>
set -euo pipefail
bin="$(cd "$1" && pwd)"
here="$(cd "$(dirname "$0")/../.." && pwd)"
state="$(mktemp -d /tmp/kms-full.XXXXXX)"
fs="$state/auditfs"
cleanup() {
  [ "${KMSD_PID:-0}" -gt 0 ] && kill -TERM "$KMSD_PID" 2>/dev/null
  mountpoint -q "$fs" && umount "$fs"
  [ -n "${KMS_E2E_KEEP:-}" ] || rm -rf "$state"
}
trap cleanup EXIT
# shellcheck source=../../appliance/lib/provision.sh
source "$here/appliance/lib/provision.sh"
# shellcheck source=tools/checks.sh
source "$here/tests/e2e/tools/checks.sh"

mkdir -p "$fs"
if ! mount -t tmpfs -o size=16m,mode=0700 tmpfs "$fs" 2>/dev/null; then
  echo "SKIPPED: cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN)"
  exit 77
fi
kms_provision "$state" "$bin"
mv "$state/policy.db" "$fs/policy.db"
sed -i "s|^path = \"$state/policy.db\"|path = \"$fs/policy.db\"|" "$state/kmsd.toml"
grep -q "^path = \"$fs/policy.db\"" "$state/kmsd.toml"
kms_start_kmsd "$state" "$bin"
url="https://127.0.0.1:$KMS_PORT/kms"
ops="http://127.0.0.1:$KMS_OPS_PORT"
ctl=("$bin/src/cli/kmsctl" --db "$fs/policy.db" --token "pkcs11:token=kms-demo"
     --pin-file "$state/user.pin")
rows() { sqlite3 "$fs/policy.db" "SELECT count(*) FROM audit_log"; }

call() {
  "$bin/src/cli/kms-client" call --a-cred-dir "$state/users/alice" \
    --b-cred-dir "$state/users/bob" --kms-url "$url" --kms-id "https://127.0.0.1/kms" \
    --ca-file "$state/tls.crt" >/dev/null
}
check "a call with the audit database on its own small file system" call

printf '\x01\x0b\x05' >"$state/garbage.bin"  # answered with a MIKEY Error, audited
before=$(rows)
disk_full() {
  # Every free block: big writes first, then single pages for the remainder.
  dd if=/dev/zero of="$fs/filler" bs=1M status=none 2>/dev/null || true
  dd if=/dev/zero of="$fs/filler.tail" bs=4k status=none 2>/dev/null || true
  local avail
  avail=$(df --output=avail -B1 "$fs" | tail -1 | tr -d ' ')
  echo "  free bytes left on the audit file system: $avail"
  [ "$avail" -lt 4096 ]
}
check "the audit file system is full" disk_full

refused() {
  local out
  out=$(python3 "$here/tests/e2e/tools/post_until_refused.py" "$KMS_PORT" "$state/tls.crt" \
    "$state/garbage.bin" 20000) || { echo "  $out" >&2; return 1; }
  echo "  $out"
  answered=$(sed -n 's/^answered=\([0-9]*\) .*/\1/p' <<<"$out")
  awk -v t="$(sed -n 's/.*refused_after_s=\([0-9.]*\) .*/\1/p' <<<"$out")" \
    'BEGIN { exit !(t <= 3) }' || { echo "  the refusal took too long" >&2; return 1; }
}
answered=0
check "disk full: answered while the WAL had room, then 503 within 3 s" refused

not_ready() {
  local ready
  ready=$(curl -s "$ops/readyz")
  echo "  readyz: $ready"
  grep -q '^not ready: audit' <<<"$ready"
}
check "disk full: /readyz says not ready because of the audit" not_ready
check "disk full: one error line naming the full disk" bash -c \
  "[ \$(grep -c 'event=audit_unavailable' '$state/kmsd.log') = 1 ] &&
   grep '^level=error event=audit_unavailable ' '$state/kmsd.log' | grep -q 'full'"
check "disk full: kmsd is still running" kill -0 "$KMSD_PID"

recovered() {
  rm -f "$fs/filler" "$fs/filler.tail"
  local i
  for i in $(seq 1 10); do
    call && curl -sf "$ops/readyz" >/dev/null && grep -q '^level=info event=audit_recovered' \
      "$state/kmsd.log" && return 0
    sleep 0.5
  done
  echo "  no recovery after the space was freed" >&2
  return 1
}
check "space freed: served again without a restart, recovery logged" recovered

kms_stop_kmsd
check "the trail verifies after the disk-full episode" "${ctl[@]}" audit verify
every_answer_has_its_row() {
  local added=$(($(rows) - before))
  echo "  answered $answered messages while filling; audit rows added: $added"
  [ "$added" -ge "$answered" ]
}
check "every answered message has its audit row" every_answer_has_its_row

checks_summary
