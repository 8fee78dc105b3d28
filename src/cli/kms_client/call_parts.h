// Building blocks of `kms-client call` (call_cmd.cc, call_scenarios.cc): the report that
// becomes the human or --json output, a KMS transport that counts what it sends, the
// responder side of one device, SRTP media over loopback and key fingerprints.
// Nothing here prints or stores key bytes: keys are compared in constant time and shown
// only as client::KeyFingerprint values.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "src/base/clock.h"
#include "src/base/status.h"
#include "src/cli/kms_client/steps.h"
#include "src/client/common.h"
#include "src/client/https_transport.h"
#include "src/client/initiator.h"
#include "src/client/replay_cache.h"
#include "src/client/session_keys.h"

namespace kms::cli {

// Report: numbered human lines as the call goes, or one JSON object at the end.
class Report {
 public:
  explicit Report(bool json) : json_(json) {}
  void Step(const std::string& who, const std::string& what);
  nlohmann::json& extra() { return extra_; }
  void Finish(bool ok);

 private:
  bool json_;
  nlohmann::json steps_ = nlohmann::json::array();
  nlohmann::json extra_ = nlohmann::json::object();
};

// CountingTransport: forwards to the KMS and counts the messages by MIKEY data type, so a
// call can show which exchanges really reached the KMS (e.g. none for a reused ticket).
class CountingTransport final : public client::KmsTransport {
 public:
  explicit CountingTransport(client::KmsTransport& inner) : inner_(inner) {}
  Result<std::vector<uint8_t>> Exchange(std::span<const uint8_t> mikey_request) override;
  int requests() const { return requests_; }  // REQUEST_INIT_PSK / _PK sent
  int resolves() const { return resolves_; }  // RESOLVE_INIT_PSK / _PK sent

 private:
  client::KmsTransport& inner_;
  int requests_ = 0;
  int resolves_ = 0;
};

// Party: a UE receiving the offer. `answers_for` are the identities its early checks
// accept as targeted (its own, plus a group it believes it belongs to).
struct Party {
  std::string label;  // "B#1", "member#2", "outsider#1"
  std::string role;   // "device" (of B), "member" (of the group), "outsider" (must be refused)
  client::Credentials creds;
  std::vector<std::string> answers_for;
  client::ReplayCache replay;  // the device's cache of authenticated TRANSFER_INITs
};

// DeviceResult: what one party made of one offer.
struct DeviceResult {
  std::string label, role, identity;
  Status refusal;                          // why it has no keys (OK if it answered)
  std::vector<uint8_t> transfer_resp;      // its answer (empty if refused)
  client::CallKeys keys;                   // its SRTP keys
  std::optional<client::CallKeys> a_keys;  // A's keys from this answer, if A took it
  bool answered() const { return refusal.ok(); }
};

// AnswerOffer: the responder side of one device: SDP offer -> TRANSFER_INIT (SDP IDs
// checked), early checks, RESOLVE_INIT at the KMS, TRANSFER_INIT authenticated and checked
// against the party's replay cache, TRANSFER_RESP. Returns the refusal as a Status; never
// throws away its reason.
Result<DeviceResult> AnswerOffer(client::KmsTransport& kms, const std::string& kms_id, Party& p,
                                 const std::string& offer, const client::Env& env);

// UnansweredExit: the verdict on a party that got no keys: kExitOk for an outsider whose
// refusal is of the exit-5 class (ExitFor: a MIKEY Error from the KMS, failed
// authentication, refused policy), which is what the scenario expects of it; otherwise the
// refusal's own exit code (ExitFor), e.g. 4 when the KMS was not reached, or 2 for bad
// input, since those say nothing about group membership.
int UnansweredExit(const DeviceResult& d);

// Fingerprints: {"<cs_id>": KeyFingerprint} for every crypto session.
nlohmann::json Fingerprints(const std::vector<client::CryptoSessionKeys>& s);
// SameKeys: every crypto session of `a` has an equal (constant-time) key and salt in `b`.
bool SameKeys(const std::vector<client::CryptoSessionKeys>& a,
              const std::vector<client::CryptoSessionKeys>& b);

struct MediaResult {
  int decrypted = 0;
  int auth_failures = 0;
};
// SendMedia: `n` RTP packets protected with `tx` (A's keys of CS 1) sent over loopback UDP
// to a socket where `rx` (the device's keys of CS 1) unprotects them.
Result<MediaResult> SendMedia(const client::CryptoSessionKeys& tx,
                              const client::CryptoSessionKeys& rx, int n);

// Cs1: the keys of crypto session 1 (A's sending direction), or an error naming `who`.
Result<const client::CryptoSessionKeys*> Cs1(const std::vector<client::CryptoSessionKeys>& s,
                                             const std::string& who);

// TicketId: SHA-256 of the Ticket Data in hex: the id the KMS writes into its audit rows.
std::string TicketId(const mikey::Ticket& t);
// TicketSummary: id, mode, flags, responders and end of validity (Unix seconds).
nlohmann::json TicketSummary(const mikey::Ticket& t);

}  // namespace kms::cli
