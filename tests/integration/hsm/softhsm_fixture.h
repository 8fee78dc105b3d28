// SoftHsmToken: a private SoftHSM2 token for one test (style.md "Tests"): its own temporary
// token directory and SOFTHSM2_CONF, initialised with softhsm2-util; never the system
// token directory. Removed (with the directory) on destruction.
#pragma once

#include <memory>
#include <string>

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

}  // namespace kms::hsm::testing
