// TicketService: the KMS (RFC 6043 §4.2.1 Ticket Request, §4.2.3 Ticket Resolve; spec §7.1,
// §7.2). Stateless per ticket: everything needed to resolve travels in the ticket, sealed
// under the ticket protection key in the token; the KMS keeps only a bounded replay cache
// and a bounded per-user request counter (architecture.md §1 claim 2).
//
// Every request is decided and audited before it is answered; if the audit cannot be made
// durable the request fails (kUnavailable, HTTP 503) and no ticket bytes leave the KMS.
// Refusals look alike to the client (one unauthenticated MIKEY Error, "Auth failure")
// whatever their cause (unknown user, bad MAC, policy, ticket not resolvable); the audit
// row records the true reason.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "src/base/clock.h"
#include "src/core/kms_options.h"
#include "src/core/message_handler.h"
#include "src/core/ports/audit_sink.h"
#include "src/core/ports/key_vault.h"
#include "src/core/ports/policy_store.h"
#include "src/core/ports/replay_cache.h"
#include "src/core/request_counter.h"
#include "src/crypto/random.h"
#include "src/mikey/key_data.h"
#include "src/mikey/message.h"

namespace kms::core {

// ServicePorts: the adapters the service runs on; all must outlive it.
struct ServicePorts {
  ports::KeyVault& vault;
  ports::PolicyStore& policy;
  ports::AuditSink& audit;
  ports::ReplayCache& replay;
  const Clock& clock;
  crypto::Random& random;  // the token RNG in production (VaultRandom)
};

// GenerateWrappedDecoy: the timing decoy of a service whose credentials are stored wrapped:
// a random key generated in the token and wrapped under the KEK, with a random id; never
// stored (TicketService::EqualizeTiming; kmsd: src/daemon/timing_decoy.h).
Result<ports::WrappedCredential> GenerateWrappedDecoy(ports::KeyVault& vault,
                                                      crypto::Random& random);

class TicketService final : public MessageHandler {
 public:
  TicketService(ServicePorts ports, KmsOptions options);

  Result<Reply> Handle(std::span<const uint8_t> body, const RequestContext& context) override;
  void HandleAsync(std::span<const uint8_t> body, const RequestContext& context,
                   Done done) override;
  bool Ready(std::string* why) const override;
  // SetDecoyCredential: the decoy of EqualizeTiming and Ready (kmsd makes it at start-up in
  // the form its credential storage needs: src/daemon/timing_decoy.h). Without one the
  // service generates a wrapped one on first use.
  void SetDecoyCredential(ports::WrappedCredential decoy);

  // Internal types shared by the request and resolve flows (ticket_service_*.cc).
  struct Exchange;

 private:
  // Process: decode, dispatch and decide one message (Handle and HandleAsync). An error
  // after the policy decided (token RNG, sealing) is audited as an Error row before it is
  // returned: every decision leaves a row (architecture.md §5).
  Result<Reply> Process(Exchange& ex);
  Result<Reply> Dispatch(Exchange& ex);
  Result<Reply> HandleRequestInit(Exchange& ex);
  Result<Reply> HandleResolveInit(Exchange& ex);
  // Authenticate: timestamp window, credential, MAC, replay (spec §7.1 steps 3-6). On
  // success fills the exchange; otherwise returns the reply to send.
  std::optional<Result<Reply>> Authenticate(Exchange& ex);
  // Refuse: audits `rule` and answers with an unauthenticated MIKEY Error.
  Result<Reply> Refuse(Exchange& ex, uint8_t error_no, const std::string& rule,
                       const std::string& detail = {});
  Result<Reply> Granted(Exchange& ex, std::vector<uint8_t> wire, bool adjusted,
                        const std::string& rule);
  // SealResponse: encrypts the key chain under the response keys from the PSK (label 0x02,
  // RFC 6043 §5.1.2) with a fresh T (also the KEMAC IV's T, spec §11 A3), and builds
  // HDR, T, IDRkms, {before}, KEMAC, {after}, V with the MAC over response || request
  // (RFC 6043 §5.5). `finish` runs on the encoded bytes before the MAC (e.g. the ticket MAC).
  Result<std::vector<uint8_t>> SealResponse(
      Exchange& ex, mikey::DataType type, const std::vector<mikey::KeyData>& chain,
      std::vector<mikey::Payload> before, std::vector<mikey::Payload> after,
      const std::function<Status(std::span<uint8_t>, const mikey::WireLayout&)>& finish);
  Status AuditDecision(Exchange& ex, ports::AuditOutcome outcome, const std::string& rule,
                       const std::string& detail);
  // EqualizeTiming: runs the MAC check of a known credential (open the credential, derive
  // the auth key in the token, MAC the message, compare) on a decoy credential and discards
  // the result, so that an unknown or unusable credential is not told apart by time
  // (evaluator checklist item 16; measured by `kms-bench --timing`).
  void EqualizeTiming(Exchange& ex);
  // MacMatches: RFC 6043 §5.1.2 / §5.5: derives the message auth key from the PSK in the
  // token and checks the message's MAC (constant-time compare); an error only when the
  // derivation fails (kUnavailable: the token).
  Result<bool> MacMatches(const Exchange& ex, ports::KeyRef psk, size_t psk_size);
  // DecoyCredential: a random credential generated in the token (wrapped like any stored
  // one, never in the database), made on first use; nothing if the token cannot make one.
  // Also the readiness probe's login-bound HMAC key (Ready).
  std::optional<ports::WrappedCredential> DecoyCredential() const;

  ServicePorts ports_;
  KmsOptions options_;
  RequestCounter counter_;
  mutable std::mutex decoy_mu_;  // DecoyCredential: made once, also from Ready()
  mutable std::optional<ports::WrappedCredential> decoy_;
};

}  // namespace kms::core
