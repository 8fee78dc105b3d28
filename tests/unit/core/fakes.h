// Fakes of the core's ports for unit tests (style.md: fakes only in unit tests of src/core).
// FakeKeyVault keeps keys in memory and computes HMAC with OpenSSL; the real token adapter
// is tested against SoftHSM2 in tests/integration/hsm.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "src/base/clock.h"
#include "src/core/ports/audit_sink.h"
#include "src/core/ports/key_vault.h"
#include "src/core/ports/policy_store.h"
#include "src/crypto/openssl_key_ops.h"
#include "src/crypto/random.h"

namespace kms::core::testing {

class FakeKeyVault final : public ports::KeyVault {
 public:
  ports::KeyRef AddKey(std::vector<uint8_t> bytes);
  void SetTicketKey(uint32_t version, ports::KeyRef key, bool active);
  void SetCredential(const std::string& credential_id, ports::KeyRef key);
  void SetAuditKey(uint32_t version, ports::KeyRef key) {
    audit_version_ = version;
    audit_key_ = key;
  }
  void set_unavailable(bool v) { unavailable_ = v; }
  void set_random(crypto::Random* r) { random_ = r; }
  size_t hmac_calls() const { return hmac_calls_; }

  Status Hmac(ports::KeyRef key, crypto::HmacAlg alg, std::span<const uint8_t> data,
              std::span<uint8_t> out) override;
  Status Random(std::span<uint8_t> out) override;
  Result<size_t> KeySize(ports::KeyRef key) override;
  Result<uint32_t> ActiveTicketKeyVersion() override;
  Result<ports::KeyRef> TicketKey(uint32_t version) override;
  Result<uint32_t> ActiveAuditKeyVersion() override;
  Result<ports::KeyRef> AuditKey(uint32_t version) override;
  Result<ports::KeyRef> OpenCredential(const ports::WrappedCredential& credential) override;
  Result<ports::WrappedCredential> GenerateCredential(const std::string& credential_id,
                                                      size_t key_bytes) override;
  Result<ports::WrappedCredential> ImportCredential(const std::string& credential_id,
                                                    const SecretBytes& raw_key) override;

 private:
  std::map<uint64_t, std::unique_ptr<crypto::OpenSslHmacKey>> keys_;
  std::map<uint32_t, ports::KeyRef> tpks_;
  uint32_t active_tpk_ = 0;
  uint32_t audit_version_ = 0;
  ports::KeyRef audit_key_{};
  std::map<std::string, ports::KeyRef> credentials_;
  uint64_t next_id_ = 1;
  bool unavailable_ = false;
  crypto::Random* random_ = nullptr;
  size_t hmac_calls_ = 0;
};

// FakePolicyStore: users, credentials, groups and a simple rule set. Decisions are made by
// a small rule engine here (the real, table-tested decisions live in policy/).
class FakePolicyStore final : public ports::PolicyStore {
 public:
  struct Rules {
    bool may_request = true;
    std::set<std::string> allowed_responders;  // empty: anyone
    uint32_t max_validity_s = 86400;
    bool force_forking = false;
    bool mode3_allowed = false;
  };
  int64_t AddUser(const std::string& name, std::vector<std::string> identities, bool enabled = true);
  void AddCredential(int64_t user_id, const std::string& credential_id,
                     ports::CredentialKind kind = ports::CredentialKind::kUePsk,
                     ports::CredentialState state = ports::CredentialState::kActive);
  void AddGroupMember(const std::string& group, const std::string& member);
  void SetRules(int64_t user_id, Rules rules) { rules_[user_id] = rules; }
  void SetKeyState(uint32_t version, ports::KeyState state) { tpk_states_[version] = state; }

  Result<ports::CredentialInfo> FindCredential(std::string_view credential_id) override;
  Result<ports::UserInfo> FindUserByIdentity(std::string_view public_identity) override;
  Result<ports::UserInfo> FindUserById(int64_t user_id) override;
  Result<ports::EffectivePolicy> EffectivePolicyFor(std::optional<int64_t> user_id) override;
  Result<std::set<std::string>> GroupsOf(std::string_view identity) override;
  Result<ports::KeyVersionInfo> KeyVersion(ports::KeyKind kind, uint32_t version) override;
  Result<ports::KmsPeer> FindPeer(std::string_view domain) override;
  Result<uint64_t> PolicyVersion() override { return uint64_t{7}; }
  Result<ports::Decision> AuthorizeTicketRequest(int64_t user_id,
                                                 const ports::TicketRequestFacts& facts) override;
  Result<ports::Decision> AuthorizeResolve(int64_t responder_user_id,
                                           std::optional<int64_t> ticket_initiator_user_id,
                                           const ports::ResolveFacts& facts) override;

 private:
  std::map<int64_t, ports::UserInfo> users_;
  std::map<std::string, ports::CredentialInfo> credentials_;
  std::map<std::string, std::set<std::string>> groups_;  // group -> members
  std::map<int64_t, Rules> rules_;
  std::map<uint32_t, ports::KeyState> tpk_states_;
  int64_t next_user_ = 1;
};

class FakeAuditSink final : public ports::AuditSink {
 public:
  Result<int64_t> Append(const ports::AuditRecord& record) override;
  // AppendAsync: as Append, or (set_defer) held until Release, like a group commit.
  void AppendAsync(const ports::AuditRecord& record, Done done) override;
  bool Healthy() const override { return !fail_; }
  void BeginDecision() override;
  void EndDecision() override;
  // open_decisions: BeginDecision calls not yet ended; open_at_append: that count at each
  // AppendAsync (the writer's batch window relies on it being 0 for a lone message).
  int open_decisions() const;
  std::vector<int> open_at_append() const;
  void set_fail(bool f) { fail_ = f; }
  void set_defer(bool d) { defer_ = d; }
  size_t deferred() const;
  // Release: makes the held rows durable (stored, callbacks get row ids) or fails them.
  void Release(bool durable);
  // set_keep(false): count rows without storing them (long fuzzing runs).
  void set_keep(bool k) { keep_ = k; }
  std::vector<ports::AuditRecord> records() const;

 private:
  mutable std::mutex mu_;
  std::vector<ports::AuditRecord> records_;
  size_t appended_ = 0;
  bool fail_ = false;
  bool keep_ = true;
  bool defer_ = false;
  std::vector<std::pair<ports::AuditRecord, Done>> held_;
  int open_ = 0;
  std::vector<int> open_at_append_;
};

// ScriptedRandom: returns the given values in order (each request must match the size of
// the next value); falls back to OpenSSL randomness when the script is empty if allowed.
class ScriptedRandom final : public crypto::Random {
 public:
  void Push(std::vector<uint8_t> v) { script_.push_back(std::move(v)); }
  void set_fallback(bool f) { fallback_ = f; }
  Status Fill(std::span<uint8_t> out) override;

 private:
  std::deque<std::vector<uint8_t>> script_;
  bool fallback_ = false;
  crypto::OpenSslRandom real_;
};

// ScriptedClock: returns the given instants in order, then keeps returning the last one.
class ScriptedClock final : public Clock {
 public:
  void Push(UnixTime t) { times_.push_back(t); }
  UnixTime Now() const override;

 private:
  mutable std::mutex mu_;
  mutable std::deque<UnixTime> times_;
  mutable UnixTime last_{};
};

}  // namespace kms::core::testing
