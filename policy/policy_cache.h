// PolicyCache: rows SqlitePolicyStore has read, remembered for one policy_meta.policy_version.
//
// Why: every audit commit changes the database file, so SQLite drops each reader's page cache
// before the next request, and one request re-reads ~10 rows (a resolve ~25) that an admin
// changes a few times a day (docs/performance.md, "where the time goes").
//
// Why this is safe: every admin change bumps policy_version in the same transaction as the
// change (PolicyAdmin::InChange, ImportUsers, ReplaceWrapped). A caller reads the version in
// the same read snapshot as the rows it wants; an entry is returned only for exactly the
// version it was loaded at, so a request never sees a state older than its own snapshot.
// Entries of an older snapshot (a reader that began before an admin commit) are not stored.
// Not-found results are never cached. Nothing here depends on the clock: validity windows
// and rate limits are decided per request from the cached rows.
//
// Bound: at most max_entries per kind; a full kind is emptied and refilled (simple, and the
// working set of a busy appliance is far below the default). max_entries 0 disables caching.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>

#include "src/core/ports/policy_store.h"

namespace kms::policy {

class PolicyCache {
 public:
  template <typename K, typename V>
  class Slot {
    friend class PolicyCache;
    std::unordered_map<K, std::shared_ptr<const V>> map_;
  };

  struct Stats {
    uint64_t hits = 0;
    uint64_t misses = 0;
    size_t entries = 0;
  };

  explicit PolicyCache(size_t max_entries) : max_entries_(max_entries) {}

  bool enabled() const { return max_entries_ > 0; }

  // Get: the entry loaded at exactly `version`, or nullptr.
  template <typename K, typename V>
  std::shared_ptr<const V> Get(Slot<K, V>& slot, uint64_t version, const K& key) {
    std::lock_guard<std::mutex> lock(mu_);
    if (has_version_ && version == version_) {
      auto it = slot.map_.find(key);
      if (it != slot.map_.end()) {
        ++stats_.hits;
        return it->second;
      }
    }
    ++stats_.misses;
    return nullptr;
  }

  // Put: remembers value as loaded at `version`. A newer version empties every kind first;
  // an older one (a snapshot that began before the last admin commit) is not stored.
  template <typename K, typename V>
  void Put(Slot<K, V>& slot, uint64_t version, const K& key, const V& value) {
    if (!enabled()) return;
    auto entry = std::make_shared<const V>(value);  // copy outside the lock
    std::lock_guard<std::mutex> lock(mu_);
    if (!has_version_ || version > version_) {
      ClearLocked();
      version_ = version;
      has_version_ = true;
    }
    if (version != version_) return;
    if (slot.map_.size() >= max_entries_) {
      stats_.entries -= slot.map_.size();
      slot.map_.clear();
    }
    if (slot.map_.insert_or_assign(key, std::move(entry)).second) ++stats_.entries;
  }

  Stats stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }

  // The kinds SqlitePolicyStore remembers (key: user id; 0 = no user, system default only).
  Slot<int64_t, ports::EffectivePolicy> effective;
  Slot<int64_t, ports::UserInfo> user_by_id;
  Slot<std::string, ports::UserInfo> user_by_identity;
  Slot<std::string, ports::CredentialInfo> credential;
  Slot<std::string, std::set<std::string>> groups_of;

 private:
  void ClearLocked() {
    effective.map_.clear();
    user_by_id.map_.clear();
    user_by_identity.map_.clear();
    credential.map_.clear();
    groups_of.map_.clear();
    stats_.entries = 0;
  }

  const size_t max_entries_;
  mutable std::mutex mu_;
  bool has_version_ = false;
  uint64_t version_ = 0;
  Stats stats_;
};

}  // namespace kms::policy
