// kms-client's responder side (src/cli/kms_client, compiled into this test): the verdict
// on a `call` party that got no keys (UnansweredExit), one device's replay cache across its
// calls (AnswerOffer), and the replay cache file of `resolve` / `respond` (ReplayCacheFile:
// permissions, corrupt content, expiry, atomic replacement, concurrent runs).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "src/base/encoding.h"
#include "src/cli/kms_client/call_parts.h"
#include "src/cli/kms_client/commands.h"
#include "src/cli/kms_client/replay_file.h"
#include "src/client/sdp.h"
#include "src/mikey/encoder.h"
#include "tests/unit/client/client_test_util.h"

namespace kms::cli {
namespace {

namespace fs = std::filesystem;
using client::testing::At;
using client::testing::CsbOf;
using client::testing::RandOf;
using client::testing::Vec;

// FakeKms: answers every exchange with `answer(request)`.
class FakeKms final : public client::KmsTransport {
 public:
  explicit FakeKms(std::function<Result<std::vector<uint8_t>>(std::span<const uint8_t>)> f)
      : answer_(std::move(f)) {}
  Result<std::vector<uint8_t>> Exchange(std::span<const uint8_t> req) override {
    ++calls;
    return answer_(req);
  }
  int calls = 0;

 private:
  std::function<Result<std::vector<uint8_t>>(std::span<const uint8_t>)> answer_;
};

std::vector<uint8_t> MikeyError() {
  mikey::Message e;  // what a KMS sends when it refuses (RFC 3830 §6.12)
  e.hdr.data_type = mikey::DataType::kError;
  e.payloads.push_back(mikey::Timestamp{mikey::TsType::kNtpUtc, 1});
  e.payloads.push_back(mikey::ErrorPayload{mikey::ErrorNo::kAuthFailure, 0});
  auto wire = mikey::Encode(e);
  KMS_CHECK(wire.ok());
  return std::move(wire).value();
}

class AnswerOfferTest : public ::testing::Test {
 protected:
  // Party: B's vector credentials under `role`.
  static std::unique_ptr<Party> MakeParty(const std::string& role) {
    auto p = std::make_unique<Party>();
    p->label = role + "#1";
    p->role = role;
    p->creds = client::testing::CredsB();
    p->answers_for = {p->creds.identity};
    return p;
  }
  // Answer: the vector TRANSFER_INIT offered to `p`, with the draws and clock that make its
  // RESOLVE_INIT_PSK the vector's (section 7), then, if `resp_draws`, those of the
  // vector's TRANSFER_RESP (section 9).
  Result<DeviceResult> Answer(client::KmsTransport& kms, Party& p, bool resp_draws = false) {
    const auto ri = Vec(7, "RESOLVE_INIT_PSK");
    rng_.PushU32(CsbOf(ri));
    rng_.Push(RandOf(ri, mikey::RandRole::kResponder));
    if (resp_draws) {
      rng_.Push(RandOf(Vec(9, "TRANSFER_RESP"), mikey::RandRole::kResponder));
      rng_.PushU32(0xbbbb0002);
    }
    const std::string offer = client::AudioSdp("alice", 49170, Vec(6, "TRANSFER_INIT"));
    return AnswerOffer(kms, "https://kms.example.org", p, offer, env_);
  }
  client::testing::ScriptedRandom rng_;
  FakeClock clock_{At(3)};
  client::Env env_{rng_, clock_};
};

// Before the fix, `call` reported every outsider without keys as "refused as expected",
// also when its KMS exchange never happened.
TEST_F(AnswerOfferTest, OutsiderWhoseKmsFailedIsNotAnExpectedRefusal) {
  FakeKms down([](std::span<const uint8_t>) -> Result<std::vector<uint8_t>> {
    return UnavailableError("connection refused");
  });
  auto outsider = MakeParty("outsider");
  auto d = Answer(down, *outsider);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_FALSE(d->answered());
  EXPECT_EQ(UnansweredExit(*d), kExitTransport);

  FakeKms refusing(
      [](std::span<const uint8_t>) -> Result<std::vector<uint8_t>> { return MikeyError(); });
  auto d2 = Answer(refusing, *outsider);
  ASSERT_TRUE(d2.ok()) << d2.status().ToString();
  EXPECT_FALSE(d2->answered());
  EXPECT_EQ(UnansweredExit(*d2), kExitOk);  // the KMS refused it: what the scenario expects
  // A member refused by the KMS fails the call.
  auto member = MakeParty("member");
  auto d3 = Answer(refusing, *member);
  ASSERT_TRUE(d3.ok());
  EXPECT_EQ(UnansweredExit(*d3), kExitRefused);
}

TEST(UnansweredExitTest, OnlyTheRefusedClassIsExpectedOfAnOutsider) {
  DeviceResult d;
  d.role = "outsider";
  const std::pair<Status, int> cases[] = {{FailedPreconditionError("MIKEY Error 12"), kExitOk},
                                          {AuthFailedError("RESOLVE_RESP MAC"), kExitOk},
                                          {PermissionDeniedError("policy"), kExitOk},
                                          {UnavailableError("HTTP status 503"), kExitTransport},
                                          {DecodeError("truncated"), kExitBadInput},
                                          {InvalidArgumentError("bad"), kExitBadInput}};
  for (const auto& [refusal, want] : cases) {
    d.refusal = refusal;
    EXPECT_EQ(UnansweredExit(d), want) << refusal.ToString();
  }
  d.role = "device";
  d.refusal = FailedPreconditionError("MIKEY Error 12");
  EXPECT_EQ(UnansweredExit(d), kExitRefused);
}

// spec §7.4 / §9.1: a device accepts an authentic TRANSFER_INIT once, through the library's
// replay-protected AuthenticateTransferInit and the device's own cache.
TEST_F(AnswerOfferTest, DeviceRefusesTheSameTransferInitTwice) {
  const auto ri = Vec(7, "RESOLVE_INIT_PSK");
  FakeKms kms([&ri](std::span<const uint8_t> req) -> Result<std::vector<uint8_t>> {
    if (!std::equal(req.begin(), req.end(), ri.begin(), ri.end())) {
      return InternalError("unexpected RESOLVE_INIT");
    }
    return Vec(8, "RESOLVE_RESP");
  });
  auto device = MakeParty("device");
  auto first = Answer(kms, *device, /*resp_draws=*/true);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(first->answered()) << first->refusal.ToString();
  EXPECT_EQ(device->replay.size(), 1u);

  auto again = Answer(kms, *device);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->refusal.code(), StatusCode::kAlreadyExists) << again->refusal.ToString();
  EXPECT_EQ(again->refusal.detail(), std::optional<uint8_t>(1));  // MIKEY error Invalid TS
  EXPECT_EQ(UnansweredExit(*again), kExitRefused);
  EXPECT_EQ(kms.calls, 2);
}

class ReplayFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("kms-replay-file-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    path_ = (dir_ / "replay-cache").string();
  }
  void TearDown() override { fs::remove_all(dir_); }
  void WriteFile(const std::string& content, mode_t mode = 0600) {
    std::ofstream(path_, std::ios::binary) << content;
    ::chmod(path_.c_str(), mode);
  }
  std::string ReadFile() const {
    std::ifstream in(path_, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  // Record: opens the file, records `mac` (message time `t`, now `t`) and saves.
  Status Record(const std::vector<uint8_t>& mac, UnixTime t) {
    KMS_ASSIGN_OR_RETURN(auto f, ReplayCacheFile::Open(path_, t));
    KMS_RETURN_IF_ERROR(f->cache().CheckAndInsert(mac, t, t));
    return f->Save(t);
  }
  fs::path dir_;
  std::string path_;
};

TEST_F(ReplayFileTest, RecordsAcrossOpensWithMode0600AndNoTemporaryLeft) {
  const std::vector<uint8_t> mac(20, 0xab);
  ASSERT_TRUE(Record(mac, At(0)).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((path_ + ".lock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 077, 0u);
  // Only the MAC and the expiry are stored.
  const std::string text = ReadFile();
  EXPECT_NE(text.find("\"mac\": \"" + HexEncode(mac) + "\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"expires\": 1700000300"), std::string::npos) << text;
  // A later run (another process in real use) refuses the same TRANSFER_INIT.
  const Status again = Record(mac, At(10));
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists);
  EXPECT_TRUE(Record(std::vector<uint8_t>(20, 0xcd), At(10)).ok());
  size_t files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir_)) ++files;
  EXPECT_EQ(files, 2u);  // the cache and its lock file, no temporary
}

TEST_F(ReplayFileTest, ExpiredEntriesPrunedOnLoadAndSave) {
  ASSERT_TRUE(Record(std::vector<uint8_t>(20, 1), At(0)).ok());    // expires At(300)
  ASSERT_TRUE(Record(std::vector<uint8_t>(20, 2), At(200)).ok());  // expires At(500)
  auto f = ReplayCacheFile::Open(path_, At(301));
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ((*f)->cache().size(), 1u);
  ASSERT_TRUE((*f)->Save(At(301)).ok());
  f->reset();
  const std::string text = ReadFile();
  EXPECT_EQ(text.find("0101010101"), std::string::npos) << text;
  EXPECT_NE(text.find("0202020202"), std::string::npos) << text;
}

TEST_F(ReplayFileTest, UnsafeFilesRefused) {
  WriteFile("", 0644);
  auto f = ReplayCacheFile::Open(path_, At(0));
  EXPECT_EQ(f.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(f.status().message().find("chmod 600"), std::string::npos);
  WriteFile("", 0620);
  EXPECT_EQ(ReplayCacheFile::Open(path_, At(0)).status().code(), StatusCode::kPermissionDenied);
  // The lock file obeys the same rules.
  WriteFile("", 0600);
  ::chmod((path_ + ".lock").c_str(), 0666);
  EXPECT_EQ(ReplayCacheFile::Open(path_, At(0)).status().code(), StatusCode::kPermissionDenied);
  fs::remove(path_ + ".lock");
  // Never through a symbolic link.
  fs::remove(path_);
  fs::create_symlink(dir_ / "elsewhere", path_);
  auto link = ReplayCacheFile::Open(path_, At(0));
  EXPECT_EQ(link.status().code(), StatusCode::kPermissionDenied);
  EXPECT_FALSE(fs::exists(dir_ / "elsewhere"));
  fs::remove(path_);
  // Owned by someone else (only root can make such a file here).
  if (::geteuid() == 0) {
    WriteFile("", 0600);
    ASSERT_EQ(::chown(path_.c_str(), 65534, 65534), 0);
    auto other = ReplayCacheFile::Open(path_, At(0));
    EXPECT_EQ(other.status().code(), StatusCode::kPermissionDenied);
    EXPECT_NE(other.status().message().find("owned by uid 65534"), std::string::npos);
  }
}

TEST_F(ReplayFileTest, CorruptContentIsADecodeErrorAndLeftAlone) {
  const std::string v1 = R"("format": "kms-client replay cache v1")";
  const std::vector<std::string> bad = {
      "garbage",
      "{",
      "[]",
      "{}",
      "{" + v1 + "}",
      R"({"format": "v0", "entries": []})",
      "{" + v1 + R"(, "entries": [], "extra": 1})",
      "{" + v1 + R"(, "entries": [1]})",
      "{" + v1 + R"(, "entries": [{"mac": "zz", "expires": 1700000300}]})",
      "{" + v1 + R"(, "entries": [{"mac": "0102", "expires": "soon"}]})",
      "{" + v1 + R"(, "entries": [{"mac": "0102", "expires": -5}]})",
      "{" + v1 + R"(, "entries": [{"mac": "0102", "expires": 1e300}]})",
      "{" + v1 + R"(, "entries": [{"mac": "0102", "expires": 99999999999999999}]})",
      "{" + v1 + R"(, "entries": [{"mac": "", "expires": 1700000300}]})",
      "{" + v1 + R"(, "entries": [{"mac": "0102"}]})",
      std::string(2 << 20, ' ')};
  for (const std::string& content : bad) {
    WriteFile(content);
    auto f = ReplayCacheFile::Open(path_, At(0));
    EXPECT_EQ(f.status().code(), StatusCode::kDecodeError) << content.substr(0, 80);
    EXPECT_NE(f.status().message().find(path_), std::string::npos) << f.status().message();
    EXPECT_EQ(ReadFile(), content);  // never rewritten
  }
}

// Concurrent runs of the same device (separate processes, as `resolve` runs are): each
// holds the lock from load to save, so no entry is lost.
TEST_F(ReplayFileTest, ConcurrentProcessesLoseNoEntry) {
  constexpr int kProcs = 4;
  std::vector<pid_t> kids;
  for (int i = 0; i < kProcs; ++i) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto f = ReplayCacheFile::Open(path_, At(0));
      bool ok = f.ok() &&
                (*f)->cache()
                    .CheckAndInsert(std::vector<uint8_t>(20, static_cast<uint8_t>(i)), At(0), At(0))
                    .ok();
      ::usleep(20000);  // widen the window a lost update would need
      ok = ok && (*f)->Save(At(0)).ok();
      ::_exit(ok ? 0 : 1);
    }
    kids.push_back(pid);
  }
  for (pid_t pid : kids) {
    int st = 0;
    ASSERT_EQ(::waitpid(pid, &st, 0), pid);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  auto f = ReplayCacheFile::Open(path_, At(1));
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ((*f)->cache().size(), static_cast<size_t>(kProcs));
}

}  // namespace
}  // namespace kms::cli
