#include "hsm/token.h"

#include <algorithm>

#include "hsm/attr_template.h"
#include "hsm/ck_rv.h"
#include "hsm/find_scope.h"
#include "hsm/key_provenance.h"
#include "src/base/check.h"

namespace kms::hsm {
namespace {

constexpr CK_FLAGS kSessionFlags = CKF_SERIAL_SESSION | CKF_RW_SESSION;
// Upper bound on long-term key objects read at connect (versions of three kinds).
constexpr size_t kMaxLongTermKeys = 4096;

// IsHandleInvalid: the token does not know an object handle we hold. Besides an object
// destroyed behind our back, this is what a logged-out application sees: private objects
// are reachable only by a logged-in user (PKCS#11 v2.40 §4.4 CKA_PRIVATE), and SoftHSM2
// forgets its handles to them and destroys private session objects at C_Logout, so it
// answers these codes rather than CKR_USER_NOT_LOGGED_IN.
bool IsHandleInvalid(CK_RV rv) {
  return rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_KEY_HANDLE_INVALID ||
         rv == CKR_UNWRAPPING_KEY_HANDLE_INVALID || rv == CKR_WRAPPING_KEY_HANDLE_INVALID;
}

}  // namespace

// ---- SessionLease ----

SessionLease::SessionLease(Token* token, CK_SESSION_HANDLE handle, bool owner,
                           std::shared_lock<std::shared_mutex> call_lock,
                           std::unique_lock<std::mutex> owner_lock)
    : token_(token),
      handle_(handle),
      owner_(owner),
      call_lock_(std::move(call_lock)),
      owner_lock_(std::move(owner_lock)) {}

SessionLease::SessionLease(SessionLease&& other) noexcept
    : token_(other.token_),
      handle_(other.handle_),
      owner_(other.owner_),
      broken_(other.broken_),
      acquired_(other.acquired_),
      call_lock_(std::move(other.call_lock_)),
      owner_lock_(std::move(other.owner_lock_)) {
  other.token_ = nullptr;
}

SessionLease::~SessionLease() {
  if (token_ != nullptr) {
    if (!owner_ && token_->lease_observer_) {
      token_->lease_observer_(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - acquired_).count());
    }
    token_->Release(handle_, owner_, broken_);
  }
  // owner_lock_ and call_lock_ are released after this body, i.e. after the session is
  // back in the pool (or closed).
}

const CK_FUNCTION_LIST* SessionLease::fn() const { return token_->fn(); }

Status SessionLease::Check(CK_RV rv, std::string_view function) {
  if (rv == CKR_OK) {
    return Status::Ok();
  }
  if (IsSessionBroken(rv)) {
    broken_ = true;
  }
  if (IsTokenLost(rv)) {
    token_->MarkLost();
  }
  Status s = FromCkRv(rv, function);
  if (IsHandleInvalid(rv)) {
    // A logout is a condition of the token, never "no such key" (which the core would
    // answer as an authentication failure): kUnavailable, and the next call logs in again.
    if (Status login = CheckLoggedIn(); !login.ok()) {
      return UnavailableError(s.message() + "; " + login.message());
    }
  }
  return s;
}

Status SessionLease::CheckLoggedIn() {
  CK_SESSION_INFO info{};
  const CK_RV rv = fn()->C_GetSessionInfo(handle_, &info);
  if (rv != CKR_OK) {
    // No recursion into Check: C_GetSessionInfo has no object handle.
    if (IsSessionBroken(rv)) {
      broken_ = true;
    }
    if (IsTokenLost(rv)) {
      token_->MarkLost();
    }
    return TokenSide(FromCkRv(rv, "C_GetSessionInfo"));
  }
  if (info.state == CKS_RO_USER_FUNCTIONS || info.state == CKS_RW_USER_FUNCTIONS) {
    return Status::Ok();
  }
  token_->MarkLost();
  return UnavailableError(
      "token session no longer logged in (logged out elsewhere in this process); logging in "
      "again at the next call");
}

// ---- Token ----

Token::Token(P11Module& module, TokenConfig config, Pkcs11Uri uri)
    : module_(module), config_(std::move(config)), uri_(std::move(uri)) {}

Result<std::unique_ptr<Token>> Token::Open(P11Module& module, TokenConfig config,
                                           CK_RV* out_pin_refusal) {
  KMS_ASSIGN_OR_RETURN(Pkcs11Uri uri, ParsePkcs11Uri(config.token_uri));
  if (config.pool_size == 0) {
    return InvalidArgumentError("token pool_size must be at least 1");
  }
  std::unique_ptr<Token> token(new Token(module, std::move(config), std::move(uri)));
  {
    std::unique_lock<std::shared_mutex> lock(token->call_mu_);
    if (Status s = token->Connect(/*reinitialize=*/false); !s.ok()) {
      // The token object dies here, so the refusal code leaves through the out-parameter
      // (kmsctl audits it: FIA_AFL.1); the Status keeps its "C_Login: CKR_..." message.
      if (out_pin_refusal != nullptr && token->pin_refused_.load()) {
        *out_pin_refusal = token->pin_refusal_rv_.load();
      }
      return s;
    }
  }
  return token;
}

Token::~Token() {
  std::unique_lock<std::shared_mutex> lock(call_mu_);
  Disconnect();
}

size_t Token::pool_capacity() const {
  std::lock_guard<std::mutex> lock(pool_mu_);
  return capacity_;
}

size_t Token::sessions_in_use() const {
  std::lock_guard<std::mutex> lock(pool_mu_);
  return open_ - idle_.size();
}

void Token::Disconnect() {
  connected_.store(false, std::memory_order_release);
  const CK_FUNCTION_LIST* f = fn();
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    for (CK_SESSION_HANDLE h : idle_) {
      // Errors are expected here after a token loss; the handle is dropped either way.
      f->C_CloseSession(h);
    }
    idle_.clear();
    open_ = 0;
  }
  if (owner_session_ != CK_INVALID_HANDLE) {
    // Closing the login session ends the login (PKCS#11 v2.40 §5.6); no C_Logout.
    f->C_CloseSession(owner_session_);
    owner_session_ = CK_INVALID_HANDLE;
  }
  std::unique_lock<std::shared_mutex> lock(index_mu_);
  index_.clear();
}

Result<CK_SLOT_ID> Token::FindSlotFor(const CK_FUNCTION_LIST* f, const Pkcs11Uri& uri,
                                       const std::string& uri_text, CK_TOKEN_INFO* out_info) {
  CK_ULONG count = 0;
  CK_RV rv = f->C_GetSlotList(CK_TRUE, nullptr, &count);
  if (rv != CKR_OK) {
    return FromCkRv(rv, "C_GetSlotList");
  }
  std::vector<CK_SLOT_ID> slots(count);
  if (count > 0) {
    rv = f->C_GetSlotList(CK_TRUE, slots.data(), &count);
    if (rv != CKR_OK) {
      return FromCkRv(rv, "C_GetSlotList");
    }
    slots.resize(count);
  }
  std::optional<CK_SLOT_ID> found;
  for (CK_SLOT_ID s : slots) {
    CK_TOKEN_INFO info{};
    rv = f->C_GetTokenInfo(s, &info);
    if (rv != CKR_OK) {
      continue;  // a slot whose token vanished meanwhile does not match
    }
    if (!uri.Matches(info)) {
      continue;
    }
    // Only initialised tokens with a user PIN can serve.
    if ((info.flags & CKF_TOKEN_INITIALIZED) == 0) {
      continue;
    }
    if (found.has_value()) {
      return FailedPreconditionError("token URI " + uri_text +
                                     " matches more than one token");
    }
    found = s;
    *out_info = info;
  }
  if (!found.has_value()) {
    return UnavailableError("no token matches " + uri_text);
  }
  return *found;
}

Result<CK_SLOT_ID> Token::FindSlot(CK_TOKEN_INFO* out_info) {
  return FindSlotFor(fn(), uri_, config_.token_uri, out_info);
}

Status Token::Login(CK_SESSION_HANDLE session) {
  // Anti-pattern 3: after the token refused the PIN, never try again (it would count
  // towards locking the token); a restart with a corrected PIN is needed.
  if (pin_refused_.load()) {
    return PermissionDeniedError("token refused the PIN earlier; login is not retried");
  }
  KMS_ASSIGN_OR_RETURN(SecretBytes pin, config_.pin.Read());
  std::span<const uint8_t> p = pin.Reveal();
  // PKCS#11 takes a non-const pointer for the PIN but does not modify it.
  CK_RV rv = fn()->C_Login(session, CKU_USER, const_cast<CK_UTF8CHAR_PTR>(p.data()),
                           checked_ulong_cast(p.size()));
  if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN) {
    return Status::Ok();  // login state is per token, shared by all our sessions
  }
  if (IsPinRefusal(rv)) {
    pin_refusal_rv_.store(rv);
    pin_refused_.store(true);
  }
  return FromCkRv(rv, "C_Login");
}

Status Token::LoadKeyIndex(SessionLease& lease) {
  AttrTemplate match;
  match.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Bool(CKA_TOKEN, true)
      .String(CKA_ID, kLongTermKeyId);
  KMS_ASSIGN_OR_RETURN(std::vector<CK_OBJECT_HANDLE> handles,
                       FindAll(lease, match, kMaxLongTermKeys));
  std::map<std::pair<KeyKind, uint32_t>, LongTermKeyInfo> index;
  std::vector<RejectedKeyObject> rejected;
  for (CK_OBJECT_HANDLE h : handles) {
    RejectedKeyObject why;
    KMS_ASSIGN_OR_RETURN(std::optional<LongTermKeyInfo> info, InspectLongTermKey(lease, h, &why));
    if (!info.has_value()) {
      rejected.push_back(std::move(why));  // never used; the caller reports it
      continue;
    }
    // Two objects that both pass the provenance check were both generated in the token by
    // the user role: an operator error, not something to choose between silently.
    if (!index.emplace(std::make_pair(info->name.kind, info->name.version), *info).second) {
      return FailedPreconditionError("duplicate long-term key " +
                                     LongTermKeyLabel(info->name.kind, info->name.version));
    }
  }
  // A logged-out session finds no private object (PKCS#11 v2.40 §4.4), so its result would
  // replace the index with an empty one and every key would be kNotFound until a restart.
  // Checked after the search and the inspection, so a logout during them is seen too.
  KMS_RETURN_IF_ERROR(lease.CheckLoggedIn());
  std::unique_lock<std::shared_mutex> lock(index_mu_);
  index_ = std::move(index);
  rejected_ = std::move(rejected);
  return Status::Ok();
}

Status Token::RefreshKeyIndex() {
  const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  int64_t last = last_refresh_ns_.load();
  constexpr int64_t kMinInterval = 1'000'000'000;  // a flood of unknown versions: one search/s
  if (last != 0 && now - last < kMinInterval) {
    return Status::Ok();
  }
  if (!last_refresh_ns_.compare_exchange_strong(last, now)) {
    return Status::Ok();  // another thread refreshes right now
  }
  // The owner lease gives exclusive use of the login session LoadKeyIndex searches in.
  KMS_ASSIGN_OR_RETURN(SessionLease lease, AcquireOwner());
  return LoadKeyIndex(lease);
}

Status Token::Connect(bool reinitialize) {
  Disconnect();
  if (reinitialize) {
    KMS_RETURN_IF_ERROR(module_.Reinitialize());
  }
  CK_TOKEN_INFO info{};
  KMS_ASSIGN_OR_RETURN(slot_, FindSlot(&info));
  // The pool is bounded by what the token allows, keeping one session for the login.
  size_t capacity = config_.pool_size;
  CK_ULONG max = info.ulMaxSessionCount;
  if (max != CK_EFFECTIVELY_INFINITE && max != CK_UNAVAILABLE_INFORMATION) {
    if (max < 2) {
      return FailedPreconditionError("token allows fewer than 2 sessions");
    }
    capacity = std::min<size_t>(capacity, static_cast<size_t>(max - 1));
  }
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    capacity_ = capacity;
  }
  CK_SESSION_HANDLE owner = CK_INVALID_HANDLE;
  CK_RV rv = fn()->C_OpenSession(slot_, kSessionFlags, nullptr, nullptr, &owner);
  if (rv != CKR_OK) {
    return FromCkRv(rv, "C_OpenSession");
  }
  owner_session_ = owner;
  Status s = Login(owner_session_);
  if (s.ok()) {
    // The caller holds call_mu_ exclusively, so this lease takes no lock of its own; a
    // session- or token-loss code marks it broken like any other lease (the connect then
    // fails and is retried).
    SessionLease lease(this, owner_session_, /*owner=*/true, {}, {});
    s = LoadKeyIndex(lease);
  }
  if (!s.ok()) {
    Disconnect();
    return s;
  }
  generation_.fetch_add(1, std::memory_order_acq_rel);
  connected_.store(true, std::memory_order_release);
  return Status::Ok();
}

void Token::MarkLost() { connected_.store(false, std::memory_order_release); }

Status Token::EnsureConnected() {
  if (connected()) {
    return Status::Ok();
  }
  // After the first connect a refused PIN is a token-side condition for every caller (the
  // service cannot use the token until an operator fixes the PIN and restarts): kUnavailable,
  // never retried (anti-pattern 3).
  if (pin_refused_.load()) {
    return UnavailableError("token unavailable: it refused the PIN earlier; login is not retried");
  }
  std::unique_lock<std::mutex> attempt(reconnect_mu_, std::try_to_lock);
  if (!attempt.owns_lock()) {
    return UnavailableError("token unavailable (reconnect in progress)");
  }
  auto now = std::chrono::steady_clock::now();
  if (last_attempt_.time_since_epoch().count() != 0 &&
      now - last_attempt_ < config_.reconnect_interval) {
    return UnavailableError("token unavailable: " + last_error_.message());
  }
  last_attempt_ = now;
  // Waits for every in-flight lease: no thread is inside a call with an old handle.
  std::unique_lock<std::shared_mutex> lock(call_mu_);
  if (connected()) {
    return Status::Ok();
  }
  Status s = Connect(config_.reinitialize_module_on_loss);
  if (!s.ok()) {
    last_error_ = s;
    return UnavailableError("token unavailable: " + s.message());
  }
  last_error_ = Status::Ok();
  return Status::Ok();
}

Result<SessionLease> Token::Acquire() {
  if (acquire_hook_) {
    acquire_hook_();
  }
  if (!connected()) {
    KMS_RETURN_IF_ERROR(EnsureConnected());
  }
  std::shared_lock<std::shared_mutex> call_lock(call_mu_);
  if (!connected()) {
    return UnavailableError("token unavailable (lost)");
  }
  std::unique_lock<std::mutex> lock(pool_mu_);
  auto deadline = std::chrono::steady_clock::now() + config_.acquire_timeout;
  while (idle_.empty() && open_ >= capacity_) {
    if (pool_cv_.wait_until(lock, deadline) == std::cv_status::timeout &&
        idle_.empty() && open_ >= capacity_) {
      return ResourceExhaustedError("no token session free within the acquire timeout");
    }
  }
  if (!idle_.empty()) {
    CK_SESSION_HANDLE h = idle_.back();
    idle_.pop_back();
    return SessionLease(this, h, /*owner=*/false, std::move(call_lock), {});
  }
  ++open_;  // reserve the slot, then open outside the pool lock
  lock.unlock();
  CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
  CK_RV rv = fn()->C_OpenSession(slot_, kSessionFlags, nullptr, nullptr, &h);
  if (rv != CKR_OK) {
    lock.lock();
    --open_;
    pool_cv_.notify_one();
    lock.unlock();
    if (IsTokenLost(rv) || rv == CKR_SESSION_HANDLE_INVALID) {
      MarkLost();
    }
    return FromCkRv(rv, "C_OpenSession");
  }
  return SessionLease(this, h, /*owner=*/false, std::move(call_lock), {});
}

Result<SessionLease> Token::AcquireOwner() {
  if (acquire_hook_) {
    acquire_hook_();
  }
  std::shared_lock<std::shared_mutex> call_lock(call_mu_);
  if (!connected()) {
    return UnavailableError("token unavailable (lost)");
  }
  std::unique_lock<std::mutex> owner_lock(owner_mu_);
  return SessionLease(this, owner_session_, /*owner=*/true, std::move(call_lock),
                      std::move(owner_lock));
}

void Token::Release(CK_SESSION_HANDLE handle, bool owner, bool broken) {
  if (owner) {
    if (broken) {
      MarkLost();  // the login session is gone: reconnect (new session, new login)
    }
    return;
  }
  if (broken) {
    // Closed, never pooled; errors are irrelevant since the session is abandoned.
    fn()->C_CloseSession(handle);
  }
  std::lock_guard<std::mutex> lock(pool_mu_);
  if (broken) {
    --open_;
  } else {
    idle_.push_back(handle);
  }
  pool_cv_.notify_one();
}

Result<LongTermKeyInfo> Token::LongTermKey(KeyKind kind, uint32_t version) const {
  std::shared_lock<std::shared_mutex> lock(index_mu_);
  auto it = index_.find({kind, version});
  if (it == index_.end()) {
    if (!connected()) {
      return UnavailableError("token unavailable (lost)");
    }
    return NotFoundError("no key kms-" + std::string(KeyKindName(kind)) + "-v" +
                         std::to_string(version));
  }
  return it->second;
}

Result<LongTermKeyInfo> Token::LongTermKey(const SessionLease& lease, KeyKind kind,
                                           uint32_t version) const {
  // The lease holds call_mu_ shared (or, inside Connect, the caller holds it exclusively):
  // index_ is only rebuilt under the exclusive lock or by RefreshKeyIndex in the same
  // connection, so its handles are this lease's.
  KMS_CHECK(lease.token_ == this);
  return LongTermKey(kind, version);
}

Result<uint32_t> Token::ActiveVersion(KeyKind kind) const {
  std::shared_lock<std::shared_mutex> lock(index_mu_);
  std::optional<uint32_t> best;
  for (const auto& [key, info] : index_) {
    if (key.first == kind) {
      best = std::max(best.value_or(0), key.second);
    }
  }
  if (!best.has_value()) {
    if (!connected()) {
      return UnavailableError("token unavailable (lost)");
    }
    return NotFoundError("no kms-" + std::string(KeyKindName(kind)) + " key in the token");
  }
  return *best;
}

std::vector<RejectedKeyObject> Token::RejectedKeyObjects() const {
  std::shared_lock<std::shared_mutex> lock(index_mu_);
  return rejected_;
}

std::vector<LongTermKeyInfo> Token::LongTermKeys() const {
  std::shared_lock<std::shared_mutex> lock(index_mu_);
  std::vector<LongTermKeyInfo> out;
  out.reserve(index_.size());
  for (const auto& [key, info] : index_) {
    out.push_back(info);
  }
  return out;
}

void Token::IndexAdd(const LongTermKeyInfo& info) {
  std::unique_lock<std::shared_mutex> lock(index_mu_);
  index_[{info.name.kind, info.name.version}] = info;
}

void Token::IndexRemove(KeyName name) {
  std::unique_lock<std::shared_mutex> lock(index_mu_);
  index_.erase({name.kind, name.version});
}

}  // namespace kms::hsm
