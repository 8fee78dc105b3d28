// KmsctlTest: drives the built kmsctl binary as a subprocess against a private SoftHSM2 token
// (tests/integration/hsm/softhsm_fixture.h: own token directory and SOFTHSM2_CONF) and a
// SQLite file in the token's temporary directory. Each test starts from an empty token and
// no database.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "policy/audit_writer.h"
#include "tests/integration/hsm/softhsm_fixture.h"

namespace kmsctl::testing {

struct RunResult {
  int code = -1;
  std::string out, err;
};

// Run: runs argv (no shell) with stdin from stdin_file (or /dev/null) and captures stdout
// and stderr through files (no pipe deadlock on large outputs).
RunResult RunProgram(const std::vector<std::string>& argv, const std::string& stdin_file = "");

class KmsctlTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Ctl: kmsctl with --db/--module/--token/--pin-file/--operator tester, then args.
  RunResult Ctl(const std::vector<std::string>& args, const std::string& stdin_file = "");
  // CtlArgv: the argv Ctl runs.
  std::vector<std::string> CtlArgv(const std::vector<std::string>& args) const;
  // CtlOk: Ctl and ADD_FAILURE unless it exits 0.
  std::string CtlOk(const std::vector<std::string>& args);
  // WriteFile: a file in the test directory with the given mode; returns its path.
  std::string WriteFile(const std::string& name, const std::string& content, int mode = 0600);
  // Sql: runs one statement through the sqlite3 shell on the database (for tampering).
  RunResult Sql(const std::string& sql);
  // TokenHmac: HMAC-SHA-256("check") with a stored credential (its blob and KEK version read
  // from the database), computed inside the token; empty on failure.
  std::vector<uint8_t> TokenHmac(const std::string& id);
  // InitWithAlice: init, a system default, user alice with one credential.
  void InitWithAlice();
  // SealWithWriter: appends `rows` rows (AuditRow(batch, i)) through an AuditWriter on the
  // token's audit key, sealing every `every` rows and once more when it is destroyed, as
  // kmsd does; returns what its on_checkpoint observer saw.
  std::vector<kms::policy::SealedCheckpoint> SealWithWriter(int rows, int64_t every, int batch = 0);

  std::unique_ptr<kms::hsm::testing::SoftHsmToken> token_;
  std::string db_;
  std::string pin_file_;
};

// GenerateLegacyKek: KEK `version` made directly in the token with the template of releases
// before trusted re-wrap (its unwrap template forces non-extractable copies, so credentials
// under it cannot be re-wrapped: docs/security-target.md "KEK rotation"). C_GenerateKey's
// result, or CKR_GENERAL_ERROR when no session could be acquired.
CK_RV GenerateLegacyKek(kms::hsm::Token& token, uint32_t version);

// The hex of a 32-byte test key (known pattern, searched for in outputs).
inline constexpr char kTestKeyHex[] =
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

}  // namespace kmsctl::testing
