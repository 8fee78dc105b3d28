#include "policy/policy_cache.h"

namespace kms::policy {

namespace {
constexpr size_t kNode = 4 * sizeof(void*);  // a tree or list node's bookkeeping, roughly
}  // namespace

size_t ApproxBytes(const std::string& s) {
  // Short strings live inside the object (no heap); longer ones own capacity() + 1 bytes.
  return s.capacity() > 15 ? s.capacity() + 1 : 0;
}

size_t ApproxBytes(const std::set<std::string>& s) {
  size_t n = 0;
  for (const std::string& e : s) n += kNode + sizeof(std::string) + ApproxBytes(e);
  return n;
}

size_t ApproxBytes(const ports::UserInfo& u) {
  size_t n = ApproxBytes(u.name) + ApproxBytes(u.private_identity);
  for (const std::string& id : u.public_identities) n += sizeof(std::string) + ApproxBytes(id);
  return n;
}

size_t ApproxBytes(const ports::CredentialInfo& c) {
  return ApproxBytes(c.wrapped.credential_id) + c.wrapped.blob.capacity();
}

size_t ApproxBytes(const ports::EffectivePolicy& p) {
  size_t n = p.user ? sizeof(ports::UserInfo) + ApproxBytes(*p.user) : 0;
  if (p.rules) {
    for (const ports::ResponderRule& r : p.rules->allowed_responders) {
      n += sizeof(r) + ApproxBytes(r.value);
    }
    for (const std::string& app : p.rules->allowed_apps) n += sizeof(app) + ApproxBytes(app);
  }
  for (const auto& [group, members] : p.group_members) {
    n += kNode + sizeof(group) + ApproxBytes(group) + sizeof(members) + ApproxBytes(members);
  }
  return n;
}

}  // namespace kms::policy
