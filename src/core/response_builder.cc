// The response half shared by REQUEST_RESP and RESOLVE_RESP (RFC 6043 §4.2.1.5, §4.2.3.4).
#include "src/core/exchange.h"
#include "src/core/vault_adapters.h"
#include "src/crypto/kemac_cipher.h"
#include "src/crypto/key_derivation.h"
#include "src/crypto/mac.h"
#include "src/mikey/encoder.h"
#include "src/mikey/mac_coverage.h"

namespace kms::core {

mikey::KeyData MpkEntry(SecretBytes key) {
  mikey::KeyData k;
  k.type = mikey::KeyDataType::kMpk;
  k.kv_type = mikey::KvType::kSpi;
  k.key = std::move(key);
  k.spi = {0, 0, 0, 0};
  return k;
}

Result<std::vector<uint8_t>> TicketService::SealResponse(
    Exchange& ex, mikey::DataType type, const std::vector<mikey::KeyData>& chain,
    std::vector<mikey::Payload> before, std::vector<mikey::Payload> after,
    const std::function<Status(std::span<uint8_t>, const mikey::WireLayout&)>& finish) {
  KMS_ASSIGN_OR_RETURN(SecretBytes plaintext, mikey::EncodeKeyDataChain(chain));
  // Request exchange: RANDRi only; resolve exchange: RANDRr only (spec §5.2 table).
  const bool request = ex.msg.hdr.data_type == mikey::DataType::kRequestInitPsk;
  VaultKeyOps psk_ops(ports_.vault, ex.psk, ex.psk_size);
  const crypto::KeyOps* psk_blocks[] = {&psk_ops};
  crypto::MessageLabelInput label{
      ex.msg.hdr.csb_id, crypto::MessageRole::kResponse,
      request ? std::span<const uint8_t>(ex.rand) : std::span<const uint8_t>(),
      request ? std::span<const uint8_t>() : std::span<const uint8_t>(ex.rand)};
  KMS_ASSIGN_OR_RETURN(crypto::MessageKeys keys,
                       crypto::DeriveMessageKeys(ex.suite.prf, psk_blocks, label, ex.suite.encr,
                                                 ex.suite.mac));
  KMS_ASSIGN_OR_RETURN(uint64_t resp_t, NtpNow(ports_.clock));
  KMS_ASSIGN_OR_RETURN(std::vector<uint8_t> ciphertext,
                       crypto::KemacEncrypt(ex.suite.encr, keys.encr_key, keys.salt_key,
                                            ex.msg.hdr.csb_id, resp_t, plaintext.Reveal()));
  mikey::Message resp;
  resp.hdr = ex.msg.hdr;  // version, PRF, CSB ID, #CS and map copied (RFC 6043 §4.2.1.5)
  resp.hdr.data_type = type;
  resp.hdr.v_flag = false;  // spec §11 A1
  resp.payloads.emplace_back(mikey::Timestamp{mikey::TsType::kNtpUtc, resp_t});
  resp.payloads.emplace_back(mikey::Idr{mikey::IdRole::kKms, mikey::IdType::kUri,
                                        mikey::Bytes(options_.kms_identity.begin(),
                                                     options_.kms_identity.end())});
  for (mikey::Payload& p : before) {
    resp.payloads.push_back(std::move(p));
  }
  resp.payloads.emplace_back(
      mikey::Kemac{ex.suite.wire_encr, std::move(ciphertext), mikey::MacAlg::kNull, {}});
  for (mikey::Payload& p : after) {
    resp.payloads.push_back(std::move(p));
  }
  resp.payloads.emplace_back(
      mikey::Verification{ex.suite.wire_mac, mikey::Bytes(crypto::MacSize(ex.suite.mac), 0)});
  KMS_ASSIGN_OR_RETURN(mikey::EncodedMessage enc, mikey::EncodeWithLayout(resp));
  if (finish) {
    KMS_RETURN_IF_ERROR(finish(enc.wire, enc.layout));
  }
  KMS_ASSIGN_OR_RETURN(std::vector<uint8_t> input,
                       mikey::ResponseMacInput(enc.wire, enc.layout, ex.wire));
  KMS_ASSIGN_OR_RETURN(std::vector<uint8_t> mac,
                       crypto::ComputeMac(ex.suite.mac, keys.auth_key, input));
  KMS_RETURN_IF_ERROR(mikey::PatchMessageMac(enc.wire, enc.layout, mac));
  return std::move(enc.wire);
}

}  // namespace kms::core
