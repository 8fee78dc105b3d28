#include "tests/unit/core/ue_sim.h"

#include "src/base/encoding.h"
#include "src/crypto/kemac_cipher.h"
#include "src/crypto/key_derivation.h"
#include "src/crypto/mac.h"
#include "src/crypto/openssl_key_ops.h"
#include "src/mikey/decoder.h"
#include "src/mikey/encoder.h"
#include "src/mikey/mac_coverage.h"

namespace kms::core::testing {
namespace {

mikey::Bytes B(const std::string& s) { return {s.begin(), s.end()}; }

crypto::PrfFunc Prf(bool s256) {
  return s256 ? crypto::PrfFunc::kHmacSha256 : crypto::PrfFunc::kMikey1;
}
crypto::MacAlgorithm Mac(bool s256) {
  return s256 ? crypto::MacAlgorithm::kHmacSha256_256 : crypto::MacAlgorithm::kHmacSha1_160;
}
crypto::EncrAlgorithm Encr(bool s256) {
  return s256 ? crypto::EncrAlgorithm::kAesCm256 : crypto::EncrAlgorithm::kAesCm128;
}

Result<std::vector<uint8_t>> Finish(mikey::Message m, const UeIdentity& ue, const std::string& kms) {
  const bool s256 = m.hdr.prf == mikey::PrfFunc::kPrfHmacSha256;
  const bool request = m.hdr.data_type == mikey::DataType::kRequestInitPsk;
  mikey::Verification* v = m.FindMutable<mikey::Verification>();
  v->mac.assign(crypto::MacSize(Mac(s256)), 0);
  KMS_ASSIGN_OR_RETURN(mikey::EncodedMessage enc, mikey::EncodeWithLayout(m));
  const mikey::RandR* r = m.FindRandR(request ? mikey::RandRole::kInitiator : mikey::RandRole::kResponder);
  KMS_ASSIGN_OR_RETURN(crypto::SoftwareInKey psk,
                       crypto::SoftwareInKey::Create(SecretBytes::CopyFrom(ue.psk)));
  crypto::MessageLabelInput in{m.hdr.csb_id, crypto::MessageRole::kInitial,
                               request ? std::span<const uint8_t>(r->rand) : std::span<const uint8_t>(),
                               request ? std::span<const uint8_t>() : std::span<const uint8_t>(r->rand)};
  KMS_ASSIGN_OR_RETURN(SecretBytes auth, crypto::DeriveMessageAuthKey(Prf(s256), psk.blocks(), in,
                                                                      Mac(s256)));
  auto input = request ? mikey::RequestInitMacInput(enc.wire, enc.layout, AsBytes(ue.identity),
                                                    AsBytes(kms))
                       : mikey::ResolveInitMacInput(enc.wire, enc.layout, AsBytes(ue.identity),
                                                    AsBytes(kms));
  if (!input.ok()) {
    return input.status();
  }
  KMS_ASSIGN_OR_RETURN(std::vector<uint8_t> mac, crypto::ComputeMac(Mac(s256), auth, *input));
  KMS_RETURN_IF_ERROR(mikey::PatchMessageMac(enc.wire, enc.layout, mac));
  return enc.wire;
}

mikey::Message InitSkeleton(mikey::DataType type, const UeIdentity& ue, const InitParams& p) {
  const bool request = type == mikey::DataType::kRequestInitPsk;
  mikey::Message m;
  m.hdr.data_type = type;
  m.hdr.v_flag = true;  // spec §11 A1
  m.hdr.prf = p.suite256 ? mikey::PrfFunc::kPrfHmacSha256 : mikey::PrfFunc::kMikey1;
  m.hdr.csb_id = p.csb_id;
  m.hdr.cs_count = 0;
  m.hdr.map_type = mikey::CsIdMapType::kEmpty;
  m.payloads.emplace_back(mikey::Timestamp{mikey::TsType::kNtpUtc, p.t_ntp});
  m.payloads.emplace_back(mikey::RandR{request ? mikey::RandRole::kInitiator : mikey::RandRole::kResponder,
                                       p.rand});
  m.payloads.emplace_back(mikey::Idr{request ? mikey::IdRole::kInitiator : mikey::IdRole::kResponder,
                                     mikey::IdType::kUri, B(ue.identity)});
  m.payloads.emplace_back(mikey::Idr{mikey::IdRole::kKms, mikey::IdType::kUri, B(p.kms)});
  return m;
}

}  // namespace

mikey::TicketPolicy DefaultPolicy(const std::vector<std::string>& responders, uint64_t t_ntp,
                                  uint32_t validity_s, bool forking, bool suite256) {
  mikey::TicketPolicy tp;
  tp.prf = suite256 ? mikey::PrfFunc::kPrfHmacSha256 : mikey::PrfFunc::kMikey1;
  tp.flags.d = true;
  tp.flags.e = tp.flags.f = tp.flags.g = tp.flags.h = true;
  tp.flags.i = forking;
  tp.flags.n = tp.flags.o = true;
  const auto t32 = static_cast<uint32_t>(t_ntp >> 32);
  tp.tp_data.emplace_back(mikey::TimestampR{mikey::TsRole::kEndOfValidity, mikey::TsType::kNtpUtc32,
                                            uint64_t{t32 + validity_s}});
  mikey::KeyData want;
  want.type = mikey::KeyDataType::kTgk;
  want.key = SecretBytes(suite256 ? 32 : 16);
  want.spi = {0, 0, 0, 0};
  std::vector<mikey::KeyData> chain;
  chain.push_back(std::move(want));
  auto plain = mikey::EncodeKeyDataChain(chain);
  tp.tp_data.emplace_back(mikey::Kemac{mikey::EncrAlg::kNull,
                                       mikey::Bytes(plain->Reveal().begin(), plain->Reveal().end()),
                                       mikey::MacAlg::kNull, {}});
  for (const std::string& r : responders) {
    tp.tp_data.emplace_back(mikey::Idr{mikey::IdRole::kResponder, mikey::IdType::kUri, B(r)});
  }
  return tp;
}

Result<std::vector<uint8_t>> BuildRequestInit(const UeIdentity& ue, const InitParams& p,
                                              const mikey::TicketPolicy& desired) {
  mikey::Message m = InitSkeleton(mikey::DataType::kRequestInitPsk, ue, p);
  m.payloads.emplace_back(mikey::Tp{desired});
  m.payloads.emplace_back(mikey::Idr{mikey::IdRole::kPreSharedKey, mikey::IdType::kByteString, B(ue.btid)});
  m.payloads.emplace_back(mikey::Verification{p.suite256 ? mikey::MacAlg::kHmacSha256_256
                                                         : mikey::MacAlg::kHmacSha1_160, {}});
  return Finish(std::move(m), ue, p.kms);
}

Result<std::vector<uint8_t>> BuildResolveInit(const UeIdentity& ue, const InitParams& p,
                                              const mikey::Ticket& ticket) {
  mikey::Message m = InitSkeleton(mikey::DataType::kResolveInitPsk, ue, p);
  m.payloads.emplace_back(ticket);
  m.payloads.emplace_back(mikey::Idr{mikey::IdRole::kPreSharedKey, mikey::IdType::kByteString, B(ue.btid)});
  m.payloads.emplace_back(mikey::Verification{p.suite256 ? mikey::MacAlg::kHmacSha256_256
                                                         : mikey::MacAlg::kHmacSha1_160, {}});
  return Finish(std::move(m), ue, p.kms);
}

Result<std::vector<uint8_t>> Remac(const mikey::Message& m, const UeIdentity& ue,
                                   const std::string& kms) {
  return Finish(m, ue, kms);
}

Result<std::vector<mikey::KeyData>> OpenResponse(const std::vector<uint8_t>& response,
                                                 const std::vector<uint8_t>& request,
                                                 const UeIdentity& ue) {
  KMS_ASSIGN_OR_RETURN(mikey::Message resp, mikey::Decode(response));
  KMS_ASSIGN_OR_RETURN(mikey::Message req, mikey::Decode(request));
  const bool s256 = resp.hdr.prf == mikey::PrfFunc::kPrfHmacSha256;
  const bool is_request = req.hdr.data_type == mikey::DataType::kRequestInitPsk;
  const mikey::RandR* r =
      req.FindRandR(is_request ? mikey::RandRole::kInitiator : mikey::RandRole::kResponder);
  KMS_ASSIGN_OR_RETURN(crypto::SoftwareInKey psk,
                       crypto::SoftwareInKey::Create(SecretBytes::CopyFrom(ue.psk)));
  crypto::MessageLabelInput in{resp.hdr.csb_id, crypto::MessageRole::kResponse,
                               is_request ? std::span<const uint8_t>(r->rand) : std::span<const uint8_t>(),
                               is_request ? std::span<const uint8_t>() : std::span<const uint8_t>(r->rand)};
  KMS_ASSIGN_OR_RETURN(crypto::MessageKeys keys,
                       crypto::DeriveMessageKeys(Prf(s256), psk.blocks(), in, Encr(s256), Mac(s256)));
  KMS_ASSIGN_OR_RETURN(std::vector<uint8_t> input,
                       mikey::ResponseMacInput(response, resp.layout, request));
  KMS_ASSIGN_OR_RETURN(std::span<const uint8_t> mac, mikey::MessageMac(response, resp.layout));
  KMS_RETURN_IF_ERROR(crypto::VerifyMac(Mac(s256), keys.auth_key, input, mac));
  const mikey::Kemac* kemac = resp.FindKemac();
  if (kemac == nullptr) {
    return NotFoundError("response has no KEMAC");
  }
  KMS_ASSIGN_OR_RETURN(SecretBytes plain,
                       crypto::KemacDecrypt(Encr(s256), keys.encr_key, keys.salt_key,
                                            resp.hdr.csb_id, resp.FindT()->value, kemac->encr_data));
  return mikey::DecodeKeyDataChain(plain.Reveal());
}

}  // namespace kms::core::testing
