#include "src/daemon/key_selection.h"

namespace kms::daemon {
namespace {

const char* KindName(ports::KeyKind kind) { return kind == ports::KeyKind::kTpk ? "tpk" : "audit"; }

}  // namespace

void PinnedKeyVault::Pin(ports::KeyKind kind, uint32_t version) {
  if (kind == ports::KeyKind::kKek) return;  // kmsd never picks a KEK for new work
  pinned_[Slot(kind)].store(version, std::memory_order_release);
}

std::optional<uint32_t> PinnedKeyVault::Pinned(ports::KeyKind kind) const {
  if (kind == ports::KeyKind::kKek) return std::nullopt;
  const uint64_t v = pinned_[Slot(kind)].load(std::memory_order_acquire);
  if (v == kUnpinned) return std::nullopt;
  return static_cast<uint32_t>(v);
}

Result<uint32_t> PinnedKeyVault::ActiveTicketKeyVersion() {
  tpk_uses_.fetch_add(1, std::memory_order_relaxed);
  if (auto v = Pinned(ports::KeyKind::kTpk)) return *v;
  return inner_.ActiveTicketKeyVersion();
}

Result<uint32_t> PinnedKeyVault::ActiveAuditKeyVersion() {
  if (auto v = Pinned(ports::KeyKind::kAudit)) return *v;
  return inner_.ActiveAuditKeyVersion();
}

void KeyWatcher::Emit(const char* level, const char* event, std::initializer_list<Field> fields) {
  if (hooks_.log) {
    hooks_.log(level, event, fields);
  } else {
    Log(level, event, fields);
  }
}

void KeyWatcher::Poll() {
  PollKind(ports::KeyKind::kTpk);
  PollKind(ports::KeyKind::kAudit);
  CountAndRotate();
}

void KeyWatcher::FlushUsage() {
  const std::optional<uint32_t> v = vault_.Pinned(ports::KeyKind::kTpk);
  unsaved_uses_ += vault_.TakeTicketKeyUses();
  if (!v || !hooks_.add_usage || unsaved_uses_ == 0) return;
  if (hooks_.add_usage(ports::KeyKind::kTpk, *v, static_cast<int64_t>(unsaved_uses_)).ok()) {
    unsaved_uses_ = 0;
  }
}

void KeyWatcher::CountAndRotate() {
  const std::optional<uint32_t> v = vault_.Pinned(ports::KeyKind::kTpk);
  if (hooks_.tpk_max_uses == 0 || !hooks_.add_usage || !hooks_.rotate || !v) {
    vault_.TakeTicketKeyUses();  // nothing to count against
    return;
  }
  unsaved_uses_ += vault_.TakeTicketKeyUses();
  // A failed write keeps the uses for the next tick (the count only ever errs high).
  Result<int64_t> total =
      hooks_.add_usage(ports::KeyKind::kTpk, *v, static_cast<int64_t>(unsaved_uses_));
  if (!total.ok()) return;
  unsaved_uses_ = 0;
  if (static_cast<uint64_t>(*total) < hooks_.tpk_max_uses) return;
  const auto now = std::chrono::steady_clock::now();
  if (last_rotation_attempt_ && now - *last_rotation_attempt_ < std::chrono::minutes(1)) return;
  last_rotation_attempt_ = now;
  Emit("info", "key_rotation_due",
       {{"kind", "tpk"},
        {"version", std::to_string(*v)},
        {"uses", std::to_string(*total)},
        {"limit", std::to_string(hooks_.tpk_max_uses)}});
  if (Status s = hooks_.rotate(ports::KeyKind::kTpk); !s.ok()) {
    Emit("error", "key_rotation_failed", {{"kind", "tpk"}, {"reason", s.message()}});
    return;
  }
  last_rotation_attempt_.reset();
  PollKind(ports::KeyKind::kTpk);  // switch to the new version now, not a tick later
}

bool KeyWatcher::TokenHas(ports::KeyKind kind, uint32_t version) {
  return kind == ports::KeyKind::kTpk ? vault_.TicketKey(version).ok()
                                      : vault_.AuditKey(version).ok();
}

void KeyWatcher::PollKind(ports::KeyKind kind) {
  const size_t slot = kind == ports::KeyKind::kTpk ? 0 : 1;
  Result<std::optional<uint32_t>> newest = hooks_.newest_registered(kind);
  if (!newest.ok()) {
    if (!read_failing_) {
      Emit("warning", "key_watch_failed",
           {{"kind", KindName(kind)}, {"reason", newest.status().message()}});
    }
    read_failing_ = true;
    return;
  }
  read_failing_ = false;
  // No registered version (a database from before `kmsctl init` registered the token's keys):
  // keep the token's highest version, as before.
  if (!newest->has_value()) return;
  const uint32_t want = **newest;
  const std::optional<uint32_t> pinned = vault_.Pinned(kind);
  if (pinned == want) return;
  // A version created after kmsd indexed the token (kmsctl key rotate while kmsd runs): one
  // re-read of the index, repeated at most once a minute while the version stays missing.
  const auto now = std::chrono::steady_clock::now();
  const bool may_refresh =
      reported_missing_[slot] != want || now - last_refresh_[slot] >= std::chrono::minutes(1);
  bool has = TokenHas(kind, want);
  if (!has && may_refresh) {
    last_refresh_[slot] = now;
    has = hooks_.refresh_token_index().ok() && TokenHas(kind, want);
  }
  if (!has) {
    if (reported_missing_[slot] != want) {
      Emit("warning", "key_version_missing",
           {{"kind", KindName(kind)},
            {"version", std::to_string(want)},
            {"using", pinned ? std::to_string(*pinned) : "the token's highest"}});
      reported_missing_[slot] = want;
    }
    return;
  }
  vault_.Pin(kind, want);
  reported_missing_[slot].reset();
  Emit("info", "key_version_active",
       {{"kind", KindName(kind)},
        {"version", std::to_string(want)},
        {"previous", pinned ? std::to_string(*pinned) : "none"}});
}

}  // namespace kms::daemon
