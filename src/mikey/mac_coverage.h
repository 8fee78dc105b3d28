// MAC coverage: the exact bytes each MIKEY-TICKET MAC / signature covers (RFC 6043 §5.5,
// Table 5.2, App. A.1; spec mikey-ticket.md §5.5), always taken from the wire bytes
// (received, or just encoded), never from a re-encoding. No cryptography here: feed the
// result to kms::crypto's HMAC and compare in constant time.
//
// Every function takes the wire bytes and the WireLayout produced for exactly those bytes
// (Message::layout from Decode, or EncodedMessage::layout from EncodeWithLayout); a layout
// that does not fit the buffer gives kInvalidArgument. "msg" is the message without the
// MAC bytes of its V payload (or the signature bytes of SIGN for the PK variants);
// identities are ID Data only (IdentityData below). Missing V/SIGN: kFailedPrecondition.
//
// Sending: build the Message with a placeholder MAC of the right length (e.g. zeros),
// EncodeWithLayout, compute the input with the function for the message, MAC it, then
// PatchMessageMac (and PatchTicketMac / PatchInitiatorDataMacs for the nested MACs; the
// ticket and Vr MACs must be patched before the message MAC they are covered by).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "src/base/result.h"
#include "src/mikey/message.h"

namespace kms::mikey {

// IdentityData: the ID Data of the message-level IDR with `role`; empty span if absent
// (spec §11 A4: the caller must then supply the provisioned identity itself). The span
// points into `m` and lives as long as it.
std::span<const uint8_t> IdentityData(const Message& m, IdRole role);

// RequestInitMacInput: REQUEST_INIT msg || Identity_i || Identity_kms (RFC 6043 §5.5).
Result<std::vector<uint8_t>> RequestInitMacInput(std::span<const uint8_t> wire,
                                                 const WireLayout& layout,
                                                 std::span<const uint8_t> identity_i,
                                                 std::span<const uint8_t> identity_kms);
// ResolveInitMacInput: RESOLVE_INIT msg || Identity_r || Identity_kms (TICKET in full).
Result<std::vector<uint8_t>> ResolveInitMacInput(std::span<const uint8_t> wire,
                                                 const WireLayout& layout,
                                                 std::span<const uint8_t> identity_r,
                                                 std::span<const uint8_t> identity_kms);
// TransferInitMacInput: TRANSFER_INIT msg without the TICKET's Initiator Data length field
// and Initiator Data (even when the length is 0) || Identity_i || Identity_r.
Result<std::vector<uint8_t>> TransferInitMacInput(std::span<const uint8_t> wire,
                                                  const WireLayout& layout,
                                                  std::span<const uint8_t> identity_i,
                                                  std::span<const uint8_t> identity_r);
// ResponseMacInput: REQUEST_RESP / TRANSFER_RESP / RESOLVE_RESP msg || the complete
// initial message exactly as sent/received (incl. its MAC and any Initiator Data).
Result<std::vector<uint8_t>> ResponseMacInput(std::span<const uint8_t> wire,
                                              const WireLayout& layout,
                                              std::span<const uint8_t> initial_message);
// ErrorMacInput: an Error message's own msg (RFC 6043 §5.4).
Result<std::vector<uint8_t>> ErrorMacInput(std::span<const uint8_t> wire, const WireLayout& layout);

// TicketMacInput: base ticket V (RFC 6043 App. A.1): the TICKET payload without its Next
// Payload byte, without the Initiator Data length + data, and without the V MAC bytes.
// kFailedPrecondition if the layout has no base ticket.
Result<std::vector<uint8_t>> TicketMacInput(std::span<const uint8_t> wire,
                                            const WireLayout& layout);
// VrMacInput: Initiator Data without Vr's MAC bytes (RFC 6043 §6.10). kFailedPrecondition
// without Initiator Data.
Result<std::vector<uint8_t>> VrMacInput(std::span<const uint8_t> wire, const WireLayout& layout);

// MacContext / MessageMacInput: dispatch on the data type (6, 11-18) to the function above.
struct MacContext {
  std::span<const uint8_t> identity_i;
  std::span<const uint8_t> identity_r;
  std::span<const uint8_t> identity_kms;
  std::span<const uint8_t> initial_message;  // for responses
};
Result<std::vector<uint8_t>> MessageMacInput(DataType type, std::span<const uint8_t> wire,
                                             const WireLayout& layout, const MacContext& ctx);

// MessageMac / TicketMac: views of the MAC bytes in `wire` (for constant-time compare).
Result<std::span<const uint8_t>> MessageMac(std::span<const uint8_t> wire,
                                            const WireLayout& layout);
Result<std::span<const uint8_t>> TicketMac(std::span<const uint8_t> wire, const WireLayout& layout);

// Patch*: overwrite MAC bytes in an encoded message; kInvalidArgument if the MAC length
// differs from the placeholder's, kFailedPrecondition if the layout lacks that MAC.
Status PatchMessageMac(std::span<uint8_t> wire, const WireLayout& layout,
                       std::span<const uint8_t> mac);
Status PatchTicketMac(std::span<uint8_t> wire, const WireLayout& layout,
                      std::span<const uint8_t> mac);
// PatchInitiatorDataMacs: writes Vi (normally = the TRANSFER_INIT MAC) and Vr.
Status PatchInitiatorDataMacs(std::span<uint8_t> wire, const WireLayout& layout,
                              std::span<const uint8_t> vi_mac, std::span<const uint8_t> vr_mac);

}  // namespace kms::mikey
