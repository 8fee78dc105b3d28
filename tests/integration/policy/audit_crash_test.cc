// Crash test (issue 5 item 7): a child process appends audit rows through AuditWriter and is
// killed with SIGKILL at random moments, 60 times. After every kill the trail verifies (an
// unsealed tail is allowed) and every row the child had been told was durable is present
// with the content the child wrote (its correlation id), at the row id it was given.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <random>
#include <sstream>
#include <string>

#include "policy/admin.h"
#include "policy/audit_verify.h"
#include "tests/integration/policy/fake_audit_vault.h"
#include "tests/integration/policy/policy_test_support.h"

#ifndef KMS_CRASH_CHILD
#error "KMS_CRASH_CHILD must name the audit_crash_child binary"
#endif

namespace kms::policy {
namespace {

using Clock = std::chrono::steady_clock;

// RunAndKill: starts the child on db, collects its stdout for `ms` milliseconds, kills it
// with SIGKILL and returns everything it printed. Fails the test if it exited by itself.
std::string RunAndKill(const std::string& db, int ms) {
  int out[2];
  if (pipe(out) != 0) {
    ADD_FAILURE() << "pipe";
    return {};
  }
  const pid_t pid = fork();
  if (pid < 0) {
    ADD_FAILURE() << "fork";
    return {};
  }
  if (pid == 0) {
    dup2(out[1], 1);
    close(out[0]);
    close(out[1]);
    execl(KMS_CRASH_CHILD, KMS_CRASH_CHILD, db.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  std::string text;
  char buf[8192];
  const auto deadline = Clock::now() + std::chrono::milliseconds(ms);
  // Read while it runs, so a full pipe never throttles the child.
  for (auto now = Clock::now(); now < deadline; now = Clock::now()) {
    pollfd p{out[0], POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    if (poll(&p, 1, static_cast<int>(left.count()) + 1) > 0) {
      const ssize_t n = read(out[0], buf, sizeof(buf));
      if (n > 0) text.append(buf, static_cast<size_t>(n));
      if (n == 0) break;  // the child closed stdout: it died by itself
    }
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the child exited by itself, status " << status;
  ssize_t n = 0;
  while ((n = read(out[0], buf, sizeof(buf))) > 0) text.append(buf, static_cast<size_t>(n));
  close(out[0]);
  return text;
}

TEST(AuditCrashTest, SigkillAtRandomMomentsLosesNoDurableRow) {
  testing::TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string db = dir.File("audit.db");
  ASSERT_TRUE(PolicyAdmin::Open(db, "setup").ok());  // migrated, empty
  testing::FakeAuditVault vault;
  std::mt19937 rng(20261128);
  std::uniform_int_distribution<int> delay_ms(5, 50);
  std::map<int64_t, std::string> durable;  // row id -> correlation id the child wrote
  const auto start = Clock::now();
  constexpr int kRounds = 60;
  for (int round = 0; round < kRounds; ++round) {
    // The first rounds give the child time to start; later ones hit it at random moments.
    const std::string text = RunAndKill(db, round < 3 ? 150 : delay_ms(rng));
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
      if (lines.eof()) break;  // no trailing newline: not a complete report
      std::istringstream fields(line);
      int64_t id = 0;
      std::string corr;
      ASSERT_TRUE(fields >> id >> corr) << "bad line '" << line << "'";
      ASSERT_TRUE(durable.emplace(id, corr).second)
          << "row id " << id << " reported durable twice (a durable row was overwritten)";
    }
    auto d = Db::Open(db);
    ASSERT_TRUE(d.ok());
    auto report = VerifyAudit(*d, vault);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    ASSERT_TRUE(report->intact()) << "round " << round << ": "
                                  << AuditProblemName(report->problem) << " " << report->detail;
    std::map<int64_t, std::string> stored;
    for (const auto& row : testing::RawQuery(db, "SELECT seq, correlation_id FROM audit_log")) {
      stored.emplace(std::stoll(row.at(0)), row.at(1));
    }
    ASSERT_EQ(static_cast<int64_t>(stored.size()), report->rows);
    for (const auto& [id, corr] : durable) {
      auto it = stored.find(id);
      ASSERT_NE(it, stored.end()) << "round " << round << ": durable row " << id << " is gone";
      ASSERT_EQ(it->second, corr) << "round " << round << ": row " << id << " was replaced";
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_LT(seconds, 60.0);
  EXPECT_GT(durable.size(), static_cast<size_t>(kRounds));  // the child really wrote
  // Checkpoints were written (and some killed) along the way; what is sealed verifies.
  auto d = Db::Open(db);
  ASSERT_TRUE(d.ok());
  auto report = VerifyAudit(*d, vault);
  ASSERT_TRUE(report.ok());
  EXPECT_GT(report->checkpoints, 0);
  EXPECT_GT(report->sealed_through_row, 0);
  std::printf("crash test: %d kills, %zu durable rows reported, %lld rows, %lld checkpoints, "
              "%.1f s\n", kRounds, durable.size(), static_cast<long long>(report->rows),
              static_cast<long long>(report->checkpoints), seconds);
}

}  // namespace
}  // namespace kms::policy
