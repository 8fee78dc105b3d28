// Crypto suites of this profile (spec §11 A22, §5.3; RFC 6043 §12.1): the 128-bit triple
// (MIKEY-1 PRF, AES-CM-128, HMAC-SHA-1-160) or the 256-bit triple (PRF-HMAC-SHA-256,
// AES-CM-256, HMAC-SHA-256-256), never mixed. Also the checked conversions between the
// codec's code points (kms::mikey) and the crypto library's enums (kms::crypto).
#pragma once

#include <cstddef>

#include "src/base/result.h"
#include "src/core/ports/policy_store.h"
#include "src/crypto/algorithms.h"
#include "src/mikey/constants.h"

namespace kms::core {

struct SuiteParams {
  ports::Suite suite = ports::Suite::k128;
  crypto::PrfFunc prf = crypto::PrfFunc::kMikey1;
  crypto::EncrAlgorithm encr = crypto::EncrAlgorithm::kAesCm128;
  crypto::MacAlgorithm mac = crypto::MacAlgorithm::kHmacSha1_160;
  mikey::EncrAlg wire_encr = mikey::EncrAlg::kAesCm128;
  mikey::MacAlg wire_mac = mikey::MacAlg::kHmacSha1_160;
  size_t key_len = 16;  // MPK, default TGK, and minimum RAND length
};

// SuiteFromMessage: the suite named by a message's HDR PRF func and V MAC alg. A mixture
// (e.g. MIKEY-1 with HMAC-SHA-256) is refused: kDecodeError with detail 3 (MAC alg),
// RFC 6043 §12.1 "use them together".
Result<SuiteParams> SuiteFromMessage(mikey::PrfFunc hdr_prf, mikey::MacAlg v_mac);
SuiteParams SuiteParamsFor(ports::Suite suite);

crypto::PrfFunc ToCrypto(mikey::PrfFunc p);
mikey::PrfFunc ToWire(crypto::PrfFunc p);
Result<crypto::EncrAlgorithm> ToCrypto(mikey::EncrAlg a);
Result<crypto::MacAlgorithm> ToCrypto(mikey::MacAlg a);

}  // namespace kms::core
