#!/usr/bin/env bash
# Evaluator checklist item 12: after a request (and a resolve) completes, no known key
# pattern is left in kmsd's memory. Real kmsd (SoftHSM2 token, SQLite, HTTPS on 127.0.0.1);
# the scan and the UE side are tests/e2e/memory/kmsd_memory_scan_test.cc.
# Usage: memory_scan_e2e.sh <build-dir>
set -euo pipefail
bin="$(cd "$1" && pwd)"
here="$(cd "$(dirname "$0")/../.." && pwd)"
state="$(mktemp -d /tmp/kms-memscan-e2e.XXXXXX)"
trap 'kms_stop_kmsd; [ -n "${KMS_E2E_KEEP:-}" ] || rm -rf "$state"' EXIT
# shellcheck source=../../appliance/lib/provision.sh
source "$here/appliance/lib/provision.sh"

kms_provision "$state" "$bin"
kms_start_kmsd "$state" "$bin"
KMSD_PID="$KMSD_PID" KMS_URL="https://127.0.0.1:$KMS_PORT/kms" KMS_ID="https://127.0.0.1/kms" \
  KMS_CA="$state/tls.crt" KMS_USERS="$state/users" KMS_STATE="$state" \
  KMS_FILES="$state/policy.db:$state/policy.db-wal:$state/kmsd.log" \
  "$bin/tests/e2e/kmsd_memory_scan_test"
