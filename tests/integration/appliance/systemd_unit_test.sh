#!/bin/bash
# The shipped systemd units (appliance/systemd/): what kmsd and the audit archive need on
# Debian 12, and systemd's own exposure score as a bound on its sandbox.
set -euo pipefail
unit="$1/appliance/systemd/kmsd.service"
fail=0
need() {  # need DIRECTIVE=VALUE WHY
  if ! grep -qx "$1" "$unit"; then
    echo "FAIL: $unit lacks '$1' ($2)" >&2
    fail=1
  fi
}
need "SupplementaryGroups=softhsm" "Debian's SoftHSM2 config and tokens belong to group softhsm"
need "LimitMEMLOCK=infinity" "[process] mlockall needs an unlimited RLIMIT_MEMLOCK"
need "ReadWritePaths=/var/lib/kms /var/lib/softhsm/tokens" "token and database writable, nothing more"
need "LoadCredential=kms-pin:/etc/kms/credentials/kms-pin" "the PIN as a credential, never argv"
need "CapabilityBoundingSet=" "no capabilities"
if command -v systemd-analyze >/dev/null; then
  # Exposure 0.0 (locked down) .. 10.0 (unprotected); --threshold is in tenths. The unit
  # scores 1.5; the unit before the Debian review scored 3.7.
  if ! systemd-analyze security --offline=yes --threshold=20 "$unit" >/dev/null 2>&1; then
    systemd-analyze security --offline=yes "$unit" 2>&1 | tail -1 >&2
    echo "FAIL: exposure above 2.0" >&2
    fail=1
  fi
else
  echo "systemd-analyze not installed: exposure score not checked"
fi
# The daily audit archive's service: it logs in to the token like kmsd (same credential,
# group and writable paths) and has no network at all; its timer runs it once a day.
unit="$1/appliance/systemd/kms-audit-archive.service"
need "ExecStart=/usr/libexec/kms/kms-audit-archive --operator audit-archive" "the packaged script"
need "LoadCredential=kms-pin:/etc/kms/credentials/kms-pin" "the PIN as a credential, never argv"
need "SupplementaryGroups=softhsm" "Debian's SoftHSM2 config and tokens belong to group softhsm"
need "ReadWritePaths=/var/lib/kms /var/lib/softhsm/tokens" "database, archive directory and token"
need "PrivateNetwork=yes" "archiving needs no network"
need "CapabilityBoundingSet=" "no capabilities"
if command -v systemd-analyze >/dev/null; then
  if ! systemd-analyze security --offline=yes --threshold=20 "$unit" >/dev/null 2>&1; then
    systemd-analyze security --offline=yes "$unit" 2>&1 | tail -1 >&2
    echo "FAIL: $unit exposure above 2.0" >&2
    fail=1
  fi
fi
timer="$1/appliance/systemd/kms-audit-archive.timer"
grep -qx "OnCalendar=daily" "$timer" && grep -qx "Persistent=true" "$timer" ||
  { echo "FAIL: $timer does not run daily, catching up missed runs" >&2; fail=1; }
[ "$fail" = 0 ] && echo "systemd units: ok"
exit "$fail"
