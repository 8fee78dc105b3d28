// kms-client request / transfer / resolve / respond: one protocol step per invocation,
// state kept in 0600 JSON files holding only the exchanged messages.
#include <iostream>

#include "src/base/clock.h"
#include "src/base/encoding.h"
#include "src/cli/kms_client/commands.h"
#include "src/cli/kms_client/inputs.h"
#include "src/cli/kms_client/replay_file.h"
#include "src/cli/kms_client/steps.h"
#include "src/client/sdp.h"

namespace kms::cli {
namespace {

struct FlowOpts {
  CredentialOptions cred;
  KmsOptions kms;
  std::vector<std::string> responders;
  int validity = 3600;
  std::string out, ticket, state, answer, offer, responder, replay_cache;
  bool no_sdp_ids = false, show_keys = false;
};

void Request(FlowOpts& o, int* rc) {
  auto creds = o.cred.Load();
  if (!creds.ok()) {
    *rc = Fail(kExitCredentials, "request", creds.status());
    return;
  }
  auto transport = o.kms.Transport();
  if (!transport.ok()) {
    *rc = Fail(kExitUsage, "request", transport.status());
    return;
  }
  crypto::OpenSslRandom rng;
  SystemClock clock;
  client::TicketRequestOptions ro;
  ro.kms_identity = o.kms.Identity();
  ro.responders = o.responders;
  ro.validity = std::chrono::seconds(o.validity);
  auto st = RequestTicket(**transport, *creds, ro, client::Env{rng, clock});
  if (!st.ok()) {
    *rc = Fail(ExitFor(st.status()), "request", st.status());
    return;
  }
  auto t = OpenTicket(*st, *creds, clock.Now());
  if (!t.ok()) {
    *rc = Fail(ExitFor(t.status()), "request", t.status());
    return;
  }
  if (Status s = WriteStateFile(o.out, ToJson(*st)); !s.ok()) {
    *rc = Fail(kExitBadInput, "request", s);
    return;
  }
  std::cout
      << nlohmann::json{{"ticket", PolicySummary((*t)->ticket.policy)}, {"saved", o.out}}.dump(2)
      << "\n";
  *rc = kExitOk;
}

void Transfer(FlowOpts& o, int* rc) {
  auto creds = o.cred.Load();
  if (!creds.ok()) {
    *rc = Fail(kExitCredentials, "transfer", creds.status());
    return;
  }
  SystemClock clock;
  const bool finish = !o.answer.empty();
  auto j = ReadStateFile(finish ? o.state : o.ticket);
  if (!j.ok()) {
    *rc = Fail(kExitBadInput, "transfer", j.status());
    return;
  }
  auto ts = TicketStateFromJson(finish ? (*j)["ticket"] : *j);
  if (!ts.ok()) {
    *rc = Fail(kExitBadInput, "transfer", ts.status());
    return;
  }
  auto ticket = OpenTicket(*ts, *creds, clock.Now());
  if (!ticket.ok()) {
    *rc = Fail(ExitFor(ticket.status()), "transfer", ticket.status());
    return;
  }
  if (!finish) {
    crypto::OpenSslRandom rng;
    client::TransferInitOptions to;
    to.responder = o.responder;
    if (!o.no_sdp_ids) to.sdp_ids = std::string(client::kMikeyProtocolId);
    auto pt = client::BuildTransferInit(*ticket, creds->identity, to, client::Env{rng, clock});
    if (!pt.ok()) {
      *rc = Fail(ExitFor(pt.status()), "transfer", pt.status());
      return;
    }
    nlohmann::json state{{"ticket", ToJson(*ts)}, {"transfer_init", HexEncode(pt->wire)}};
    if (Status s = WriteStateFile(o.state, state); !s.ok()) {
      *rc = Fail(kExitBadInput, "transfer", s);
      return;
    }
    std::cout << client::KeyMgmtAttribute(pt->wire) << "\n";
    *rc = kExitOk;
    return;
  }
  auto ti = HexDecode((*j).value("transfer_init", std::string()));
  if (!ti.ok()) {
    *rc = Fail(kExitBadInput, "transfer", ti.status());
    return;
  }
  auto pt = client::PendingTransferFromWire(*ti, *ticket);
  if (!pt.ok()) {
    *rc = Fail(kExitBadInput, "transfer", pt.status());
    return;
  }
  auto raw = ReadAll(o.answer);
  if (!raw.ok()) {
    *rc = Fail(kExitBadInput, "transfer", raw.status());
    return;
  }
  auto resp = ParseMikeyInput(*raw);
  if (!resp.ok()) {
    *rc = Fail(kExitBadInput, "transfer", resp.status());
    return;
  }
  auto keys = client::ProcessTransferResp(*resp, *pt, clock.Now());
  if (!keys.ok()) {
    *rc = Fail(ExitFor(keys.status()), "transfer", keys.status());
    return;
  }
  std::cout << KeySummary(*keys, o.show_keys).dump(2) << "\n";
  *rc = kExitOk;
}

client::ResponderPolicy PolicyFor(const client::Credentials& c) {
  client::ResponderPolicy p;
  p.identities = {c.identity};
  return p;
}

// OpenReplayCache: the device's replay cache file (--replay-cache, else
// <cred-dir>/replay-cache); on failure prints the reason and sets the exit code: 2 for
// undecodable content, 3 for a missing, unwritable or unsafe file (a credential-class
// file: whoever can rewrite it can make the device accept a replay).
std::unique_ptr<ReplayCacheFile> OpenReplayCache(const FlowOpts& o, const char* cmd, UnixTime now,
                                                 int* rc) {
  const std::string path = !o.replay_cache.empty() ? o.replay_cache
                           : o.cred.dir.empty()    ? std::string()
                                                   : o.cred.dir + "/replay-cache";
  if (path.empty()) {
    *rc = Fail(kExitUsage, cmd,
               InvalidArgumentError("--replay-cache FILE is needed without --cred-dir"));
    return nullptr;
  }
  auto f = ReplayCacheFile::Open(path, now);
  if (!f.ok()) {
    *rc = Fail(f.status().code() == StatusCode::kDecodeError ? kExitBadInput : kExitCredentials,
               cmd, f.status());
    return nullptr;
  }
  return std::move(f).value();
}

void Resolve(FlowOpts& o, int* rc) {
  auto creds = o.cred.Load();
  if (!creds.ok()) {
    *rc = Fail(kExitCredentials, "resolve", creds.status());
    return;
  }
  SystemClock clock;
  // Checked before the KMS is asked, so an unusable cache costs no resolution; the lock is
  // not held across the exchange (it would serialize every resolve behind the network).
  if (OpenReplayCache(o, "resolve", clock.Now(), rc) == nullptr) return;
  auto raw = ReadAll(o.offer);
  if (!raw.ok()) {
    *rc = Fail(kExitBadInput, "resolve", raw.status());
    return;
  }
  auto ti = ParseMikeyInput(*raw);
  if (!ti.ok()) {
    *rc = Fail(kExitBadInput, "resolve", ti.status());
    return;
  }
  auto transport = o.kms.Transport();
  if (!transport.ok()) {
    *rc = Fail(kExitUsage, "resolve", transport.status());
    return;
  }
  crypto::OpenSslRandom rng;
  auto st = ResolveTicket(**transport, *creds, o.kms.Identity(), *ti, PolicyFor(*creds),
                          client::Env{rng, clock});
  if (!st.ok()) {
    *rc = Fail(ExitFor(st.status()), "resolve", st.status());
    return;
  }
  // spec §7.4, §9.1: check and record under the file's lock, and save before the state is
  // written, so a TRANSFER_INIT is accepted by at most one run of this device.
  const UnixTime now = clock.Now();
  const std::unique_ptr<ReplayCacheFile> replay = OpenReplayCache(o, "resolve", now, rc);
  if (replay == nullptr) return;
  auto session = OpenResolve(*st, *creds, PolicyFor(*creds), now, replay->cache());
  if (!session.ok()) {
    *rc = Fail(ExitFor(session.status()), "resolve", session.status());
    return;
  }
  if (Status s = replay->Save(now); !s.ok()) {
    *rc = Fail(kExitCredentials, "resolve", s);
    return;
  }
  if (Status s = WriteStateFile(o.out, ToJson(*st)); !s.ok()) {
    *rc = Fail(kExitBadInput, "resolve", s);
    return;
  }
  std::cout << nlohmann::json{{"initiator", session->identity_i},
                              {"forking", session->resolved.mpkr_prime.has_value()},
                              {"saved", o.out}}
                   .dump(2)
            << "\n";
  *rc = kExitOk;
}

void Respond(FlowOpts& o, int* rc) {
  auto creds = o.cred.Load();
  if (!creds.ok()) {
    *rc = Fail(kExitCredentials, "respond", creds.status());
    return;
  }
  SystemClock clock;
  const UnixTime now = clock.Now();
  const std::unique_ptr<ReplayCacheFile> replay = OpenReplayCache(o, "respond", now, rc);
  if (replay == nullptr) return;
  auto j = ReadStateFile(o.state);
  if (!j.ok()) {
    *rc = Fail(kExitBadInput, "respond", j.status());
    return;
  }
  auto st = ResolveStateFromJson(*j);
  if (!st.ok()) {
    *rc = Fail(kExitBadInput, "respond", st.status());
    return;
  }
  crypto::OpenSslRandom rng;
  auto session = ReopenResolve(*st, *creds, PolicyFor(*creds), now, replay->cache());
  if (!session.ok()) {
    *rc = Fail(ExitFor(session.status()), "respond", session.status());
    return;
  }
  client::TransferRespOptions ro;
  ro.identity = creds->identity;
  auto tr = client::BuildTransferResp(*session, ro, client::Env{rng, clock});
  if (!tr.ok()) {
    *rc = Fail(ExitFor(tr.status()), "respond", tr.status());
    return;
  }
  std::cout << client::KeyMgmtAttribute(tr->wire) << "\n";
  std::cerr << KeySummary(tr->keys, o.show_keys).dump() << "\n";
  *rc = kExitOk;
}

}  // namespace

void AddFlowCommands(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<FlowOpts>();
  CLI::App* req = app.add_subcommand("request", "Ticket Request: get a ticket from the KMS");
  o->cred.Add(req);
  o->kms.Add(req);
  req->add_option("--responder", o->responders, "responder identity (repeatable)")->required();
  req->add_option("--validity", o->validity, "requested validity in seconds");
  req->add_option("--out", o->out, "ticket state file to write (mode 0600)")->required();
  req->callback([o, exit_code] { Request(*o, exit_code); });

  CLI::App* tr =
      app.add_subcommand("transfer",
                         "Ticket Transfer (initiator): print TRANSFER_INIT as an SDP line, or with "
                         "--answer process the TRANSFER_RESP");
  o->cred.Add(tr);
  tr->add_option("--ticket", o->ticket, "ticket state file from `request`");
  tr->add_option("--responder", o->responder, "targeted responder identity (IDRr)");
  tr->add_option("--state", o->state, "transfer state file (written, or read with --answer)")
      ->required();
  tr->add_option("--answer", o->answer, "TRANSFER_RESP (any input form; - for stdin)");
  tr->add_flag("--no-sdp-ids", o->no_sdp_ids, "omit the SDP IDs general extension");
  tr->add_flag("--show-keys", o->show_keys, "print the SRTP master keys and salts");
  tr->callback([o, exit_code] {
    if (o->answer.empty() && (o->ticket.empty() || o->responder.empty())) {
      *exit_code = Fail(kExitUsage, "transfer",
                        InvalidArgumentError("needs --ticket and --responder, or --answer"));
      return;
    }
    Transfer(*o, exit_code);
  });

  CLI::App* res = app.add_subcommand(
      "resolve", "Ticket Resolve (responder): early-check a TRANSFER_INIT, resolve it at the KMS");
  o->cred.Add(res);
  o->kms.Add(res);
  res->add_option("--offer", o->offer, "TRANSFER_INIT (any input form; - for stdin)")->required();
  res->add_option("--out", o->out, "resolve state file to write (mode 0600)")->required();
  const std::string replay_help =
      "the device's replay cache of accepted TRANSFER_INITs (their MACs and expiry, no keys; "
      "mode 0600, owned by you; created if absent; default: <cred-dir>/replay-cache). "
      "`resolve` refuses (exit 5) a TRANSFER_INIT it holds and records the new one; "
      "`respond` answers only a TRANSFER_INIT it holds";
  res->add_option("--replay-cache", o->replay_cache, replay_help);
  res->callback([o, exit_code] { Resolve(*o, exit_code); });

  CLI::App* rsp = app.add_subcommand("respond", "print the TRANSFER_RESP for a resolved offer");
  o->cred.Add(rsp);
  rsp->add_option("--state", o->state, "resolve state file from `resolve`")->required();
  rsp->add_option("--replay-cache", o->replay_cache, replay_help);
  rsp->add_flag("--show-keys", o->show_keys, "print the SRTP master keys and salts on stderr");
  rsp->callback([o, exit_code] { Respond(*o, exit_code); });
}

}  // namespace kms::cli
