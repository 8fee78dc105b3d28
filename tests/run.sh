#!/usr/bin/env bash
# tests/run.sh: installs what is missing, builds, and runs every test suite (labels unit,
# integration, e2e, fuzz-replay). Exits non-zero on any failure; its last lines are
# ctest's summary. Usage: tests/run.sh [preset] (default: dev; see CMakePresets.json).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=../appliance/lib/deps.sh
source appliance/lib/deps.sh
KMS_DEBIAN_PACKAGES+=("${KMS_TEST_PACKAGES[@]}")
kms_install_deps

preset="${1:-dev}"
jobs="$(nproc)"

echo "== configure ($preset)"
cmake --preset "$preset" >/dev/null
echo "== build (log: build/$preset.log)"
if ! cmake --build --preset "$preset" -j "$jobs" >"build/$preset.log" 2>&1; then
  grep -E 'error|FAILED' "build/$preset.log" | head -40 >&2
  echo "build failed; see build/$preset.log" >&2
  exit 1
fi

echo "== test"
exec ctest --preset "$preset" -j "$jobs"
