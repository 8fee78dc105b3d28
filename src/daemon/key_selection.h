// Which TPK and audit-key versions kmsd uses for new work, taken from the policy database
// rather than from "the highest version the token holds" (issue 6 §7, docs/operations.md
// "Key lifecycle"):
//  - `kmsctl key rotate tpk|audit` takes effect while kmsd runs: the main loop polls the
//    database once per tick (1 s) and switches within that time, so the TPK destroy check
//    (retired_at + the largest max_validity_s) holds without restarting kmsd;
//  - a key object left in the token by a rotation whose database commit failed (it is not
//    registered) is never used to seal tickets, which would then fail to resolve
//    (ticket.tpk_destroyed: the resolve looks the version up in the database).
#pragma once
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "src/core/ports/key_vault.h"
#include "src/core/ports/policy_store.h"
#include "src/daemon/log.h"

namespace kms::daemon {

// PinnedKeyVault: forwards everything to the token's vault, except that the active TPK and
// audit-key versions are the pinned ones once KeyWatcher has pinned them (before that, or for
// a kind the database has no active version of, the inner vault's answer: the highest
// version in the token). Reading a pin is one atomic load on the request path.
class PinnedKeyVault final : public ports::KeyVault {
 public:
  explicit PinnedKeyVault(ports::KeyVault& inner) : inner_(inner) {}

  void Pin(ports::KeyKind kind, uint32_t version);
  [[nodiscard]] std::optional<uint32_t> Pinned(ports::KeyKind kind) const;
  // TakeTicketKeyUses: how many times the active TPK version was asked for since the last
  // call (each sealed ticket, and each unknown-credential request, which does the same PRF
  // work on the TPK to hide that it was unknown); resets the count.
  uint64_t TakeTicketKeyUses() { return tpk_uses_.exchange(0, std::memory_order_relaxed); }

  Status Hmac(ports::KeyRef key, crypto::HmacAlg alg, std::span<const uint8_t> data,
              std::span<uint8_t> out) override {
    return inner_.Hmac(key, alg, data, out);
  }
  Status Random(std::span<uint8_t> out) override { return inner_.Random(out); }
  Result<size_t> KeySize(ports::KeyRef key) override { return inner_.KeySize(key); }
  Result<uint32_t> ActiveTicketKeyVersion() override;
  Result<ports::KeyRef> TicketKey(uint32_t version) override { return inner_.TicketKey(version); }
  Result<uint32_t> ActiveAuditKeyVersion() override;
  Result<ports::KeyRef> AuditKey(uint32_t version) override { return inner_.AuditKey(version); }
  Result<ports::KeyRef> OpenCredential(const ports::WrappedCredential& credential) override {
    return inner_.OpenCredential(credential);
  }
  Result<ports::WrappedCredential> GenerateCredential(const std::string& credential_id,
                                                      size_t key_bytes) override {
    return inner_.GenerateCredential(credential_id, key_bytes);
  }
  Result<ports::WrappedCredential> ImportCredential(const std::string& credential_id,
                                                    const SecretBytes& raw_key) override {
    return inner_.ImportCredential(credential_id, raw_key);
  }

 private:
  static constexpr uint64_t kUnpinned = ~uint64_t{0};
  static size_t Slot(ports::KeyKind kind) { return kind == ports::KeyKind::kTpk ? 0 : 1; }
  ports::KeyVault& inner_;
  std::array<std::atomic<uint64_t>, 2> pinned_{kUnpinned, kUnpinned};
  std::atomic<uint64_t> tpk_uses_{0};
};

// KeyWatcher: brings the pins in line with the database. Poll() is called by kmsd's main
// loop (never on the request path): for the TPK and the audit key it reads the newest
// version the database registers as active; if that differs from the pin and the token has
// the key (after one re-read of the token's key index if it does not), it is pinned and
// logged (event=key_version_active). A version the token lacks is logged once
// (event=key_version_missing) and the previous pin stays; the index is re-read for it again
// at most once a minute (a re-read takes the token's login session from the requests). A
// database read error keeps the pins too (event=key_watch_failed, once until a success).
class KeyWatcher {
 public:
  struct Hooks {
    // The newest version registered active in the database (nullopt: none registered).
    std::function<Result<std::optional<uint32_t>>(ports::KeyKind)> newest_registered;
    // Re-reads the token's key index (hsm::Token::RefreshKeyIndex).
    std::function<Status()> refresh_token_index;
    // Where log lines go; empty: daemon::Log (stderr, src/daemon/log.h).
    std::function<void(const char* level, const char* event, std::initializer_list<Field>)> log;
    // Automatic TPK rotation (evaluator checklist item 30; [keys] tpk_max_tickets, 0: off):
    // add_usage adds the uses of the pinned TPK version to its durable count and returns
    // the total; rotate creates and registers the next version (kmsctl key rotate tpk's
    // work, audited). Unset hooks: no counting, no rotation.
    uint64_t tpk_max_uses = 0;
    std::function<Result<int64_t>(ports::KeyKind, uint32_t version, int64_t delta)> add_usage;
    std::function<Status(ports::KeyKind)> rotate;
  };
  KeyWatcher(PinnedKeyVault& vault, Hooks hooks) : vault_(vault), hooks_(std::move(hooks)) {}

  // Poll: brings the pins in line with the database; then counts the TPK's uses and rotates
  // it when the count reached tpk_max_uses (at most one attempt a minute while it fails).
  void Poll();
  // FlushUsage: adds the uses not yet counted (kmsd calls it at shutdown).
  void FlushUsage();

 private:
  void CountAndRotate();
  void PollKind(ports::KeyKind kind);
  bool TokenHas(ports::KeyKind kind, uint32_t version);
  PinnedKeyVault& vault_;
  Hooks hooks_;
  void Emit(const char* level, const char* event, std::initializer_list<Field> fields);
  std::array<std::optional<uint32_t>, 2> reported_missing_;
  std::array<std::chrono::steady_clock::time_point, 2> last_refresh_{};
  std::optional<std::chrono::steady_clock::time_point> last_rotation_attempt_;
  uint64_t unsaved_uses_ = 0;  // taken from the vault, not yet in the database
  bool read_failing_ = false;
};

}  // namespace kms::daemon
