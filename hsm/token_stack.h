// TokenStack: the module, the token and the KeyVault on top of it, opened together in the
// right order and closed in the reverse order (one per process; style.md "PKCS#11 RAII").
// Used by the composition roots (kmsd, kmsctl, kms-bench).
#pragma once

#include <memory>
#include <string>

#include "hsm/p11_module.h"
#include "hsm/token.h"
#include "hsm/token_config.h"
#include "hsm/token_key_vault.h"

namespace kms::hsm {

struct TokenStack {
  std::unique_ptr<P11Module> module;
  std::unique_ptr<Token> token;
  std::unique_ptr<TokenKeyVault> vault;

  // Open: loads the module by path, finds the token by URI, logs in (PIN read once).
  // out_pin_refusal: as for Token::Open (the CKR code of a PIN the token refused).
  static Result<std::unique_ptr<TokenStack>> Open(const std::string& module_path,
                                                  TokenConfig config,
                                                  CK_RV* out_pin_refusal = nullptr);
  // Open: the same on a module already loaded (kmsctl key rewrap runs the SO step on the
  // module before the user logs in: hsm/kek_rewrap.h).
  static Result<std::unique_ptr<TokenStack>> Open(std::unique_ptr<P11Module> module,
                                                  TokenConfig config,
                                                  CK_RV* out_pin_refusal = nullptr);
  ~TokenStack();
};

}  // namespace kms::hsm
