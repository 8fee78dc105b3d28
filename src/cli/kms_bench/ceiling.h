// The token ceiling (issue 10 item 2): the throughput the KMS could reach if it did nothing
// but its token calls.
//
// The calls are not typed in from a table: kms-bench runs one REQUEST_INIT_PSK and one
// RESOLVE_INIT_PSK through the real core (TicketService, real policy store on the run's
// database, real TokenKeyVault) in-process, with a recording decorator in front of the
// vault, so the sequence is exactly what kmsd's core asks of the token. It then replays
// those calls (same kind, key, HMAC algorithm and input/output lengths; user PSKs rotated
// over the provisioned users) from the same number of threads, one token session each,
// against the same token, and reports replayed request+resolve pairs per second.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "hsm/token_stack.h"
#include "src/base/result.h"
#include "src/client/common.h"
#include "src/core/ports/key_vault.h"

namespace kms::bench {

struct TokenCall {
  enum class Kind : uint8_t { kHmac, kRandom, kOpenCredential };
  Kind kind = Kind::kHmac;
  bool on_psk = false;  // Hmac under the user's PSK (else under the TPK)
  crypto::HmacAlg alg = crypto::HmacAlg::kSha1;
  size_t len = 0;  // Hmac input bytes, Random output bytes
};

struct TokenTrace {
  std::vector<TokenCall> request, resolve;
  size_t unwraps_cold = 0;  // credential unwraps (C_UnwrapKey) of a first, cold pair
};

// Counts of one sequence: {"hmac_psk", "hmac_tpk", "random", "random_bytes", ...}.
nlohmann::json Describe(const std::vector<TokenCall>& calls);

// CaptureTrace: runs a cold pair (user 0 calls user 1; counts the credential unwraps) and
// then the same pair warm through an in-process TicketService; returns the warm pair's
// calls. Fails if either exchange is not granted and verified by the UE library.
Result<TokenTrace> CaptureTrace(hsm::TokenStack& stack, const std::string& db_path,
                                const std::string& kms_identity,
                                const std::vector<client::Credentials>& users);

struct CeilingResult {
  unsigned threads = 0;
  double seconds = 0;
  uint64_t pairs = 0;
  double pairs_per_s = 0;
  double hmac_per_s = 0;
  uint64_t failures = 0;  // token calls that returned an error
  double cpu_s = 0;       // this process's CPU time over the measurement (only the replay
                          // threads run then; SoftHSM2 computes in the calling thread)
};

// OpenUserKeys: the token reference of every user's PSK (unwrapped once, then cached).
Result<std::vector<ports::KeyRef>> OpenUserKeys(hsm::TokenStack& stack, const std::string& db_path,
                                                size_t users);

// MeasureCeiling: `threads` threads replay request+resolve pairs for `seconds`.
CeilingResult MeasureCeiling(ports::KeyVault& vault, const TokenTrace& trace,
                             const std::vector<ports::KeyRef>& user_keys, unsigned threads,
                             double seconds);

// OpenLoopLeg: latencies of one leg's token calls replayed in open loop.
struct OpenLoopLeg {
  double rate_per_s = 0;
  std::vector<double> latency_us;  // from each leg's due time to its last token call
  uint64_t failures = 0;
};

// MeasureTokenOpenLoop: the half-load baseline. `threads` threads (one token session each,
// like kmsd's decision workers) replay `n` request legs due at t0 + j / request_rate, then
// `n` resolve legs at resolve_rate; whichever thread is free takes the next leg and its
// latency counts from its due time (as kms-bench's HTTPS driver counts). What the token
// alone does at the rates kmsd is given: a p99 above the target here is the token's (and
// the host's), not kmsd's.
std::pair<OpenLoopLeg, OpenLoopLeg> MeasureTokenOpenLoop(
    ports::KeyVault& vault, const TokenTrace& trace, const std::vector<ports::KeyRef>& user_keys,
    unsigned threads, size_t n, double request_rate, double resolve_rate);

}  // namespace kms::bench
