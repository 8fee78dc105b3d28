#!/bin/bash
# The shipped systemd units (appliance/systemd/): what kmsd and the audit archive need on
# Debian 12, and systemd's own exposure score as a bound on their sandboxes.
set -euo pipefail
fail=0
need() {  # need DIRECTIVE=VALUE WHY (in $unit)
  if ! grep -qx "$1" "$unit"; then
    echo "FAIL: $unit lacks '$1' ($2)" >&2
    fail=1
  fi
}
# Exposure 0.0 (locked down) .. 10.0 (unprotected); --threshold is in tenths. kmsd.service
# scores 1.5 (3.7 before the Debian review), kms-audit-archive.service 0.8.
exposure_at_most_2() {
  command -v systemd-analyze >/dev/null || {
    echo "systemd-analyze not installed: exposure score of $unit not checked"
    return 0
  }
  if ! systemd-analyze security --offline=yes --threshold=20 "$unit" >/dev/null 2>&1; then
    systemd-analyze security --offline=yes "$unit" 2>&1 | tail -1 >&2
    echo "FAIL: $unit exposure above 2.0" >&2
    fail=1
  fi
}

unit="$1/appliance/systemd/kmsd.service"
need "SupplementaryGroups=softhsm" "Debian's SoftHSM2 config and tokens belong to group softhsm"
need "LimitMEMLOCK=infinity" "[process] mlockall needs an unlimited RLIMIT_MEMLOCK"
need "ReadWritePaths=/var/lib/kms /var/lib/softhsm/tokens" "token and database writable, nothing more"
need "LoadCredential=kms-pin:/etc/kms/credentials/kms-pin" "the PIN as a credential, never argv"
need "CapabilityBoundingSet=" "no capabilities"
exposure_at_most_2

# The daily audit archive's service: it logs in to the token like kmsd (same credential,
# group and writable paths) and has no network at all; its timer runs it once a day.
unit="$1/appliance/systemd/kms-audit-archive.service"
need "ExecStart=/usr/libexec/kms/kms-audit-archive --operator audit-archive" "the packaged script"
need "LoadCredential=kms-pin:/etc/kms/credentials/kms-pin" "the PIN as a credential, never argv"
need "SupplementaryGroups=softhsm" "Debian's SoftHSM2 config and tokens belong to group softhsm"
need "ReadWritePaths=/var/lib/kms /var/lib/softhsm/tokens" "database, archive directory and token"
need "PrivateNetwork=yes" "archiving needs no network"
need "CapabilityBoundingSet=" "no capabilities"
exposure_at_most_2
unit="$1/appliance/systemd/kms-audit-archive.timer"
need "OnCalendar=daily" "once a day"
need "Persistent=true" "a run missed while the appliance was off is caught up"

[ "$fail" = 0 ] && echo "systemd units: ok"
exit "$fail"
