// KeyTest: the fixture of the long-term key tests (key_test.cc, key_extraction_test.cc,
// key_unwrap_test.cc): a private SoftHSM2 token with TPK, KEK and audit key v1 made by
// KeyManager, and backup key v1 (kmsctl backup's key), so every test sees every long-term
// key the product keeps in a token.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "hsm/attr_template.h"
#include "hsm/find_scope.h"
#include "hsm/key_manager.h"
#include "hsm/key_templates.h"
#include "tests/integration/hsm/softhsm_fixture.h"

namespace kms::hsm::testing {

class KeyTest : public SoftHsmTest<> {
 protected:
  KeyTest() : SoftHsmTest("kms-key-test") {}
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(OpenToken());
    KeyManager km(*token_);
    ASSERT_TRUE(km.CreateTicketKey(1).ok());
    ASSERT_TRUE(km.CreateKek(1).ok());
    ASSERT_TRUE(km.CreateAuditKey(1).ok());
    Result<uint32_t> backup = km.EnsureBackupKey();
    ASSERT_TRUE(backup.ok()) << backup.status().ToString();
    ASSERT_EQ(*backup, 1u);
  }

  // BackupKey: the handle of the one object labelled "kms-backup-v<version>" (found by the
  // test itself, not through KeyManager), or CK_INVALID_HANDLE with a failure.
  CK_OBJECT_HANDLE BackupKey(SessionLease& lease, uint32_t version = 1) {
    AttrTemplate match;
    match.Ulong(CKA_CLASS, CKO_SECRET_KEY).String(CKA_LABEL, BackupKeyLabel(version));
    Result<std::vector<CK_OBJECT_HANDLE>> found = FindAll(lease, match, 4);
    EXPECT_TRUE(found.ok() && found->size() == 1u);
    return found.ok() && found->size() == 1u ? (*found)[0] : CK_INVALID_HANDLE;
  }

  // AllKeys: label -> handle of every long-term key, the backup key included.
  std::vector<std::pair<std::string, CK_OBJECT_HANDLE>> AllKeys(SessionLease& lease) {
    std::vector<std::pair<std::string, CK_OBJECT_HANDLE>> out;
    for (const LongTermKeyInfo& key : token_->LongTermKeys()) {
      out.emplace_back(LongTermKeyLabel(key.name.kind, key.name.version), key.handle);
    }
    out.emplace_back(BackupKeyLabel(1), BackupKey(lease));
    return out;
  }
};

// ReadBool: a CK_BBOOL attribute of h; a failure if it cannot be read.
inline CK_BBOOL ReadBool(SessionLease& lease, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type) {
  CK_BBOOL v = CK_FALSE;
  CK_ATTRIBUTE a{type, &v, sizeof(v)};
  EXPECT_EQ(lease.fn()->C_GetAttributeValue(lease.handle(), h, &a, 1), CKR_OK) << type;
  return v;
}

}  // namespace kms::hsm::testing
