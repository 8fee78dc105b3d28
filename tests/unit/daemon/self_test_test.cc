// kmsd's self-test driver and error state (src/daemon/self_test.h), the integrity test
// (src/daemon/integrity.h) and the failure hook (src/daemon/self_test_hook.h), without a
// token: the token tests are tests/integration/hsm/token_self_test_test.cc and the whole
// start-up is tests/e2e/self_test_e2e.sh.
#include "src/daemon/self_test.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "src/base/encoding.h"
#include "src/crypto/digest.h"
#include "src/daemon/integrity.h"
#include "src/daemon/self_test_hook.h"

namespace kms::daemon {
namespace {

class FakeAudit final : public ports::AuditSink {
 public:
  Result<int64_t> Append(const ports::AuditRecord& r) override {
    if (!fail.ok()) {
      return fail;
    }
    rows.push_back(r);
    return static_cast<int64_t>(rows.size());
  }
  bool Healthy() const override { return fail.ok(); }
  std::vector<ports::AuditRecord> rows;
  Status fail;
};

std::vector<SelfTest> ThreeTests(int failing, std::vector<std::string>* ran) {
  std::vector<SelfTest> t;
  for (int i = 0; i < 3; ++i) {
    const std::string name = "t" + std::to_string(i);
    t.push_back({name, [=] {
                   ran->push_back(name);
                   return i == failing ? InternalError("self-test " + name + ": wrong answer")
                                       : Status::Ok();
                 }});
  }
  return t;
}

TEST(SelfTestDriverTest, StopsAtTheFirstFailureAndNamesIt) {
  std::vector<std::string> ran;
  SelfTestOutcome o = RunSelfTests(ThreeTests(1, &ran));
  EXPECT_EQ(o.status.code(), StatusCode::kInternal);
  EXPECT_EQ(o.failed_test, "t1");
  EXPECT_EQ(o.passed, std::vector<std::string>{"t0"});
  EXPECT_EQ(ran, (std::vector<std::string>{"t0", "t1"}));  // t2 never ran
}

TEST(SelfTestDriverTest, AFailureIsAuditedAndRefusesToContinue) {
  std::vector<std::string> ran;
  FakeAudit audit;
  const UnixTime now{std::chrono::seconds(1'700'000'000)};
  Status s = RunStartupSelfTestsAndAudit(ThreeTests(2, &ran), audit, now);
  EXPECT_FALSE(s.ok());
  ASSERT_EQ(audit.rows.size(), 1u);
  const ports::AuditRecord& r = audit.rows[0];
  EXPECT_EQ(r.actor, "kmsd");
  EXPECT_EQ(r.action, "self_test");
  EXPECT_EQ(r.outcome, ports::AuditOutcome::kError);
  EXPECT_EQ(r.rule, "self_test.failed");
  EXPECT_EQ(r.initiator, "t2");
  EXPECT_EQ(r.detail, "self-test t2: wrong answer");
  EXPECT_EQ(r.time, now);
}

TEST(SelfTestDriverTest, APassIsAuditedToo) {
  std::vector<std::string> ran;
  FakeAudit audit;
  EXPECT_TRUE(RunStartupSelfTestsAndAudit(ThreeTests(-1, &ran), audit, UnixTime{}).ok());
  ASSERT_EQ(audit.rows.size(), 1u);
  EXPECT_EQ(audit.rows[0].outcome, ports::AuditOutcome::kOk);
  EXPECT_EQ(audit.rows[0].rule, "self_test.passed");
  EXPECT_EQ(audit.rows[0].detail, "passed=t0,t1,t2");
  EXPECT_EQ(audit.rows[0].initiator, "");
}

TEST(SelfTestDriverTest, APassThatCannotBeAuditedIsNotAPass) {
  std::vector<std::string> ran;
  FakeAudit audit;
  audit.fail = UnavailableError("disk full");
  Status s = RunStartupSelfTestsAndAudit(ThreeTests(-1, &ran), audit, UnixTime{});
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  // A failure stays a failure (with its own status) when the audit is down too.
  s = RunStartupSelfTestsAndAudit(ThreeTests(0, &ran), audit, UnixTime{});
  EXPECT_EQ(s.code(), StatusCode::kInternal);
}

class IntegrityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("kms-integrity-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    file_ = (dir_ / "kmsd").string();
    std::ofstream(file_) << std::string(200'000, 'x') << "tail";  // several 64 KiB reads
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Digest() const {
    const std::string data = std::string(200'000, 'x') + "tail";
    return HexEncode(crypto::Sha256(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), data.size())));
  }
  void WriteDigest(const std::string& text) { std::ofstream(file_ + ".sha256") << text; }

  std::filesystem::path dir_;
  std::string file_;
};

TEST_F(IntegrityTest, MatchingDigestPassesInSha256sumFormat) {
  WriteDigest(Digest() + "  kmsd\n");
  IntegrityResult r = VerifyFileDigest(file_, file_ + ".sha256", {});
  EXPECT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_TRUE(r.checked);
  WriteDigest(Digest());  // a bare digest is accepted too
  EXPECT_TRUE(VerifyFileDigest(file_, file_ + ".sha256", {}).status.ok());
}

TEST_F(IntegrityTest, AModifiedFileIsRefused) {
  WriteDigest(Digest() + "  kmsd\n");
  std::ofstream(file_, std::ios::app) << "!";  // one byte appended to the "binary"
  IntegrityResult r = VerifyFileDigest(file_, file_ + ".sha256", {});
  EXPECT_EQ(r.status.code(), StatusCode::kInternal);
  EXPECT_NE(r.status.message().find("integrity:"), std::string::npos);
}

TEST_F(IntegrityTest, TheHookCorruptsTheExpectedDigest) {
  WriteDigest(Digest() + "  kmsd\n");
  EXPECT_FALSE(VerifyFileDigest(file_, file_ + ".sha256", {false, true}).status.ok());
}

TEST_F(IntegrityTest, MissingDigestIsASkipUnlessRequired) {
  IntegrityResult r = VerifyFileDigest(file_, file_ + ".sha256", {});
  EXPECT_TRUE(r.status.ok());
  EXPECT_FALSE(r.checked);
  r = VerifyFileDigest(file_, file_ + ".sha256", {true, false});
  EXPECT_EQ(r.status.code(), StatusCode::kInternal);
  EXPECT_NE(r.status.message().find("missing"), std::string::npos);
}

TEST_F(IntegrityTest, MalformedDigestFilesAreRefused) {
  for (const std::string& text :
       {std::string("not a digest"), Digest().substr(0, 63), Digest() + "0  kmsd",
        std::string(64, 'g'), std::string(5000, 'a')}) {
    WriteDigest(text);
    EXPECT_EQ(VerifyFileDigest(file_, file_ + ".sha256", {}).status.code(), StatusCode::kInternal)
        << text.substr(0, 80);
  }
}

TEST_F(IntegrityTest, UnreadableExecutableIsRefused) {
  WriteDigest(Digest());
  std::filesystem::remove(file_);
  EXPECT_FALSE(VerifyFileDigest(file_, file_ + ".sha256", {}).status.ok());
}

// The hook reads KMS_SELF_TEST_FAIL only when compiled in; CMake tells this test what the
// build asked for (KMS_EXPECT_SELF_TEST_HOOKS), so a hook present in a build configured
// without it (or missing from a test build) fails here.
TEST(SelfTestHookTest, PresentExactlyWhenTheBuildAskedForIt) {
  EXPECT_EQ(SelfTestHooksCompiledIn(), KMS_EXPECT_SELF_TEST_HOOKS != 0);
  ASSERT_EQ(setenv("KMS_SELF_TEST_FAIL", "aes-cm-128", 1), 0);
  const std::string got = InjectedSelfTestFailure();
  unsetenv("KMS_SELF_TEST_FAIL");
  EXPECT_EQ(got, KMS_EXPECT_SELF_TEST_HOOKS != 0 ? "aes-cm-128" : "");
  EXPECT_EQ(InjectedSelfTestFailure(), "");
}

}  // namespace
}  // namespace kms::daemon
