// kms-client call: a whole mode-1 call from A to B (N forked devices) against a KMS,
// optionally with SRTP media over loopback UDP (issue 8 §3).
#include <iostream>
#include <sstream>

#include "src/base/clock.h"
#include "src/cli/kms_client/commands.h"
#include "src/cli/kms_client/steps.h"
#include "src/client/replay_cache.h"
#include "src/client/sdp.h"
#include "src/client/srtp_session.h"
#include "src/client/udp_socket.h"
#include "src/mikey/decoder.h"

namespace kms::cli {
namespace {

struct CallOpts {
  CredentialOptions a, b;
  KmsOptions kms;
  int fork = 1;
  bool media = false;
  bool json = false;
  int packets = 5;
};

class Report {
 public:
  explicit Report(bool json) : json_(json) {}
  void Step(const std::string& who, const std::string& what) {
    steps_.push_back({{"actor", who}, {"event", what}});
    if (!json_) std::cout << "[" << steps_.size() << "] " << who << ": " << what << "\n";
  }
  nlohmann::json& extra() { return extra_; }
  void Finish(bool ok) {
    if (json_) {
      nlohmann::json j{{"ok", ok}, {"steps", steps_}};
      j.update(extra_);
      std::cout << j.dump(2) << "\n";
    }
  }

 private:
  bool json_;
  nlohmann::json steps_ = nlohmann::json::array();
  nlohmann::json extra_ = nlohmann::json::object();
};

struct Device {
  ResolveState resolve;
  std::vector<uint8_t> transfer_resp;
  client::CallKeys keys;
};

// Sends `n` RTP packets from A (CS 1) to every device; returns per device how many it
// decrypted and how many failed SRTP authentication.
Result<std::vector<std::pair<int, int>>> SendMedia(const client::CallKeys& a,
                                                   std::vector<Device>& devs, int n) {
  const client::CryptoSessionKeys* send_keys = client::FindSession(a, 1);
  if (send_keys == nullptr) return FailedPreconditionError("no crypto session 1");
  KMS_ASSIGN_OR_RETURN(auto tx,
                       client::SrtpSession::Create(*send_keys, client::SrtpDirection::kSend));
  KMS_ASSIGN_OR_RETURN(auto a_sock, client::UdpSocket::BindLoopback());
  std::vector<std::unique_ptr<client::UdpSocket>> socks;
  std::vector<std::unique_ptr<client::SrtpSession>> rx;
  for (Device& d : devs) {
    const client::CryptoSessionKeys* k = client::FindSession(d.keys, 1);
    if (k == nullptr) return FailedPreconditionError("device lacks crypto session 1");
    KMS_ASSIGN_OR_RETURN(auto s, client::UdpSocket::BindLoopback());
    KMS_ASSIGN_OR_RETURN(auto r, client::SrtpSession::Create(*k, client::SrtpDirection::kReceive));
    socks.push_back(std::move(s));
    rx.push_back(std::move(r));
  }
  std::vector<std::pair<int, int>> out(devs.size(), {0, 0});
  for (int i = 0; i < n; ++i) {
    const std::string text = "kms-client media packet " + std::to_string(i);
    const std::vector<uint8_t> payload(text.begin(), text.end());
    const auto rtp =
        client::MakeRtpPacket(0, static_cast<uint16_t>(1000 + i), static_cast<uint32_t>(160 * i),
                              send_keys->ssrc, payload);
    KMS_ASSIGN_OR_RETURN(const std::vector<uint8_t> srtp, tx->Protect(rtp));
    for (size_t d = 0; d < devs.size(); ++d) {
      KMS_RETURN_IF_ERROR(a_sock->SendTo(socks[d]->port(), srtp));
      KMS_ASSIGN_OR_RETURN(const std::vector<uint8_t> got,
                           socks[d]->Receive(std::chrono::seconds(2)));
      auto plain = rx[d]->Unprotect(got);
      if (plain.ok() && *plain == rtp) {
        ++out[d].first;
      } else if (!plain.ok() && plain.status().code() == StatusCode::kAuthFailed) {
        ++out[d].second;
      }
    }
  }
  return out;
}

int RunCall(const CallOpts& o) {
  Report rep(o.json);
  auto fail = [&](int code, const char* step, const Status& s) {
    rep.Finish(false);
    return Fail(code, step, s);
  };
  auto ca = o.a.Load();
  if (!ca.ok()) return fail(kExitCredentials, "call (A credentials)", ca.status());
  auto cb = o.b.Load();
  if (!cb.ok()) return fail(kExitCredentials, "call (B credentials)", cb.status());
  auto transport = o.kms.Transport();
  if (!transport.ok()) return fail(kExitUsage, "call", transport.status());
  crypto::OpenSslRandom rng;
  SystemClock clock;
  const client::Env env{rng, clock};

  client::TicketRequestOptions ro;
  ro.kms_identity = o.kms.Identity();
  ro.responders = {cb->identity};
  auto ts = RequestTicket(**transport, *ca, ro, env);
  if (!ts.ok()) return fail(ExitFor(ts.status()), "call (ticket request)", ts.status());
  auto ticket = OpenTicket(*ts, *ca, clock.Now());
  if (!ticket.ok()) return fail(ExitFor(ticket.status()), "call (REQUEST_RESP)", ticket.status());
  rep.Step("A", "REQUEST_INIT_PSK sent (" + std::to_string(ts->request_init.size()) +
                    " bytes); REQUEST_RESP verified (" + std::to_string(ts->request_resp.size()) +
                    " bytes), granted policy accepted" +
                    ((*ticket)->mpkr ? ", key forking on" : ", no forking"));

  client::TransferInitOptions to;
  to.responder = cb->identity;
  to.sdp_ids = std::string(client::kMikeyProtocolId);
  auto pt = client::BuildTransferInit(*ticket, ca->identity, to, env);
  if (!pt.ok()) return fail(ExitFor(pt.status()), "call (TRANSFER_INIT)", pt.status());
  const std::string offer = client::AudioSdp("alice", 49170, pt->wire);
  rep.Step("A", "SDP offer with a=key-mgmt:mikey TRANSFER_INIT (" +
                    std::to_string(pt->wire.size()) + " bytes) sent to " + cb->identity);

  std::vector<Device> devs;
  for (int k = 1; k <= o.fork; ++k) {
    const std::string who = "B#" + std::to_string(k);
    auto sdp = client::ParseSdpKeyMgmt(offer);
    if (!sdp.ok()) return fail(kExitBadInput, "call (SDP offer)", sdp.status());
    auto ti = client::MikeyForMedia(*sdp, 0);
    if (!ti.ok()) return fail(kExitBadInput, "call (SDP offer)", ti.status());
    auto decoded = mikey::Decode(*ti);
    if (!decoded.ok()) return fail(kExitBadInput, "call (SDP offer)", decoded.status());
    if (Status s = client::CheckSdpIds(*decoded, client::OfferedIds(*sdp, 0)); !s.ok()) {
      return fail(kExitRefused, "call (SDP IDs)", s);
    }
    client::ResponderPolicy rp;
    rp.identities = {cb->identity};
    auto rs = ResolveTicket(**transport, *cb, o.kms.Identity(), *ti, rp, env);
    if (!rs.ok()) return fail(ExitFor(rs.status()), "call (ticket resolve)", rs.status());
    auto session = OpenResolve(*rs, *cb, rp, clock.Now());
    if (!session.ok())
      return fail(ExitFor(session.status()), "call (RESOLVE_RESP)", session.status());
    client::ReplayCache replay;  // the device's cache of authenticated TRANSFER_INITs
    const auto t_ti = client::TimestampInstant(*decoded->FindT());
    if (Status s =
            replay.CheckAndInsert(decoded->FindV()->mac, t_ti.value_or(clock.Now()), clock.Now());
        !s.ok()) {
      return fail(kExitRefused, "call (replay)", s);
    }
    rep.Step(who,
             "early checks passed; RESOLVE_INIT_PSK sent, RESOLVE_RESP verified; "
             "TRANSFER_INIT authenticated (MAC, Vi, IDRi = ticket IDRi)");
    client::TransferRespOptions tro;
    tro.identity = cb->identity;
    auto tr = client::BuildTransferResp(*session, tro, env);
    if (!tr.ok()) return fail(ExitFor(tr.status()), "call (TRANSFER_RESP)", tr.status());
    devs.push_back(Device{std::move(*rs), std::move(tr->wire), std::move(tr->keys)});
  }
  const std::string answer = client::AudioSdp("bob", 49172, devs.front().transfer_resp);
  rep.Step("B#1", "answered first: SDP answer with TRANSFER_RESP (" +
                      std::to_string(devs.front().transfer_resp.size()) + " bytes)");
  auto asdp = client::ParseSdpKeyMgmt(answer);
  auto resp =
      asdp.ok() ? client::MikeyForMedia(*asdp, 0) : Result<std::vector<uint8_t>>(asdp.status());
  if (!resp.ok()) return fail(kExitBadInput, "call (SDP answer)", resp.status());
  auto akeys = client::ProcessTransferResp(*resp, *pt, clock.Now());
  if (!akeys.ok()) return fail(ExitFor(akeys.status()), "call (TRANSFER_RESP)", akeys.status());
  rep.Step("A", "TRANSFER_RESP verified after forking MPKr/TGK for " + akeys->peer_identity +
                    "; SRTP keys derived for " + std::to_string(akeys->sessions.size()) +
                    " crypto sessions");
  nlohmann::json same = nlohmann::json::array();
  for (size_t d = 0; d < devs.size(); ++d) {
    const auto* ak = client::FindSession(*akeys, 1);
    const auto* dk = client::FindSession(devs[d].keys, 1);
    const bool eq = ak && dk && ak->master_key.ConstantTimeEqual(dk->master_key);
    same.push_back(eq);
    rep.Step("B#" + std::to_string(d + 1),
             std::string("SRTP key of CS 1 ") + (eq ? "matches A's" : "differs from A's"));
  }
  rep.extra()["key_matches_a"] = same;
  if (!same[0].get<bool>()) {
    return fail(kExitRefused, "call", InternalError("answering device's keys differ from A's"));
  }
  if (o.media) {
    auto res = SendMedia(*akeys, devs, o.packets);
    if (!res.ok()) return fail(kExitMedia, "call (media)", res.status());
    nlohmann::json media = nlohmann::json::array();
    bool ok = true;
    for (size_t d = 0; d < res->size(); ++d) {
      const auto [good, authfail] = (*res)[d];
      media.push_back({{"device", d + 1}, {"decrypted", good}, {"auth_failures", authfail}});
      rep.Step("B#" + std::to_string(d + 1),
               "media: " + std::to_string(good) + "/" + std::to_string(o.packets) +
                   " SRTP packets decrypted, " + std::to_string(authfail) +
                   " failed authentication");
      ok = ok && (d == 0 ? good == o.packets : authfail == o.packets);
    }
    rep.extra()["media"] = media;
    if (!ok) return fail(kExitMedia, "call (media)", InternalError("unexpected SRTP results"));
  }
  rep.Finish(true);
  return kExitOk;
}

}  // namespace

void AddCallCommand(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<CallOpts>();
  CLI::App* cmd = app.add_subcommand(
      "call",
      "a whole call A -> B against a KMS: ticket request, transfer in SDP, resolve by "
      "each forked device, TRANSFER_RESP, optional SRTP media over loopback");
  o->a.Add(cmd, "a-");
  o->b.Add(cmd, "b-");
  o->kms.Add(cmd);
  cmd->add_option("--fork", o->fork, "number of B devices receiving the offer")
      ->check(CLI::Range(1, 8));
  cmd->add_flag("--media", o->media, "send SRTP packets A -> every device over loopback UDP");
  cmd->add_option("--packets", o->packets, "media packets per device")->check(CLI::Range(1, 1000));
  cmd->add_flag("--json", o->json, "machine-readable output");
  cmd->callback([o, exit_code] { *exit_code = RunCall(*o); });
}

}  // namespace kms::cli
