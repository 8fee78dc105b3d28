#include "src/core/error_reply.h"

#include "src/mikey/encoder.h"

namespace kms::core {

Result<std::vector<uint8_t>> BuildErrorMessage(const std::optional<mikey::Hdr>& in_error,
                                               mikey::ErrorNo error_no, uint64_t ntp_now) {
  mikey::Message m;
  if (in_error) {
    m.hdr = *in_error;
  } else {
    // Nothing parsed: an Empty map with no crypto sessions, CSB ID 0.
    m.hdr.cs_count = 0;
    m.hdr.map_type = mikey::CsIdMapType::kEmpty;
  }
  m.hdr.version = mikey::kMikeyVersion;
  m.hdr.data_type = mikey::DataType::kError;
  m.hdr.v_flag = false;  // spec §11 A1: responses and errors carry V=0
  m.payloads.emplace_back(mikey::Timestamp{mikey::TsType::kNtpUtc, ntp_now});
  m.payloads.emplace_back(mikey::ErrorPayload{error_no, 0});
  auto wire = mikey::Encode(m);
  if (!wire.ok() && in_error) {
    // The copied map did not re-encode (e.g. inconsistent #CS): fall back to an empty map.
    return BuildErrorMessage(std::nullopt, error_no, ntp_now);
  }
  return wire;
}

}  // namespace kms::core
