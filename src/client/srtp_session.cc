#include "src/client/srtp_session.h"

#include <srtp2/srtp.h>

#include <algorithm>
#include <cstring>
#include <mutex>

namespace kms::client {
namespace {

srtp_err_status_t InitOnce() {
  static std::once_flag once;
  static srtp_err_status_t rc = srtp_err_status_ok;
  std::call_once(once, [] { rc = srtp_init(); });
  return rc;
}

}  // namespace

Result<std::unique_ptr<SrtpSession>> SrtpSession::Create(const CryptoSessionKeys& keys,
                                                         SrtpDirection dir) {
  if (keys.master_key.size() != 16 || keys.master_salt.size() != 14) {
    return InvalidArgumentError("SRTP needs a 128-bit master key and a 112-bit master salt");
  }
  if (InitOnce() != srtp_err_status_ok) {
    return InternalError("srtp_init failed");
  }
  // libsrtp takes master key || master salt in one buffer (kept in secure memory here).
  SecretBytes material(SRTP_AES_ICM_128_KEY_LEN_WSALT);
  std::copy(keys.master_key.Reveal().begin(), keys.master_key.Reveal().end(),
            material.RevealMutable().begin());
  std::copy(keys.master_salt.Reveal().begin(), keys.master_salt.Reveal().end(),
            material.RevealMutable().begin() + 16);
  srtp_policy_t policy;
  std::memset(&policy, 0, sizeof(policy));
  if (keys.profile.auth_tag_len == 4) {
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&policy.rtp);
  } else {
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtp);
  }
  srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtcp);
  policy.ssrc.type = ssrc_specific;
  policy.ssrc.value = keys.ssrc;
  policy.key = material.RevealMutable().data();
  policy.window_size = 128;
  policy.allow_repeat_tx = 0;
  policy.next = nullptr;
  srtp_t ctx = nullptr;
  const srtp_err_status_t rc = srtp_create(&ctx, &policy);
  if (rc != srtp_err_status_ok) {
    return Status(StatusCode::kInternal, "srtp_create failed", static_cast<uint8_t>(rc));
  }
  std::unique_ptr<SrtpSession> s(new SrtpSession());
  s->ctx_ = ctx;
  s->dir_ = dir;
  return s;
}

SrtpSession::~SrtpSession() {
  if (ctx_ != nullptr) {
    srtp_dealloc(static_cast<srtp_t>(ctx_));
  }
}

Result<std::vector<uint8_t>> SrtpSession::Protect(std::span<const uint8_t> rtp) {
  if (dir_ != SrtpDirection::kSend) {
    return FailedPreconditionError("SRTP session is for receiving");
  }
  if (rtp.size() < 12 || rtp.size() > 1500) {
    return InvalidArgumentError("RTP packet size out of range");
  }
  std::vector<uint8_t> buf(rtp.begin(), rtp.end());
  buf.resize(rtp.size() + SRTP_MAX_TRAILER_LEN);
  int len = static_cast<int>(rtp.size());
  const srtp_err_status_t rc = srtp_protect(static_cast<srtp_t>(ctx_), buf.data(), &len);
  if (rc != srtp_err_status_ok) {
    return Status(StatusCode::kInternal, "srtp_protect failed", static_cast<uint8_t>(rc));
  }
  buf.resize(static_cast<size_t>(len));
  return buf;
}

Result<std::vector<uint8_t>> SrtpSession::Unprotect(std::span<const uint8_t> srtp) {
  if (dir_ != SrtpDirection::kReceive) {
    return FailedPreconditionError("SRTP session is for sending");
  }
  if (srtp.size() < 12 || srtp.size() > 1500 + SRTP_MAX_TRAILER_LEN) {
    return InvalidArgumentError("SRTP packet size out of range");
  }
  std::vector<uint8_t> buf(srtp.begin(), srtp.end());
  int len = static_cast<int>(buf.size());
  const srtp_err_status_t rc = srtp_unprotect(static_cast<srtp_t>(ctx_), buf.data(), &len);
  if (rc == srtp_err_status_auth_fail) {
    return Status(StatusCode::kAuthFailed, "SRTP authentication failed", static_cast<uint8_t>(rc));
  }
  if (rc != srtp_err_status_ok) {
    return Status(StatusCode::kDecodeError, "srtp_unprotect failed", static_cast<uint8_t>(rc));
  }
  buf.resize(static_cast<size_t>(len));
  return buf;
}

std::vector<uint8_t> MakeRtpPacket(uint8_t payload_type, uint16_t seq, uint32_t timestamp,
                                   uint32_t ssrc, std::span<const uint8_t> payload) {
  std::vector<uint8_t> p = {0x80,
                            static_cast<uint8_t>(payload_type & 0x7f),
                            static_cast<uint8_t>(seq >> 8),
                            static_cast<uint8_t>(seq),
                            static_cast<uint8_t>(timestamp >> 24),
                            static_cast<uint8_t>(timestamp >> 16),
                            static_cast<uint8_t>(timestamp >> 8),
                            static_cast<uint8_t>(timestamp),
                            static_cast<uint8_t>(ssrc >> 24),
                            static_cast<uint8_t>(ssrc >> 16),
                            static_cast<uint8_t>(ssrc >> 8),
                            static_cast<uint8_t>(ssrc)};
  // resize + copy rather than insert: GCC 12 -O2 reports a false -Warray-bounds on an
  // inlined insert into a vector built from an initializer list.
  p.resize(12 + payload.size());
  std::copy(payload.begin(), payload.end(), p.begin() + 12);
  return p;
}

}  // namespace kms::client
