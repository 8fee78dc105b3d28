#include "src/core/suite.h"

namespace kms::core {

SuiteParams SuiteParamsFor(ports::Suite suite) {
  SuiteParams p;
  p.suite = suite;
  if (suite == ports::Suite::k256) {
    p.prf = crypto::PrfFunc::kHmacSha256;
    p.encr = crypto::EncrAlgorithm::kAesCm256;
    p.mac = crypto::MacAlgorithm::kHmacSha256_256;
    p.wire_encr = mikey::EncrAlg::kAesCm256;
    p.wire_mac = mikey::MacAlg::kHmacSha256_256;
    p.key_len = 32;
  }
  return p;
}

Result<SuiteParams> SuiteFromMessage(mikey::PrfFunc hdr_prf, mikey::MacAlg v_mac) {
  if (hdr_prf == mikey::PrfFunc::kMikey1 && v_mac == mikey::MacAlg::kHmacSha1_160) {
    return SuiteParamsFor(ports::Suite::k128);
  }
  if (hdr_prf == mikey::PrfFunc::kPrfHmacSha256 && v_mac == mikey::MacAlg::kHmacSha256_256) {
    return SuiteParamsFor(ports::Suite::k256);
  }
  // RFC 6043 §12.1: the 256-bit algorithms are used together or not at all.
  return DecodeError("PRF and MAC algorithm belong to different suites",
                     static_cast<uint8_t>(mikey::ErrorNo::kInvalidMac));
}

crypto::PrfFunc ToCrypto(mikey::PrfFunc p) {
  return p == mikey::PrfFunc::kMikey1 ? crypto::PrfFunc::kMikey1 : crypto::PrfFunc::kHmacSha256;
}

mikey::PrfFunc ToWire(crypto::PrfFunc p) {
  return p == crypto::PrfFunc::kMikey1 ? mikey::PrfFunc::kMikey1 : mikey::PrfFunc::kPrfHmacSha256;
}

Result<crypto::EncrAlgorithm> ToCrypto(mikey::EncrAlg a) {
  return crypto::EncrAlgorithmFromCode(static_cast<uint8_t>(a));
}

Result<crypto::MacAlgorithm> ToCrypto(mikey::MacAlg a) {
  return crypto::MacAlgorithmFromCode(static_cast<uint8_t>(a));
}

}  // namespace kms::core
