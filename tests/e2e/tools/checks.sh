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
