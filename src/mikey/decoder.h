// Decode: strict MIKEY / MIKEY-TICKET message decoder (RFC 3830 §6; RFC 6043 §6; spec
// mikey-ticket.md §3, §4, §9.3).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "src/base/result.h"
#include "src/mikey/message.h"

namespace kms::mikey {

// DecodeLimits: resource caps applied before and during decoding. Nesting needs no cap:
// the grammar is not recursive (TICKET -> TP Data / Ticket Data / Initiator Data, whose
// chains may not contain TP or TICKET), so the depth is at most 2 by construction.
struct DecodeLimits {
  size_t max_message_size = 64 * 1024;  // bytes
  size_t max_payloads = 64;             // payloads in all chains, nested ones included
};

// Decode: parses one complete message. Every length is checked against its enclosing
// payload; unknown payload types, trailing bytes, over-limit sizes, duplicate singleton
// payloads (T, V, TP, TICKET, KEMAC, PKE, SIGN; for data types 6 and 11-18 also more than
// one message-level IDR/RANDR per role), missing mandatory payloads of data types 6 and
// 11-18 (RFC 6043 §4.2), V/SIGN not last and TP flag rule violations are errors.
// TICKETs of Type 1 have their Ticket Data and Initiator Data parsed too (for layout).
//
// Errors: kDecodeError with detail() = the MIKEY Error no to send back (RFC 3830 §6.12,
// RFC 6043 Table 6.14): 13 unparseable / rule violated, 11 unsupported data type,
// 2 unknown PRF, 3 unknown MAC alg, 4 unknown encr alg, 1 unknown TS type, 5 unknown hash,
// 6 unknown DH group, 7 unsupported ID type, 8 unsupported cert type, 14 ticket type /
// subtype / version not supported (only the MIKEY base ticket 1/1/1 is), 15 TP parameters
// (flag rules of RFC 6043 §6.10, TP Data without IDRr or with duplicated roles).
//
// Lifetime: the Message owns copies of all fields; Message::layout holds offsets into
// `wire`, so MAC checks must use these same bytes (see mac_coverage.h).
Result<Message> Decode(std::span<const uint8_t> wire, const DecodeLimits& limits = {});

// DecodeHdr: only the Common Header at the start of `wire` (what follows is not looked at),
// with the same checks as Decode. For answering a message that failed to decode as a whole:
// its Error message copies version, PRF func, CSB ID and the CS map (RFC 6043 §5.4; spec
// §2.9, §11 A12). Errors as Decode's.
Result<Hdr> DecodeHdr(std::span<const uint8_t> wire);

}  // namespace kms::mikey
