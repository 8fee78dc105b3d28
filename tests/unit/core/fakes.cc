#include "tests/unit/core/fakes.h"

#include <algorithm>
#include <cstring>

namespace kms::core::testing {

ports::KeyRef FakeKeyVault::AddKey(std::vector<uint8_t> bytes) {
  auto key = crypto::OpenSslHmacKey::Create(SecretBytes::CopyFrom(bytes));
  const uint64_t id = next_id_++;
  keys_[id] = std::move(key).value();
  return ports::KeyRef{id};
}

void FakeKeyVault::SetTicketKey(uint32_t version, ports::KeyRef key, bool active) {
  tpks_[version] = key;
  if (active) {
    active_tpk_ = version;
  }
}

void FakeKeyVault::SetCredential(const std::string& credential_id, ports::KeyRef key) {
  credentials_[credential_id] = key;
}

Status FakeKeyVault::Hmac(ports::KeyRef key, crypto::HmacAlg alg, std::span<const uint8_t> data,
                          std::span<uint8_t> out) {
  if (unavailable_) {
    return UnavailableError("C_Sign: CKR_DEVICE_REMOVED");
  }
  auto it = keys_.find(key.id);
  if (it == keys_.end()) {
    return NotFoundError("no such key");
  }
  ++hmac_calls_;
  return it->second->Hmac(alg, data, out);
}

Status FakeKeyVault::Random(std::span<uint8_t> out) {
  if (unavailable_) {
    return UnavailableError("C_GenerateRandom: CKR_DEVICE_REMOVED");
  }
  if (random_ != nullptr) {
    return random_->Fill(out);
  }
  crypto::OpenSslRandom r;
  return r.Fill(out);
}

Result<size_t> FakeKeyVault::KeySize(ports::KeyRef key) {
  auto it = keys_.find(key.id);
  if (it == keys_.end()) {
    return NotFoundError("no such key");
  }
  return it->second->key_size();
}

Result<uint32_t> FakeKeyVault::ActiveTicketKeyVersion() {
  if (unavailable_) {
    return UnavailableError("token gone");
  }
  if (active_tpk_ == 0) {
    return NotFoundError("no TPK");
  }
  return active_tpk_;
}

Result<ports::KeyRef> FakeKeyVault::TicketKey(uint32_t version) {
  if (unavailable_) {
    return UnavailableError("token gone");
  }
  auto it = tpks_.find(version);
  if (it == tpks_.end()) {
    return NotFoundError("no such TPK version");
  }
  return it->second;
}

Result<uint32_t> FakeKeyVault::ActiveAuditKeyVersion() {
  if (unavailable_) {
    return UnavailableError("token gone");
  }
  if (audit_version_ == 0) {
    return NotFoundError("no audit key");
  }
  return audit_version_;
}

Result<ports::KeyRef> FakeKeyVault::AuditKey(uint32_t version) {
  if (audit_version_ == 0 || version != audit_version_) {
    return NotFoundError("no such audit key version");
  }
  return audit_key_;
}

Result<ports::KeyRef> FakeKeyVault::OpenCredential(const ports::WrappedCredential& credential) {
  if (unavailable_) {
    return UnavailableError("C_UnwrapKey: CKR_DEVICE_REMOVED");
  }
  auto it = credentials_.find(credential.credential_id);
  if (it == credentials_.end()) {
    return NotFoundError("credential not in token");
  }
  return it->second;
}

Result<ports::WrappedCredential> FakeKeyVault::GenerateCredential(const std::string& credential_id,
                                                                  size_t key_bytes) {
  if (unavailable_) {
    return UnavailableError("C_GenerateKey: CKR_DEVICE_REMOVED");
  }
  // A fixed pattern is enough for a fake: the core uses generated credentials only as the
  // decoy of its timing equalization (TicketService::EqualizeTiming). One key per id: the
  // fuzzer builds a TicketService (and so asks for a decoy) per input.
  if (credentials_.count(credential_id) == 0) {
    SetCredential(credential_id, AddKey(std::vector<uint8_t>(key_bytes, 0xd0)));
  }
  return ports::WrappedCredential{credential_id, 1,
                                  std::vector<uint8_t>(credential_id.begin(), credential_id.end())};
}

Result<ports::WrappedCredential> FakeKeyVault::ImportCredential(const std::string&,
                                                                const SecretBytes&) {
  return InternalError("not in fake");
}

int64_t FakePolicyStore::AddUser(const std::string& name, std::vector<std::string> identities,
                                 bool enabled) {
  ports::UserInfo u;
  u.user_id = next_user_++;
  u.name = name;
  u.private_identity = name + "@ims.example.org";
  u.public_identities = std::move(identities);
  u.enabled = enabled;
  users_[u.user_id] = u;
  rules_[u.user_id] = Rules{};
  return u.user_id;
}

void FakePolicyStore::AddCredential(int64_t user_id, const std::string& credential_id,
                                    ports::CredentialKind kind, ports::CredentialState state) {
  ports::CredentialInfo c;
  c.user_id = user_id;
  c.kind = kind;
  c.wrapped.credential_id = credential_id;
  c.state = state;
  credentials_[credential_id] = c;
}

void FakePolicyStore::AddGroupMember(const std::string& group, const std::string& member) {
  groups_[group].insert(member);
}

Result<ports::CredentialInfo> FakePolicyStore::FindCredential(std::string_view credential_id) {
  auto it = credentials_.find(std::string(credential_id));
  if (it == credentials_.end()) {
    return NotFoundError("unknown credential");
  }
  return it->second;
}

Result<ports::UserInfo> FakePolicyStore::FindUserByIdentity(std::string_view identity) {
  for (const auto& [id, u] : users_) {
    if (std::find(u.public_identities.begin(), u.public_identities.end(), identity) !=
        u.public_identities.end()) {
      return u;
    }
  }
  return NotFoundError("unknown identity");
}

Result<ports::UserInfo> FakePolicyStore::FindUserById(int64_t user_id) {
  auto it = users_.find(user_id);
  if (it == users_.end()) {
    return NotFoundError("unknown user");
  }
  return it->second;
}

Result<ports::EffectivePolicy> FakePolicyStore::EffectivePolicyFor(std::optional<int64_t>) {
  return InternalError("not in fake");
}

Result<std::set<std::string>> FakePolicyStore::GroupsOf(std::string_view identity) {
  std::set<std::string> out;
  for (const auto& [g, members] : groups_) {
    if (members.count(std::string(identity)) != 0) {
      out.insert(g);
    }
  }
  return out;
}

Result<ports::KeyVersionInfo> FakePolicyStore::KeyVersion(ports::KeyKind kind, uint32_t version) {
  auto it = tpk_states_.find(version);
  if (kind != ports::KeyKind::kTpk || it == tpk_states_.end()) {
    return NotFoundError("unknown key version");
  }
  ports::KeyVersionInfo info;
  info.kind = kind;
  info.version = version;
  info.state = it->second;
  return info;
}

Result<ports::KmsPeer> FakePolicyStore::FindPeer(std::string_view) {
  return NotFoundError("no peers");
}

Result<ports::Decision> FakePolicyStore::AuthorizeTicketRequest(
    int64_t user_id, const ports::TicketRequestFacts& facts) {
  const Rules& r = rules_[user_id];
  ports::Decision d;
  if (!r.may_request) {
    d.rule = "user.may_not_request";
    return d;
  }
  for (const std::string& resp : facts.responders) {
    if (!r.allowed_responders.empty() && r.allowed_responders.count(resp) == 0) {
      d.rule = "responder.not_allowed";
      return d;
    }
  }
  d.verdict = ports::Verdict::kAllow;
  d.rule = "allow";
  d.granted_forking = facts.forking_requested || r.force_forking;
  d.granted_reuse = facts.reuse_requested;
  d.granted_validity_s = facts.requested_validity_s == 0
                             ? r.max_validity_s
                             : std::min(facts.requested_validity_s, r.max_validity_s);
  d.granted_apps = facts.apps;
  if (r.force_forking && !facts.forking_requested) {
    d.verdict = ports::Verdict::kAdjust;
    d.rule = "forking.required";
    d.k_flag = true;
  }
  return d;
}

Result<ports::Decision> FakePolicyStore::AuthorizeResolve(
    int64_t, std::optional<int64_t> initiator, const ports::ResolveFacts& facts) {
  ports::Decision d;
  if (!facts.kms_generated && (!initiator || !rules_[*initiator].mode3_allowed)) {
    d.rule = "mode3.not_allowed";
    return d;
  }
  bool named = false;
  for (const std::string& r : facts.ticket_responders) {
    named = named || r == facts.responder || facts.responder_groups.count(r) != 0;
  }
  if (!named) {
    d.rule = "responder.not_in_ticket";
    return d;
  }
  d.verdict = ports::Verdict::kAllow;
  d.rule = "allow";
  return d;
}

Result<int64_t> FakeAuditSink::Append(const ports::AuditRecord& record) {
  std::lock_guard<std::mutex> lock(mu_);
  if (fail_) {
    return UnavailableError("audit disk full");
  }
  ++appended_;
  if (keep_) {
    records_.push_back(record);
  }
  return static_cast<int64_t>(appended_);
}

void FakeAuditSink::BeginDecision() {
  std::lock_guard<std::mutex> lock(mu_);
  ++open_;
}

void FakeAuditSink::EndDecision() {
  std::lock_guard<std::mutex> lock(mu_);
  --open_;
}

int FakeAuditSink::open_decisions() const {
  std::lock_guard<std::mutex> lock(mu_);
  return open_;
}

std::vector<int> FakeAuditSink::open_at_append() const {
  std::lock_guard<std::mutex> lock(mu_);
  return open_at_append_;
}

void FakeAuditSink::AppendAsync(const ports::AuditRecord& record, Done done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    open_at_append_.push_back(open_);
    if (defer_) {
      held_.emplace_back(record, std::move(done));
      return;
    }
  }
  done(Append(record));
}

size_t FakeAuditSink::deferred() const {
  std::lock_guard<std::mutex> lock(mu_);
  return held_.size();
}

void FakeAuditSink::Release(bool durable) {
  std::vector<std::pair<ports::AuditRecord, Done>> now;
  {
    std::lock_guard<std::mutex> lock(mu_);
    now.swap(held_);
  }
  for (auto& [record, done] : now) {
    done(durable ? Append(record) : Result<int64_t>(UnavailableError("audit fsync failed")));
  }
}

std::vector<ports::AuditRecord> FakeAuditSink::records() const {
  std::lock_guard<std::mutex> lock(mu_);
  return records_;
}

Status ScriptedRandom::Fill(std::span<uint8_t> out) {
  if (script_.empty()) {
    if (fallback_) {
      return real_.Fill(out);
    }
    return InternalError("scripted random exhausted");
  }
  if (script_.front().size() != out.size()) {
    return InternalError("scripted random: size mismatch, wanted " +
                         std::to_string(out.size()) + " have " +
                         std::to_string(script_.front().size()));
  }
  std::memcpy(out.data(), script_.front().data(), out.size());
  script_.pop_front();
  return Status::Ok();
}

UnixTime ScriptedClock::Now() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!times_.empty()) {
    last_ = times_.front();
    times_.pop_front();
  }
  return last_;
}

}  // namespace kms::core::testing
