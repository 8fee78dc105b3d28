#include "hsm/key_manager.h"

#include "hsm/key_templates.h"

namespace kms::hsm {

Status KeyManager::Create(KeyName name) {
  if (name.version == 0) {
    return InvalidArgumentError("key versions start at 1");
  }
  std::lock_guard<std::mutex> lock(mu_);
  KMS_ASSIGN_OR_RETURN(SessionLease lease, token_.Acquire());
  if (token_.LongTermKey(name.kind, name.version).ok()) {
    return AlreadyExistsError(LongTermKeyLabel(name.kind, name.version) + " already exists");
  }
  AttrTemplate t = LongTermKeyTemplate(name);
  CK_MECHANISM mech{LongTermKeyGenMechanism(name.kind), nullptr, 0};
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  KMS_RETURN_IF_ERROR(lease.Check(
      lease.fn()->C_GenerateKey(lease.handle(), &mech, t.data(), t.size(), &h),
      "C_GenerateKey"));
  token_.IndexAdd(LongTermKeyInfo{name, h, kLongTermKeyBytes});
  return Status::Ok();
}

std::vector<KeyName> KeyManager::ListKeys() const {
  std::vector<KeyName> out;
  for (const LongTermKeyInfo& info : token_.LongTermKeys()) {
    out.push_back(info.name);
  }
  return out;
}

Status KeyManager::DestroyKey(KeyKind kind, uint32_t version) {
  std::lock_guard<std::mutex> lock(mu_);
  KMS_ASSIGN_OR_RETURN(SessionLease lease, token_.Acquire());
  KMS_ASSIGN_OR_RETURN(LongTermKeyInfo info, token_.LongTermKey(kind, version));
  KMS_RETURN_IF_ERROR(
      lease.Check(lease.fn()->C_DestroyObject(lease.handle(), info.handle), "C_DestroyObject"));
  token_.IndexRemove(info.name);
  return Status::Ok();
}

}  // namespace kms::hsm
