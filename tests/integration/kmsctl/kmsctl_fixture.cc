#include "tests/integration/kmsctl/kmsctl_fixture.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <sstream>

#include "hsm/attr_template.h"
#include "hsm/key_labels.h"
#include "hsm/token.h"
#include "hsm/token_key_vault.h"
#include "src/base/encoding.h"
#include "tests/integration/policy/policy_test_support.h"

extern char** environ;

namespace kmsctl::testing {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string TempName(const std::string& tag) {
  static std::atomic<int> n{0};
  return ::testing::TempDir() + "/kmsctl-" + std::to_string(getpid()) + "-" + tag +
         std::to_string(n++);
}

}  // namespace

RunResult RunProgram(const std::vector<std::string>& argv, const std::string& stdin_file) {
  const std::string out_path = TempName("out"), err_path = TempName("err");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, stdin_file.empty() ? "/dev/null" : stdin_file.c_str(),
                                   O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<char*> args;
  for (const std::string& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  pid_t pid = 0;
  RunResult r;
  int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc == 0) {
    int status = 0;
    waitpid(pid, &status, 0);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  r.out = ReadAll(out_path);
  r.err = ReadAll(err_path);
  unlink(out_path.c_str());
  unlink(err_path.c_str());
  return r;
}

void KmsctlTest::SetUp() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string label = std::string("kc-") + info->name();
  label = label.substr(0, 32);  // CK_TOKEN_INFO label is 32 bytes
  token_ = std::make_unique<kms::hsm::testing::SoftHsmToken>(label);
  db_ = token_->dir() + "/policy.db";
  pin_file_ = token_->pin_file();
}

void KmsctlTest::TearDown() { token_.reset(); }

std::vector<std::string> KmsctlTest::CtlArgv(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {KMSCTL_BIN,       "--db",       db_,
                                   "--module",       KMS_SOFTHSM2_MODULE,
                                   "--token",        "pkcs11:token=" + token_->label(),
                                   "--pin-file",     pin_file_,
                                   "--operator",     "tester"};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

RunResult KmsctlTest::Ctl(const std::vector<std::string>& args, const std::string& stdin_file) {
  return RunProgram(CtlArgv(args), stdin_file);
}

std::string KmsctlTest::CtlOk(const std::vector<std::string>& args) {
  RunResult r = Ctl(args);
  if (r.code != 0) {
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    ADD_FAILURE() << "kmsctl " << joined << "exited " << r.code << ": " << r.err;
  }
  return r.out;
}

std::string KmsctlTest::WriteFile(const std::string& name, const std::string& content,
                                  int mode) {
  const std::string path = token_->dir() + "/" + name;
  unlink(path.c_str());
  {
    std::ofstream f(path, std::ios::binary);
    f << content;
  }
  chmod(path.c_str(), static_cast<mode_t>(mode));
  return path;
}

RunResult KmsctlTest::Sql(const std::string& sql) { return RunProgram({"sqlite3", db_, sql}); }

// TokenHmac: HMAC-SHA-256("check") with a stored credential, computed inside the token.
std::vector<uint8_t> KmsctlTest::TokenHmac(const std::string& id) {
  auto module = kms::hsm::testing::SoftHsmToken::OpenModule();
  auto token = kms::hsm::Token::Open(*module, token_->Config());
  EXPECT_TRUE(token.ok());
  if (!token.ok()) return {};
  std::vector<uint8_t> mac(32);
  {
    kms::hsm::TokenKeyVault vault(**token);
    RunResult hex = Sql("SELECT hex(wrapped_key), kek_version FROM credentials WHERE "
                        "credential_id = '" + id + "'");
    const std::string line = hex.out.substr(0, hex.out.find('\n'));
    const size_t bar = line.find('|');
    auto blob = kms::HexDecode(line.substr(0, bar));
    EXPECT_TRUE(blob.ok() && bar != std::string::npos) << id << ": " << line;
    if (!blob.ok() || bar == std::string::npos) return {};
    kms::ports::WrappedCredential w{id, static_cast<uint32_t>(std::stoul(line.substr(bar + 1))),
                                    *blob};
    auto ref = vault.OpenCredential(w);
    EXPECT_TRUE(ref.ok()) << ref.status().ToString();
    if (!ref.ok()) return {};
    const std::string data = "check";
    EXPECT_TRUE(vault.Hmac(*ref, kms::crypto::HmacAlg::kSha256, kms::AsBytes(data), mac).ok());
  }
  token->reset();
  return mac;
}

CK_RV GenerateLegacyKek(kms::hsm::Token& token, uint32_t version) {
  using kms::hsm::AttrTemplate;
  auto lease = token.Acquire();
  if (!lease.ok()) return CKR_GENERAL_ERROR;
  AttrTemplate forced;
  forced.Bool(CKA_TOKEN, false).Bool(CKA_SENSITIVE, true).Bool(CKA_EXTRACTABLE, false);
  AttrTemplate t;
  t.Ulong(CKA_CLASS, CKO_SECRET_KEY).Ulong(CKA_KEY_TYPE, CKK_AES).Ulong(CKA_VALUE_LEN, 32);
  t.Bool(CKA_TOKEN, true).Bool(CKA_PRIVATE, true).Bool(CKA_SENSITIVE, true);
  t.Bool(CKA_EXTRACTABLE, false).Bool(CKA_WRAP, true).Bool(CKA_UNWRAP, true);
  // The rest of the first release's long-term template: the key index accepts only keys
  // that carry all of it (hsm/key_provenance.h); only the unwrap template is the old one.
  t.Bool(CKA_MODIFIABLE, false).Bool(CKA_COPYABLE, false).Bool(CKA_DESTROYABLE, true);
  t.Bool(CKA_SIGN, false).Bool(CKA_VERIFY, false).Bool(CKA_ENCRYPT, false);
  t.Bool(CKA_DECRYPT, false).Bool(CKA_DERIVE, false);
  const CK_MECHANISM_TYPE kwp_only[] = {CKM_AES_KEY_WRAP_PAD};
  t.Mechanisms(CKA_ALLOWED_MECHANISMS, kwp_only);
  t.String(CKA_LABEL, kms::hsm::LongTermKeyLabel(kms::hsm::KeyKind::kKek, version))
      .String(CKA_ID, kms::hsm::kLongTermKeyId);
  t.Nested(CKA_UNWRAP_TEMPLATE, std::move(forced));
  CK_MECHANISM gen{CKM_AES_KEY_GEN, nullptr, 0};
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  return lease->fn()->C_GenerateKey(lease->handle(), &gen, t.data(), t.size(), &h);
}

void KmsctlTest::InitWithAlice() {
  CtlOk({"init"});
  CtlOk({"policy", "set", "--may-request", "--max-validity", "3600", "--suite", "128",
         "--responder", "domain:*@example.org"});
  CtlOk({"user", "add", "alice", "--impi", "alice@ims.example.org", "--identity",
         "sip:alice@example.org"});
  const std::string key = WriteFile("alice.psk", kTestKeyHex);
  CtlOk({"cred", "import", "alice", "--id", "btid-alice", "--key-file", key});
}

std::vector<kms::policy::SealedCheckpoint> KmsctlTest::SealWithWriter(int rows, int64_t every,
                                                                      int batch) {
  std::vector<kms::policy::SealedCheckpoint> seen;
  std::mutex mu;
  auto module = kms::hsm::testing::SoftHsmToken::OpenModule();
  EXPECT_NE(module, nullptr);
  if (module == nullptr) return seen;
  auto token = kms::hsm::Token::Open(*module, token_->Config());
  EXPECT_TRUE(token.ok()) << token.status().ToString();
  if (!token.ok()) return seen;
  kms::hsm::TokenKeyVault vault(**token);
  kms::policy::AuditWriterOptions o;
  o.checkpoint_rows = every;
  o.checkpoint_interval = std::chrono::seconds(3600);
  o.on_checkpoint = [&](const kms::policy::SealedCheckpoint& c) {
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back(c);
  };
  {
    auto w = kms::policy::AuditWriter::Open(db_, vault, o);
    EXPECT_TRUE(w.ok()) << w.status().ToString();
    if (!w.ok()) return seen;
    for (int i = 0; i < rows; ++i) {
      EXPECT_TRUE((*w)->Append(kms::policy::testing::AuditRow(batch, i)).ok());
    }
  }
  std::lock_guard<std::mutex> lock(mu);
  return seen;
}

}  // namespace kmsctl::testing
