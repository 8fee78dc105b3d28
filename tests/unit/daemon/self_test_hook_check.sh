#!/usr/bin/env bash
# The self-test failure hook is test-only (src/daemon/self_test_hook.h). Checks:
#  1. the release preset sets KMS_SELF_TEST_HOOKS OFF and the option's default is OFF;
#  2. self_test_hook.cc compiled without the macro (as in release) has no trace of
#     KMS_SELF_TEST_FAIL in its object code, while with the macro it has (control: the
#     check can see the hook when it is there);
#  3. the macro with NDEBUG (a release build) does not compile.
# Usage: self_test_hook_check.sh <c++ compiler> <source dir>
set -euo pipefail
cxx="$1"
src="$2"
tmp="$(mktemp -d /tmp/kms-hook-check.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
fail=0
check() {
  if "${@:2}"; then echo "ok: $1"; else echo "FAILED: $1"; fail=1; fi
}
release_off() {
  python3 - "$src/CMakePresets.json" <<'PY'
import json, sys
presets = {p["name"]: p for p in json.load(open(sys.argv[1]))["configurePresets"]}
sys.exit(0 if presets["release"]["cacheVariables"].get("KMS_SELF_TEST_HOOKS") == "OFF" else 1)
PY
}
check "release preset: KMS_SELF_TEST_HOOKS OFF" release_off
check "option default OFF" grep -qE \
  '^option\(KMS_SELF_TEST_HOOKS "[^"]*" OFF\)' "$src/CMakeLists.txt"
compile() {  # compile <object> <flags...>
  local obj="$1"
  shift
  "$cxx" -std=c++20 -O2 -I"$src" "$@" -c "$src/src/daemon/self_test_hook.cc" -o "$obj"
}
absent() { compile "$tmp/release.o" -DNDEBUG && ! grep -qa KMS_SELF_TEST_FAIL "$tmp/release.o"; }
present() { compile "$tmp/test.o" -DKMS_SELF_TEST_HOOKS=1 && grep -qa KMS_SELF_TEST_FAIL "$tmp/test.o"; }
refused() { ! compile "$tmp/bad.o" -DKMS_SELF_TEST_HOOKS=1 -DNDEBUG 2>/dev/null; }
check "release compile: KMS_SELF_TEST_FAIL not in the object" absent
check "control: test compile has KMS_SELF_TEST_FAIL in the object" present
check "hooks with NDEBUG do not compile" refused
exit $fail
