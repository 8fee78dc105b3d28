#include "src/mikey/mac_coverage.h"

#include <algorithm>
#include <initializer_list>

namespace kms::mikey {
namespace {

bool Fits(std::span<const uint8_t> wire, const ByteRange& r) {
  return r.offset <= wire.size() && r.length <= wire.size() - r.offset;
}

Status CheckLayout(std::span<const uint8_t> wire, const WireLayout& layout) {
  if (layout.total_length != wire.size()) {
    return InvalidArgumentError("layout does not belong to this buffer");
  }
  return Status::Ok();
}

// AuthRange: the MAC bytes of V, or the signature bytes of SIGN.
Result<ByteRange> AuthRange(std::span<const uint8_t> wire, const WireLayout& layout) {
  KMS_RETURN_IF_ERROR(CheckLayout(wire, layout));
  const std::optional<ByteRange>& r = layout.v_mac ? layout.v_mac : layout.signature;
  if (!r) {
    return FailedPreconditionError("message has no V or SIGN payload");
  }
  if (!Fits(wire, *r)) {
    return InvalidArgumentError("MAC range outside the buffer");
  }
  return *r;
}

// Gather: wire[range] without the excluded ranges (which must be sorted, disjoint and
// inside range), followed by the suffixes.
Result<std::vector<uint8_t>> Gather(std::span<const uint8_t> wire, ByteRange range,
                                    std::vector<ByteRange> excluded,
                                    std::initializer_list<std::span<const uint8_t>> suffixes) {
  if (!Fits(wire, range)) {
    return InvalidArgumentError("covered range outside the buffer");
  }
  std::sort(excluded.begin(), excluded.end(),
            [](const ByteRange& a, const ByteRange& b) { return a.offset < b.offset; });
  std::vector<uint8_t> out;
  size_t pos = range.offset;
  for (const ByteRange& e : excluded) {
    if (e.offset < pos || e.end() > range.end()) {
      return InvalidArgumentError("excluded range overlaps or lies outside the covered range");
    }
    out.insert(out.end(), wire.begin() + static_cast<std::ptrdiff_t>(pos),
               wire.begin() + static_cast<std::ptrdiff_t>(e.offset));
    pos = e.end();
  }
  out.insert(out.end(), wire.begin() + static_cast<std::ptrdiff_t>(pos),
             wire.begin() + static_cast<std::ptrdiff_t>(range.end()));
  for (std::span<const uint8_t> s : suffixes) {
    out.insert(out.end(), s.begin(), s.end());
  }
  return out;
}

Result<std::vector<uint8_t>> MsgPlus(std::span<const uint8_t> wire, const WireLayout& layout,
                                     std::span<const uint8_t> a, std::span<const uint8_t> b) {
  KMS_ASSIGN_OR_RETURN(ByteRange mac, AuthRange(wire, layout));
  return Gather(wire, ByteRange{0, wire.size()}, {mac}, {a, b});
}

Status Patch(std::span<uint8_t> wire, const ByteRange& r, std::span<const uint8_t> mac) {
  if (r.offset > wire.size() || r.length > wire.size() - r.offset) {
    return InvalidArgumentError("MAC range outside the buffer");
  }
  if (mac.size() != r.length) {
    return InvalidArgumentError("MAC length differs from the placeholder");
  }
  std::copy(mac.begin(), mac.end(), wire.begin() + static_cast<std::ptrdiff_t>(r.offset));
  return Status::Ok();
}

}  // namespace

std::span<const uint8_t> IdentityData(const Message& m, IdRole role) {
  const Idr* idr = m.FindIdr(role);
  return idr == nullptr ? std::span<const uint8_t>() : std::span<const uint8_t>(idr->id_data);
}

Result<std::vector<uint8_t>> RequestInitMacInput(std::span<const uint8_t> wire,
                                                 const WireLayout& layout,
                                                 std::span<const uint8_t> identity_i,
                                                 std::span<const uint8_t> identity_kms) {
  // RFC 6043 §5.5 Table 5.2: REQUEST_INIT || Identity_i || Identity_kms.
  return MsgPlus(wire, layout, identity_i, identity_kms);
}

Result<std::vector<uint8_t>> ResolveInitMacInput(std::span<const uint8_t> wire,
                                                 const WireLayout& layout,
                                                 std::span<const uint8_t> identity_r,
                                                 std::span<const uint8_t> identity_kms) {
  // RFC 6043 §5.5 Table 5.2: RESOLVE_INIT || Identity_r || Identity_kms.
  return MsgPlus(wire, layout, identity_r, identity_kms);
}

Result<std::vector<uint8_t>> TransferInitMacInput(std::span<const uint8_t> wire,
                                                  const WireLayout& layout,
                                                  std::span<const uint8_t> identity_i,
                                                  std::span<const uint8_t> identity_r) {
  // RFC 6043 §5.5: the Initiator Data length field and Initiator Data are not covered.
  KMS_ASSIGN_OR_RETURN(ByteRange mac, AuthRange(wire, layout));
  std::vector<ByteRange> excluded{mac};
  if (layout.ticket) {
    const TicketLayout& t = *layout.ticket;
    if (t.initiator_data.offset != t.initiator_data_length_field + 2) {
      return InvalidArgumentError("inconsistent ticket layout");
    }
    excluded.push_back(ByteRange{t.initiator_data_length_field, 2 + t.initiator_data.length});
  }
  return Gather(wire, ByteRange{0, wire.size()}, std::move(excluded), {identity_i, identity_r});
}

Result<std::vector<uint8_t>> ResponseMacInput(std::span<const uint8_t> wire,
                                              const WireLayout& layout,
                                              std::span<const uint8_t> initial_message) {
  // RFC 6043 §5.5: response || complete initial message.
  return MsgPlus(wire, layout, initial_message, {});
}

Result<std::vector<uint8_t>> ErrorMacInput(std::span<const uint8_t> wire,
                                           const WireLayout& layout) {
  // RFC 6043 §5.4: the Error message only.
  return MsgPlus(wire, layout, {}, {});
}

Result<std::vector<uint8_t>> TicketMacInput(std::span<const uint8_t> wire,
                                            const WireLayout& layout) {
  KMS_RETURN_IF_ERROR(CheckLayout(wire, layout));
  if (!layout.ticket || !layout.ticket->base_ticket) {
    return FailedPreconditionError("no base ticket in this message");
  }
  const TicketLayout& t = *layout.ticket;
  // RFC 6043 App. A.1: TICKET minus Next Payload, minus Initiator Data len + data, minus MAC.
  const ByteRange covered{t.payload.offset + 1, t.payload.length - 1};
  return Gather(
      wire, covered,
      {t.base_ticket->v_mac, ByteRange{t.initiator_data_length_field, 2 + t.initiator_data.length}},
      {});
}

Result<std::vector<uint8_t>> VrMacInput(std::span<const uint8_t> wire, const WireLayout& layout) {
  KMS_RETURN_IF_ERROR(CheckLayout(wire, layout));
  if (!layout.ticket || !layout.ticket->initiator) {
    return FailedPreconditionError("no Initiator Data in this message");
  }
  // RFC 6043 §6.10: the Initiator Data except Vr's MAC bytes (Vr is last).
  const ByteRange& id = layout.ticket->initiator_data;
  return Gather(wire, id, {layout.ticket->initiator->vr_mac}, {});
}

Result<std::vector<uint8_t>> MessageMacInput(DataType type, std::span<const uint8_t> wire,
                                             const WireLayout& layout, const MacContext& ctx) {
  switch (type) {
    case DataType::kRequestInitPsk:
    case DataType::kRequestInitPk:
      return RequestInitMacInput(wire, layout, ctx.identity_i, ctx.identity_kms);
    case DataType::kTransferInit:
      return TransferInitMacInput(wire, layout, ctx.identity_i, ctx.identity_r);
    case DataType::kResolveInitPsk:
    case DataType::kResolveInitPk:
      return ResolveInitMacInput(wire, layout, ctx.identity_r, ctx.identity_kms);
    case DataType::kRequestResp:
    case DataType::kTransferResp:
    case DataType::kResolveResp:
      return ResponseMacInput(wire, layout, ctx.initial_message);
    case DataType::kError:
      return ErrorMacInput(wire, layout);
    default:
      return InvalidArgumentError("no MIKEY-TICKET MAC rule for this data type");
  }
}

Result<std::span<const uint8_t>> MessageMac(std::span<const uint8_t> wire,
                                            const WireLayout& layout) {
  KMS_ASSIGN_OR_RETURN(ByteRange r, AuthRange(wire, layout));
  return wire.subspan(r.offset, r.length);
}

Result<std::span<const uint8_t>> TicketMac(std::span<const uint8_t> wire,
                                           const WireLayout& layout) {
  KMS_RETURN_IF_ERROR(CheckLayout(wire, layout));
  if (!layout.ticket || !layout.ticket->base_ticket) {
    return FailedPreconditionError("no base ticket in this message");
  }
  const ByteRange& r = layout.ticket->base_ticket->v_mac;
  if (!Fits(wire, r)) {
    return InvalidArgumentError("MAC range outside the buffer");
  }
  return wire.subspan(r.offset, r.length);
}

Status PatchMessageMac(std::span<uint8_t> wire, const WireLayout& layout,
                       std::span<const uint8_t> mac) {
  KMS_ASSIGN_OR_RETURN(ByteRange r, AuthRange(wire, layout));
  return Patch(wire, r, mac);
}

Status PatchTicketMac(std::span<uint8_t> wire, const WireLayout& layout,
                      std::span<const uint8_t> mac) {
  KMS_RETURN_IF_ERROR(CheckLayout(wire, layout));
  if (!layout.ticket || !layout.ticket->base_ticket) {
    return FailedPreconditionError("no base ticket in this message");
  }
  return Patch(wire, layout.ticket->base_ticket->v_mac, mac);
}

Status PatchInitiatorDataMacs(std::span<uint8_t> wire, const WireLayout& layout,
                              std::span<const uint8_t> vi_mac, std::span<const uint8_t> vr_mac) {
  KMS_RETURN_IF_ERROR(CheckLayout(wire, layout));
  if (!layout.ticket || !layout.ticket->initiator) {
    return FailedPreconditionError("no Initiator Data in this message");
  }
  KMS_RETURN_IF_ERROR(Patch(wire, layout.ticket->initiator->vi_mac, vi_mac));
  return Patch(wire, layout.ticket->initiator->vr_mac, vr_mac);
}

}  // namespace kms::mikey
