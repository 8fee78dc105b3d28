#include "src/client/common.h"

#include <algorithm>
#include <string>
#include <utility>

#include "src/base/ntp_time.h"
#include "src/crypto/kemac_cipher.h"
#include "src/crypto/mac.h"
#include "src/crypto/openssl_key_ops.h"
#include "src/mikey/encoder.h"

namespace kms::client {

Result<crypto::PrfFunc> ToCryptoPrf(mikey::PrfFunc p) {
  return crypto::PrfFuncFromCode(static_cast<uint8_t>(p));
}
Result<crypto::EncrAlgorithm> ToCryptoEncr(mikey::EncrAlg a) {
  return crypto::EncrAlgorithmFromCode(static_cast<uint8_t>(a));
}
Result<crypto::MacAlgorithm> ToCryptoMac(mikey::MacAlg a) {
  return crypto::MacAlgorithmFromCode(static_cast<uint8_t>(a));
}

Result<mikey::Timestamp> NowTimestamp(const Clock& clock) {
  KMS_ASSIGN_OR_RETURN(const uint64_t ntp, ToNtp64(clock.Now()));
  return mikey::Timestamp{mikey::TsType::kNtpUtc, ntp};
}

uint64_t TimestampIv64(const mikey::Timestamp& t) {
  switch (t.ts_type) {
    case mikey::TsType::kNtpUtc32:
      return Ntp32To64(static_cast<uint32_t>(t.value));  // RFC 6043 §6.3: T32 || 0
    case mikey::TsType::kCounter:
      return crypto::KemacIvTimeFromCounter(static_cast<uint32_t>(t.value));
    default:
      return t.value;
  }
}

std::optional<UnixTime> TimestampInstant(const mikey::Timestamp& t) {
  switch (t.ts_type) {
    case mikey::TsType::kNtpUtc:
    case mikey::TsType::kNtp:
      return FromNtp64(t.value);
    case mikey::TsType::kNtpUtc32:
      return FromNtp32(static_cast<uint32_t>(t.value));
    default:
      return std::nullopt;
  }
}

Result<uint32_t> RandomU32(crypto::Random& rng) {
  uint8_t b[4] = {};
  KMS_RETURN_IF_ERROR(rng.Fill(b));
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | uint32_t{b[3]};
}

mikey::Verification PlaceholderV(mikey::MacAlg alg) {
  return mikey::Verification{alg, mikey::Bytes(mikey::MacLength(alg).value_or(0), 0)};
}

mikey::Idr MakeIdr(mikey::IdRole role, mikey::IdType type, std::string_view data) {
  return mikey::Idr{role, type, BytesOf(data)};
}

std::string IdrText(const mikey::Idr& idr) {
  return std::string(idr.id_data.begin(), idr.id_data.end());
}

std::vector<uint8_t> BytesOf(std::string_view s) {
  const auto b = AsBytes(s);
  return {b.begin(), b.end()};
}

namespace {

crypto::MessageLabelInput LabelView(const MessageLabel& l) {
  return crypto::MessageLabelInput{l.csb_id, l.role, l.rand_ri, l.rand_rr};
}

Result<SecretBytes> AuthKey(mikey::PrfFunc prf, const SecretBytes& inkey, const MessageLabel& label,
                            mikey::MacAlg mac) {
  KMS_ASSIGN_OR_RETURN(const crypto::PrfFunc cprf, ToCryptoPrf(prf));
  KMS_ASSIGN_OR_RETURN(const crypto::MacAlgorithm cmac, ToCryptoMac(mac));
  KMS_ASSIGN_OR_RETURN(crypto::SoftwareInKey key, crypto::SoftwareInKey::Create(inkey));
  return crypto::DeriveMessageAuthKey(cprf, key.blocks(), LabelView(label), cmac);
}

}  // namespace

Result<SealedMessage> SealMessage(const mikey::Message& m, const SecretBytes& inkey,
                                  const MessageLabel& label, const mikey::MacContext& ctx) {
  const mikey::Verification* v = m.FindV();
  if (v == nullptr || m.payloads.empty() ||
      !std::holds_alternative<mikey::Verification>(m.payloads.back())) {
    return InvalidArgumentError("message to seal needs V as its last payload");
  }
  KMS_ASSIGN_OR_RETURN(const crypto::MacAlgorithm cmac, ToCryptoMac(v->mac_alg));
  KMS_ASSIGN_OR_RETURN(mikey::EncodedMessage enc, mikey::EncodeWithLayout(m));
  KMS_ASSIGN_OR_RETURN(const SecretBytes auth, AuthKey(m.hdr.prf, inkey, label, v->mac_alg));
  KMS_ASSIGN_OR_RETURN(const std::vector<uint8_t> input,
                       mikey::MessageMacInput(m.hdr.data_type, enc.wire, enc.layout, ctx));
  KMS_ASSIGN_OR_RETURN(std::vector<uint8_t> mac, crypto::ComputeMac(cmac, auth, input));
  KMS_RETURN_IF_ERROR(mikey::PatchMessageMac(enc.wire, enc.layout, mac));
  return SealedMessage{std::move(enc.wire), std::move(enc.layout), std::move(mac)};
}

Status VerifyMessageMac(std::span<const uint8_t> wire, const mikey::Message& m,
                        const SecretBytes& inkey, const MessageLabel& label,
                        const mikey::MacContext& ctx) {
  const mikey::Verification* v = m.FindV();
  if (v == nullptr) {
    return AuthFailedError("message has no V payload");
  }
  KMS_ASSIGN_OR_RETURN(const crypto::MacAlgorithm cmac, ToCryptoMac(v->mac_alg));
  KMS_ASSIGN_OR_RETURN(const SecretBytes auth, AuthKey(m.hdr.prf, inkey, label, v->mac_alg));
  KMS_ASSIGN_OR_RETURN(const std::vector<uint8_t> input,
                       mikey::MessageMacInput(m.hdr.data_type, wire, m.layout, ctx));
  KMS_ASSIGN_OR_RETURN(const std::span<const uint8_t> mac, mikey::MessageMac(wire, m.layout));
  // crypto::VerifyMac compares in constant time (CRYPTO_memcmp).
  return crypto::VerifyMac(cmac, auth, input, mac);
}

Result<mikey::Kemac> EncryptKemac(const std::vector<mikey::KeyData>& keys, const SecretBytes& inkey,
                                  const MessageLabel& label, mikey::PrfFunc prf,
                                  mikey::EncrAlg encr, mikey::MacAlg mac_for_keys, uint64_t t64) {
  KMS_ASSIGN_OR_RETURN(const crypto::PrfFunc cprf, ToCryptoPrf(prf));
  KMS_ASSIGN_OR_RETURN(const crypto::EncrAlgorithm cenc, ToCryptoEncr(encr));
  KMS_ASSIGN_OR_RETURN(const crypto::MacAlgorithm cmac, ToCryptoMac(mac_for_keys));
  KMS_ASSIGN_OR_RETURN(crypto::SoftwareInKey key, crypto::SoftwareInKey::Create(inkey));
  KMS_ASSIGN_OR_RETURN(crypto::MessageKeys mk,
                       crypto::DeriveMessageKeys(cprf, key.blocks(), LabelView(label), cenc, cmac));
  KMS_ASSIGN_OR_RETURN(const SecretBytes plain, mikey::EncodeKeyDataChain(keys));
  KMS_ASSIGN_OR_RETURN(
      std::vector<uint8_t> ct,
      crypto::KemacEncrypt(cenc, mk.encr_key, mk.salt_key, label.csb_id, t64, plain.Reveal()));
  return mikey::Kemac{encr, std::move(ct), mikey::MacAlg::kNull, {}};
}

size_t LongestTgk(const std::vector<mikey::KeyData>& keys) {
  size_t n = 0;
  for (const mikey::KeyData& k : keys) {
    if (k.type == mikey::KeyDataType::kTgk || k.type == mikey::KeyDataType::kTgkSalt ||
        k.type == mikey::KeyDataType::kGtgk) {
      n = std::max(n, k.key.size());
    }
  }
  return n;
}

Status CheckRandCovers(size_t rand_bytes, size_t key_bytes, std::string_view what) {
  if (rand_bytes < key_bytes) {
    return PermissionDeniedError(std::string(what) + " shorter than the key it derives from (" +
                                 std::to_string(rand_bytes) + " < " + std::to_string(key_bytes) +
                                 " bytes, RFC 6043 §12.1)");
  }
  return Status::Ok();
}

namespace {

// spec §9.3 / RFC 6043 §12.1: a shorter key is refused even in an authentic message (a
// 1-byte TGK from a KMS would give SRTP keys anyone can guess).
Status CheckKeyLength(const mikey::KeyData& k) {
  if (k.key.size() < kMinKeyBytes) {
    return DecodeError("KEMAC holds a key shorter than 128 bits", 13);
  }
  return Status::Ok();
}

}  // namespace

Status CheckKmsKeyChain(const std::vector<mikey::KeyData>& keys, bool forking) {
  // RFC 6043 §4.2.1.5: MPKi || [MPKr] || {TEK|TGK|GTGK}; MPKr present iff forking.
  const size_t mpks = forking ? 2 : 1;
  if (keys.size() < mpks) {
    return DecodeError("KEMAC lacks the MPKs", 13);
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    const bool is_mpk = keys[i].type == mikey::KeyDataType::kMpk;
    if (is_mpk != (i < mpks)) {
      return DecodeError("KEMAC key order is not MPKi, [MPKr], session keys", 13);
    }
    KMS_RETURN_IF_ERROR(CheckKeyLength(keys[i]));
  }
  return Status::Ok();
}

Status CheckSessionKeyChain(const std::vector<mikey::KeyData>& keys, bool /*forking*/) {
  for (const mikey::KeyData& k : keys) {
    if (k.type == mikey::KeyDataType::kMpk) {
      return DecodeError("KEMAC holds a key type not allowed here", 13);
    }
    KMS_RETURN_IF_ERROR(CheckKeyLength(k));
  }
  return Status::Ok();
}

namespace {

Result<std::vector<mikey::KeyData>> TryDecrypt(const mikey::Kemac& kemac,
                                               const crypto::MessageKeys& mk,
                                               crypto::EncrAlgorithm cenc, uint32_t csb_id,
                                               uint64_t t64, KeyChainCheck check, bool forking) {
  KMS_ASSIGN_OR_RETURN(const SecretBytes plain, crypto::KemacDecrypt(cenc, mk.encr_key, mk.salt_key,
                                                                     csb_id, t64, kemac.encr_data));
  KMS_ASSIGN_OR_RETURN(std::vector<mikey::KeyData> keys, mikey::DecodeKeyDataChain(plain.Reveal()));
  KMS_RETURN_IF_ERROR(check(keys, forking));
  return keys;
}

}  // namespace

Result<std::vector<mikey::KeyData>> DecryptKemac(const mikey::Kemac& kemac,
                                                 const SecretBytes& inkey,
                                                 const MessageLabel& label, mikey::PrfFunc prf,
                                                 mikey::MacAlg mac, uint64_t t_primary,
                                                 std::optional<uint64_t> t_fallback,
                                                 KeyChainCheck check, bool forking) {
  if (kemac.mac_alg != mikey::MacAlg::kNull) {
    // RFC 6043 §6.2: the KEMAC MAC is always NULL in MIKEY-TICKET.
    return DecodeError("KEMAC with a MAC", 3);
  }
  KMS_ASSIGN_OR_RETURN(const crypto::PrfFunc cprf, ToCryptoPrf(prf));
  KMS_ASSIGN_OR_RETURN(const crypto::EncrAlgorithm cenc, ToCryptoEncr(kemac.encr_alg));
  KMS_ASSIGN_OR_RETURN(const crypto::MacAlgorithm cmac, ToCryptoMac(mac));
  KMS_ASSIGN_OR_RETURN(crypto::SoftwareInKey key, crypto::SoftwareInKey::Create(inkey));
  KMS_ASSIGN_OR_RETURN(crypto::MessageKeys mk,
                       crypto::DeriveMessageKeys(cprf, key.blocks(), LabelView(label), cenc, cmac));
  auto first = TryDecrypt(kemac, mk, cenc, label.csb_id, t_primary, check, forking);
  if (first.ok() || !t_fallback.has_value() || *t_fallback == t_primary) {
    return first;
  }
  // spec §11 A3 receiving rule: the other literal reading (T of the initial message).
  auto second = TryDecrypt(kemac, mk, cenc, label.csb_id, *t_fallback, check, forking);
  if (second.ok()) {
    return second;
  }
  return DecodeError("KEMAC plaintext is not a valid key chain: " + first.status().message(), 13);
}

std::optional<Status> ErrorFromMessage(const mikey::Message& m) {
  if (m.hdr.data_type != mikey::DataType::kError) {
    return std::nullopt;
  }
  const auto errs = m.Errors();
  const uint8_t no = errs.empty() ? uint8_t{12} : static_cast<uint8_t>(errs.front()->error_no);
  return Status(StatusCode::kFailedPrecondition,
                "peer answered with MIKEY Error " + std::to_string(no) + " (unauthenticated)", no);
}

}  // namespace kms::client
