// A minimal UE for driving the KMS core in unit tests: builds REQUEST_INIT_PSK and
// RESOLVE_INIT_PSK messages and opens the KEMACs of the responses, with kms::mikey and
// kms::crypto only (the full UE library is src/client; this keeps core tests independent).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "src/base/result.h"
#include "src/base/secret_bytes.h"
#include "src/mikey/key_data.h"
#include "src/mikey/message.h"

namespace kms::core::testing {

struct UeIdentity {
  std::string identity;  // IDRi / IDRr
  std::string btid;      // IDRpsk
  std::vector<uint8_t> psk;
};

struct InitParams {
  uint32_t csb_id = 0x01020304;
  uint64_t t_ntp = 0;
  std::vector<uint8_t> rand = std::vector<uint8_t>(32, 0x5a);
  bool suite256 = false;
  std::string kms = "https://kms.example.org";
};

// DefaultPolicy: a desired mode-1 policy naming responders, TRe = t + validity, flags
// E F G H N O (+I when forking); one 128-bit TGK requested (32-bit when suite256).
mikey::TicketPolicy DefaultPolicy(const std::vector<std::string>& responders, uint64_t t_ntp,
                                  uint32_t validity_s, bool forking, bool suite256 = false);

// BuildRequestInit / BuildResolveInit: complete messages with a correct MAC (RFC 6043 §5.5).
Result<std::vector<uint8_t>> BuildRequestInit(const UeIdentity& ue, const InitParams& p,
                                              const mikey::TicketPolicy& desired);
Result<std::vector<uint8_t>> BuildResolveInit(const UeIdentity& ue, const InitParams& p,
                                              const mikey::Ticket& ticket);
// Remac: recomputes the V MAC of a REQUEST_INIT / RESOLVE_INIT after the test changed it.
Result<std::vector<uint8_t>> Remac(const mikey::Message& m, const UeIdentity& ue,
                                   const std::string& kms);

// OpenResponse: verifies a REQUEST_RESP / RESOLVE_RESP against its request and decrypts its
// KEMAC (IV with the response's own T, spec §11 A3); returns the key chain.
Result<std::vector<mikey::KeyData>> OpenResponse(const std::vector<uint8_t>& response,
                                                 const std::vector<uint8_t>& request,
                                                 const UeIdentity& ue);

}  // namespace kms::core::testing
