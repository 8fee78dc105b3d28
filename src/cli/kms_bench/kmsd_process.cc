#include "src/cli/kms_bench/kmsd_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

#include "src/cli/kms_bench/http_get.h"

extern char** environ;

namespace kms::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

double MsSince(SteadyClock::time_point t0) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count();
}

// kmsd runs with its seccomp allow-list, as shipped (kmsd.example.toml), unless KMS_SECCOMP
// is "false": the convention of the test provisioning (appliance/lib/provision.sh), which the
// sanitizer test presets use because LeakSanitizer's exit scan needs ptrace.
const char* SeccompSetting() {
  const char* v = std::getenv("KMS_SECCOMP");
  return v != nullptr && std::strcmp(v, "false") == 0 ? "false" : "true";
}

}  // namespace

Status WriteKmsdConfig(const WorkDir& w, const KmsdSettings& s) {
  const std::string toml =
      "[kms]\nidentity = \"" + s.kms_identity +
      "\"\nreplay_window_s = 3600\n\n"
      "[server]\nlisten = \"127.0.0.1\"\nport = 0\ntls_cert = \"" +
      w.tls_cert + "\"\ntls_key = \"" + w.tls_key + "\"\nthreads = " + std::to_string(s.threads) +
      "\nrate_per_s = 0\n" +
      (s.workers > 0 ? "workers = " + std::to_string(s.workers) + "\n" : std::string()) +
      "\n"
      "[ops]\nlisten = \"127.0.0.1\"\nport = 0\n\n"
      "[token]\nmodule = \"" +
      s.module + "\"\nuri = \"pkcs11:token=" + w.token_label + "\"\npin_file = \"" + w.pin_file +
      "\"\npool_size = " + std::to_string(s.pool_size) +
      "\ncredential_cache = " + std::to_string(s.credential_cache) +
      "\n\n"
      "[database]\npath = \"" +
      w.db + "\"\n\n" +
      (s.audit_batch_ms >= 0
           ? "[audit]\nbatch_interval_ms = " + std::to_string(s.audit_batch_ms) + "\n\n"
           : std::string()) +
      "[process]\nseccomp = " + SeccompSetting() + "\n";
  return WriteTextFile(w.kmsd_config, toml, 0600);
}

KmsdProcess::~KmsdProcess() { (void)Stop(); }

Status KmsdProcess::Start(const WorkDir& w, const KmsdSettings& s,
                          std::chrono::milliseconds timeout) {
  KMS_RETURN_IF_ERROR(WriteKmsdConfig(w, s));
  // A restart (startup mode) gets new ports: forget the previous run's.
  https_port_ = ops_port_ = 0;
  decision_workers_ = 0;
  startup_ms_ = started_line_ms_ = 0;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, w.kmsd_log.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  std::vector<std::string> argv_s = {s.binary, "--config", w.kmsd_config};
  std::vector<char*> argv;
  for (std::string& a : argv_s) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  const auto t0 = SteadyClock::now();
  const int rc = posix_spawn(&pid_, s.binary.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    pid_ = -1;
    return InternalError("cannot start " + s.binary + ": " + std::strerror(rc));
  }
  // Poll the log every millisecond: the startup time is measured at that resolution.
  static const std::regex kStarted(R"(event=started https_port=(\d+) ops_port=(\d+))");
  while (https_port_ == 0) {
    if (MsSince(t0) > static_cast<double>(timeout.count())) {
      return UnavailableError("kmsd did not log event=started in time (see " + w.kmsd_log + ")");
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return UnavailableError("kmsd exited during start-up (see " + w.kmsd_log + ")");
    }
    auto log = ReadTextFile(w.kmsd_log);
    std::smatch m;
    if (log.ok() && std::regex_search(*log, m, kStarted)) {
      https_port_ = static_cast<uint16_t>(std::stoi(m[1].str()));
      ops_port_ = static_cast<uint16_t>(std::stoi(m[2].str()));
      started_line_ms_ = MsSince(t0);
      static const std::regex kWorkers(R"(event=started .* decision_workers=(\d+))");
      std::smatch wm;
      if (std::regex_search(*log, wm, kWorkers)) {
        decision_workers_ = static_cast<unsigned>(std::stoul(wm[1].str()));
      }
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const std::string readyz = "http://127.0.0.1:" + std::to_string(ops_port_) + "/readyz";
  while (HttpGet(readyz) != 200) {
    if (MsSince(t0) > static_cast<double>(timeout.count())) {
      return UnavailableError("kmsd /readyz did not answer 200 in time");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  startup_ms_ = MsSince(t0);
  return Status::Ok();
}

Status KmsdProcess::Stop() {
  if (pid_ <= 0) {
    return Status::Ok();
  }
  ::kill(pid_, SIGTERM);
  int status = 0;
  const auto t0 = SteadyClock::now();
  for (;;) {
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno != EINTR)) {
      break;
    }
    if (MsSince(t0) > 20000) {
      ::kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      pid_ = -1;
      return InternalError("kmsd did not stop on SIGTERM within 20 s (killed)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  pid_ = -1;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return InternalError("kmsd exited with status " + std::to_string(status));
  }
  return Status::Ok();
}

uint64_t KmsdProcess::StatusKiB(const char* field) const {
  if (pid_ <= 0) {
    return 0;
  }
  std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  const std::string prefix = std::string(field) + ":";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) {
      return std::strtoull(line.c_str() + prefix.size(), nullptr, 10);
    }
  }
  return 0;
}

double KmsdProcess::CpuSeconds() const {
  if (pid_ <= 0) {
    return 0;
  }
  auto stat = ReadTextFile("/proc/" + std::to_string(pid_) + "/stat");
  if (!stat.ok()) {
    return 0;
  }
  // Fields after the parenthesised command name (which may hold spaces): state is field 3,
  // utime field 14, stime field 15 (proc(5)).
  const size_t close = stat->rfind(')');
  if (close == std::string::npos) {
    return 0;
  }
  std::istringstream in(stat->substr(close + 2));
  std::string field;
  uint64_t utime = 0, stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
    if (i == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace kms::bench
