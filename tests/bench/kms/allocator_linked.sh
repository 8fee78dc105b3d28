#!/usr/bin/env bash
# With KMS_JEMALLOC, kmsd and kms-bench must run every allocation of the process on
# jemalloc, including those of libraries loaded after them (SoftHSM2 is dlopen()ed): the
# executable names libjemalloc before libc, and a shared library's malloc binds to it.
set -euo pipefail
for exe in "$@"; do
  needed="$(readelf -d "$exe" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')"
  je="$(grep -n '^libjemalloc' <<<"$needed" | cut -d: -f1 || true)"
  libc="$(grep -n '^libc\.so' <<<"$needed" | cut -d: -f1 || true)"
  if [[ -z "$je" ]]; then
    echo "$exe: libjemalloc is not among its libraries" >&2
    exit 1
  fi
  if [[ -n "$libc" && "$je" -gt "$libc" ]]; then
    echo "$exe: libjemalloc comes after libc, so libc's malloc would serve the process" >&2
    exit 1
  fi
  # The dynamic linker's own account: libstdc++'s operator new calls malloc through its PLT,
  # the same way SoftHSM2's code does; it must bind to jemalloc.
  bindings="$(LD_DEBUG=bindings "$exe" --help 2>&1 >/dev/null || true)"
  if ! grep -Eq "binding file [^ ]*libstdc\+\+[^ ]* .* to [^ ]*libjemalloc[^ ]* .*symbol .malloc'" \
      <<<"$bindings"; then
    echo "$exe: malloc of libstdc++ does not bind to jemalloc" >&2
    exit 1
  fi
done
echo "jemalloc serves: $*"
