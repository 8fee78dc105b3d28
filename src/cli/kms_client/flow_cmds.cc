// kms-client request / transfer / resolve / respond: one protocol step per invocation,
// state kept in 0600 JSON files holding only the exchanged messages.
#include <iostream>

#include "src/base/clock.h"
#include "src/base/encoding.h"
#include "src/cli/kms_client/commands.h"
#include "src/cli/kms_client/inputs.h"
#include "src/cli/kms_client/steps.h"
#include "src/client/sdp.h"

namespace kms::cli {
namespace {

struct FlowOpts {
  CredentialOptions cred;
  KmsOptions kms;
  std::vector<std::string> responders;
  int validity = 3600;
  std::string out, ticket, state, answer, offer, responder;
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

void Resolve(FlowOpts& o, int* rc) {
  auto creds = o.cred.Load();
  if (!creds.ok()) {
    *rc = Fail(kExitCredentials, "resolve", creds.status());
    return;
  }
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
  SystemClock clock;
  auto st = ResolveTicket(**transport, *creds, o.kms.Identity(), *ti, PolicyFor(*creds),
                          client::Env{rng, clock});
  if (!st.ok()) {
    *rc = Fail(ExitFor(st.status()), "resolve", st.status());
    return;
  }
  auto session = OpenResolve(*st, *creds, PolicyFor(*creds), clock.Now());
  if (!session.ok()) {
    *rc = Fail(ExitFor(session.status()), "resolve", session.status());
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
  SystemClock clock;
  auto session = OpenResolve(*st, *creds, PolicyFor(*creds), clock.Now());
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
  res->callback([o, exit_code] { Resolve(*o, exit_code); });

  CLI::App* rsp = app.add_subcommand("respond", "print the TRANSFER_RESP for a resolved offer");
  o->cred.Add(rsp);
  rsp->add_option("--state", o->state, "resolve state file from `resolve`")->required();
  rsp->add_flag("--show-keys", o->show_keys, "print the SRTP master keys and salts on stderr");
  rsp->callback([o, exit_code] { Respond(*o, exit_code); });
}

}  // namespace kms::cli
