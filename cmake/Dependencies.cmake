# Every third-party dependency comes from a Debian package (tests/run.sh installs them).
find_package(PkgConfig REQUIRED)
find_package(OpenSSL 3.0 REQUIRED)
find_package(Threads REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(CURL REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(nlohmann_json 3.11 REQUIRED)
pkg_check_modules(MICROHTTPD REQUIRED IMPORTED_TARGET libmicrohttpd)
pkg_check_modules(GNUTLS REQUIRED IMPORTED_TARGET gnutls)  # TLS identity (certificate callback)
pkg_check_modules(SRTP2 REQUIRED IMPORTED_TARGET libsrtp2)
pkg_check_modules(SYSTEMD REQUIRED IMPORTED_TARGET libsystemd)
pkg_check_modules(SECCOMP REQUIRED IMPORTED_TARGET libseccomp)
pkg_check_modules(TOMLPP REQUIRED IMPORTED_TARGET tomlplusplus)
pkg_check_modules(P11KIT REQUIRED IMPORTED_TARGET p11-kit-1)  # pkcs11.h header only
if(KMS_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(KMS_BUILD_BENCHMARKS)
  find_package(benchmark REQUIRED)
endif()

# Where the SoftHSM2 module lives on Debian; tests and the quickstart load it by path.
set(KMS_SOFTHSM2_MODULE "/usr/lib/softhsm/libsofthsm2.so" CACHE FILEPATH "SoftHSM2 PKCS#11 module")
