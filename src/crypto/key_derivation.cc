#include "src/crypto/key_derivation.h"

namespace kms::crypto {
namespace {

// KeySizes: the three lengths, or the refusal with its MIKEY error detail.
struct KeySizes {
  size_t encr = 0;
  size_t salt = 0;
  size_t auth = 0;
};

Result<KeySizes> SizesFor(EncrAlgorithm encr, MacAlgorithm mac) {
  KeySizes k;
  KMS_ASSIGN_OR_RETURN(k.encr, EncrKeySize(encr));
  KMS_ASSIGN_OR_RETURN(k.salt, SaltKeySize(encr));
  KMS_ASSIGN_OR_RETURN(k.auth, AuthKeySize(mac));
  return k;
}

// DeriveSet: the RFC 3830 §4.1.4 trio with label(constant) for each key.
template <typename LabelFn>
Result<MessageKeys> DeriveSet(PrfFunc prf, InKeyBlocks inkey, const KeySizes& sz, LabelFn&& label) {
  MessageKeys keys;
  KMS_ASSIGN_OR_RETURN(const std::vector<uint8_t> le, label(kLabelEncr));
  KMS_ASSIGN_OR_RETURN(keys.encr_key, PrfDerive(prf, inkey, le, sz.encr));
  KMS_ASSIGN_OR_RETURN(const std::vector<uint8_t> ls, label(kLabelSalt));
  KMS_ASSIGN_OR_RETURN(keys.salt_key, PrfDerive(prf, inkey, ls, sz.salt));
  KMS_ASSIGN_OR_RETURN(const std::vector<uint8_t> la, label(kLabelAuth));
  KMS_ASSIGN_OR_RETURN(keys.auth_key, PrfDerive(prf, inkey, la, sz.auth));
  return keys;
}

Status CheckInKey(InKeyBlocks inkey) {
  if (inkey.empty() || InKeySize(inkey) == 0) {
    return InvalidArgumentError("PRF inkey is empty");
  }
  return Status::Ok();
}

}  // namespace

Result<MessageKeys> DeriveMessageKeys(PrfFunc prf, InKeyBlocks inkey, const MessageLabelInput& in,
                                      EncrAlgorithm encr, MacAlgorithm mac) {
  KMS_ASSIGN_OR_RETURN(const KeySizes sz, SizesFor(encr, mac));
  // RFC 6043 §5.1.2: C || 0xFF || CSB ID || 0x01/0x02 || RANDRi || RANDRr.
  return DeriveSet(prf, inkey, sz, [&](uint32_t c) {
    return MessageKeyLabel(c, in.csb_id, in.role, in.rand_ri, in.rand_rr);
  });
}

Result<SecretBytes> DeriveMessageAuthKey(PrfFunc prf, InKeyBlocks inkey,
                                         const MessageLabelInput& in, MacAlgorithm mac) {
  KMS_ASSIGN_OR_RETURN(const size_t len, AuthKeySize(mac));
  KMS_ASSIGN_OR_RETURN(const std::vector<uint8_t> label,
                       MessageKeyLabel(kLabelAuth, in.csb_id, in.role, in.rand_ri, in.rand_rr));
  return PrfDerive(prf, inkey, label, len);
}

Result<MessageKeys> DeriveTicketKeys(PrfFunc tp_prf, InKeyBlocks tpk,
                                     std::span<const uint8_t> ticket_rand, EncrAlgorithm encr,
                                     MacAlgorithm mac) {
  KMS_ASSIGN_OR_RETURN(const KeySizes sz, SizesFor(encr, mac));
  // RFC 6043 App. A.2.1: C || 0xFF || 0xFFFFFFFF || 0x05 || len RAND || RAND.
  return DeriveSet(tp_prf, tpk, sz, [&](uint32_t c) { return TicketKeyLabel(c, ticket_rand); });
}

Result<SecretBytes> DeriveTicketAuthKey(PrfFunc tp_prf, InKeyBlocks tpk,
                                        std::span<const uint8_t> ticket_rand, MacAlgorithm mac) {
  KMS_ASSIGN_OR_RETURN(const size_t len, AuthKeySize(mac));
  KMS_ASSIGN_OR_RETURN(const std::vector<uint8_t> label, TicketKeyLabel(kLabelAuth, ticket_rand));
  return PrfDerive(tp_prf, tpk, label, len);
}

Result<MpkPair> DeriveMpkPair(PrfFunc tp_prf, InKeyBlocks mpk,
                              std::span<const uint8_t> ticket_rand) {
  KMS_RETURN_IF_ERROR(CheckInKey(mpk));
  // RFC 6043 App. A.2.2: MPKi/MPKr have the length of the MPK.
  const size_t len = InKeySize(mpk);
  MpkPair out;
  KMS_ASSIGN_OR_RETURN(const std::vector<uint8_t> li, MpkLabel(kLabelMpki, ticket_rand));
  KMS_ASSIGN_OR_RETURN(out.mpki, PrfDerive(tp_prf, mpk, li, len));
  KMS_ASSIGN_OR_RETURN(const std::vector<uint8_t> lr, MpkLabel(kLabelMpkr, ticket_rand));
  KMS_ASSIGN_OR_RETURN(out.mpkr, PrfDerive(tp_prf, mpk, lr, len));
  return out;
}

Result<SecretBytes> ForkKey(PrfFunc tp_prf, ForkedKey which, InKeyBlocks inkey,
                            std::span<const uint8_t> idr_id_data,
                            std::span<const uint8_t> rand_kms) {
  KMS_RETURN_IF_ERROR(CheckInKey(inkey));
  const uint32_t c = which == ForkedKey::kMpkr ? kLabelForkMpkr : kLabelForkTgk;
  KMS_ASSIGN_OR_RETURN(const std::vector<uint8_t> label, ForkLabel(c, idr_id_data, rand_kms));
  // RFC 6043 §5.1.1: the forked key has the length of the key it is forked from.
  return PrfDerive(tp_prf, inkey, label, InKeySize(inkey));
}

Result<SecretBytes> DeriveVrAuthKey(PrfFunc tp_prf, InKeyBlocks mpkr, MacAlgorithm mac) {
  KMS_ASSIGN_OR_RETURN(const size_t len, AuthKeySize(mac));
  return PrfDerive(tp_prf, mpkr, VrKeyLabel(), len);
}

Result<SrtpMasterKeys> DeriveTekFromTgk(PrfFunc prf, InKeyBlocks tgk, uint8_t cs_id,
                                        std::span<const uint8_t> rand_ri,
                                        std::span<const uint8_t> rand_rr, size_t tek_len,
                                        size_t salt_len) {
  SrtpMasterKeys out;
  // RFC 6043 §5.1.3: C || CS ID || 0xFFFFFFFF || 0x03 || RANDRi (H) || RANDRr (G).
  KMS_ASSIGN_OR_RETURN(const std::vector<uint8_t> lt,
                       TgkDerivedLabel(kLabelTek, cs_id, rand_ri, rand_rr));
  KMS_ASSIGN_OR_RETURN(out.master_key, PrfDerive(prf, tgk, lt, tek_len));
  if (salt_len > 0) {
    KMS_ASSIGN_OR_RETURN(const std::vector<uint8_t> ls,
                         TgkDerivedLabel(kLabelTgkSalt, cs_id, rand_ri, rand_rr));
    KMS_ASSIGN_OR_RETURN(out.master_salt, PrfDerive(prf, tgk, ls, salt_len));
  }
  return out;
}

}  // namespace kms::crypto
