#include "src/cli/kms_client/steps.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "src/base/encoding.h"
#include "src/cli/kms_client/inputs.h"

namespace kms::cli {

Result<TicketState> RequestTicket(client::KmsTransport& kms, const client::Credentials& c,
                                  const client::TicketRequestOptions& o, const client::Env& env) {
  KMS_ASSIGN_OR_RETURN(client::PendingRequest req, client::BuildRequestInit(c, o, env));
  KMS_ASSIGN_OR_RETURN(std::vector<uint8_t> resp, kms.Exchange(req.wire));
  return TicketState{std::move(req.wire), std::move(resp)};
}

Result<std::shared_ptr<const client::InitiatorTicket>> OpenTicket(
    const TicketState& s, const client::Credentials& c, UnixTime now,
    const client::InitiatorRequirements& requirements) {
  KMS_ASSIGN_OR_RETURN(client::PendingRequest req,
                       client::PendingRequestFromWire(s.request_init, requirements));
  KMS_ASSIGN_OR_RETURN(client::InitiatorTicket t,
                       client::ProcessRequestResp(s.request_resp, req, c, now));
  return std::make_shared<const client::InitiatorTicket>(std::move(t));
}

Result<ResolveState> ResolveTicket(client::KmsTransport& kms, const client::Credentials& c,
                                   const std::string& kms_id, std::span<const uint8_t> ti,
                                   const client::ResponderPolicy& p, const client::Env& env) {
  KMS_ASSIGN_OR_RETURN(client::ReceivedTransferInit rti,
                       client::ReceiveTransferInit(ti, p, env.clock.Now()));
  KMS_ASSIGN_OR_RETURN(client::PendingResolve pr,
                       client::BuildResolveInit(rti, c, kms_id, client::Suite{}, env));
  KMS_ASSIGN_OR_RETURN(std::vector<uint8_t> resp, kms.Exchange(pr.wire));
  return ResolveState{std::move(rti.wire), std::move(pr.wire), std::move(resp)};
}

namespace {
struct Opened {
  client::ReceivedTransferInit ti;
  client::ResolvedTicket resolved;
};
Result<Opened> OpenStates(const ResolveState& s, const client::Credentials& c,
                          const client::ResponderPolicy& p, UnixTime now) {
  KMS_ASSIGN_OR_RETURN(client::ReceivedTransferInit rti,
                       client::ReceiveTransferInit(s.transfer_init, p, now));
  KMS_ASSIGN_OR_RETURN(client::PendingResolve pr, client::PendingResolveFromWire(s.resolve_init));
  KMS_ASSIGN_OR_RETURN(client::ResolvedTicket rt,
                       client::ProcessResolveResp(s.resolve_resp, pr, c));
  return Opened{std::move(rti), std::move(rt)};
}
}  // namespace

Result<client::ResponderSession> OpenResolve(const ResolveState& s, const client::Credentials& c,
                                             const client::ResponderPolicy& p, UnixTime now,
                                             client::ReplayCache& replay) {
  KMS_ASSIGN_OR_RETURN(Opened o, OpenStates(s, c, p, now));
  // spec §7.4, §9.1 (RFC 3830 §5.4): the library's replay-protected overload, so only an
  // authenticated TRANSFER_INIT enters the cache, keyed by its MAC.
  return client::AuthenticateTransferInit(std::move(o.ti), std::move(o.resolved), replay, now);
}

Result<client::ResponderSession> ReopenResolve(const ResolveState& s, const client::Credentials& c,
                                               const client::ResponderPolicy& p, UnixTime now,
                                               const client::ReplayCache& replay) {
  KMS_ASSIGN_OR_RETURN(Opened o, OpenStates(s, c, p, now));
  // The replay check happened when `resolve` accepted this TRANSFER_INIT; checking it again
  // here would refuse the very message it recorded. Requiring the record instead keeps
  // `respond` from answering a state that never passed this device's cache.
  KMS_ASSIGN_OR_RETURN(client::ResponderSession session,
                       client::AuthenticateTransferInit(std::move(o.ti), std::move(o.resolved)));
  if (!replay.Contains(session.ti.msg.FindV()->mac, now)) {
    return PermissionDeniedError(
        "this TRANSFER_INIT is not in the replay cache: resolve it with the same "
        "--replay-cache first (and answer within the clock skew window)");
  }
  return session;
}

Status WriteStateFile(const std::string& path, const nlohmann::json& j) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return NotFoundError("cannot write " + path + ": " + std::strerror(errno));
  }
  const std::string text = j.dump(2) + "\n";
  const bool ok = ::fchmod(fd, 0600) == 0 &&
                  ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok ? Status::Ok() : InternalError("cannot write " + path);
}

Result<nlohmann::json> ReadStateFile(const std::string& path) {
  KMS_ASSIGN_OR_RETURN(const std::vector<uint8_t> raw, ReadAll(path));
  auto j = nlohmann::json::parse(raw.begin(), raw.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return DecodeError(path + " is not a kms-client state file");
  }
  return j;
}

namespace {
Result<std::vector<uint8_t>> HexField(const nlohmann::json& j, const char* name) {
  if (!j.contains(name) || !j[name].is_string()) {
    return DecodeError(std::string("state file lacks ") + name);
  }
  auto b = HexDecode(j[name].get<std::string>());
  if (!b.ok()) return DecodeError(std::string("state file field ") + name + " is not hex");
  return std::move(b).value();
}
}  // namespace

nlohmann::json ToJson(const TicketState& s) {
  return {{"request_init", HexEncode(s.request_init)}, {"request_resp", HexEncode(s.request_resp)}};
}
Result<TicketState> TicketStateFromJson(const nlohmann::json& j) {
  TicketState s;
  KMS_ASSIGN_OR_RETURN(s.request_init, HexField(j, "request_init"));
  KMS_ASSIGN_OR_RETURN(s.request_resp, HexField(j, "request_resp"));
  return s;
}
nlohmann::json ToJson(const ResolveState& s) {
  return {{"transfer_init", HexEncode(s.transfer_init)},
          {"resolve_init", HexEncode(s.resolve_init)},
          {"resolve_resp", HexEncode(s.resolve_resp)}};
}
Result<ResolveState> ResolveStateFromJson(const nlohmann::json& j) {
  ResolveState s;
  KMS_ASSIGN_OR_RETURN(s.transfer_init, HexField(j, "transfer_init"));
  KMS_ASSIGN_OR_RETURN(s.resolve_init, HexField(j, "resolve_init"));
  KMS_ASSIGN_OR_RETURN(s.resolve_resp, HexField(j, "resolve_resp"));
  return s;
}

nlohmann::json KeySummary(const client::CallKeys& k, bool show_keys) {
  nlohmann::json arr = nlohmann::json::array();
  for (const client::CryptoSessionKeys& s : k.sessions) {
    nlohmann::json j{{"cs_id", s.cs_id},
                     {"ssrc", s.ssrc},
                     {"mki", HexEncode(s.mki)},
                     {"master_key_length", s.master_key.size()},
                     {"auth_tag_length", s.profile.auth_tag_len}};
    if (show_keys) {
      j["master_key"] = HexEncode(s.master_key.Reveal());
      j["master_salt"] = HexEncode(s.master_salt.Reveal());
    }
    arr.push_back(std::move(j));
  }
  return {{"peer", k.peer_identity}, {"crypto_sessions", arr}};
}

nlohmann::json PolicySummary(const mikey::TicketPolicy& p) {
  nlohmann::json r = nlohmann::json::array();
  for (const mikey::Idr* i : p.Responders()) r.push_back(client::IdrText(*i));
  const mikey::TpFlags& f = p.flags;
  std::string flags;
  const std::pair<bool, char> bits[] = {{f.d, 'D'}, {f.e, 'E'}, {f.f, 'F'}, {f.g, 'G'},
                                        {f.h, 'H'}, {f.i, 'I'}, {f.j, 'J'}, {f.k, 'K'},
                                        {f.l, 'L'}, {f.m, 'M'}, {f.n, 'N'}, {f.o, 'O'}};
  for (const auto& [on, c] : bits) {
    if (on) flags += c;
  }
  nlohmann::json j{{"responders", r}, {"flags", flags}};
  if (const mikey::TimestampR* tre = p.FindTr(mikey::TsRole::kEndOfValidity)) {
    j["valid_until_ntp32"] = tre->value;
  }
  return j;
}

}  // namespace kms::cli
