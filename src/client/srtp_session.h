// SRTP protection of RTP packets with the keys of one MIKEY crypto session (RFC 3711;
// libsrtp2). Profile AES_CM_128_HMAC_SHA1_80 (or _32 when the SP asks for a 4-byte tag),
// master key + master salt from RFC 6043 §5.1.3 derivations (CryptoSessionKeys).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "src/base/result.h"
#include "src/client/session_keys.h"

namespace kms::client {

enum class SrtpDirection : uint8_t { kSend, kReceive };

// SrtpSession: one libsrtp2 session for one SSRC and direction. Not thread-safe.
class SrtpSession {
 public:
  // Create: srtp_init() runs once per process; the session is keyed from `keys` (master
  // key 16 bytes, salt 14 bytes) for keys.ssrc. kInvalidArgument for other key sizes.
  static Result<std::unique_ptr<SrtpSession>> Create(const CryptoSessionKeys& keys,
                                                     SrtpDirection dir);
  ~SrtpSession();
  SrtpSession(const SrtpSession&) = delete;
  SrtpSession& operator=(const SrtpSession&) = delete;

  // Protect: an RTP packet (12-byte header minimum) to SRTP. kInternal (detail = libsrtp
  // error status) on failure.
  Result<std::vector<uint8_t>> Protect(std::span<const uint8_t> rtp);
  // Unprotect: SRTP back to RTP. kAuthFailed with detail = srtp_err_status_t (7 =
  // srtp_err_status_auth_fail) when the tag does not verify; other failures kDecodeError.
  Result<std::vector<uint8_t>> Unprotect(std::span<const uint8_t> srtp);

 private:
  SrtpSession() = default;
  void* ctx_ = nullptr;  // srtp_t
  SrtpDirection dir_ = SrtpDirection::kSend;
};

// MakeRtpPacket: an RTP v2 packet (RFC 3550 §5.1) without CSRCs or extensions.
std::vector<uint8_t> MakeRtpPacket(uint8_t payload_type, uint16_t seq, uint32_t timestamp,
                                   uint32_t ssrc, std::span<const uint8_t> payload);

}  // namespace kms::client
