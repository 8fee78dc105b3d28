# shellcheck shell=bash
# Debian 12 packages the project needs to build, test and run, and the build's error report.
# Sourced by appliance/quickstart.sh and tests/run.sh; installs only what is missing.
KMS_DEBIAN_PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  clang-14 libclang-rt-14-dev lld-14
  libssl-dev openssl
  libmicrohttpd-dev libgnutls28-dev libsqlite3-dev sqlite3 python3
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev libtomlplusplus-dev nlohmann-json3-dev
  libcurl4-openssl-dev curl libsrtp2-dev libsystemd-dev libseccomp-dev
  softhsm2 opensc libp11-kit-dev libjemalloc-dev
)
# Only tests/run.sh needs these (the TLS scan of tests/e2e/tls_scan_e2e.sh).
# shellcheck disable=SC2034  # used by tests/run.sh
KMS_TEST_PACKAGES=(testssl.sh)

# kms_install_deps: apt-get installs the missing packages, quietly; idempotent.
kms_install_deps() {
  local missing=() p
  for p in "${KMS_DEBIAN_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    return 0
  fi
  echo "Installing missing Debian packages: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: packages are missing and this is not root; install them with apt-get" >&2
    return 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# kms_show_build_errors LOG: the first 20 error lines of a failed build's LOG, on stderr;
#   always returns 0. Not `grep | head`: under pipefail that pipeline fails with 141 once head
#   has its lines and closes the pipe (grep gets SIGPIPE), or with 1 when nothing matches, and
#   a caller under set -e would end before saying where the log is.
kms_show_build_errors() {
  grep -E 'error|FAILED' "$1" | sed -n '1,20p' >&2 || true
}
