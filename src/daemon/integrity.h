// The software integrity test of kmsd (evaluator-checklist.md §2 item 1; ISO/IEC 19790:2012
// §7.10.2 pre-operational software integrity test; Common Criteria FPT_TST_EXT.1 "integrity
// of stored TSF executable code"): the SHA-256 of the running executable against the digest
// installed next to it, "<executable>.sha256" (sha256sum format: 64 hex digits, optionally
// followed by white space and a file name). The build writes that file next to kmsd, and
// `cmake --install` writes it anew after installing (and stripping) the binary.
//
// What it is and is not (docs/security-target.md "Self-tests"): an error-detection test
// (a corrupted or partially updated binary is refused), not a defence against someone who
// can write to the install directory: they can replace the digest file too. ISO/IEC
// 19790:2012 accepts an error detection code for this test at security levels 1 and 2.
#pragma once

#include <string>

#include "src/base/result.h"
#include "src/base/status.h"

namespace kms::daemon {

struct IntegrityOptions {
  // required: a missing digest file is a failure ([process] require_integrity_digest);
  // otherwise it is a skip, reported as such.
  bool required = false;
  // corrupt_for_test: flip one bit of the expected digest before comparing (the self-test
  // hook "integrity", test builds only).
  bool corrupt_for_test = false;
};

// IntegrityResult: OK and checked=false when the digest file is absent and not required.
struct IntegrityResult {
  Status status;
  bool checked = false;
};

// VerifyFileDigest: SHA-256 of the file at path (read in 64 KiB pieces) against digest_path.
// kInternal "integrity: ..." on a mismatch, an unreadable or malformed digest file, a read
// error, or a missing digest file when options.required.
IntegrityResult VerifyFileDigest(const std::string& path, const std::string& digest_path,
                                 const IntegrityOptions& options);

// kOwnExecutable: the very file the kernel mapped, even if it was since replaced or deleted.
inline constexpr char kOwnExecutable[] = "/proc/self/exe";

// OwnDigestPath: readlink(/proc/self/exe) + ".sha256" (a " (deleted)" suffix removed);
// kInternal if the link cannot be read.
Result<std::string> OwnDigestPath();

}  // namespace kms::daemon
