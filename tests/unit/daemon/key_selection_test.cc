// PinnedKeyVault and KeyWatcher (src/daemon/key_selection.h): kmsd seals new work under the
// newest key version the database registers, picks rotations up while running, and never
// uses an unregistered or missing key.
#include "src/daemon/key_selection.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace kms::daemon {
namespace {

using ports::KeyKind;

// TokenVault: the versions "in the token". Keys added with `pending` appear only after a
// re-read of the index (an object kmsctl created after kmsd connected).
class TokenVault final : public ports::KeyVault {
 public:
  void Add(KeyKind kind, uint32_t v, bool pending = false) {
    (pending ? pending_ : indexed_)[kind].insert(v);
  }
  void Refresh() {
    for (auto& [kind, versions] : pending_) indexed_[kind].insert(versions.begin(), versions.end());
    pending_.clear();
  }
  Status Hmac(ports::KeyRef, crypto::HmacAlg, std::span<const uint8_t>,
              std::span<uint8_t>) override {
    return Status::Ok();
  }
  Status Random(std::span<uint8_t>) override { return Status::Ok(); }
  Result<size_t> KeySize(ports::KeyRef) override { return size_t{32}; }
  Result<uint32_t> ActiveTicketKeyVersion() override { return Highest(KeyKind::kTpk); }
  Result<ports::KeyRef> TicketKey(uint32_t v) override { return Ref(KeyKind::kTpk, v); }
  Result<uint32_t> ActiveAuditKeyVersion() override { return Highest(KeyKind::kAudit); }
  Result<ports::KeyRef> AuditKey(uint32_t v) override { return Ref(KeyKind::kAudit, v); }
  Result<ports::KeyRef> OpenCredential(const ports::WrappedCredential&) override {
    return ports::KeyRef{77};
  }
  Result<ports::WrappedCredential> GenerateCredential(const std::string&, size_t) override {
    return InternalError("not in this test");
  }
  Result<ports::WrappedCredential> ImportCredential(const std::string&,
                                                    const SecretBytes&) override {
    return InternalError("not in this test");
  }

 private:
  Result<uint32_t> Highest(KeyKind kind) {
    auto it = indexed_.find(kind);
    if (it == indexed_.end() || it->second.empty()) return NotFoundError("no key");
    return *it->second.rbegin();
  }
  Result<ports::KeyRef> Ref(KeyKind kind, uint32_t v) {
    if (indexed_[kind].count(v) == 0) return NotFoundError("no such version");
    return ports::KeyRef{(static_cast<uint64_t>(kind) << 32) | v};
  }
  std::map<KeyKind, std::set<uint32_t>> indexed_, pending_;
};

struct Logged {
  std::string level, event, fields;
};

class KeySelectionTest : public ::testing::Test {
 protected:
  KeySelectionTest() : pinned_(token_) { MakeWatcher(0); }

  // MakeWatcher: a watcher on this fixture's fakes; tpk_max_uses > 0 turns on rotation.
  void MakeWatcher(uint64_t tpk_max_uses) {
    KeyWatcher::Hooks h;
    h.newest_registered = [this](KeyKind k) -> Result<std::optional<uint32_t>> {
      if (!db_ok_) return UnavailableError("database is locked");
      auto it = registered_.find(k);
      if (it == registered_.end()) return std::optional<uint32_t>();
      return std::optional<uint32_t>(it->second);
    };
    h.refresh_token_index = [this] {
      ++refreshes_;
      token_.Refresh();
      return Status::Ok();
    };
    h.log = [this](const char* level, const char* event, std::initializer_list<Field> fields) {
      Logged l{level, event, {}};
      for (const Field& f : fields) l.fields += std::string(f.first) + "=" + f.second + " ";
      log_.push_back(l);
    };
    h.tpk_max_uses = tpk_max_uses;
    h.add_usage = [this](KeyKind k, uint32_t v, int64_t delta) -> Result<int64_t> {
      if (!db_ok_) return UnavailableError("database is locked");
      return usage_[{k, v}] += delta;
    };
    h.rotate = [this](KeyKind k) -> Status {
      ++rotations_;
      if (!rotate_ok_) return UnavailableError("token busy");
      const uint32_t next = registered_[k] + 1;  // what kmsctl key rotate does
      token_.Add(k, next);
      registered_[k] = next;
      return Status::Ok();
    };
    watcher_.emplace(pinned_, std::move(h));
  }

  size_t Count(const std::string& event) const {
    size_t n = 0;
    for (const Logged& l : log_) n += l.event == event ? 1u : 0u;
    return n;
  }
  void Seal(int n) {  // n tickets sealed: the core asks for the active TPK version each time
    for (int i = 0; i < n; ++i) ASSERT_TRUE(pinned_.ActiveTicketKeyVersion().ok());
  }

  TokenVault token_;
  PinnedKeyVault pinned_;
  std::map<KeyKind, uint32_t> registered_;  // newest active version per kind in the "database"
  std::map<std::pair<KeyKind, uint32_t>, int64_t> usage_;  // the durable use counts
  bool db_ok_ = true;
  bool rotate_ok_ = true;
  int refreshes_ = 0;
  int rotations_ = 0;
  std::vector<Logged> log_;
  std::optional<KeyWatcher> watcher_;
};

TEST_F(KeySelectionTest, AnUnregisteredNewerTokenObjectIsNotUsed) {
  // A rotation whose commit failed left version 3 in the token; the database says 2.
  token_.Add(KeyKind::kTpk, 2);
  token_.Add(KeyKind::kTpk, 3);
  token_.Add(KeyKind::kAudit, 1);
  EXPECT_EQ(*pinned_.ActiveTicketKeyVersion(), 3u);  // unpinned: the token's highest
  registered_ = {{KeyKind::kTpk, 2}, {KeyKind::kAudit, 1}};
  watcher_->Poll();
  EXPECT_EQ(*pinned_.ActiveTicketKeyVersion(), 2u);
  EXPECT_EQ(*pinned_.ActiveAuditKeyVersion(), 1u);
  EXPECT_EQ(Count("key_version_active"), 2u);
  EXPECT_EQ(refreshes_, 0);
}

TEST_F(KeySelectionTest, ARotationWhileRunningIsPickedUpAfterOneIndexRead) {
  token_.Add(KeyKind::kTpk, 1);
  registered_ = {{KeyKind::kTpk, 1}};
  watcher_->Poll();
  ASSERT_EQ(*pinned_.ActiveTicketKeyVersion(), 1u);
  watcher_->Poll();  // nothing changed: no token work, no log line
  EXPECT_EQ(refreshes_, 0);
  EXPECT_EQ(Count("key_version_active"), 1u);

  token_.Add(KeyKind::kTpk, 2, /*pending=*/true);  // kmsctl key rotate tpk
  registered_[KeyKind::kTpk] = 2;
  watcher_->Poll();
  EXPECT_EQ(refreshes_, 1);
  EXPECT_EQ(*pinned_.ActiveTicketKeyVersion(), 2u);
  EXPECT_TRUE(pinned_.TicketKey(1).ok()) << "the retired version still resolves";
  ASSERT_EQ(Count("key_version_active"), 2u);
  EXPECT_EQ(log_.back().fields, "kind=tpk version=2 previous=1 ");
}

TEST_F(KeySelectionTest, AVersionMissingFromTheTokenKeepsThePreviousPinAndIsReportedOnce) {
  token_.Add(KeyKind::kTpk, 1);
  registered_ = {{KeyKind::kTpk, 1}};
  watcher_->Poll();
  registered_[KeyKind::kTpk] = 2;  // e.g. a token restored from an older backup
  watcher_->Poll();
  watcher_->Poll();
  watcher_->Poll();
  EXPECT_EQ(*pinned_.ActiveTicketKeyVersion(), 1u);
  EXPECT_EQ(Count("key_version_missing"), 1u);
  EXPECT_EQ(refreshes_, 1) << "the index is re-read once, not on every tick";
  token_.Add(KeyKind::kTpk, 2);  // the key arrives (already indexed this time)
  watcher_->Poll();
  EXPECT_EQ(*pinned_.ActiveTicketKeyVersion(), 2u);
}

TEST_F(KeySelectionTest, ADatabaseErrorKeepsThePinsAndIsReportedOnceUntilItClears) {
  token_.Add(KeyKind::kTpk, 1);
  token_.Add(KeyKind::kTpk, 2);
  registered_ = {{KeyKind::kTpk, 1}};
  watcher_->Poll();
  db_ok_ = false;
  watcher_->Poll();
  watcher_->Poll();
  EXPECT_EQ(*pinned_.ActiveTicketKeyVersion(), 1u);
  EXPECT_EQ(Count("key_watch_failed"), 1u);
  db_ok_ = true;
  registered_[KeyKind::kTpk] = 2;
  watcher_->Poll();
  EXPECT_EQ(*pinned_.ActiveTicketKeyVersion(), 2u);
  db_ok_ = false;
  watcher_->Poll();
  EXPECT_EQ(Count("key_watch_failed"), 2u) << "reported again after a success";
}

TEST_F(KeySelectionTest, NoRegisteredVersionKeepsTheTokensHighest) {
  token_.Add(KeyKind::kTpk, 4);
  watcher_->Poll();
  EXPECT_FALSE(pinned_.Pinned(KeyKind::kTpk).has_value());
  EXPECT_EQ(*pinned_.ActiveTicketKeyVersion(), 4u);
  EXPECT_FALSE(pinned_.Pinned(KeyKind::kKek).has_value());
  pinned_.Pin(KeyKind::kKek, 9);  // kmsd never pins a KEK
  EXPECT_FALSE(pinned_.Pinned(KeyKind::kKek).has_value());
}

}  // namespace
}  // namespace kms::daemon

namespace kms::daemon {
namespace {

// Checklist item 30: an operation-count threshold triggers rotation; the count is durable
// (added to the database every tick), so a restart does not reset it.
TEST_F(KeySelectionTest, TheTpkIsRotatedWhenItsUseCountReachesTheLimit) {
  MakeWatcher(5);
  token_.Add(KeyKind::kTpk, 1);
  registered_ = {{KeyKind::kTpk, 1}};
  watcher_->Poll();
  Seal(3);
  watcher_->Poll();
  EXPECT_EQ(rotations_, 0);
  EXPECT_EQ((usage_[{KeyKind::kTpk, 1}]), 3);
  // A restart: a new watcher (and vault counter) carries on from the durable count.
  MakeWatcher(5);
  Seal(2);
  watcher_->Poll();
  EXPECT_EQ(rotations_, 1);
  EXPECT_EQ(*pinned_.ActiveTicketKeyVersion(), 2u) << "switched in the same tick";
  EXPECT_EQ(Count("key_rotation_due"), 1u);
  Seal(3);
  watcher_->Poll();
  EXPECT_EQ(rotations_, 1) << "v2's uses are counted from its own start";
  EXPECT_EQ((usage_[{KeyKind::kTpk, 2}]), 4) << "3 sealed + the version read by the test";
}

TEST_F(KeySelectionTest, AFailedRotationIsLoggedAndRetriedAtMostOnceAMinute) {
  MakeWatcher(2);
  token_.Add(KeyKind::kTpk, 1);
  registered_ = {{KeyKind::kTpk, 1}};
  watcher_->Poll();
  rotate_ok_ = false;
  Seal(2);
  watcher_->Poll();
  watcher_->Poll();
  Seal(1);
  watcher_->Poll();
  EXPECT_EQ(rotations_, 1);
  EXPECT_EQ(Count("key_rotation_failed"), 1u);
  EXPECT_EQ(*pinned_.ActiveTicketKeyVersion(), 1u) << "the old version stays in use";
}

TEST_F(KeySelectionTest, UsesAreKeptWhileTheDatabaseCannotBeWrittenAndNothingRotatesWithLimitZero) {
  MakeWatcher(0);
  token_.Add(KeyKind::kTpk, 1);
  registered_ = {{KeyKind::kTpk, 1}};
  watcher_->Poll();
  Seal(10);
  watcher_->Poll();
  EXPECT_EQ(rotations_, 0);
  EXPECT_TRUE(usage_.empty()) << "limit 0: nothing counted";
  MakeWatcher(100);
  Seal(7);
  db_ok_ = false;
  watcher_->Poll();
  db_ok_ = true;
  watcher_->FlushUsage();
  EXPECT_EQ((usage_[{KeyKind::kTpk, 1}]), 7) << "the uses survive a failed write";
}

}  // namespace
}  // namespace kms::daemon
