# Shared set-up of the appliance scripts run by the kmsctl integration tests: the appliance's
# provisioning library, a temporary folder removed on exit (every kmsd in `pids` stopped
# first), `fail`, and `start_appliance`.
# Usage (from a script): . "$(dirname "$0")/lib.sh" BUILD_DIR SOURCE_DIR
set -u
bin="$1"
src="$2"
# shellcheck source=/dev/null
. "$src/appliance/lib/provision.sh"
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# start_appliance DIR: provisions the demo appliance in DIR and starts its kmsd; sets KMSD_PID
# and KMS_PORT (provision.sh), `client` (kms-client) and `kms` (its options for this kmsd).
start_appliance() {
  local dir="$1"
  kms_provision "$dir" "$bin" >/dev/null || fail "provision $dir"
  kms_start_kmsd "$dir" "$bin" || fail "start kmsd in $dir"
  pids+=("$KMSD_PID")
  client=("$bin/src/cli/kms-client")
  kms=(--kms-url "https://127.0.0.1:$KMS_PORT/kms" --kms-id "https://127.0.0.1/kms"
       --ca-file "$dir/tls.crt")
}
