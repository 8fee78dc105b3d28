#!/usr/bin/env bash
# appliance/bin/kms-audit-archive (what kms-audit-archive.service runs daily) against a real
# token, database and kmsctl: rows sealed before the keep period go to a new file under the
# archive directory, with the PIN taken from the systemd credential directory; a second run
# finds nothing to archive and writes nothing; bad settings are refused with exit 2.
# Usage: audit_archive_script_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src="$1"
bin="$(cd "$2" && pwd)"
state="$(mktemp -d /tmp/kms-archive.XXXXXX)"
trap '[ "${KMSD_PID:-0}" -gt 0 ] && kill -TERM "$KMSD_PID" 2>/dev/null; rm -rf "$state"' EXIT
# shellcheck source=../../../appliance/lib/provision.sh
source "$src/appliance/lib/provision.sh"
# shellcheck source=../../e2e/tools/checks.sh
source "$src/tests/e2e/tools/checks.sh"

kms_provision "$state" "$bin" >/dev/null
# kmsd seals the admin rows of provisioning when it stops (its final checkpoint).
kms_start_kmsd "$state" "$bin"
kms_stop_kmsd
sleep 1  # archive cut-offs are whole seconds: let that checkpoint be in the past
mkdir -m 0700 "$state/creds"
install -m 0400 "$state/user.pin" "$state/creds/kms-pin"
script="$src/appliance/bin/kms-audit-archive"
gopts=(--db "$state/policy.db" --token "pkcs11:token=kms-demo")
run() {  # run KEEP_DAYS [env...]: the script as the service runs it
  local keep="$1"
  shift
  env KMSCTL="$bin/src/cli/kmsctl" KMS_ARCHIVE_DIR="$state/archive" \
    KMS_ARCHIVE_KEEP_DAYS="$keep" CREDENTIALS_DIRECTORY="$state/creds" "$@" \
    "$script" "${gopts[@]}" --operator audit-archive
}
ctl=("$bin/src/cli/kmsctl" "${gopts[@]}" --pin-file "$state/user.pin")

kept_30_days() {  # everything is newer than 30 days: nothing to do, nothing written
  local out
  out=$(run 30) || return 1
  echo "  $out"
  grep -q '^nothing to archive' <<<"$out" && [ -z "$(ls -A "$state/archive")" ]
}
check "keep 30 days: nothing old enough, exit 0, no file" kept_30_days

archived() {
  local out files
  out=$(run 0) || return 1
  echo "  $out"
  files=("$state"/archive/audit-*.jsonl)
  [ "${#files[@]}" = 1 ] && [ -f "${files[0]}" ] || { echo "  files: ${files[*]}" >&2; return 1; }
  [ "$(stat -c %a "$state/archive")" = 700 ] && [ "$(stat -c %a "${files[0]}")" = 600 ] ||
    { echo "  modes: $(stat -c '%a %n' "$state/archive" "${files[0]}")" >&2; return 1; }
  "${ctl[@]}" audit verify-archive "${files[0]}" && "${ctl[@]}" audit verify &&
    "${ctl[@]}" --json audit export --action audit.archive | grep -q '"actor": "admin:audit-archive"'
}
check "keep 0 days: sealed rows archived with the credential's PIN, file and trail verify" \
  archived

again() {  # the archive's own row is not sealed yet: nothing new, no second file
  local out
  out=$(run 0) || return 1
  echo "  $out"
  grep -q '^nothing to archive' <<<"$out" && [ "$(ls "$state/archive" | wc -l)" = 1 ]
}
check "a second run finds nothing new and writes no file" again

refused() {  # refused <expected-exit> <keep-days>
  local want="$1" rc=0
  shift
  run "$@" >/dev/null 2>"$state/err" || rc=$?
  echo "  exit $rc: $(cat "$state/err")"
  [ "$rc" = "$want" ]
}
check "KMS_ARCHIVE_KEEP_DAYS not a number: exit 2" refused 2 thirty
no_pin() {
  local rc=0
  env -u CREDENTIALS_DIRECTORY KMSCTL="$bin/src/cli/kmsctl" KMS_ARCHIVE_DIR="$state/archive" \
    "$script" "${gopts[@]}" 2>"$state/err" || rc=$?
  echo "  exit $rc: $(cat "$state/err")"
  [ "$rc" = 2 ]
}
check "no --pin-file and no credential directory: exit 2" no_pin
check "a wrong PIN in the credential: kmsctl refuses (exit 1)" bash -c \
  "chmod 0600 '$state/creds/kms-pin' && echo 000000 >'$state/creds/kms-pin' &&
   ! env KMSCTL='$bin/src/cli/kmsctl' KMS_ARCHIVE_DIR='$state/archive' KMS_ARCHIVE_KEEP_DAYS=0 \
     CREDENTIALS_DIRECTORY='$state/creds' '$script' ${gopts[*]} 2>/dev/null"

checks_summary
