#include "src/core/ticket_service.h"

#include <chrono>
#include <utility>

#include "src/base/encoding.h"
#include "src/core/error_reply.h"
#include "src/core/exchange.h"
#include "src/core/vault_adapters.h"
#include "src/crypto/digest.h"
#include "src/crypto/key_derivation.h"
#include "src/crypto/mac.h"
#include "src/mikey/decoder.h"
#include "src/mikey/mac_coverage.h"

namespace kms::core {
namespace {

constexpr auto kAuthFailure = static_cast<uint8_t>(mikey::ErrorNo::kAuthFailure);
constexpr auto kInvalidTs = static_cast<uint8_t>(mikey::ErrorNo::kInvalidTs);
constexpr auto kInvalidDt = static_cast<uint8_t>(mikey::ErrorNo::kInvalidDt);
constexpr auto kUnparseable = static_cast<uint8_t>(mikey::ErrorNo::kUnsupportedMessageType);

const char* ActionName(mikey::DataType t) {
  switch (t) {
    case mikey::DataType::kRequestInitPsk: return "REQUEST_INIT_PSK";
    case mikey::DataType::kRequestInitPk: return "REQUEST_INIT_PK";
    case mikey::DataType::kResolveInitPsk: return "RESOLVE_INIT_PSK";
    case mikey::DataType::kResolveInitPk: return "RESOLVE_INIT_PK";
    default: return "UNEXPECTED_DATA_TYPE";
  }
}

}  // namespace

Result<uint64_t> NtpNow(const Clock& clock) { return ToNtp64(clock.Now()); }

Result<UnixTime> TimeOf(mikey::TsType type, uint64_t value) {
  switch (type) {
    case mikey::TsType::kNtpUtc:
    case mikey::TsType::kNtp:
      return FromNtp64(value);
    case mikey::TsType::kNtpUtc32:
      return FromNtp32(static_cast<uint32_t>(value));
    case mikey::TsType::kCounter:
      break;
  }
  return InvalidArgumentError("COUNTER timestamps carry no time");
}

std::string Text(std::span<const uint8_t> bytes) { return {bytes.begin(), bytes.end()}; }

std::string JoinIdentities(const std::vector<std::string>& ids) {
  std::string out;
  for (const std::string& id : ids) {
    if (!out.empty()) {
      out += ';';
    }
    out += id;
  }
  return out;
}

TicketService::TicketService(ServicePorts ports, KmsOptions options)
    : ports_(ports), options_(std::move(options)), counter_(options_.rate_counter_users) {}

bool TicketService::Ready(std::string* why) const {
  uint8_t probe[1];
  if (!ports_.vault.Random(probe).ok()) {
    *why = "token unavailable";
    return false;
  }
  // The RNG answers without a login (SoftHSM2), so a logout by anything else in the process
  // (PKCS#11 login state is per application) would go unnoticed until a request failed. An
  // HMAC under the timing decoy (a private session object, like the credentials) needs the
  // login; the vault's recovery (hsm/token_key_vault.h) then logs in again on the next call.
  uint8_t mac[32];
  const std::optional<ports::WrappedCredential> decoy = DecoyCredential();
  auto key = decoy ? ports_.vault.OpenCredential(*decoy)
                   : Result<ports::KeyRef>(UnavailableError("no decoy credential"));
  if (!key.ok() || !ports_.vault.Hmac(*key, crypto::HmacAlg::kSha256, probe, mac).ok()) {
    *why = "token unavailable (not logged in)";
    return false;
  }
  if (!ports_.audit.Healthy()) {
    *why = "audit writer unhealthy";
    return false;
  }
  if (!ports_.policy.PolicyVersion().ok()) {
    *why = "policy store unavailable";
    return false;
  }
  return true;
}

Status TicketService::AuditDecision(Exchange& ex, ports::AuditOutcome outcome,
                                    const std::string& rule, const std::string& detail) {
  ex.audit_attempted = true;
  ports::AuditRecord r;
  r.time = ex.received;
  // Only authenticated identities are named as the actor; what an unauthenticated client
  // claimed goes into the detail, marked as a claim (it may name anyone).
  r.actor = ex.authenticated ? "ue:" + ex.identity : "ue:unauthenticated";
  r.action = ex.action;
  r.initiator = ex.initiator;
  std::string claims;
  if (!ex.authenticated && !ex.identity.empty()) {
    claims = "claimed identity " + ex.identity;
  }
  if (ex.initiator.empty() && !ex.claimed_initiator.empty()) {
    claims += (claims.empty() ? "" : "; ") + std::string("unverified ticket IDRi ") +
              ex.claimed_initiator;
  }
  r.responder = ex.responders;
  r.credential_id = ex.credential_id;
  r.ticket_id = ex.ticket_id;
  r.outcome = outcome;
  r.rule = rule;
  r.policy_version = ex.policy_version;
  r.correlation_id = ex.ctx.correlation_id;
  r.detail = claims.empty() ? detail : (detail.empty() ? claims : detail + "; " + claims);
  r.replay = ex.replay_mark;
  if (ex.defer_audit) {
    // HandleAsync appends it after the reply is built and releases the reply on durability.
    ex.deferred_audit = std::move(r);
    return Status::Ok();
  }
  auto row = ports_.audit.Append(r);
  if (!row.ok()) {
    // Fail closed (architecture.md §5): no answer without a durable audit row.
    return UnavailableError("audit write failed: " + row.status().message());
  }
  return Status::Ok();
}

Result<Reply> TicketService::Refuse(Exchange& ex, uint8_t error_no, const std::string& rule,
                                    const std::string& detail) {
  const bool decode_failure = !ex.decoded;
  KMS_RETURN_IF_ERROR(AuditDecision(
      ex, decode_failure ? ports::AuditOutcome::kError : ports::AuditOutcome::kDenied, rule,
      detail));
  KMS_ASSIGN_OR_RETURN(uint64_t now, NtpNow(ports_.clock));
  KMS_ASSIGN_OR_RETURN(std::vector<uint8_t> body,
                       BuildErrorMessage(ex.hdr, static_cast<mikey::ErrorNo>(error_no), now));
  Reply reply;
  reply.body = std::move(body);
  reply.request_data_type = ex.decoded ? static_cast<uint8_t>(ex.hdr->data_type) : 0xff;
  reply.is_error = true;
  reply.result = decode_failure ? "error" : "refused";
  return reply;
}

Result<Reply> TicketService::Granted(Exchange& ex, std::vector<uint8_t> wire, bool adjusted,
                                     const std::string& rule) {
  KMS_RETURN_IF_ERROR(AuditDecision(
      ex, adjusted ? ports::AuditOutcome::kAdjusted : ports::AuditOutcome::kGranted, rule, {}));
  Reply reply;
  reply.body = std::move(wire);
  reply.request_data_type = static_cast<uint8_t>(ex.hdr->data_type);
  reply.result = "granted";
  return reply;
}

Result<Reply> TicketService::Handle(std::span<const uint8_t> body,
                                    const RequestContext& context) {
  Exchange ex(body, context);
  return Process(ex);
}

void TicketService::HandleAsync(std::span<const uint8_t> body, const RequestContext& context,
                                Done done) {
  Exchange ex(body, context);
  ex.defer_audit = true;
  // The decision is open for the sink's group-commit window until Process returns (or
  // throws), and closed before the append, so the append's wake-up sees the count drop.
  Result<Reply> reply = [&] {
    struct OpenDecision {
      explicit OpenDecision(ports::AuditSink& a) : audit(a) { audit.BeginDecision(); }
      ~OpenDecision() { audit.EndDecision(); }
      OpenDecision(const OpenDecision&) = delete;
      OpenDecision& operator=(const OpenDecision&) = delete;
      ports::AuditSink& audit;
    } decision(ports_.audit);
    return Process(ex);
  }();
  if (!ex.deferred_audit.has_value()) {
    done(std::move(reply));  // nothing decided, so nothing to audit (e.g. token down)
    return;
  }
  // Architecture.md §5: the reply (or the error that followed a decision) leaves only once
  // its audit row is durable; the caller's thread is free meanwhile (the HTTP front end
  // suspends the connection).
  ports_.audit.AppendAsync(*ex.deferred_audit, [reply = std::move(reply), done = std::move(done)](
                                                   Result<int64_t> row) mutable {
    if (!row.ok()) {
      done(UnavailableError("audit write failed: " + row.status().message()));
      return;
    }
    done(std::move(reply));
  });
}

Result<Reply> TicketService::Process(Exchange& ex) {
  Result<Reply> reply = Dispatch(ex);
  if (!reply.ok() && ex.decided && !ex.audit_attempted) {
    // The policy had decided, then something failed (e.g. the token RNG): the client gets
    // the error status, the trail gets the decision with its outcome.
    KMS_RETURN_IF_ERROR(AuditDecision(ex, ports::AuditOutcome::kError, "error.after_decision",
                                      reply.status().message()));
  }
  return reply;
}

Result<Reply> TicketService::Dispatch(Exchange& ex) {
  ex.received = ports_.clock.Now();
  auto decoded = mikey::Decode(ex.wire, options_.decode_limits);
  if (!decoded.ok()) {
    // RFC 6043 §5.4: a fatal parse error SHOULD be answered with an Error message, whose
    // HDR copies the message's when that much parsed (spec §2.9, §11 A12), so the client
    // can match it to its request by CSB ID.
    if (auto hdr = mikey::DecodeHdr(ex.wire); hdr.ok()) {
      ex.hdr = std::move(hdr).value();
    }
    return Refuse(ex, decoded.status().detail().value_or(kUnparseable), "decode",
                  decoded.status().message());
  }
  ex.msg = std::move(decoded).value();
  ex.hdr = ex.msg.hdr;
  ex.decoded = true;
  ex.action = ActionName(ex.msg.hdr.data_type);
  // One policy snapshot for the whole message (4 lookups per request, 9 per resolve): a
  // consistent view, and one read transaction instead of one per lookup (issue 10).
  const std::unique_ptr<ports::PolicyStore::ReadScope> read_scope = ports_.policy.OpenReadScope();
  switch (ex.msg.hdr.data_type) {
    case mikey::DataType::kRequestInitPsk:
      return HandleRequestInit(ex);
    case mikey::DataType::kResolveInitPsk:
      return HandleResolveInit(ex);
    case mikey::DataType::kError:
      // Spec §2.9 / RFC 6043 §5.4: Errors are never sent in response to Error messages.
      // Audited, and refused at the transport level instead (kInvalidArgument: HTTP 400).
      KMS_RETURN_IF_ERROR(
          AuditDecision(ex, ports::AuditOutcome::kDenied, "data_type.error_not_answered", {}));
      return InvalidArgumentError("a MIKEY Error message is not answered");
    default:
      // PK variants (spec §11 A17) and any message a KMS does not receive.
      return Refuse(ex, kInvalidDt, "data_type.unsupported");
  }
}

Result<bool> TicketService::MacMatches(const Exchange& ex, ports::KeyRef psk, size_t psk_size) {
  const bool is_request = ex.msg.hdr.data_type == mikey::DataType::kRequestInitPsk;
  // RFC 6043 §5.1.2: auth_key from the PSK with label 0x01 and this exchange's RAND.
  VaultKeyOps ops(ports_.vault, psk, psk_size);
  const crypto::KeyOps* blocks[] = {&ops};
  crypto::MessageLabelInput in{
      ex.msg.hdr.csb_id, crypto::MessageRole::kInitial,
      is_request ? std::span<const uint8_t>(ex.rand) : std::span<const uint8_t>(),
      is_request ? std::span<const uint8_t>() : std::span<const uint8_t>(ex.rand)};
  KMS_ASSIGN_OR_RETURN(auto auth_key,
                       crypto::DeriveMessageAuthKey(ex.suite.prf, blocks, in, ex.suite.mac));
  // RFC 6043 §5.5: MAC over msg || Identity_(i|r) || Identity_kms, on the received bytes.
  const auto kms_id = AsBytes(options_.kms_identity);
  const auto own_id = AsBytes(ex.identity);
  auto input = is_request ? mikey::RequestInitMacInput(ex.wire, ex.msg.layout, own_id, kms_id)
                          : mikey::ResolveInitMacInput(ex.wire, ex.msg.layout, own_id, kms_id);
  auto mac = mikey::MessageMac(ex.wire, ex.msg.layout);
  return input.ok() && mac.ok() && crypto::VerifyMac(ex.suite.mac, auth_key, *input, *mac).ok();
}

void TicketService::SetDecoyCredential(ports::WrappedCredential decoy) {
  std::lock_guard<std::mutex> lock(decoy_mu_);
  decoy_ = std::move(decoy);
}

Result<ports::WrappedCredential> GenerateWrappedDecoy(ports::KeyVault& vault,
                                                      crypto::Random& random) {
  // A random id, so that no provisioned credential can share it (the token's session copies
  // are cached by id; a shared id would make both re-unwrap in turn). 32 bytes: a GBA
  // Ks_NAF (spec §3).
  uint8_t tag[8];
  KMS_RETURN_IF_ERROR(random.Fill(tag));
  return vault.GenerateCredential("kms-timing-decoy-" + HexEncode(tag), 32);
}

std::optional<ports::WrappedCredential> TicketService::DecoyCredential() const {
  std::lock_guard<std::mutex> lock(decoy_mu_);
  if (!decoy_) {  // retried on the next refusal if the token failed
    auto made = GenerateWrappedDecoy(ports_.vault, ports_.random);
    if (made.ok()) decoy_ = std::move(made).value();
  }
  return decoy_;
}

void TicketService::EqualizeTiming(Exchange& ex) {
  // The steps of Authenticate after the credential lookup, on the decoy; every outcome is
  // discarded. The decoy is opened like a stored credential (the token's session copy,
  // kept in the same cache), so the token work is the same kind as a real check's, not
  // work on a token object such as the TPK, which SoftHSM2 serves more slowly.
  const std::optional<ports::WrappedCredential> decoy = DecoyCredential();
  if (!decoy) return;
  auto key = ports_.vault.OpenCredential(*decoy);
  auto size = key.ok() ? ports_.vault.KeySize(*key) : Result<size_t>(key.status());
  if (!size.ok()) return;
  (void)MacMatches(ex, *key, *size);
}

std::optional<Result<Reply>> TicketService::Authenticate(Exchange& ex) {
  const bool is_request = ex.msg.hdr.data_type == mikey::DataType::kRequestInitPsk;
  const mikey::IdRole own_role = is_request ? mikey::IdRole::kInitiator : mikey::IdRole::kResponder;
  const mikey::RandRole rand_role = is_request ? mikey::RandRole::kInitiator : mikey::RandRole::kResponder;

  // RFC 6043 §4.2.1.1 / §4.2.3.1: #CS = 0 and the Empty map in Request and Resolve.
  if (ex.msg.hdr.map_type != mikey::CsIdMapType::kEmpty || ex.msg.hdr.cs_count != 0) {
    return Refuse(ex, kUnparseable, "hdr.map");
  }
  const mikey::Verification* v = ex.msg.FindV();
  const mikey::Timestamp* t = ex.msg.FindT();
  const mikey::RandR* rand = ex.msg.FindRandR(rand_role);
  if (v == nullptr || t == nullptr || rand == nullptr) {
    return Refuse(ex, kUnparseable, "payload.missing");
  }
  ex.rand = rand->rand;
  auto suite = SuiteFromMessage(ex.msg.hdr.prf, v->mac_alg);
  if (!suite.ok()) {
    return Refuse(ex, suite.status().detail().value_or(kUnparseable), "suite.mixed");
  }
  ex.suite = *suite;

  // RFC 3830 §5.4: the timestamp must lie within the allowed skew (checked again with the
  // replay cache once the message is authenticated).
  auto sent = TimeOf(t->ts_type, t->value);
  if (!sent.ok() || *sent < ex.received - options_.replay_window ||
      *sent > ex.received + options_.replay_window) {
    return Refuse(ex, kInvalidTs, "timestamp.window");
  }
  ex.sent = *sent;

  // The claimed identity (spec §8.2 item 4: always sent; IDRkms must be us).
  if (const mikey::Idr* kms = ex.msg.FindIdr(mikey::IdRole::kKms);
      kms != nullptr && Text(kms->id_data) != options_.kms_identity) {
    EqualizeTiming(ex);
    return Refuse(ex, kAuthFailure, "kms_identity.mismatch");
  }
  const mikey::Idr* own = ex.msg.FindIdr(own_role);
  const mikey::Idr* psk_id = ex.msg.FindIdr(mikey::IdRole::kPreSharedKey);
  if (own != nullptr) {
    ex.identity = Text(own->id_data);
    ex.identity_type = own->id_type;
  }
  if (psk_id == nullptr) {
    // Spec §8.2 item 3: the KMS finds the key from IDRpsk (the B-TID).
    EqualizeTiming(ex);
    return Refuse(ex, kAuthFailure, "credential.missing_id");
  }
  ex.credential_id = Text(psk_id->id_data);

  // Find the credential and its user; any failure looks the same to the client.
  auto cred = ports_.policy.FindCredential(ex.credential_id);
  if (!cred.ok()) {
    if (cred.status().code() == StatusCode::kUnavailable) {
      return Result<Reply>(cred.status());
    }
    EqualizeTiming(ex);
    return Refuse(ex, kAuthFailure, "credential.unknown");
  }
  const auto unix_s = std::chrono::duration_cast<std::chrono::seconds>(
                          ex.received.time_since_epoch()).count();
  if (cred->kind != ports::CredentialKind::kUePsk || !ports::UsableAt(*cred, unix_s)) {
    EqualizeTiming(ex);
    return Refuse(ex, kAuthFailure, "credential.unusable");
  }
  auto user = ports_.policy.FindUserById(cred->user_id);
  if (!user.ok() || !user->enabled) {
    EqualizeTiming(ex);
    return Refuse(ex, kAuthFailure, user.ok() ? "user.disabled" : "user.unknown");
  }
  ex.credential = *cred;
  ex.user = *user;
  if (ex.identity.empty()) {
    // Spec §11 A4: without IDRi/IDRr the canonical (first) public identity is used.
    if (user->public_identities.empty()) {
      return Refuse(ex, kAuthFailure, "identity.none");
    }
    ex.identity = user->public_identities.front();
  }

  auto psk = ports_.vault.OpenCredential(cred->wrapped);
  if (!psk.ok()) {
    if (psk.status().code() == StatusCode::kUnavailable) {
      return Result<Reply>(psk.status());
    }
    return Refuse(ex, kAuthFailure, "credential.unwrap", psk.status().message());
  }
  auto psk_size = ports_.vault.KeySize(*psk);
  if (!psk_size.ok()) {
    return Result<Reply>(psk_size.status());
  }
  ex.psk = *psk;
  ex.psk_size = *psk_size;

  auto matches = MacMatches(ex, ex.psk, ex.psk_size);
  if (!matches.ok()) {
    if (matches.status().code() == StatusCode::kUnavailable) {
      return Result<Reply>(matches.status());
    }
    return Refuse(ex, kAuthFailure, "mac.derive", matches.status().message());
  }
  if (!*matches) {
    return Refuse(ex, kAuthFailure, "mac.invalid");
  }
  // Only now is the content trusted. The identity must be one of the user's own.
  bool own_identity = false;
  for (const std::string& id : ex.user->public_identities) {
    own_identity = own_identity || id == ex.identity;
  }
  if (!own_identity) {
    return Refuse(ex, kAuthFailure, "identity.not_bound_to_credential");
  }
  ex.authenticated = true;
  // RFC 6043 §12.1: the RAND of the exchange must be at least as long as the PSK.
  if (ex.rand.size() < ex.psk_size) {
    return Refuse(ex, kAuthFailure, "rand.too_short");
  }
  // RFC 3830 §5.4: remember authenticated messages for the window; refuse replays.
  const crypto::Sha256Digest digest = crypto::Sha256(ex.wire);
  if (Status s = ports_.replay.CheckAndInsert(digest, ex.sent, ex.received); !s.ok()) {
    return Refuse(ex, s.detail().value_or(kInvalidTs), "replay");
  }
  ex.replay_mark = ports::ReplayMark{digest, ex.sent};
  return std::nullopt;
}

}  // namespace kms::core
