// The UE side of kms-bench, built on the project's UE library (src/client), so every
// message the benchmark sends is one a real UE would send: unique (fresh CSB ID, RAND, T),
// MACed with the user's PSK. All of it runs before the timed phases.
//
// Resolves need tickets, so a run has two timed phases: requests first, then resolves of
// the tickets those requests returned (between them, untimed: REQUEST_RESP verified and
// decrypted, TRANSFER_INIT built by the initiator, early-checked by the responder, and
// RESOLVE_INIT_PSK built with the responder's PSK).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "src/base/result.h"
#include "src/client/initiator.h"
#include "src/client/responder.h"

namespace kms::bench {

using Wire = std::vector<uint8_t>;

// Pair k of a batch: initiator user (first + k) % n calls responder user (first + k + 1) % n.
struct RequestBatch {
  std::vector<Wire> wires;
  std::vector<client::PendingRequest> pending;
  std::vector<size_t> initiator, responder;
};

struct ResolveBatch {
  std::vector<Wire> wires;
  std::vector<client::PendingResolve> pending;
  std::vector<size_t> responder;
  size_t bad_request_responses = 0;  // REQUEST_RESPs that did not verify (no resolve built)
};

// BuildRequests: `count` REQUEST_INIT_PSK messages (suite 128, forking, 1 h validity).
Result<RequestBatch> BuildRequests(const std::vector<client::Credentials>& users, size_t count,
                                   size_t first, const std::string& kms_identity);

// BuildResolves: for every REQUEST_RESP that verifies against its request, the TRANSFER_INIT
// of the initiator and the responder's RESOLVE_INIT_PSK. responses[k] answers batch.wires[k]
// (an empty response counts as bad).
Result<ResolveBatch> BuildResolves(const std::vector<client::Credentials>& users,
                                   const RequestBatch& batch, const std::vector<Wire>& responses,
                                   const std::string& kms_identity);

// CountBadResolveResponses: RESOLVE_RESPs that fail ProcessResolveResp (MAC, keys, HDR).
size_t CountBadResolveResponses(const std::vector<client::Credentials>& users,
                                const ResolveBatch& batch, const std::vector<Wire>& responses);

// IsMikeyError: the body is a MIKEY Error message (HDR data type 6, RFC 3830 §6.1).
inline bool IsMikeyError(const Wire& body) { return body.size() >= 2 && body[1] == 6; }

}  // namespace kms::bench
