# shellcheck shell=bash
# Shared by the end-to-end scripts: check runs one named check and counts it; checks_summary
# prints the totals and fails when any check failed. Every check runs, so one report shows
# every failure.
pass=0
fail=0
check() {  # check "<what>" <command...>
  local what="$1"
  shift
  if "$@"; then
    pass=$((pass + 1))
    echo "ok: $what"
  else
    fail=$((fail + 1))
    echo "FAILED: $what"
  fi
}
checks_summary() {
  echo "$pass passed, $fail failed"
  [ "$fail" -eq 0 ]
}

# e2e_state NAME: a fresh state directory in $state; at exit the kmsd of kms_start_kmsd
#   (appliance/lib/provision.sh, sourced first) is stopped and the directory removed, unless
#   KMS_E2E_KEEP is set.
e2e_state() {
  state="$(mktemp -d "/tmp/kms-$1.XXXXXX")"
  trap 'kms_stop_kmsd; [ -n "${KMS_E2E_KEEP:-}" ] || rm -rf "$state"' EXIT
}
