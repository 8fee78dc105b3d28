#include "src/core/base_ticket.h"

#include <algorithm>
#include <cstdio>

#include "src/core/suite.h"
#include "src/crypto/kemac_cipher.h"
#include "src/crypto/key_derivation.h"
#include "src/crypto/mac.h"
#include "src/mikey/mac_coverage.h"

namespace kms::core {
namespace {

// KEMAC IV time from the Ticket Data T (spec §4.2: NTP-UTC-32 widened with a zero fraction,
// COUNTER zero-extended).
uint64_t IvTime(const mikey::Timestamp& t) {
  switch (t.ts_type) {
    case mikey::TsType::kNtpUtc32:
      return crypto::KemacIvTimeFromNtpUtc32(static_cast<uint32_t>(t.value));
    case mikey::TsType::kCounter:
      return crypto::KemacIvTimeFromCounter(static_cast<uint32_t>(t.value));
    default:
      return t.value;
  }
}

}  // namespace

std::string TpkId(uint32_t version) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "tpk-%04u", version);
  return buf;
}

std::optional<uint32_t> ParseTpkId(std::span<const uint8_t> id) {
  const std::string s(id.begin(), id.end());
  if (s.size() < 5 || s.size() > 14 || s.compare(0, 4, "tpk-") != 0) {
    return std::nullopt;
  }
  uint64_t v = 0;
  for (size_t i = 4; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') {
      return std::nullopt;
    }
    v = v * 10 + static_cast<uint64_t>(s[i] - '0');
  }
  if (v == 0 || v > UINT32_MAX) {
    return std::nullopt;
  }
  return static_cast<uint32_t>(v);
}

Result<SealedTicketDraft> DraftBaseTicket(const mikey::TicketPolicy& policy,
                                          const TicketKeys& keys, crypto::InKeyBlocks tpk,
                                          const SealParams& params) {
  KMS_ASSIGN_OR_RETURN(crypto::MessageKeys tk,
                       crypto::DeriveTicketKeys(params.prf, tpk, params.rand, params.encr,
                                                params.mac));
  // RFC 6043 App. A.1: KEMAC = E(encr_key, MPK || {TEK|TGK|GTGK}), NULL MAC.
  std::vector<mikey::KeyData> chain;
  chain.reserve(keys.session_keys.size() + 1);
  mikey::KeyData mpk;
  mpk.type = mikey::KeyDataType::kMpk;
  mpk.kv_type = mikey::KvType::kSpi;  // spec §11 A8: an SPI on every key, MPK included
  mpk.key = keys.mpk.Clone();
  mpk.spi = {0, 0, 0, 0};
  chain.push_back(std::move(mpk));
  for (const mikey::KeyData& k : keys.session_keys) {
    chain.push_back(k.Clone());
  }
  KMS_ASSIGN_OR_RETURN(SecretBytes plaintext, mikey::EncodeKeyDataChain(chain));
  // RFC 6043 App. A.1: the IV uses CSB ID 0xFFFFFFFF and (this profile) the Ticket Data T.
  KMS_ASSIGN_OR_RETURN(std::vector<uint8_t> ciphertext,
                       crypto::KemacEncrypt(params.encr, tk.encr_key, tk.salt_key,
                                            crypto::kTicketKemacCsbId, params.issue_time_ntp,
                                            plaintext.Reveal()));
  mikey::BaseTicketData td;
  td.t = mikey::Timestamp{mikey::TsType::kNtpUtc, params.issue_time_ntp};
  td.rand.rand = params.rand;
  td.kemac.encr_alg = static_cast<mikey::EncrAlg>(params.encr);
  td.kemac.encr_data = std::move(ciphertext);
  td.kemac.mac_alg = mikey::MacAlg::kNull;
  td.idr_psk = mikey::Idr{mikey::IdRole::kPreSharedKey, mikey::IdType::kByteString,
                          params.psk_id};
  td.v.mac_alg = static_cast<mikey::MacAlg>(params.mac);
  td.v.mac.assign(crypto::MacSize(params.mac), 0);  // placeholder, see FinishTicketMac
  KMS_ASSIGN_OR_RETURN(mikey::Bytes ticket_data, mikey::EncodeBaseTicketData(td));

  SealedTicketDraft draft;
  draft.ticket.policy = policy;
  draft.ticket.ticket_data = std::move(ticket_data);
  draft.auth_key = std::move(tk.auth_key);
  draft.mac = params.mac;
  return draft;
}

Status FinishTicketMac(std::span<uint8_t> wire, const mikey::WireLayout& layout,
                       const SealedTicketDraft& draft) {
  KMS_ASSIGN_OR_RETURN(std::vector<uint8_t> input, mikey::TicketMacInput(wire, layout));
  KMS_ASSIGN_OR_RETURN(std::vector<uint8_t> mac,
                       crypto::ComputeMac(draft.mac, draft.auth_key, input));
  return mikey::PatchTicketMac(wire, layout, mac);
}

Result<mikey::BaseTicketData> ReadTicketData(const mikey::Ticket& ticket) {
  return mikey::DecodeBaseTicketData(ticket.ticket_data);
}

Status CheckTicketKeyLengths(const TicketKeys& keys, std::span<const uint8_t> rand,
                             size_t suite_key_len, size_t ticket_key_size) {
  constexpr auto kInvalidTpPar = static_cast<uint8_t>(mikey::ErrorNo::kInvalidTpPar);
  constexpr size_t kMinKey = 16;   // 128 bits (spec §9.3)
  constexpr size_t kMaxSalt = 32;  // as accepted in a desired policy (request_flow.cc)
  if (keys.mpk.size() < kMinKey || keys.mpk.size() > suite_key_len) {
    return DecodeError("ticket MPK length outside the suite", kInvalidTpPar);
  }
  for (const mikey::KeyData& k : keys.session_keys) {
    if (k.key.size() < kMinKey || k.key.size() > suite_key_len) {
      return DecodeError("ticket session key length outside the suite", kInvalidTpPar);
    }
    if (k.salt && k.salt->size() > kMaxSalt) {
      return DecodeError("ticket salt too long", kInvalidTpPar);
    }
  }
  if (rand.size() < std::max({kMinKey, ticket_key_size, keys.mpk.size()})) {
    return DecodeError("ticket RAND shorter than its keys", kInvalidTpPar);
  }
  return Status::Ok();
}

Result<OpenedTicket> OpenBaseTicket(std::span<const uint8_t> wire, const mikey::WireLayout& layout,
                                    const mikey::Ticket& ticket, crypto::InKeyBlocks tpk,
                                    size_t ticket_key_size) {
  OpenedTicket out;
  KMS_ASSIGN_OR_RETURN(out.data, mikey::DecodeBaseTicketData(ticket.ticket_data));
  out.prf = ToCrypto(ticket.policy.prf);
  KMS_ASSIGN_OR_RETURN(out.mac, ToCrypto(out.data.v.mac_alg));
  KMS_ASSIGN_OR_RETURN(crypto::EncrAlgorithm encr, ToCrypto(out.data.kemac.encr_alg));
  // RFC 6043 §12.1: the ticket's PRF, MAC and cipher belong to one suite.
  KMS_ASSIGN_OR_RETURN(SuiteParams suite,
                       SuiteFromMessage(ticket.policy.prf, out.data.v.mac_alg));
  if (suite.encr != encr) {
    return DecodeError("ticket cipher does not match its suite",
                       static_cast<uint8_t>(mikey::ErrorNo::kInvalidEa));
  }
  KMS_ASSIGN_OR_RETURN(crypto::MessageKeys tk,
                       crypto::DeriveTicketKeys(out.prf, tpk, out.data.rand.rand, encr, out.mac));
  // Authenticate before decrypting (spec §9.3).
  KMS_ASSIGN_OR_RETURN(std::vector<uint8_t> input, mikey::TicketMacInput(wire, layout));
  KMS_ASSIGN_OR_RETURN(std::span<const uint8_t> mac, mikey::TicketMac(wire, layout));
  if (Status s = crypto::VerifyMac(out.mac, tk.auth_key, input, mac); !s.ok()) {
    return AuthFailedError("ticket MAC does not verify");
  }
  KMS_ASSIGN_OR_RETURN(SecretBytes plaintext,
                       crypto::KemacDecrypt(encr, tk.encr_key, tk.salt_key,
                                            crypto::kTicketKemacCsbId, IvTime(out.data.t),
                                            out.data.kemac.encr_data));
  KMS_ASSIGN_OR_RETURN(std::vector<mikey::KeyData> chain,
                       mikey::DecodeKeyDataChain(plaintext.Reveal()));
  // RFC 6043 App. A.1: the MPK comes first.
  if (chain.empty() || chain.front().type != mikey::KeyDataType::kMpk) {
    return DecodeError("ticket key chain does not start with the MPK",
                       static_cast<uint8_t>(mikey::ErrorNo::kUnsupportedMessageType));
  }
  out.keys.mpk = std::move(chain.front().key);
  for (size_t i = 1; i < chain.size(); ++i) {
    if (chain[i].type == mikey::KeyDataType::kMpk) {
      return DecodeError("ticket carries more than one MPK",
                         static_cast<uint8_t>(mikey::ErrorNo::kUnsupportedMessageType));
    }
    out.keys.session_keys.push_back(std::move(chain[i]));
  }
  KMS_RETURN_IF_ERROR(
      CheckTicketKeyLengths(out.keys, out.data.rand.rand, suite.key_len, ticket_key_size));
  return out;
}

}  // namespace kms::core
