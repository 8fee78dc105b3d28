// MIKEY Error messages sent by the KMS (RFC 3830 §5.1.2, RFC 6043 §5.4; spec §2.9).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "src/base/result.h"
#include "src/mikey/message.h"

namespace kms::core {

// BuildErrorMessage: HDR (data type 6, V=0; version, PRF func, CSB ID, #CS, map copied from
// the message in error when its HDR parsed, spec §11 A12), a fresh T, one ERR. Never
// authenticated: the KMS's refusals must look alike whatever their cause (issue 6 §5),
// and RFC 6043 §5.4 makes authentication of errors optional.
Result<std::vector<uint8_t>> BuildErrorMessage(const std::optional<mikey::Hdr>& in_error,
                                               mikey::ErrorNo error_no, uint64_t ntp_now);

}  // namespace kms::core
