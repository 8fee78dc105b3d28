#include "tests/integration/hsm/softhsm_fixture.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

#include "gtest/gtest.h"

extern char** environ;

namespace kms::hsm::testing {

int RunCommand(const std::vector<std::string>& argv, std::string* out) {
  int fds[2];
  if (pipe(fds) != 0) {
    return -1;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  std::vector<char*> args;
  for (const std::string& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    return -1;
  }
  char buf[4096];
  ssize_t n = 0;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) {
    if (out != nullptr) {
      out->append(buf, static_cast<size_t>(n));
    }
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

SoftHsmToken::SoftHsmToken(const std::string& label) : label_(label) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "kms-hsm-XXXXXX").string();
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  char* d = mkdtemp(buf.data());
  if (d == nullptr) {
    ADD_FAILURE() << "mkdtemp failed";
    return;
  }
  dir_ = d;
  token_dir_ = dir_ + "/tokens";
  std::filesystem::create_directory(token_dir_);
  conf_ = dir_ + "/softhsm2.conf";
  {
    std::ofstream c(conf_);
    c << "directories.tokendir = " << token_dir_ << "\nobjectstore.backend = file\n"
      << "log.level = ERROR\nslots.removable = false\n";
  }
  setenv("SOFTHSM2_CONF", conf_.c_str(), 1);
  std::string out;
  int rc = RunCommand({"softhsm2-util", "--init-token", "--free", "--label", label_,
                       "--so-pin", kSoPin, "--pin", kUserPin},
                      &out);
  if (rc != 0) {
    ADD_FAILURE() << "softhsm2-util --init-token failed: " << out;
  }
  pin_file_ = WritePinFile("user.pin", std::string(kUserPin) + "\n", 0400);
}

SoftHsmToken::~SoftHsmToken() {
  std::error_code ec;
  if (!dir_.empty()) {
    std::filesystem::permissions(dir_, std::filesystem::perms::owner_all, ec);
    std::filesystem::remove_all(dir_, ec);
  }
}

std::string SoftHsmToken::WritePinFile(const std::string& name, const std::string& pin,
                                       int mode) const {
  std::string path = dir_ + "/" + name;
  unlink(path.c_str());
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(write(fd, pin.data(), pin.size()), static_cast<ssize_t>(pin.size()));
  close(fd);
  chmod(path.c_str(), static_cast<mode_t>(mode));
  return path;
}

TokenConfig SoftHsmToken::Config() const {
  TokenConfig c;
  c.token_uri = "pkcs11:token=" + label_;
  c.pin.kind = PinSource::Kind::kFile;
  c.pin.location = pin_file_;
  c.pool_size = 4;
  c.reconnect_interval = std::chrono::milliseconds(0);
  return c;
}

void ForeignLogout(const P11Module& module, const Token& token) {
  const CK_FUNCTION_LIST* f = module.fn();
  CK_TOKEN_INFO info{};
  Result<CK_SLOT_ID> slot = Token::FindSlotFor(f, token.uri(), token.config().token_uri, &info);
  ASSERT_TRUE(slot.ok()) << slot.status().ToString();
  CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
  ASSERT_EQ(f->C_OpenSession(*slot, CKF_SERIAL_SESSION, nullptr, nullptr, &session), CKR_OK);
  CK_SESSION_INFO before{};
  EXPECT_EQ(f->C_GetSessionInfo(session, &before), CKR_OK);
  EXPECT_EQ(before.state, CKS_RO_USER_FUNCTIONS);  // the Token's login covers this session
  EXPECT_EQ(f->C_Logout(session), CKR_OK);
  EXPECT_EQ(f->C_CloseSession(session), CKR_OK);
}

std::unique_ptr<P11Module> SoftHsmToken::OpenModule() {
  Result<std::unique_ptr<P11Module>> m =
      P11Module::Open(KMS_SOFTHSM2_MODULE, ModuleOptions{.no_delete = true});
  if (!m.ok()) {
    ADD_FAILURE() << m.status().ToString();
    return nullptr;
  }
  return std::move(m).value();
}

}  // namespace kms::hsm::testing
