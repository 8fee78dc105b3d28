// Encode: MIKEY / MIKEY-TICKET message encoder (RFC 3830 §6; RFC 6043 §6).
#pragma once

#include <cstdint>
#include <vector>

#include "src/base/result.h"
#include "src/mikey/message.h"

namespace kms::mikey {

// EncodedMessage: the wire bytes and where each payload, MAC and ticket part lies in them.
struct EncodedMessage {
  std::vector<uint8_t> wire;
  WireLayout layout;
};

// Encode: the exact RFC layout of `m` (HDR Next Payload and every Next Payload field are
// derived from the payload order; Message::layout is ignored). Messages produced by
// Decode re-encode to the identical bytes. Fails with kInvalidArgument if a value does not
// fit its wire field (lengths, MAC length vs MAC alg, #CS vs map entries, SIGN not last,
// TP flag rule violations) and kResourceExhausted above 64 KiB.
Result<std::vector<uint8_t>> Encode(const Message& m);

// EncodeWithLayout: as Encode, also returning the layout of the produced bytes, so a sender
// can compute MAC inputs (mac_coverage.h) and patch MACs in place. For a Type 1 TICKET
// whose Ticket Data parses as a base ticket, layout.ticket->base_ticket is filled; for a
// non-empty well-formed Initiator Data, layout.ticket->initiator.
Result<EncodedMessage> EncodeWithLayout(const Message& m);

}  // namespace kms::mikey
