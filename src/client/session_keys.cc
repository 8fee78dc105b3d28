#include "src/client/session_keys.h"

#include <algorithm>

#include "src/base/encoding.h"
#include "src/client/common.h"
#include "src/crypto/digest.h"
#include "src/crypto/key_derivation.h"
#include "src/crypto/openssl_key_ops.h"

namespace kms::client {
namespace {

bool IsTgkLike(mikey::KeyDataType t) {
  return t == mikey::KeyDataType::kTgk || t == mikey::KeyDataType::kTgkSalt ||
         t == mikey::KeyDataType::kGtgk || t == mikey::KeyDataType::kGtgkSalt;
}
bool IsTek(mikey::KeyDataType t) {
  return t == mikey::KeyDataType::kTek || t == mikey::KeyDataType::kTekSalt;
}

}  // namespace

Result<std::vector<CryptoSessionKeys>> DeriveCryptoSessionKeys(
    const mikey::Hdr& completed_map, const std::vector<const mikey::SecurityPolicy*>& sps,
    const std::vector<const mikey::KeyData*>& keys, const TekInputs& in) {
  if (completed_map.map_type != mikey::CsIdMapType::kGenericId) {
    return FailedPreconditionError("crypto session map is not GENERIC-ID");
  }
  KMS_ASSIGN_OR_RETURN(const crypto::PrfFunc prf, ToCryptoPrf(in.prf));
  std::vector<CryptoSessionKeys> out;
  for (const mikey::GenericIdBlock& cs : completed_map.generic_map) {
    if (cs.policy_nos.size() != 1) {
      return FailedPreconditionError("crypto session without exactly one policy (#P=1)");
    }
    KMS_ASSIGN_OR_RETURN(const mikey::SecurityPolicy* sp, PolicyForCs(cs, sps));
    KMS_ASSIGN_OR_RETURN(SrtpProfile prof, SrtpProfileOf(sp));
    auto sd = cs.ParseSrtpSessionData();
    if (!sd.ok()) {
      return FailedPreconditionError("crypto session " + std::to_string(cs.cs_id) +
                                     " has no SRTP session data");
    }
    const mikey::KeyData* key = nullptr;
    for (const mikey::KeyData* k : keys) {
      if (!cs.spi.empty() && k->kv_type == mikey::KvType::kSpi && k->spi == cs.spi &&
          (IsTgkLike(k->type) || IsTek(k->type))) {
        if (key != nullptr) {
          return FailedPreconditionError(
              "more than one session key with the SPI of crypto session " +
              std::to_string(cs.cs_id));
        }
        key = k;
      }
    }
    if (key == nullptr) {
      return FailedPreconditionError("no session key with the SPI of crypto session " +
                                     std::to_string(cs.cs_id));
    }
    CryptoSessionKeys ck;
    ck.cs_id = cs.cs_id;
    ck.ssrc = sd->ssrc;
    ck.mki = cs.spi;
    ck.profile = prof;
    if (IsTgkLike(key->type)) {
      // RFC 6043 §5.1.3: TEK and salt from the TGK; a salt sent with the key is used as-is.
      KMS_ASSIGN_OR_RETURN(crypto::SoftwareInKey tgk, crypto::SoftwareInKey::Create(key->key));
      const size_t salt_len = key->salt ? 0 : prof.master_salt_len;
      KMS_ASSIGN_OR_RETURN(crypto::SrtpMasterKeys mk,
                           crypto::DeriveTekFromTgk(prf, tgk.blocks(), cs.cs_id, in.rand_ri,
                                                    in.rand_rr, prof.master_key_len, salt_len));
      ck.master_key = std::move(mk.master_key);
      ck.master_salt = key->salt ? key->salt->Clone() : std::move(mk.master_salt);
    } else {
      if (!key->salt || key->key.size() != prof.master_key_len) {
        return FailedPreconditionError("TEK unusable for SRTP (needs TEK+SALT of the key length)");
      }
      ck.master_key = key->key.Clone();
      ck.master_salt = key->salt->Clone();
    }
    if (ck.master_salt.size() != prof.master_salt_len) {
      return FailedPreconditionError("SRTP master salt of the wrong length");
    }
    out.push_back(std::move(ck));
  }
  return out;
}

Status CheckSpisDisjoint(const std::vector<mikey::KeyData>& a,
                         const std::vector<mikey::KeyData>& b) {
  for (size_t i = 0; i < a.size(); ++i) {
    auto same = [&](const mikey::KeyData& k) { return k.spi == a[i].spi; };
    if (std::any_of(a.begin() + static_cast<std::ptrdiff_t>(i) + 1, a.end(), same) ||
        std::any_of(b.begin(), b.end(), same)) {
      return PermissionDeniedError("two session keys share the SPI " + HexEncode(a[i].spi));
    }
  }
  return Status::Ok();
}

const CryptoSessionKeys* FindSession(const CallKeys& k, uint8_t cs_id) {
  for (const CryptoSessionKeys& s : k.sessions) {
    if (s.cs_id == cs_id) {
      return &s;
    }
  }
  return nullptr;
}

std::string KeyFingerprint(const CryptoSessionKeys& k) {
  // Length prefixes keep (key, salt) splits apart; the context string keeps this hash
  // from ever equalling a hash computed over the same bytes for another purpose.
  static constexpr std::string_view kContext = "kms-client SRTP key fingerprint v1";
  const auto key = k.master_key.Reveal();
  const auto salt = k.master_salt.Reveal();
  SecretBytes in(kContext.size() + 4 + key.size() + salt.size());
  auto out = in.RevealMutable();
  size_t pos = 0;
  auto put = [&](std::span<const uint8_t> b) {
    std::copy(b.begin(), b.end(), out.begin() + static_cast<std::ptrdiff_t>(pos));
    pos += b.size();
  };
  put(AsBytes(kContext));
  const uint8_t klen[2] = {static_cast<uint8_t>(key.size() >> 8), static_cast<uint8_t>(key.size())};
  put(klen);
  put(key);
  const uint8_t slen[2] = {static_cast<uint8_t>(salt.size() >> 8),
                           static_cast<uint8_t>(salt.size())};
  put(slen);
  put(salt);
  const crypto::Sha256Digest d = crypto::Sha256(in.Reveal());
  return HexEncode(std::span<const uint8_t>(d.data(), 8));
}

}  // namespace kms::client
