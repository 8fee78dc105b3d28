// The vector flow (sections 3-9) run through the library on both sides, for tests that
// need the resulting call state (SRTP, CSB update).
#pragma once

#include <memory>

#include "src/client/initiator.h"
#include "src/client/responder.h"

namespace kms::client::testing {

struct VectorCall {
  std::shared_ptr<const InitiatorTicket> ticket;  // A's ticket (MPKr, un-forked TGK)
  CallKeys a;                                     // A's keys after TRANSFER_RESP
  CallKeys b;                                     // B's keys after TRANSFER_RESP
};

VectorCall RunVectorCall();

}  // namespace kms::client::testing
