// kms-client call: options and the first call of a run (call_run.h). Reuse and CSB update
// are in call_scenarios.cc.
#include <iostream>

#include "src/base/encoding.h"
#include "src/cli/kms_client/call_run.h"
#include "src/cli/kms_client/inputs.h"
#include "src/client/mode3_ticket.h"
#include "src/client/sdp.h"

namespace kms::cli {
namespace {

std::string Hex32(uint32_t v) {
  const uint8_t b[4] = {static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
                        static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
  return HexEncode(b);
}

Result<client::Credentials> LoadDir(const std::string& dir) {
  CredentialOptions c;
  c.dir = dir;
  return c.Load();
}

}  // namespace

Status CallRun::Err(int code, std::string step, Status s) {
  fail_code_ = code;
  fail_step_ = std::move(step);
  return s;
}

Status CallRun::Setup() {
  auto a = o_.a.Load();
  if (!a.ok()) return Err(kExitCredentials, "call (A credentials)", a.status());
  a_ = std::move(*a);
  auto add = [this](const std::string& label, const std::string& role, client::Credentials c,
                    std::vector<std::string> answers_for) {
    auto p = std::make_unique<Party>();
    p->label = label;
    p->role = role;
    p->creds = std::move(c);
    p->answers_for = std::move(answers_for);
    parties_.push_back(std::move(p));
  };
  if (o_.group.empty()) {
    for (int k = 1; k <= o_.fork; ++k) {
      auto b = o_.b.Load();  // each forked device holds its own copy of B's credentials
      if (!b.ok()) return Err(kExitCredentials, "call (B credentials)", b.status());
      target_ = b->identity;
      add("B#" + std::to_string(k), "device", std::move(*b), {target_});
    }
    return Status::Ok();
  }
  // RFC 6043 §9, §12.5: the ticket names the group; each member resolves with its own
  // identity and the KMS maps it to the group. Members and outsiders alike believe they
  // answer for the group: only the KMS's group roster tells them apart.
  target_ = o_.group;
  const std::pair<const std::vector<std::string>*, const char*> lists[] = {
      {&o_.members, "member"}, {&o_.outsiders, "outsider"}};
  for (const auto& [dirs, role] : lists) {
    for (size_t k = 0; k < dirs->size(); ++k) {
      auto c = LoadDir((*dirs)[k]);
      if (!c.ok())
        return Err(kExitCredentials, std::string("call (") + role + " credentials)", c.status());
      std::vector<std::string> ids = {c->identity, o_.group};
      add(std::string(role) + "#" + std::to_string(k + 1), role, std::move(*c), std::move(ids));
    }
  }
  return Status::Ok();
}

Result<std::shared_ptr<const client::InitiatorTicket>> CallRun::ObtainTicket() {
  if (o_.mode3) {
    // Mode 3 (RFC 6043 §4.1.1, spec §1.2): A builds and seals the ticket with the key it
    // shares with the KMS; there is no Ticket Request exchange.
    const std::string base = o_.a.dir.empty() ? "" : o_.a.dir + "/";
    client::TicketProtectionKey tpk;
    auto key = LoadKeyFile(o_.mode3_key_file.empty() ? base + "mode3.key" : o_.mode3_key_file,
                           "mode-3 key");
    if (!key.ok()) return Err(kExitCredentials, "call (mode-3 key)", key.status());
    tpk.tpk = std::move(*key);
    if (!o_.mode3_key_id.empty()) {
      tpk.id = o_.mode3_key_id;
    } else {
      auto id = ReadLine(base + "mode3.id");
      if (!id.ok()) return Err(kExitCredentials, "call (mode-3 key id)", id.status());
      tpk.id = *id;
    }
    client::Mode3Options mo;
    mo.kms_identity = o_.kms.Identity();
    mo.responders = {target_};
    mo.validity = std::chrono::seconds(o_.validity_s);
    mo.reusable = o_.reuse;
    auto t = client::CreateMode3Ticket(a_.identity, tpk, mo, env_);
    if (!t.ok()) return Err(ExitFor(t.status()), "call (mode-3 ticket)", t.status());
    rep_.Step("A", "mode 3: ticket for " + target_ + " built and sealed with A's own key '" +
                       tpk.id + "' (D=0); no REQUEST_INIT sent to the KMS");
    return std::make_shared<const client::InitiatorTicket>(std::move(*t));
  }
  client::TicketRequestOptions ro;
  ro.kms_identity = o_.kms.Identity();
  ro.responders = {target_};
  ro.validity = std::chrono::seconds(o_.validity_s);
  ro.flags.j = o_.reuse;  // RFC 6043 §6.10: ask for a reusable ticket
  client::InitiatorRequirements req;
  req.min_remaining_validity = std::chrono::seconds(o_.min_remaining_s);
  auto ts = RequestTicket(kms_, a_, ro, env_);
  if (!ts.ok()) return Err(ExitFor(ts.status()), "call (ticket request)", ts.status());
  auto ticket = OpenTicket(*ts, a_, clock_.Now(), req);
  if (!ticket.ok()) return Err(ExitFor(ticket.status()), "call (REQUEST_RESP)", ticket.status());
  rep_.Step("A", "REQUEST_INIT_PSK sent (" + std::to_string(ts->request_init.size()) +
                     " bytes); REQUEST_RESP verified (" + std::to_string(ts->request_resp.size()) +
                     " bytes), granted policy accepted" +
                     ((*ticket)->mpkr ? ", key forking on" : ", no forking"));
  return ticket;
}

Result<CallOutcome> CallRun::Transfer(std::shared_ptr<const client::InitiatorTicket> ticket,
                                      int call_no) {
  client::TransferInitOptions to;
  to.responder = target_;
  to.sdp_ids = std::string(client::kMikeyProtocolId);
  auto pt = client::BuildTransferInit(ticket, a_.identity, to, env_);
  if (!pt.ok()) return Err(ExitFor(pt.status()), "call (TRANSFER_INIT)", pt.status());
  const std::string offer = client::AudioSdp("alice", 49170, pt->wire);
  rep_.Step("A", "call " + std::to_string(call_no) +
                     ": SDP offer with a=key-mgmt:mikey TRANSFER_INIT (" +
                     std::to_string(pt->wire.size()) + " bytes, CSB ID " + Hex32(pt->csb_id) +
                     ") sent to " + target_);
  CallOutcome out;
  for (const auto& p : parties_) {
    auto d = AnswerOffer(kms_, o_.kms.Identity(), *p, offer, env_);
    if (!d.ok()) return Err(kExitBadInput, "call (SDP offer at " + p->label + ")", d.status());
    if (d->answered()) {
      rep_.Step(p->label,
                "early checks passed; RESOLVE_INIT_PSK sent, RESOLVE_RESP verified; "
                "TRANSFER_INIT authenticated (MAC, Vi, IDRi = ticket IDRi); "
                "TRANSFER_RESP ready");
    } else {
      rep_.Step(p->label, "no keys: " + d->refusal.message());
    }
    out.devices.push_back(std::move(*d));
  }
  // Which answers A takes: with forking to B's devices, the first to answer (SIP drops the
  // other early dialogs); for a group every member, each its own pair (RFC 6043 §9).
  bool taken = false;
  for (DeviceResult& d : out.devices) {
    if (!d.answered() || d.role == "outsider" || (taken && o_.group.empty())) continue;
    const std::string answer = client::AudioSdp("bob", 49172, d.transfer_resp);
    auto asdp = client::ParseSdpKeyMgmt(answer);
    auto resp =
        asdp.ok() ? client::MikeyForMedia(*asdp, 0) : Result<std::vector<uint8_t>>(asdp.status());
    if (!resp.ok()) return Err(kExitBadInput, "call (SDP answer)", resp.status());
    auto ak = client::ProcessTransferResp(*resp, *pt, clock_.Now());
    if (!ak.ok()) {
      return Err(ExitFor(ak.status()), "call (TRANSFER_RESP of " + d.label + ")", ak.status());
    }
    rep_.Step("A", "TRANSFER_RESP of " + d.label + " (" + std::to_string(d.transfer_resp.size()) +
                       " bytes) verified" +
                       (ticket->mpkr ? " after forking MPKr/TGK for " + ak->peer_identity : "") +
                       "; SRTP keys derived for " + std::to_string(ak->sessions.size()) +
                       " crypto sessions");
    d.a_keys = std::move(*ak);
    taken = true;
  }
  return out;
}

Status CallRun::CheckCall(CallOutcome& c, int call_no, bool reused, int requests, int resolves) {
  // What A sends on the wire when a device's answer was not taken: the stream keyed for the
  // device whose answer was (a forked sibling overhears it and must fail to decrypt it).
  const client::CallKeys* first = nullptr;
  for (const DeviceResult& d : c.devices) {
    if (d.a_keys && first == nullptr) first = &*d.a_keys;
  }
  nlohmann::json devs = nlohmann::json::array();
  nlohmann::json old_matches = nlohmann::json::array(), old_media = nlohmann::json::array();
  Status verdict = Status::Ok();
  int verdict_code = kExitOk;
  auto fail = [&](int code, const std::string& why) {
    if (verdict.ok()) {
      verdict = FailedPreconditionError(why);
      verdict_code = code;
    }
  };
  for (size_t i = 0; i < c.devices.size(); ++i) {
    DeviceResult& d = c.devices[i];
    nlohmann::json j{{"device", d.label},
                     {"role", d.role},
                     {"identity", d.identity},
                     {"answered", d.answered()},
                     {"accepted", d.a_keys.has_value()}};
    if (!d.answered()) {
      j["error"] = d.refusal.message();
      if (const int code = UnansweredExit(d); code == kExitOk) {
        rep_.Step(d.label, "refused as expected: not a member of " + target_ + " (" +
                               d.refusal.message() + ")");
      } else if (d.role == "outsider") {
        fail(code,
             d.label + " (outsider) got no verdict on its membership: " + d.refusal.message());
      } else {
        fail(code, d.label + ": " + d.refusal.message());
      }
      devs.push_back(std::move(j));
      continue;
    }
    if (d.role == "outsider") fail(kExitRefused, d.label + " (not a group member) got keys");
    const client::CallKeys* ref = d.a_keys ? &*d.a_keys : first;
    const bool match = ref != nullptr && SameKeys(ref->sessions, d.keys.sessions);
    j["fingerprints"] = Fingerprints(d.keys.sessions);
    if (ref != nullptr) j["a_fingerprints"] = Fingerprints(ref->sessions);
    j["keys_match"] = match;
    old_matches.push_back(match);
    const nlohmann::json& fp = j["fingerprints"];
    rep_.Step(d.label,
              std::string("SRTP keys ") + (match ? "match" : "differ from") + " A's" +
                  (d.a_keys ? "" : " (its answer was not taken)") +
                  (fp.contains("1") ? "; CS 1 fingerprint " + fp["1"].get<std::string>() : ""));
    if (d.a_keys && !match) fail(kExitRefused, d.label + ": keys differ from A's");
    if (!d.a_keys && match) fail(kExitRefused, d.label + " derived A's keys without answering");
    if (o_.media && ref != nullptr) {
      auto tx = Cs1(ref->sessions, "A");
      auto rx = Cs1(d.keys.sessions, d.label);
      auto m = tx.ok() && rx.ok() ? SendMedia(**tx, **rx, o_.packets)
                                  : Result<MediaResult>(tx.ok() ? rx.status() : tx.status());
      if (!m.ok()) return Err(kExitMedia, "call (media)", m.status());
      j["media"] = {{"decrypted", m->decrypted}, {"auth_failures", m->auth_failures}};
      old_media.push_back(
          {{"device", i + 1}, {"decrypted", m->decrypted}, {"auth_failures", m->auth_failures}});
      rep_.Step(d.label, "media: " + std::to_string(m->decrypted) + "/" +
                             std::to_string(o_.packets) + " SRTP packets decrypted, " +
                             std::to_string(m->auth_failures) + " failed authentication");
      const bool ok = d.a_keys ? m->decrypted == o_.packets : m->auth_failures == o_.packets;
      if (!ok) fail(kExitMedia, d.label + ": unexpected SRTP results");
    }
    devs.push_back(std::move(j));
  }
  rep_.Step("KMS", "call " + std::to_string(call_no) + " sent it " + std::to_string(requests) +
                       " REQUEST_INIT and " + std::to_string(resolves) + " RESOLVE_INIT");
  calls_.push_back({{"call", call_no},
                    {"reused_ticket", reused},
                    {"kms_requests", requests},
                    {"kms_resolves", resolves},
                    {"devices", devs}});
  rep_.extra()["calls"] = calls_;
  if (call_no == 1) {  // the original single-call fields (quickstart, call_e2e.sh)
    rep_.extra()["key_matches_a"] = old_matches;
    if (o_.media) rep_.extra()["media"] = old_media;
  }
  if (first == nullptr && verdict.ok()) fail(kExitRefused, "no answer was taken");
  return verdict.ok() ? verdict : Err(verdict_code, "call " + std::to_string(call_no), verdict);
}

int CallRun::Run() {
  auto finish = [this](Status s) {
    rep_.Finish(s.ok());
    return s.ok() ? kExitOk : Fail(fail_code_, fail_step_, s);
  };
  if (Status s = Setup(); !s.ok()) return finish(s);
  auto ticket = ObtainTicket();
  if (!ticket.ok()) return finish(ticket.status());
  rep_.extra()["ticket"] = TicketSummary((*ticket)->ticket);
  auto first = Transfer(*ticket, 1);
  if (!first.ok()) return finish(first.status());
  if (Status s = CheckCall(*first, 1, false, kms_.requests(), kms_.resolves()); !s.ok()) {
    return finish(s);
  }
  if (o_.csb_update) {
    if (Status s = CsbUpdate(*first); !s.ok()) return finish(s);
  }
  if (o_.reuse) {
    if (Status s = SecondCall(*ticket); !s.ok()) return finish(s);
  }
  return finish(Status::Ok());
}

void AddCallCommand(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<CallOpts>();
  CLI::App* cmd = app.add_subcommand(
      "call",
      "a whole call A -> B against a KMS: ticket request (or a mode-3 ticket), transfer in "
      "SDP, resolve by each forked device or group member, TRANSFER_RESP, optional SRTP "
      "media over loopback, ticket reuse and CSB update");
  o->a.Add(cmd, "a-");
  o->b.Add(cmd, "b-");
  o->kms.Add(cmd);
  auto* fork = cmd->add_option("--fork", o->fork, "number of B devices receiving the offer")
                   ->check(CLI::Range(1, 8));
  cmd->add_flag("--media", o->media, "send SRTP packets A -> every device over loopback UDP");
  cmd->add_option("--packets", o->packets, "media packets per device")->check(CLI::Range(1, 1000));
  cmd->add_option("--validity", o->validity_s, "desired ticket validity in seconds")
      ->check(CLI::Range(1, 86400));
  cmd->add_option("--min-remaining", o->min_remaining_s,
                  "least validity (s) A accepts in a granted or cached ticket")
      ->check(CLI::Range(0, 86400));
  auto* reuse = cmd->add_flag("--reuse-ticket", o->reuse,
                              "ask for a reusable ticket (J flag), cache it and make a second "
                              "call with it, without a new ticket request");
  cmd->add_option("--reuse-after", o->reuse_after_s, "seconds to wait before the second call")
      ->check(CLI::Range(0, 3600))
      ->needs(reuse);
  cmd->add_flag("--reuse-expired", o->reuse_expired,
                "test the KMS: send the cached ticket even when the cache no longer hands it "
                "out (validity over)")
      ->needs(reuse);
  auto* group = cmd->add_option("--group", o->group,
                                "call a group identity: every --member answers with its own "
                                "keys; every --outsider must be refused by the KMS");
  cmd->add_option("--member", o->members, "credential directory of a group member")->needs(group);
  cmd->add_option("--outsider", o->outsiders,
                  "credential directory of a user outside the group who gets the offer too")
      ->needs(group);
  group->excludes(fork);
  auto* mode3 = cmd->add_flag("--mode3", o->mode3,
                              "A builds the ticket with its own mode-3 key (no ticket request)");
  cmd->add_option("--mode3-key-file", o->mode3_key_file,
                  "A's mode-3 key as hex, mode 0600 (default: <a-cred-dir>/mode3.key)")
      ->needs(mode3);
  cmd->add_option("--mode3-key-id", o->mode3_key_id,
                  "its id at the KMS (default: the line in <a-cred-dir>/mode3.id)")
      ->needs(mode3);
  auto* csb = cmd->add_flag("--csb-update", o->csb_update,
                            "after the first call, re-key every established pair with a CSB "
                            "update (RFC 6043 §5.2); with --media, media again on the new keys");
  cmd->add_flag("--csb-tamper", o->csb_tamper,
                "first deliver the update with one MAC bit flipped: it must be rejected")
      ->needs(csb);
  cmd->add_flag("--json", o->json, "machine-readable output");
  cmd->callback([o, exit_code] {
    if (!o->group.empty() && o->members.empty()) {
      *exit_code = Fail(kExitUsage, "call", InvalidArgumentError("--group needs --member"));
      return;
    }
    auto transport = o->kms.Transport();
    if (!transport.ok()) {
      *exit_code = Fail(kExitUsage, "call", transport.status());
      return;
    }
    CallRun run(*o, **transport);
    *exit_code = run.Run();
  });
}

}  // namespace kms::cli
