#!/usr/bin/env bash
# `cmake --install` (packaging/CMakeLists.txt) with prefix /usr into a scratch DESTDIR: every
# program a shipped systemd unit starts (ExecStart=) is installed at that path and
# executable, the units and the timer are where systemd looks, and the integrity digest
# kmsd checks at start-up matches the installed kmsd.
# Usage: install_layout_test.sh BUILD_DIR
set -euo pipefail
build="$(cd "$1" && pwd)"
root="$(mktemp -d /tmp/kms-install.XXXXXX)"
trap 'rm -rf "$root"' EXIT
DESTDIR="$root" cmake --install "$build" --prefix /usr >/dev/null
fail=0
units="$root/usr/lib/systemd/system"
for f in kmsd.service kms-audit-archive.service kms-audit-archive.timer; do
  [ -f "$units/$f" ] || { echo "FAIL: $f not installed in /usr/lib/systemd/system" >&2; fail=1; }
done
for unit in "$units"/*.service; do
  [ -f "$unit" ] || continue
  prog=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$unit")
  if [ -x "$root$prog" ]; then
    echo "ok: $(basename "$unit") starts $prog, installed"
  else
    echo "FAIL: $(basename "$unit") starts $prog, which is not installed" >&2
    fail=1
  fi
done
[ -x "$root/usr/sbin/kmsctl" ] || { echo "FAIL: kmsctl not in /usr/sbin" >&2; fail=1; }
digest=$(sha256sum "$root/usr/sbin/kmsd" | cut -d' ' -f1)
if grep -q "$digest" "$root/usr/sbin/kmsd.sha256"; then
  echo "ok: kmsd.sha256 is the installed kmsd's digest"
else
  echo "FAIL: kmsd.sha256 does not match the installed kmsd" >&2
  fail=1
fi
exit "$fail"
