#!/usr/bin/env bash
# appliance/quickstart.sh: from a fresh Debian 12 machine (as root) to a running demo.
#   1. installs the Debian packages the appliance needs (only the missing ones),
#   2. builds the hardened release preset,
#   3. creates a SoftHSM2 token under ./state (never the system token directory),
#   4. runs the parts of the call demo that exist in this build (see the summary).
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
if ! cmake --build --preset release -j "$(nproc)" >build/release.log 2>&1; then
  grep -E 'error|FAILED' build/release.log | head -20 >&2
  echo "build failed; see build/release.log" >&2
  exit 1
fi
echo "built into build/release"

step "3/4 SoftHSM2 token under ./state"
state="$repo/state"
mkdir -p "$state/tokens"
chmod 700 "$state"
export SOFTHSM2_CONF="$state/softhsm2.conf"
cat >"$SOFTHSM2_CONF" <<CONF
directories.tokendir = $state/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
if [ ! -s "$state/user.pin" ]; then
  # Random PINs, readable only by their owner; never on a command line of a long-lived process.
  umask 077
  od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$state/user.pin"
  od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$state/so.pin"
fi
if softhsm2-util --show-slots 2>/dev/null | grep -q "Label:.*kms-demo"; then
  echo "token 'kms-demo' already exists"
else
  softhsm2-util --init-token --free --label kms-demo \
    --so-pin "$(cat "$state/so.pin")" --pin "$(cat "$state/user.pin")" >/dev/null
  echo "token 'kms-demo' created (PIN in state/user.pin, mode 0600)"
fi

step "4/4 call demo"
if [ -x build/release/src/daemon/kmsd ] && [ -x build/release/src/cli/kms-client ]; then
  exec appliance/lib/demo.sh "$state"
fi
cat <<MSG
This build does not contain kmsd and kms-client yet (issues 7 and 8), so the call demo
(request, transfer, resolve, SRTP) cannot run. What exists and is tested today: the base
library, the MIKEY-TICKET codec and key derivation, the PKCS#11 token layer and the policy
store (run ./tests/run.sh). SOFTHSM2_CONF for this token: $SOFTHSM2_CONF
MSG
