// hsm rules that need no token: URI parsing (RFC 7512), label parsing, the CK_RV table,
// secret file checks.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>

#include "gtest/gtest.h"
#include "hsm/ck_rv.h"
#include "hsm/key_labels.h"
#include "hsm/pkcs11_uri.h"
#include "hsm/secret_file.h"

namespace kms::hsm {
namespace {

CK_TOKEN_INFO Info(const std::string& label, const std::string& manufacturer,
                   const std::string& serial, const std::string& model) {
  CK_TOKEN_INFO info{};
  auto fill = [](unsigned char* dst, size_t n, const std::string& s) {
    std::memset(dst, ' ', n);
    std::memcpy(dst, s.data(), std::min(n, s.size()));
  };
  fill(info.label, sizeof(info.label), label);
  fill(info.manufacturerID, sizeof(info.manufacturerID), manufacturer);
  fill(info.serialNumber, sizeof(info.serialNumber), serial);
  fill(info.model, sizeof(info.model), model);
  return info;
}

TEST(Pkcs11UriTest, ParsesTokenAttributes) {
  Result<Pkcs11Uri> u = ParsePkcs11Uri(
      "pkcs11:token=My%20KMS;manufacturer=SoftHSM%20project;serial=abc123;model=SoftHSM%20v2");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(*u->token, "My KMS");
  EXPECT_EQ(*u->manufacturer, "SoftHSM project");
  EXPECT_EQ(*u->serial, "abc123");
  EXPECT_EQ(*u->model, "SoftHSM v2");
  EXPECT_TRUE(u->Matches(Info("My KMS", "SoftHSM project", "abc123", "SoftHSM v2")));
  EXPECT_FALSE(u->Matches(Info("My KMS2", "SoftHSM project", "abc123", "SoftHSM v2")));
  EXPECT_FALSE(u->Matches(Info("My KMS", "SoftHSM project", "abc124", "SoftHSM v2")));
}

TEST(Pkcs11UriTest, AbsentAttributesMatchAnything) {
  Result<Pkcs11Uri> u = ParsePkcs11Uri("PKCS11:token=a;x-vendor=1;object=key;type=secret-key");
  ASSERT_TRUE(u.ok());
  EXPECT_FALSE(u->serial.has_value());
  EXPECT_TRUE(u->Matches(Info("a", "m", "s", "x")));
  EXPECT_TRUE(ParsePkcs11Uri("pkcs11:")->Matches(Info("any", "", "", "")));
  EXPECT_TRUE(ParsePkcs11Uri("pkcs11:?").ok());
}

TEST(Pkcs11UriTest, KeepsObjectIdAndType) {
  // RFC 7512 §2.3: object = CKA_LABEL, id = CKA_ID (percent-encoded bytes), type = class.
  Result<Pkcs11Uri> u = ParsePkcs11Uri("pkcs11:token=kms;object=kmsd%20tls;id=%4b%00;type=private");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(*u->object, "kmsd tls");
  EXPECT_EQ(*u->id, std::string("K\0", 2));
  EXPECT_EQ(*u->type, "private");
  EXPECT_TRUE(u->Matches(Info("kms", "m", "s", "x")));  // object attributes never select tokens
  EXPECT_FALSE(ParsePkcs11Uri("pkcs11:type=secret").ok());
  EXPECT_FALSE(ParsePkcs11Uri("pkcs11:object=a;object=b").ok());
  EXPECT_FALSE(ParsePkcs11Uri("pkcs11:id=1;id=2").ok());
}

TEST(Pkcs11UriTest, RejectsMalformedUris) {
  for (const char* bad : {"", "pkcs1:token=a", "token=a", "pkcs11:token", "pkcs11:=a",
                          "pkcs11:token=a;", "pkcs11:token=a;;serial=b", "pkcs11:token=a%2",
                          "pkcs11:token=a%zz", "pkcs11:token=%", "pkcs11:token=a;token=b",
                          "pkcs11:color=blue", "pkcs11:token=a b", "pkcs11:token=a/b",
                          "pkcs11:token=a?pin-value=1234", "pkcs11:token=a?module-path=/x",
                          "pkcs11:token=a#frag"}) {
    EXPECT_EQ(ParsePkcs11Uri(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(Pkcs11UriTest, PercentDecode) {
  EXPECT_EQ(*PercentDecode("a%3Bb%3db%25"), "a;b=b%");
  EXPECT_EQ(*PercentDecode(""), "");
  EXPECT_FALSE(PercentDecode("%4").ok());
  EXPECT_FALSE(PercentDecode("%G0").ok());
}

TEST(KeyLabelsTest, RoundTripAndRejects) {
  EXPECT_EQ(LongTermKeyLabel(KeyKind::kTicket, 3), "kms-tpk-v3");
  EXPECT_EQ(LongTermKeyLabel(KeyKind::kAudit, 4294967295u), "kms-audit-v4294967295");
  auto k = ParseLongTermKeyLabel("kms-kek-v12");
  ASSERT_TRUE(k.has_value());
  EXPECT_EQ(k->kind, KeyKind::kKek);
  EXPECT_EQ(k->version, 12u);
  for (const char* bad : {"", "kms-tpk-v", "kms-tpk-v0", "kms-tpk-v01", "kms-tpk-v1x",
                          "kms-tpk-4", "kms-xyz-v1", "kms-tpk-v4294967296", "KMS-tpk-v1",
                          "kms-tpk-v-1", "kms-cred-v1", "kms-tpk-v12345678901"}) {
    EXPECT_FALSE(ParseLongTermKeyLabel(bad).has_value()) << bad;
  }
  EXPECT_EQ(*CredentialLabel("btid@x"), "kms-cred-btid@x");
  EXPECT_FALSE(CredentialLabel("").ok());
  EXPECT_FALSE(CredentialLabel("a b").ok());
  EXPECT_FALSE(CredentialLabel(std::string(101, 'a')).ok());
  EXPECT_FALSE(CredentialLabel("a\nb").ok());
}

TEST(CkRvTest, TableNamesFunctionAndCode) {
  Status s = FromCkRv(CKR_DEVICE_REMOVED, "C_Sign");
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "C_Sign: CKR_DEVICE_REMOVED");
  EXPECT_EQ(FromCkRv(CKR_PIN_INCORRECT, "C_Login").code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(FromCkRv(CKR_SESSION_HANDLE_INVALID, "C_Sign").code(), StatusCode::kUnavailable);
  EXPECT_EQ(FromCkRv(CKR_TOKEN_NOT_PRESENT, "C_Sign").code(), StatusCode::kUnavailable);
  EXPECT_EQ(FromCkRv(CKR_KEY_HANDLE_INVALID, "C_SignInit").code(), StatusCode::kNotFound);
  EXPECT_EQ(FromCkRv(CKR_ATTRIBUTE_SENSITIVE, "C_GetAttributeValue").code(),
            StatusCode::kPermissionDenied);
  EXPECT_TRUE(FromCkRv(CKR_OK, "C_Sign").ok());
  EXPECT_EQ(FromCkRv(0x8000ABCDUL, "C_Sign").message(), "C_Sign: CKR_0x8000ABCD");
  EXPECT_EQ(FromCkRv(0x8000ABCDUL, "C_Sign").code(), StatusCode::kInternal);
  EXPECT_TRUE(IsSessionBroken(CKR_SESSION_CLOSED));
  EXPECT_TRUE(IsSessionBroken(CKR_OPERATION_ACTIVE));
  EXPECT_FALSE(IsSessionBroken(CKR_MECHANISM_INVALID));
  EXPECT_TRUE(IsTokenLost(CKR_DEVICE_REMOVED));
  EXPECT_FALSE(IsTokenLost(CKR_SESSION_HANDLE_INVALID));
}

class SecretFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kms-secret-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& content, mode_t mode) {
    std::string p = dir_ + "/" + name;
    int fd = open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
    close(fd);
    chmod(p.c_str(), mode);
    return p;
  }
  std::string dir_;
};

TEST_F(SecretFileTest, ReadsPrivateFileAndTrimsNewline) {
  Result<SecretBytes> pin = ReadSecretFile(Write("pin", "1234\r\n", 0400), 256, true);
  ASSERT_TRUE(pin.ok()) << pin.status().ToString();
  EXPECT_TRUE(pin->ConstantTimeEqual(std::span<const uint8_t>(
      reinterpret_cast<const uint8_t*>("1234"), 4)));
  Result<SecretBytes> raw = ReadSecretFile(Write("raw", "ab\n", 0600), 256, false);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->size(), 3u);
}

TEST_F(SecretFileTest, RefusesLooseModesLinksAndBadSizes) {
  EXPECT_EQ(ReadSecretFile(Write("g", "1234", 0440), 256, true).status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(ReadSecretFile(Write("o", "1234", 0604), 256, true).status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(ReadSecretFile(Write("gw", "1234", 0620), 256, true).status().code(),
            StatusCode::kPermissionDenied);
  std::string target = Write("t", "1234", 0400);
  std::string link = dir_ + "/link";
  ASSERT_EQ(symlink(target.c_str(), link.c_str()), 0);
  EXPECT_EQ(ReadSecretFile(link, 256, true).status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(ReadSecretFile(dir_, 256, true).status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(ReadSecretFile(dir_ + "/none", 256, true).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(ReadSecretFile(Write("e", "\n", 0400), 256, true).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadSecretFile(Write("big", std::string(300, 'x'), 0400), 256, true).status().code(),
            StatusCode::kInvalidArgument);
  // Never the PIN in the message.
  Status s = ReadSecretFile(Write("m", "secret-pin", 0644), 256, true).status();
  EXPECT_EQ(s.message().find("secret-pin"), std::string::npos);
  if (geteuid() == 0) {
    std::string other = Write("other", "1234", 0400);
    ASSERT_EQ(chown(other.c_str(), 12345, 12345), 0);
    EXPECT_EQ(ReadSecretFile(other, 256, true).status().code(), StatusCode::kPermissionDenied);
  }
}

TEST_F(SecretFileTest, SystemdCredentialNeedsDirectory) {
  unsetenv("CREDENTIALS_DIRECTORY");
  EXPECT_EQ(ReadSystemdCredential("pin", 256, true).status().code(),
            StatusCode::kFailedPrecondition);
  Write("pin", "1234", 0400);
  setenv("CREDENTIALS_DIRECTORY", dir_.c_str(), 1);
  EXPECT_TRUE(ReadSystemdCredential("pin", 256, true).ok());
  EXPECT_EQ(ReadSystemdCredential("../pin", 256, true).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadSystemdCredential("..", 256, true).status().code(), StatusCode::kInvalidArgument);
  unsetenv("CREDENTIALS_DIRECTORY");
}

// systemd >= 254 (secret_file.h): a credential is a root-owned 0440 file on tmpfs whose group
// bits are the mask of an ACL granting the service user read. Accepted in the directory
// $CREDENTIALS_DIRECTORY names, however that directory is reached.
TEST_F(SecretFileTest, SystemdCredentialOwnedByRootWithGroupReadIsAccepted) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root: systemd's credential files are owned by root, and only root "
                    "can make such a file here";
  }
  const std::string creds = dir_ + "/credentials";
  ASSERT_EQ(mkdir(creds.c_str(), 0700), 0);
  setenv("CREDENTIALS_DIRECTORY", creds.c_str(), 1);
  const std::string pin = Write("credentials/kms-pin", "1234\n", 0440);
  Result<SecretBytes> read = ReadSystemdCredential("kms-pin", 256, true);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_TRUE(read->ConstantTimeEqual(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>("1234"), 4)));
  EXPECT_TRUE(ReadSecretFile(pin, 256, true).ok());
  // The real directory counts, not the spelling: through a symlinked parent, and with the
  // variable itself naming the directory through a link.
  const std::string via = dir_ + "/via-link";
  ASSERT_EQ(symlink(creds.c_str(), via.c_str()), 0);
  EXPECT_TRUE(ReadSecretFile(via + "/kms-pin", 256, true).ok());
  setenv("CREDENTIALS_DIRECTORY", via.c_str(), 1);
  EXPECT_TRUE(ReadSystemdCredential("kms-pin", 256, true).ok());
  // Root keeping write permission is still "writable by root only".
  EXPECT_TRUE(ReadSecretFile(Write("credentials/rw", "1234", 0640), 256, true).ok());
  unsetenv("CREDENTIALS_DIRECTORY");
}

// Everything else keeps the owner-only refusal and its message.
TEST_F(SecretFileTest, SystemdCredentialExceptionIsNarrow) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root: the files under test are root-owned like systemd's";
  }
  const std::string creds = dir_ + "/credentials";
  ASSERT_EQ(mkdir(creds.c_str(), 0700), 0);
  const std::string pin = Write("credentials/kms-pin", "1234", 0440);
  const auto refused = [](const std::string& path, const char* why) {
    Status s = ReadSecretFile(path, 256, true).status();
    EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << path;
    EXPECT_NE(s.message().find(why), std::string::npos) << s.ToString();
  };
  // Without the variable, and with it naming another directory, the same file is refused.
  unsetenv("CREDENTIALS_DIRECTORY");
  refused(pin, "group or others");
  setenv("CREDENTIALS_DIRECTORY", dir_.c_str(), 1);
  refused(pin, "group or others");
  setenv("CREDENTIALS_DIRECTORY", creds.c_str(), 1);
  // The same mode outside the directory; in a sibling that merely shares its name's prefix.
  refused(Write("outside", "1234", 0440), "group or others");
  ASSERT_EQ(mkdir((creds + "-evil").c_str(), 0700), 0);
  refused(Write("credentials-evil/kms-pin", "1234", 0440), "group or others");
  // Inside, but readable by others, writable or executable by the group (the ACL mask).
  refused(Write("credentials/o", "1234", 0444), "group or others");
  refused(Write("credentials/gw", "1234", 0460), "group or others");
  refused(Write("credentials/gx", "1234", 0450), "group or others");
  // A symbolic link inside, even to an accepted file (O_NOFOLLOW stays).
  ASSERT_EQ(symlink(pin.c_str(), (creds + "/link").c_str()), 0);
  EXPECT_EQ(ReadSystemdCredential("link", 256, true).status().code(),
            StatusCode::kPermissionDenied);
  refused(creds + "/link", "symbolic link");
  // Owned by neither root nor the service user.
  const std::string other = Write("credentials/other", "1234", 0440);
  ASSERT_EQ(chown(other.c_str(), 12345, 12345), 0);
  refused(other, "not owned by the service user");
  EXPECT_TRUE(ReadSystemdCredential("kms-pin", 256, true).ok());  // the control
  unsetenv("CREDENTIALS_DIRECTORY");
}

}  // namespace
}  // namespace kms::hsm
