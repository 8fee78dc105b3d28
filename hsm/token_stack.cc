#include "hsm/token_stack.h"

namespace kms::hsm {

Result<std::unique_ptr<TokenStack>> TokenStack::Open(const std::string& module_path,
                                                     TokenConfig config, CK_RV* out_pin_refusal) {
  KMS_ASSIGN_OR_RETURN(std::unique_ptr<P11Module> module, P11Module::Open(module_path));
  return Open(std::move(module), std::move(config), out_pin_refusal);
}

Result<std::unique_ptr<TokenStack>> TokenStack::Open(std::unique_ptr<P11Module> module,
                                                     TokenConfig config, CK_RV* out_pin_refusal) {
  auto s = std::make_unique<TokenStack>();
  s->module = std::move(module);
  KMS_ASSIGN_OR_RETURN(s->token, Token::Open(*s->module, std::move(config), out_pin_refusal));
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
