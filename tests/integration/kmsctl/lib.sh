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
# and KMS_PORT (provision.sh), `pid` (the same), `client` (kms-client), `kms` (its options for
# this kmsd) and `ctl` (kmsctl on DIR's database and token, operator "rotation-test").
start_appliance() {
  local dir="$1"
  kms_provision "$dir" "$bin" >/dev/null || fail "provision $dir"
  kms_start_kmsd "$dir" "$bin" || fail "start kmsd in $dir"
  pids+=("$KMSD_PID")
  pid="$KMSD_PID"
  ctl=("$bin/src/cli/kmsctl" --db "$dir/policy.db" --token "pkcs11:token=kms-demo"
       --pin-file "$dir/user.pin" --operator rotation-test)
  client=("$bin/src/cli/kms-client")
  kms=(--kms-url "https://127.0.0.1:$KMS_PORT/kms" --kms-id "https://127.0.0.1/kms"
       --ca-file "$dir/tls.crt")
}
