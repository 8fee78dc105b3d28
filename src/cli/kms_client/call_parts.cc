#include "src/cli/kms_client/call_parts.h"

#include <iostream>

#include "src/base/encoding.h"
#include "src/cli/kms_client/commands.h"
#include "src/client/responder.h"
#include "src/client/sdp.h"
#include "src/client/srtp_session.h"
#include "src/client/udp_socket.h"
#include "src/crypto/digest.h"
#include "src/mikey/decoder.h"

namespace kms::cli {

void Report::Step(const std::string& who, const std::string& what) {
  steps_.push_back({{"actor", who}, {"event", what}});
  if (!json_) std::cout << "[" << steps_.size() << "] " << who << ": " << what << "\n";
}

void Report::Finish(bool ok) {
  if (json_) {
    nlohmann::json j{{"ok", ok}, {"steps", steps_}};
    j.update(extra_);
    std::cout << j.dump(2) << "\n";
  }
}

Result<std::vector<uint8_t>> CountingTransport::Exchange(std::span<const uint8_t> m) {
  // HDR byte 1 is the data type (RFC 3830 §6.1); counted before sending, so a message that
  // reached the network but got no answer still counts.
  if (m.size() > 1) {
    const auto t = static_cast<mikey::DataType>(m[1]);
    if (t == mikey::DataType::kRequestInitPsk || t == mikey::DataType::kRequestInitPk) {
      ++requests_;
    } else if (t == mikey::DataType::kResolveInitPsk || t == mikey::DataType::kResolveInitPk) {
      ++resolves_;
    }
  }
  return inner_.Exchange(m);
}

Result<DeviceResult> AnswerOffer(client::KmsTransport& kms, const std::string& kms_id, Party& p,
                                 const std::string& offer, const client::Env& env) {
  DeviceResult d;
  d.label = p.label;
  d.role = p.role;
  d.identity = p.creds.identity;
  KMS_ASSIGN_OR_RETURN(const client::SdpKeyMgmt sdp, client::ParseSdpKeyMgmt(offer));
  KMS_ASSIGN_OR_RETURN(const std::vector<uint8_t> ti, client::MikeyForMedia(sdp, 0));
  KMS_ASSIGN_OR_RETURN(const mikey::Message decoded, mikey::Decode(ti));
  // spec §11 A11: the SDP IDs extension must list what the SDP offers.
  KMS_RETURN_IF_ERROR(client::CheckSdpIds(decoded, client::OfferedIds(sdp, 0)));
  client::ResponderPolicy rp;
  rp.identities = p.answers_for;
  auto refused = [&d](Status s) -> Result<DeviceResult> {
    d.refusal = std::move(s);
    return std::move(d);
  };
  auto rs = ResolveTicket(kms, p.creds, kms_id, ti, rp, env);
  if (!rs.ok()) return refused(rs.status());
  // spec §7.4, §9.1 (RFC 3830 §5.4): authenticated and replay-checked against the device's
  // cache, which all its calls of this run share.
  auto session = OpenResolve(*rs, p.creds, rp, env.clock.Now(), p.replay);
  if (!session.ok()) return refused(session.status());
  client::TransferRespOptions tro;
  tro.identity = p.creds.identity;
  auto tr = client::BuildTransferResp(*session, tro, env);
  if (!tr.ok()) return refused(tr.status());
  d.transfer_resp = std::move(tr->wire);
  d.keys = std::move(tr->keys);
  return d;
}

int UnansweredExit(const DeviceResult& d) {
  const int code = ExitFor(d.refusal);
  // Only a refusal says the outsider is not a member (RFC 6043 §12.5: the KMS checks the
  // group roster): a KMS that was never reached, or input that never got that far, proves
  // nothing, and the call must fail with that failure's own code.
  if (d.role == "outsider" && code == kExitRefused) return kExitOk;
  return code;
}

nlohmann::json Fingerprints(const std::vector<client::CryptoSessionKeys>& s) {
  nlohmann::json j = nlohmann::json::object();
  for (const client::CryptoSessionKeys& k : s) {
    j[std::to_string(k.cs_id)] = client::KeyFingerprint(k);
  }
  return j;
}

bool SameKeys(const std::vector<client::CryptoSessionKeys>& a,
              const std::vector<client::CryptoSessionKeys>& b) {
  if (a.empty() || a.size() != b.size()) return false;
  for (const client::CryptoSessionKeys& ka : a) {
    bool found = false;
    for (const client::CryptoSessionKeys& kb : b) {
      found = found || (ka.cs_id == kb.cs_id && ka.master_key.ConstantTimeEqual(kb.master_key) &&
                        ka.master_salt.ConstantTimeEqual(kb.master_salt));
    }
    if (!found) return false;
  }
  return true;
}

Result<MediaResult> SendMedia(const client::CryptoSessionKeys& tx_keys,
                              const client::CryptoSessionKeys& rx_keys, int n) {
  KMS_ASSIGN_OR_RETURN(auto tx, client::SrtpSession::Create(tx_keys, client::SrtpDirection::kSend));
  KMS_ASSIGN_OR_RETURN(auto rx,
                       client::SrtpSession::Create(rx_keys, client::SrtpDirection::kReceive));
  KMS_ASSIGN_OR_RETURN(auto a_sock, client::UdpSocket::BindLoopback());
  KMS_ASSIGN_OR_RETURN(auto b_sock, client::UdpSocket::BindLoopback());
  MediaResult out;
  for (int i = 0; i < n; ++i) {
    const std::string text = "kms-client media packet " + std::to_string(i);
    const std::vector<uint8_t> payload(text.begin(), text.end());
    const auto rtp = client::MakeRtpPacket(0, static_cast<uint16_t>(1000 + i),
                                           static_cast<uint32_t>(160 * i), tx_keys.ssrc, payload);
    KMS_ASSIGN_OR_RETURN(const std::vector<uint8_t> srtp, tx->Protect(rtp));
    KMS_RETURN_IF_ERROR(a_sock->SendTo(b_sock->port(), srtp));
    KMS_ASSIGN_OR_RETURN(const std::vector<uint8_t> got, b_sock->Receive(std::chrono::seconds(2)));
    auto plain = rx->Unprotect(got);
    if (plain.ok() && *plain == rtp) {
      ++out.decrypted;
    } else if (!plain.ok() && plain.status().code() == StatusCode::kAuthFailed) {
      ++out.auth_failures;
    }
  }
  return out;
}

Result<const client::CryptoSessionKeys*> Cs1(const std::vector<client::CryptoSessionKeys>& s,
                                             const std::string& who) {
  for (const client::CryptoSessionKeys& k : s) {
    if (k.cs_id == 1) return &k;
  }
  return FailedPreconditionError(who + " has no crypto session 1");
}

std::string TicketId(const mikey::Ticket& t) {
  // The KMS names a ticket by the SHA-256 of its Ticket Data (src/core request/resolve
  // flows), so the audit trail can be searched for the tickets of this call.
  return HexEncode(crypto::Sha256(t.ticket_data));
}

nlohmann::json TicketSummary(const mikey::Ticket& t) {
  nlohmann::json j = PolicySummary(t.policy);
  j["id"] = TicketId(t);
  j["mode"] = t.policy.flags.d ? 1 : 3;  // RFC 6043 §4.1.1: D=0 = initiator-built (mode 3)
  return j;
}

}  // namespace kms::cli
