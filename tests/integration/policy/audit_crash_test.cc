// Crash test (issue 5 §6): a child appends audit rows and is killed with SIGKILL at random
// moments, 50 times; after each kill the chain verifies (an unsealed tail is allowed) and
// every row the child had been told was durable is present.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <set>
#include <sstream>

#include "policy/admin.h"
#include "policy/audit_verify.h"
#include "tests/unit/core/fakes.h"

#ifndef KMS_CRASH_CHILD
#error "KMS_CRASH_CHILD must name the audit_crash_child binary"
#endif

namespace kms::policy {
namespace {

TEST(AuditCrashTest, SigkillAtRandomMomentsLosesNoDurableRow) {
  char tmpl[] = "/tmp/kms-crash-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  const std::string db = dir + "/audit.db";
  ASSERT_TRUE(PolicyAdmin::Open(db, "setup").ok());  // migrated, empty
  core::testing::FakeKeyVault vault;
  vault.SetAuditKey(1, vault.AddKey(std::vector<uint8_t>(32, 0xa1)));
  std::mt19937 rng(20261128);
  std::uniform_int_distribution<int> delay_ms(5, 60);
  std::set<int64_t> durable;
  for (int round = 0; round < 50; ++round) {
    int out[2];
    ASSERT_EQ(pipe(out), 0);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      dup2(out[1], 1);
      close(out[0]);
      close(out[1]);
      execl(KMS_CRASH_CHILD, KMS_CRASH_CHILD, db.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    close(out[1]);
    usleep(static_cast<useconds_t>(delay_ms(rng) * 1000));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "round " << round;
    std::string text;
    char buf[4096];
    ssize_t n = 0;
    while ((n = read(out[0], buf, sizeof(buf))) > 0) {
      text.append(buf, static_cast<size_t>(n));
    }
    close(out[0]);
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
      if (!lines.eof()) {  // a torn last line (no newline) was not reported completely
        durable.insert(std::stoll(line));
      }
    }
    auto d = Db::Open(db);
    ASSERT_TRUE(d.ok());
    auto report = VerifyAudit(*d, vault);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    ASSERT_TRUE(report->intact()) << "round " << round << ": "
                                  << AuditProblemName(report->problem) << " " << report->detail;
    for (int64_t id : durable) {
      ASSERT_LE(id, report->rows) << "row " << id << " was reported durable but is gone";
    }
  }
  EXPECT_GT(durable.size(), 50u);  // the child really wrote between the kills
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kms::policy
