#include "src/client/policy_check.h"

#include <algorithm>

#include "src/client/common.h"

namespace kms::client {
namespace {

Status Denied(std::string why, uint8_t detail) {
  return Status(StatusCode::kPermissionDenied, std::move(why), detail);
}

constexpr uint8_t kErrTs = static_cast<uint8_t>(mikey::ErrorNo::kInvalidTs);
constexpr uint8_t kErrId = static_cast<uint8_t>(mikey::ErrorNo::kInvalidId);
constexpr uint8_t kErrSp = static_cast<uint8_t>(mikey::ErrorNo::kInvalidSp);
constexpr uint8_t kErrSpPar = static_cast<uint8_t>(mikey::ErrorNo::kInvalidSpPar);
constexpr uint8_t kErrTicket = static_cast<uint8_t>(mikey::ErrorNo::kInvalidTicket);
constexpr uint8_t kErrTpPar = static_cast<uint8_t>(mikey::ErrorNo::kInvalidTpPar);

bool IsBaseTicket(const mikey::TicketPolicy& p) {
  return p.ticket_type == mikey::TicketType::kMikeyBaseTicket &&
         p.subtype == mikey::kBaseTicketSubtype && p.version == mikey::kBaseTicketVersion;
}

bool ListsResponder(const mikey::TicketPolicy& p, std::string_view id) {
  for (const mikey::Idr* r : p.Responders()) {
    if (IdrText(*r) == id) {
      return true;
    }
  }
  return false;
}

}  // namespace

Status CheckValidityWindow(const mikey::TicketPolicy& p, UnixTime now, std::chrono::seconds skew) {
  // RFC 6043 §6.10: TRs/TRe bound the validity; absent = unbounded on that side.
  if (const mikey::TimestampR* trs = p.FindTr(mikey::TsRole::kStartOfValidity)) {
    const auto start = TimestampInstant(mikey::Timestamp{trs->ts_type, trs->value});
    if (!start || *start > now + skew) {
      return Denied("ticket not yet valid", kErrTpPar);
    }
  }
  if (const mikey::TimestampR* tre = p.FindTr(mikey::TsRole::kEndOfValidity)) {
    const auto end = TimestampInstant(mikey::Timestamp{tre->ts_type, tre->value});
    if (!end || *end + skew < now) {
      return Denied("ticket expired", kErrTpPar);
    }
  }
  return Status::Ok();
}

Status CheckGrantedPolicy(const mikey::TicketPolicy& granted, std::string_view identity_i,
                          const InitiatorRequirements& req, UnixTime now) {
  if (!IsBaseTicket(granted)) {
    return Denied("granted ticket type not supported", kErrTicket);
  }
  if (Status s = mikey::CheckTpFlagRules(granted.flags); !s.ok()) {
    return Denied("granted flags inconsistent: " + s.message(), kErrTpPar);
  }
  const mikey::TpFlags& f = granted.flags;
  if (!f.f) {
    return Denied("granted policy forbids TRANSFER_RESP (F=0)", kErrTpPar);
  }
  if (!f.n) {
    return Denied("granted ticket needs ticket-type specific processing (N=0)", kErrTpPar);
  }
  if (req.desired_prf && granted.prf != *req.desired_prf) {
    return Denied("granted TP PRF differs from the desired one", kErrTpPar);
  }
  if (req.require_forking && !f.i) {
    return Denied("granted policy without key forking", kErrTpPar);
  }
  if (granted.FindKemac() != nullptr) {
    // RFC 6043 §6.10: the desired-keys KEMAC SHALL NOT appear in the granted policy.
    return Denied("granted policy carries a KEMAC", kErrTpPar);
  }
  if (const mikey::Idr* idri = granted.FindIdr(mikey::IdRole::kInitiator)) {
    if (IdrText(*idri) != identity_i) {
      return Denied("granted policy names another initiator", kErrId);
    }
  }
  for (const std::string& r : req.responders) {
    if (!ListsResponder(granted, r)) {
      return Denied("granted policy does not authorize responder " + r, kErrTpPar);
    }
  }
  KMS_RETURN_IF_ERROR(CheckValidityWindow(granted, now, req.clock_skew));
  if (const mikey::TimestampR* tre = granted.FindTr(mikey::TsRole::kEndOfValidity)) {
    const auto end = TimestampInstant(mikey::Timestamp{tre->ts_type, tre->value});
    if (!end || *end < now + req.min_remaining_validity) {
      return Denied("granted validity too short", kErrTpPar);
    }
  }
  return Status::Ok();
}

Result<SrtpProfile> SrtpProfileOf(const mikey::SecurityPolicy* sp) {
  SrtpProfile prof;
  if (sp == nullptr) {
    return prof;
  }
  if (sp->prot_type != mikey::ProtType::kSrtp) {
    return Denied("security protocol not supported", kErrSp);
  }
  // Each parameter must be absent (SRTP default) or equal to the supported value.
  struct Want {
    mikey::SrtpParam p;
    uint32_t value;
  };
  static constexpr Want kFixed[] = {
      {mikey::SrtpParam::kEncrAlg, 1},  // AES-CM
      {mikey::SrtpParam::kSessionEncrKeyLength, 16},
      {mikey::SrtpParam::kAuthAlg, 1},  // HMAC-SHA-1
      {mikey::SrtpParam::kSessionAuthKeyLength, 20},
      {mikey::SrtpParam::kSessionSaltKeyLength, 14},
      {mikey::SrtpParam::kSrtpPrf, 0},  // AES-CM
      {mikey::SrtpParam::kSrtpEncryption, 1},
      {mikey::SrtpParam::kSrtcpEncryption, 1},
      {mikey::SrtpParam::kSrtpAuthentication, 1},
      {mikey::SrtpParam::kSrtpPrefixLength, 0},
  };
  for (const Want& w : kFixed) {
    auto v = sp->SrtpUint(w.p);
    if (!v.ok()) {
      return Denied("malformed SRTP parameter", kErrSpPar);
    }
    if (v->has_value() && **v != w.value) {
      return Denied("SRTP parameter " + std::to_string(static_cast<int>(w.p)) + " not supported",
                    kErrSpPar);
    }
  }
  auto tag = sp->SrtpUint(mikey::SrtpParam::kAuthTagLength);
  if (!tag.ok() || (tag->has_value() && **tag != 10 && **tag != 4)) {
    return Denied("SRTP authentication tag length not supported", kErrSpPar);
  }
  if (tag->has_value()) {
    prof.auth_tag_len = **tag;
  }
  return prof;
}

Result<const mikey::SecurityPolicy*> PolicyForCs(
    const mikey::GenericIdBlock& cs, const std::vector<const mikey::SecurityPolicy*>& sps) {
  if (cs.policy_nos.empty()) {
    return static_cast<const mikey::SecurityPolicy*>(nullptr);
  }
  for (const mikey::SecurityPolicy* sp : sps) {
    if (sp->policy_no == cs.policy_nos.front()) {
      return sp;
    }
  }
  return Denied("crypto session refers to an unknown policy", kErrSpPar);
}

Status EarlyCheckTransferInit(const mikey::Message& ti, const ResponderPolicy& p, UnixTime now) {
  if (ti.hdr.data_type != mikey::DataType::kTransferInit) {
    return Denied("not a TRANSFER_INIT", static_cast<uint8_t>(mikey::ErrorNo::kInvalidDt));
  }
  if (ti.hdr.map_type != mikey::CsIdMapType::kGenericId || ti.hdr.generic_map.empty()) {
    return Denied("TRANSFER_INIT without a GENERIC-ID crypto session map", kErrSp);
  }
  const mikey::Ticket* tk = ti.FindTicket();
  if (tk == nullptr) {
    return Denied("TRANSFER_INIT without TICKET", kErrTicket);
  }
  if (!IsBaseTicket(tk->policy)) {
    return Denied("ticket type not supported", kErrTicket);  // spec §11 A16
  }
  const mikey::TpFlags& f = tk->policy.flags;
  if (Status s = mikey::CheckTpFlagRules(f); !s.ok()) {
    return Denied("ticket flags inconsistent: " + s.message(), kErrTpPar);
  }
  if (!f.o) {
    return Denied("ticket needs ticket-type specific processing (O=0)", kErrTpPar);
  }
  if (!f.l && ti.FindKemac() != nullptr) {
    return Denied("initiator-supplied keys not allowed (L=0)", kErrTpPar);
  }
  if (f.i != !tk->initiator_data.empty()) {
    return Denied("Initiator Data presence contradicts the I flag", kErrTpPar);
  }
  const mikey::Timestamp* t = ti.FindT();
  const auto at = t ? TimestampInstant(*t) : std::nullopt;
  if (!at || *at > now + p.clock_skew || *at + p.clock_skew < now) {
    return Denied("TRANSFER_INIT timestamp outside the allowed skew", kErrTs);
  }
  KMS_RETURN_IF_ERROR(CheckValidityWindow(tk->policy, now, p.clock_skew));
  bool ours = false;
  for (const std::string& id : p.identities) {
    ours = ours || ListsResponder(tk->policy, id);
  }
  if (!ours) {
    return Denied("ticket does not name this responder", kErrId);
  }
  if (const mikey::Idr* idrr = ti.FindIdr(mikey::IdRole::kResponder)) {
    const std::string target = IdrText(*idrr);
    if (std::find(p.identities.begin(), p.identities.end(), target) == p.identities.end()) {
      return Denied("TRANSFER_INIT addressed to another responder", kErrId);
    }
  }
  const auto sps = ti.Policies();
  for (const mikey::SecurityPolicy* sp : sps) {
    KMS_RETURN_IF_ERROR(SrtpProfileOf(sp));
  }
  for (const mikey::GenericIdBlock& cs : ti.hdr.generic_map) {
    if (cs.prot_type != mikey::ProtType::kSrtp) {
      return Denied("crypto session protocol not supported", kErrSp);
    }
    KMS_ASSIGN_OR_RETURN(const mikey::SecurityPolicy* sp, PolicyForCs(cs, sps));
    KMS_RETURN_IF_ERROR(SrtpProfileOf(sp));
  }
  return Status::Ok();
}

}  // namespace kms::client
