// PolicyCache: rows SqlitePolicyStore has read, remembered for one policy_meta.policy_version.
//
// Why: every audit commit changes the database file, so SQLite drops each reader's page cache
// before the next request, and one request re-reads ~10 rows (a resolve ~25) that an admin
// changes a few times a day (docs/performance-2.80ghz.md, "Where kmsd's time goes").
//
// Why this is safe: every admin change bumps policy_version in the same transaction as the
// change (PolicyAdmin::InChange, ImportUsers, ReplaceWrapped). A caller reads the version in
// the same read snapshot as the rows it wants; an entry is returned only for exactly the
// version it was loaded at, so a request never sees a state older than its own snapshot.
// Entries of an older snapshot (a reader that began before an admin commit) are not stored.
// Not-found results are not cached, with one exception: credential ids that do not exist
// are remembered in their own kind (credential_absent), so that a request naming a made-up
// IDRpsk costs what one naming a known credential costs (a database read only the first
// time, like a known one), and the answer time does not tell the two apart (evaluator
// checklist item 16; `kms-bench --timing`). In their own kind, a flood of made-up ids can only
// empty that kind, never the known users' entries. Nothing here depends on the clock:
// validity windows and rate limits are decided per request from the cached rows.
//
// Bound: at most max_entries per kind, and at most max_bytes (approximate heap size of the
// remembered values) over all kinds: an effective policy carries the members of every group
// its rules name, so entries can be large. A full kind (or a full byte budget: everything)
// is emptied and refilled; simple, and a busy appliance's working set is far below the
// defaults. An entry larger than an eighth of the budget is not remembered at all.
// max_entries 0 disables caching.
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

// ApproxBytes: heap bytes a remembered value holds, roughly (container nodes counted as one
// pointer-sized overhead each); enough to keep the byte budget honest.
size_t ApproxBytes(const std::string& s);
size_t ApproxBytes(const std::set<std::string>& s);
size_t ApproxBytes(const ports::UserInfo& u);
size_t ApproxBytes(const ports::CredentialInfo& c);
size_t ApproxBytes(const ports::EffectivePolicy& p);
inline size_t ApproxBytes(bool) { return 0; }

class PolicyCache {
 public:
  template <typename K, typename V>
  class Slot {
    friend class PolicyCache;
    std::unordered_map<K, std::shared_ptr<const V>> map_;
    size_t bytes_ = 0;
  };

  struct Stats {
    uint64_t hits = 0;
    uint64_t misses = 0;
    size_t entries = 0;
    size_t bytes = 0;
  };

  PolicyCache(size_t max_entries, size_t max_bytes)
      : max_entries_(max_entries), max_bytes_(max_bytes) {}

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
    const size_t bytes = ApproxBytes(value) + sizeof(V) + 64;  // + node and control block
    if (bytes > max_bytes_ / 8) return;  // one entry must not evict everything else
    auto entry = std::make_shared<const V>(value);  // copy outside the lock
    std::lock_guard<std::mutex> lock(mu_);
    if (!has_version_ || version > version_) {
      ClearLocked();
      version_ = version;
      has_version_ = true;
    }
    if (version != version_) return;
    if (stats_.bytes + bytes > max_bytes_) {
      ClearLocked();
    } else if (slot.map_.size() >= max_entries_) {
      stats_.entries -= slot.map_.size();
      stats_.bytes -= slot.bytes_;
      slot.map_.clear();
      slot.bytes_ = 0;
    }
    auto [it, inserted] = slot.map_.try_emplace(key);
    if (inserted) {
      ++stats_.entries;
    } else {
      // Same key again at the same version (two threads missed at once): keep one.
      return;
    }
    it->second = std::move(entry);
    slot.bytes_ += bytes;
    stats_.bytes += bytes;
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
  Slot<std::string, bool> credential_absent;  // ids with no credential row (value unused)
  Slot<std::string, std::set<std::string>> groups_of;

 private:
  void ClearLocked() {
    Clear(effective);
    Clear(user_by_id);
    Clear(user_by_identity);
    Clear(credential);
    Clear(credential_absent);
    Clear(groups_of);
    stats_.entries = 0;
    stats_.bytes = 0;
  }
  template <typename K, typename V>
  static void Clear(Slot<K, V>& slot) {
    slot.map_.clear();
    slot.bytes_ = 0;
  }

  const size_t max_entries_;
  const size_t max_bytes_;
  mutable std::mutex mu_;
  bool has_version_ = false;
  uint64_t version_ = 0;
  Stats stats_;
};

}  // namespace kms::policy
