#include "hsm/token_stack.h"

namespace kms::hsm {

Result<std::unique_ptr<TokenStack>> TokenStack::Open(const std::string& module_path,
                                                     TokenConfig config) {
  auto s = std::make_unique<TokenStack>();
  KMS_ASSIGN_OR_RETURN(s->module, P11Module::Open(module_path));
  KMS_ASSIGN_OR_RETURN(s->token, Token::Open(*s->module, std::move(config)));
  s->vault = std::make_unique<TokenKeyVault>(*s->token);
  return s;
}

TokenStack::~TokenStack() {
  // Reverse order: the vault uses the token, the token uses the module.
  vault.reset();
  token.reset();
  module.reset();
}

}  // namespace kms::hsm
