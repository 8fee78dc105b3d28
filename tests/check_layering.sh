#!/usr/bin/env bash
# Checks that dependencies point down only (architecture.md §2): every #include of a
# project header must come from a layer the including folder may use.
set -euo pipefail
root="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
cd "$root"

# allowed["folder"]="space-separated folders it may include from" (itself implied)
declare -A allowed=(
  [src/base]=""
  [src/mikey]="src/base"
  [src/crypto]="src/base"
  [src/core/ports]="src/base src/crypto"
  [src/core]="src/base src/mikey src/crypto src/core/ports"
  [hsm]="src/base src/crypto src/core/ports"
  [policy]="src/base src/crypto src/core/ports"
  [src/client]="src/base src/mikey src/crypto"
  [src/http]="src/base src/core src/core/ports"
)

fail=0
layer_of() {
  local path="$1" best=""
  for k in "${!allowed[@]}"; do
    if [[ "$path" == "$k/"* ]] && [ "${#k}" -gt "${#best}" ]; then best="$k"; fi
  done
  echo "$best"
}

while IFS= read -r file; do
  from=$(layer_of "$file")
  [ -n "$from" ] || continue
  while IFS= read -r inc; do
    to=$(layer_of "$inc")
    [ -n "$to" ] || continue
    [ "$to" = "$from" ] && continue
    ok=0
    for a in ${allowed[$from]}; do [ "$a" = "$to" ] && ok=1; done
    if [ "$ok" -eq 0 ]; then
      echo "layering violation: $file includes $inc ($from may not depend on $to)"
      fail=1
    fi
  done < <(grep -hoE '^#include "[^"]+"' "$file" | sed -E 's/#include "([^"]+)"/\1/')
done < <(git ls-files -co --exclude-standard -- 'src/*' 'hsm/*' 'policy/*' | grep -E '\.(h|cc)$')

if [ "$fail" -ne 0 ]; then exit 1; fi
echo "layering ok"
