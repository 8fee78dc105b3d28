#!/usr/bin/env bash
# appliance/quickstart.sh: from a fresh Debian 12 machine (as root) to a running demo.
#   1. installs the Debian packages the appliance needs (only the missing ones),
#   2. builds the hardened release preset,
#   3. creates a SoftHSM2 token under ./state (never the system token directory), the
#      token keys, the policy database and two demo users (alice, bob),
#   4. starts kmsd and runs a whole call: ticket request, transfer in SDP, resolve by two
#      forked devices, SRTP media; then verifies the audit trail.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"
# shellcheck source=lib/deps.sh
source appliance/lib/deps.sh

step() { printf '\n== %s\n' "$*"; }

step "1/4 dependencies"
kms_install_deps
echo "all Debian packages present"

step "2/4 release build (preset 'release', log: build/release.log)"
cmake --preset release >/dev/null
if ! cmake --build --preset release -j "$(nproc)" --target kmsd kmsctl kms-client >build/release.log 2>&1; then
  kms_show_build_errors build/release.log
  echo "build failed; see build/release.log" >&2
  exit 1
fi
echo "built into build/release"

step "3/4 token, keys, database and demo users under ./state"
state="$repo/state"
# shellcheck source=lib/provision.sh
source appliance/lib/provision.sh
kms_provision "$state" build/release
echo "SoftHSM2 token 'kms-demo' (SOFTHSM2_CONF=$SOFTHSM2_CONF), TPK/KEK/audit keys inside it"
echo "users alice and bob with PSKs wrapped under the KEK; policy database $state/policy.db"

step "4/4 kmsd and a call from alice to bob (two answering devices, SRTP media)"
# The trap goes first: an interrupt while kmsd starts must not leave it running (started in
# the background by a script, kmsd ignores the SIGINT of a Ctrl-C).
trap kms_stop_kmsd EXIT
kms_start_kmsd "$state" build/release
echo "kmsd listening on https://127.0.0.1:$KMS_PORT/kms (ops: http://127.0.0.1:$KMS_OPS_PORT)"
echo
build/release/src/cli/kms-client call \
  --a-cred-dir "$state/users/alice" --b-cred-dir "$state/users/bob" \
  --kms-url "https://127.0.0.1:$KMS_PORT/kms" --kms-id "https://127.0.0.1/kms" \
  --ca-file "$state/tls.crt" --fork 2 --media
echo
echo "Summary: alice and the device of bob that answered derived the same SRTP keys and"
echo "exchanged SRTP packets; the other forked device could not decrypt them. No key left the"
echo "token: the KMS computed with the TPK and the users' PSKs only through PKCS#11."
kms_stop_kmsd
trap - EXIT
build/release/src/cli/kmsctl --db "$state/policy.db" --token "pkcs11:token=kms-demo" \
  --pin-file "$state/user.pin" audit verify
