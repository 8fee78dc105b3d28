#include "src/cli/kms_bench/workdir.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "src/base/encoding.h"
#include "src/crypto/random.h"

extern char** environ;

namespace kms::bench {
namespace {

// RandomPin: 16 random bytes as hex. The PIN only protects a throw-away token, but it is
// still kept out of argv-visible logs and written owner-only.
Result<std::string> RandomPin() {
  crypto::OpenSslRandom rng;
  KMS_ASSIGN_OR_RETURN(std::vector<uint8_t> raw, crypto::RandomBytes(rng, 16));
  return HexEncode(raw);
}

}  // namespace

Status RunCommand(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    return InternalError("cannot run " + argv[0] + ": " + std::strerror(rc));
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return InternalError(argv[0] + " failed (status " + std::to_string(status) + ")");
  }
  return Status::Ok();
}

Result<std::string> ReadTextFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return NotFoundError("cannot read " + path);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Status WriteTextFile(const std::string& path, const std::string& text, unsigned mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    return InternalError("cannot write " + path + ": " + std::strerror(errno));
  }
  const bool ok = ::fchmod(fd, mode) == 0 &&
                  ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok ? Status::Ok() : InternalError("cannot write " + path);
}

Result<WorkDir> WorkDir::Create(const std::string& parent, bool keep) {
  std::string tmpl = parent + "/kms-bench.XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return InternalError("mkdtemp in " + parent + ": " + std::strerror(errno));
  }
  WorkDir w;
  w.root = tmpl;
  w.keep = keep;
  const std::string tokens = w.root + "/tokens";
  if (::mkdir(tokens.c_str(), 0700) != 0) {
    return InternalError("mkdir " + tokens + ": " + std::strerror(errno));
  }
  w.softhsm_conf = w.root + "/softhsm2.conf";
  KMS_RETURN_IF_ERROR(WriteTextFile(w.softhsm_conf,
                                    "directories.tokendir = " + tokens +
                                        "\nobjectstore.backend = file\nlog.level = ERROR\n"
                                        "slots.removable = false\n",
                                    0600));
  // Exported before the module is loaded in this process; kmsd inherits it.
  ::setenv("SOFTHSM2_CONF", w.softhsm_conf.c_str(), 1);
  w.pin_file = w.root + "/user.pin";
  w.so_pin_file = w.root + "/so.pin";
  KMS_ASSIGN_OR_RETURN(std::string pin, RandomPin());
  KMS_ASSIGN_OR_RETURN(std::string so_pin, RandomPin());
  KMS_RETURN_IF_ERROR(WriteTextFile(w.pin_file, pin, 0600));
  KMS_RETURN_IF_ERROR(WriteTextFile(w.so_pin_file, so_pin, 0600));
  KMS_RETURN_IF_ERROR(RunCommand({"softhsm2-util", "--init-token", "--free", "--label",
                                  w.token_label, "--so-pin", so_pin, "--pin", pin}));
  w.db = w.root + "/policy.db";
  w.tls_cert = w.root + "/tls.crt";
  w.tls_key = w.root + "/tls.key";
  // P-256 like the appliance's provisioning (appliance/lib/provision.sh); the SAN covers
  // 127.0.0.1 so the benchmark verifies the server certificate like a real client.
  KMS_RETURN_IF_ERROR(RunCommand(
      {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
       "-days", "2", "-subj", "/CN=localhost", "-addext",
       "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", w.tls_key, "-out", w.tls_cert}));
  ::chmod(w.tls_key.c_str(), 0600);
  w.kmsd_config = w.root + "/kmsd.toml";
  w.kmsd_log = w.root + "/kmsd.log";
  return w;
}

void WorkDir::Remove() const {
  if (keep || root.empty()) {
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(root, ec);
}

}  // namespace kms::bench
