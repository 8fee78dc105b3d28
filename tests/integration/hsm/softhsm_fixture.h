// SoftHsmToken: a private SoftHSM2 token for one test (style.md "Tests"): its own temporary
// token directory and SOFTHSM2_CONF, initialised with softhsm2-util; never the system
// token directory. Removed (with the directory) on destruction.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "hsm/p11_module.h"
#include "hsm/token.h"

namespace kms::hsm::testing {

inline constexpr char kUserPin[] = "1234-user-pin";
inline constexpr char kSoPin[] = "5678-so-pin";

class SoftHsmToken {
 public:
  // Creates the directory, the config (exported as SOFTHSM2_CONF) and a token `label`.
  explicit SoftHsmToken(const std::string& label);
  ~SoftHsmToken();

  const std::string& label() const { return label_; }
  const std::string& dir() const { return dir_; }
  const std::string& token_dir() const { return token_dir_; }
  const std::string& conf() const { return conf_; }
  // pin_file: a 0400 file with the user PIN; WritePinFile writes another one.
  const std::string& pin_file() const { return pin_file_; }
  std::string WritePinFile(const std::string& name, const std::string& pin, int mode) const;

  // Config for Token::Open with this token's URI and PIN file.
  TokenConfig Config() const;
  // Module: dlopen of KMS_SOFTHSM2_MODULE with RTLD_NODELETE.
  static std::unique_ptr<P11Module> OpenModule();

 private:
  std::string label_;
  std::string dir_;
  std::string token_dir_;
  std::string conf_;
  std::string pin_file_;
};

// RunCommand: runs argv (no shell), returns exit status and stdout.
int RunCommand(const std::vector<std::string>& argv, std::string* out);

// ForeignLogout: what another library in kmsd's process could do: open its own session on
// token's slot through the raw function list, C_Logout there and close it again. Login state
// is per application (PKCS#11 v2.40 §5.6 C_Login/C_Logout), so every session of the Token is
// logged out too. A non-fatal failure if the module refuses any of the three calls.
void ForeignLogout(const P11Module& module, const Token& token);

// StorageModeName: "Wrapped" or "TokenObjects", the name suffix of the test suites
// instantiated over both credential storage modes.
inline std::string StorageModeName(const ::testing::TestParamInfo<CredentialStorage>& info) {
  return info.param == CredentialStorage::kWrapped ? "Wrapped" : "TokenObjects";
}

// SoftHsmTest: the fixture of the hsm integration tests that work on one private SoftHSM2
// token through the product's Token. Members are declared in the order they must outlive
// each other: the token directory outlives the module, the module the token, and whatever a
// derived fixture adds (a vault over token_) is destroyed before all of them. Base is
// ::testing::Test or ::testing::TestWithParam<...>.
template <typename Base = ::testing::Test>
class SoftHsmTest : public Base {
 protected:
  explicit SoftHsmTest(const std::string& label) : softhsm_(label) {}

  // OpenModule: loads the module (for a test that patches its function table before the
  // token is opened); a fatal failure if it cannot be loaded.
  void OpenModule() {
    module_ = SoftHsmToken::OpenModule();
    ASSERT_NE(module_, nullptr);
  }
  // OpenToken: Token::Open with config (by default softhsm_.Config()), loading the module
  // first unless OpenModule did; a fatal failure if either fails. Call it under
  // ASSERT_NO_FATAL_FAILURE so that SetUp stops at the first failure.
  void OpenToken(const TokenConfig& config) {
    if (module_ == nullptr) {
      ASSERT_NO_FATAL_FAILURE(OpenModule());
    }
    Result<std::unique_ptr<Token>> t = Token::Open(*module_, config);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    token_ = std::move(t).value();
  }
  void OpenToken() { OpenToken(softhsm_.Config()); }

  SoftHsmToken softhsm_;
  std::unique_ptr<P11Module> module_;
  std::unique_ptr<Token> token_;
};

}  // namespace kms::hsm::testing
