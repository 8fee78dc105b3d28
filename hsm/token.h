// Token: one PKCS#11 token reached through a P11Module (style.md "PKCS#11 RAII").
//  * one dedicated login session (never closed while connected, so pool churn never closes
//    the last session and silently logs out; C_Logout is never called in a destructor);
//  * a bounded pool of operation sessions handed out as move-only SessionLeases;
//  * the index of long-term keys (label -> handle), found once per connection; only objects
//    that pass the provenance check (hsm/key_provenance.h) are indexed, the others are
//    listed by RejectedKeyObjects() and never used;
//  * loss handling: a lost token makes every call fail with kUnavailable; the next call
//    after reconnect_interval re-finds the slot by URI, opens a new login session, logs in
//    (unless the PIN was refused: never retried) and re-finds the keys by label. A logout
//    made by anyone else in the process (login state is per application, PKCS#11 v2.40
//    §5.6) counts as a loss: it is noticed by the first call whose handle the token no
//    longer knows (SessionLease::Check) or whose search comes back empty.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "hsm/key_labels.h"
#include "hsm/p11_module.h"
#include "hsm/pkcs11.h"
#include "hsm/pkcs11_uri.h"
#include "hsm/token_config.h"
#include "src/base/result.h"

namespace kms::hsm {

class Token;

// SessionLease: exclusive use of one session for one operation (one thread per session).
// Returned to the pool on destruction unless MarkBroken() was called, in which case the
// session is closed (C_CloseSession only). While any lease is alive the token cannot be
// reconnected, so handles stay valid for the lease's lifetime.
class SessionLease {
 public:
  SessionLease(SessionLease&& other) noexcept;
  SessionLease& operator=(SessionLease&&) = delete;
  SessionLease(const SessionLease&) = delete;
  ~SessionLease();

  CK_SESSION_HANDLE handle() const { return handle_; }
  const CK_FUNCTION_LIST* fn() const;
  // MarkBroken: do not reuse this session (handle invalid, device removed, operation left
  // active, ...).
  void MarkBroken() { broken_ = true; }
  bool broken() const { return broken_; }
  // Check: FromCkRv(rv, function); a session-loss code also marks the lease broken and a
  // token-loss code marks the token lost. An invalid object/key handle also asks whether
  // the session is still logged in (CheckLoggedIn): if not, the answer is kUnavailable
  // (the token is marked lost) instead of the table's kNotFound.
  Status Check(CK_RV rv, std::string_view function);
  // CheckLoggedIn: OK while the session is in a user state (C_GetSessionInfo says
  // CKS_RO/RW_USER_FUNCTIONS). Otherwise the application was logged out behind our back (a
  // C_Logout on any session of the process, PKCS#11 v2.40 §5.6): the token is marked lost so
  // that the next call logs in again, and the answer is kUnavailable. One token call; used
  // on error paths and after searches whose result must not come from a logged-out view.
  Status CheckLoggedIn();

 private:
  friend class Token;
  SessionLease(Token* token, CK_SESSION_HANDLE handle, bool owner,
               std::shared_lock<std::shared_mutex> call_lock,
               std::unique_lock<std::mutex> owner_lock);

  Token* token_;
  CK_SESSION_HANDLE handle_;
  bool owner_;
  bool broken_ = false;
  std::chrono::steady_clock::time_point acquired_ = std::chrono::steady_clock::now();
  std::shared_lock<std::shared_mutex> call_lock_;
  std::unique_lock<std::mutex> owner_lock_;
};

struct LongTermKeyInfo {
  KeyName name;
  CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;
  size_t value_len = 0;  // CKA_VALUE_LEN, read once at connect
};

// RejectedKeyObject: an object carrying the long-term CKA_ID that the index refused (a key
// planted by someone who is not the user role, or not made by KeyManager). Label and reason
// only: never a key value.
struct RejectedKeyObject {
  std::string label;   // CKA_LABEL, non-printable bytes as '?'
  std::string reason;  // e.g. "CKA_LOCAL differs from what KeyManager generates"
};

class Token {
 public:
  // Open: parses the URI and connects (slot, login session, C_Login, key index). A wrong
  // PIN is kPermissionDenied after exactly one C_Login; a missing token kUnavailable. When
  // C_Login refused the PIN (IsPinRefusal, hsm/ck_rv.h) and out_pin_refusal is set, it
  // receives the CKR code (e.g. CKR_PIN_INCORRECT); it is left alone otherwise.
  static Result<std::unique_ptr<Token>> Open(P11Module& module, TokenConfig config,
                                             CK_RV* out_pin_refusal = nullptr);

  // ~Token: closes the pool and login sessions (C_CloseSession only). No lease may exist.
  ~Token();
  Token(const Token&) = delete;
  Token& operator=(const Token&) = delete;

  // Acquire: a pool session; waits up to acquire_timeout (kResourceExhausted after). If
  // the token is lost, tries to reconnect (rate limited), else kUnavailable.
  Result<SessionLease> Acquire();
  // AcquireOwner: the login session, exclusively. Session objects (unwrapped credentials)
  // are created here so they live as long as the connection, not as a pool session.
  Result<SessionLease> AcquireOwner();

  // LongTermKey: the cached handle and size; kNotFound for an unknown version (kUnavailable
  // while the token is lost). No token search: the index is built at connect. Without a
  // lease the answer is good for "does this version exist" only: a reconnect may follow
  // at once (C_Finalize/C_Initialize renumber every handle), so the handle could name
  // another object by the time it is used.
  Result<LongTermKeyInfo> LongTermKey(KeyKind kind, uint32_t version) const;
  // LongTermKey under a lease: the handle belongs to the connection the lease pins (no
  // reconnect can happen while a lease lives). Use this form for every handle passed to the
  // token.
  Result<LongTermKeyInfo> LongTermKey(const SessionLease& lease, KeyKind kind,
                                      uint32_t version) const;
  // ActiveVersion: the highest existing version of a kind; kNotFound if there is none.
  Result<uint32_t> ActiveVersion(KeyKind kind) const;
  std::vector<LongTermKeyInfo> LongTermKeys() const;
  // RejectedKeyObjects: the objects the last index load refused (hsm/key_provenance.h), for
  // the caller to log or alert on: their presence means someone wrote to the token.
  std::vector<RejectedKeyObject> RejectedKeyObjects() const;
  // Index updates by KeyManager after it created or destroyed a key (caller holds a lease).
  void IndexAdd(const LongTermKeyInfo& info);
  void IndexRemove(KeyName name);

  // MarkLost: the token (or login) is gone; every operation fails until a reconnect.
  void MarkLost();
  // EnsureConnected: OK when connected; otherwise one rate-limited reconnect attempt. Every
  // failure is kUnavailable, a PIN refused at a reconnect included (Open reports a refused
  // PIN as kPermissionDenied; after that it is a condition of the token, not of a request).
  Status EnsureConnected();

  bool connected() const { return connected_.load(std::memory_order_acquire); }
  // generation: increases at every successful (re)connect; handles from an older
  // generation are invalid.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  size_t pool_capacity() const;
  // sessions_in_use: pool sessions currently leased (for /metrics).
  size_t sessions_in_use() const;
  // SetLeaseObserver: called with the duration of every pool lease (one token operation
  // each) when it ends; for the token call latency histogram. Set before any Acquire.
  void SetLeaseObserver(std::function<void(double seconds)> observer) {
    lease_observer_ = std::move(observer);
  }
  const Pkcs11Uri& uri() const { return uri_; }
  // FindSlotFor: the one initialised token matching uri (uri_text names it in errors):
  // kUnavailable if none, kFailedPrecondition if several. Also used before a Token exists
  // (hsm/kek_rewrap.cc opens an SO session first).
  static Result<CK_SLOT_ID> FindSlotFor(const CK_FUNCTION_LIST* f, const Pkcs11Uri& uri,
                                        const std::string& uri_text, CK_TOKEN_INFO* out_info);
  // RefreshKeyIndex: re-reads the long-term key index from the token (keys created by
  // kmsctl in another process after this one connected). At most once per second; a call
  // within that second is a no-op returning OK.
  Status RefreshKeyIndex();
  const CK_FUNCTION_LIST* fn() const { return module_.fn(); }
  const TokenConfig& config() const { return config_; }
  // Test seam: called first thing in Acquire and AcquireOwner (e.g. to force a reconnect
  // exactly there). Set before any concurrent use; never used in production.
  void SetAcquireHookForTesting(std::function<void()> hook) { acquire_hook_ = std::move(hook); }

 private:
  friend class SessionLease;
  Token(P11Module& module, TokenConfig config, Pkcs11Uri uri);

  Status Connect(bool reinitialize);  // caller holds call_mu_ exclusively
  void Disconnect();                  // idem; closes every session we own
  Result<CK_SLOT_ID> FindSlot(CK_TOKEN_INFO* out_info);
  Status Login(CK_SESSION_HANDLE session);
  // LoadKeyIndex: searches and checks the long-term keys through lease (the login session).
  Status LoadKeyIndex(SessionLease& lease);
  void Release(CK_SESSION_HANDLE handle, bool owner, bool broken);

  P11Module& module_;
  const TokenConfig config_;
  const Pkcs11Uri uri_;

  // Readers: every lease. Writer: (re)connect, which thus never races a token call.
  mutable std::shared_mutex call_mu_;

  std::atomic<bool> connected_{false};
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> pin_refused_{false};
  std::atomic<CK_RV> pin_refusal_rv_{CKR_OK};  // set before pin_refused_

  std::mutex reconnect_mu_;  // guards last_attempt_, last_error_
  std::chrono::steady_clock::time_point last_attempt_{};
  Status last_error_;

  CK_SLOT_ID slot_ = 0;
  CK_SESSION_HANDLE owner_session_ = CK_INVALID_HANDLE;
  std::mutex owner_mu_;

  mutable std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::vector<CK_SESSION_HANDLE> idle_;
  size_t open_ = 0;
  size_t capacity_ = 0;

  mutable std::shared_mutex index_mu_;
  std::map<std::pair<KeyKind, uint32_t>, LongTermKeyInfo> index_;
  std::vector<RejectedKeyObject> rejected_;
  std::atomic<int64_t> last_refresh_ns_{0};

  std::function<void(double)> lease_observer_;
  std::function<void()> acquire_hook_;
};

}  // namespace kms::hsm
