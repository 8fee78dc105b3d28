#include "src/client/mode3_ticket.h"

#include <algorithm>

#include "src/base/ntp_time.h"
#include "src/crypto/kemac_cipher.h"
#include "src/crypto/key_derivation.h"
#include "src/crypto/mac.h"
#include "src/crypto/openssl_key_ops.h"
#include "src/mikey/encoder.h"
#include "src/mikey/mac_coverage.h"
#include "src/mikey/ticket_data.h"

namespace kms::client {

Result<InitiatorTicket> CreateMode3Ticket(std::string_view identity_i,
                                          const TicketProtectionKey& tpk, const Mode3Options& opt,
                                          const Env& env) {
  if (opt.responders.empty()) {
    return InvalidArgumentError("a ticket names at least one responder");
  }
  if (tpk.tpk.size() < kMinKeyBytes || tpk.id.empty()) {
    return InvalidArgumentError("TPK must be at least 128 bits and have an identifier");
  }
  if (opt.mpk_len < kMinKeyBytes || opt.tgk_len < kMinKeyBytes) {
    return InvalidArgumentError("MPK and TGK must be at least 128 bits (spec §9.3)");
  }
  KMS_ASSIGN_OR_RETURN(const crypto::PrfFunc prf, ToCryptoPrf(opt.prf));
  KMS_ASSIGN_OR_RETURN(const crypto::EncrAlgorithm cenc, ToCryptoEncr(opt.encr));
  KMS_ASSIGN_OR_RETURN(const crypto::MacAlgorithm cmac, ToCryptoMac(opt.mac));

  // Ticket Policy (RFC 6043 §6.10): D=0 ⇒ L=1; forking needs E=1 and F=1.
  mikey::TicketPolicy pol;
  pol.prf = opt.prf;
  pol.flags.d = false;
  pol.flags.l = true;
  pol.flags.e = pol.flags.f = pol.flags.g = pol.flags.h = pol.flags.n = pol.flags.o = true;
  pol.flags.i = opt.forking;
  pol.flags.j = opt.reusable;
  pol.flags.m = opt.responder_keys;
  KMS_RETURN_IF_ERROR(mikey::CheckTpFlagRules(pol.flags));
  KMS_ASSIGN_OR_RETURN(const uint32_t now32, ToNtp32(env.clock.Now()));
  pol.tp_data.push_back(MakeIdr(mikey::IdRole::kKms, mikey::IdType::kUri, opt.kms_identity));
  pol.tp_data.push_back(MakeIdr(mikey::IdRole::kInitiator, mikey::IdType::kUri, identity_i));
  pol.tp_data.push_back(
      mikey::TimestampR{mikey::TsRole::kEndOfValidity, mikey::TsType::kNtpUtc32,
                        uint32_t(now32 + static_cast<uint32_t>(opt.validity.count()))});
  for (const std::string& r : opt.responders) {
    pol.tp_data.push_back(MakeIdr(mikey::IdRole::kResponder, mikey::IdType::kUri, r));
  }

  // Keys: RAND >= longer of TPK and MPK (RFC 6043 §12.1), fresh MPK and TGK.
  const size_t rand_len = std::max<size_t>({16, tpk.tpk.size(), opt.mpk_len});
  KMS_ASSIGN_OR_RETURN(const std::vector<uint8_t> rand, crypto::RandomBytes(env.rng, rand_len));
  KMS_ASSIGN_OR_RETURN(SecretBytes mpk, crypto::RandomSecret(env.rng, opt.mpk_len));
  KMS_ASSIGN_OR_RETURN(SecretBytes tgk, crypto::RandomSecret(env.rng, opt.tgk_len));
  KMS_ASSIGN_OR_RETURN(const mikey::Timestamp t, NowTimestamp(env.clock));

  std::vector<mikey::KeyData> chain(2);
  chain[0].type = mikey::KeyDataType::kMpk;
  chain[0].key = mpk.Clone();
  chain[0].spi = {0, 0, 0, 0};
  chain[1].type = mikey::KeyDataType::kTgk;
  chain[1].key = tgk.Clone();
  chain[1].spi = {0, 0, 0, 1};
  KMS_ASSIGN_OR_RETURN(const SecretBytes plain, mikey::EncodeKeyDataChain(chain));
  KMS_ASSIGN_OR_RETURN(crypto::SoftwareInKey tpk_key, crypto::SoftwareInKey::Create(tpk.tpk));
  KMS_ASSIGN_OR_RETURN(crypto::MessageKeys tk,
                       crypto::DeriveTicketKeys(prf, tpk_key.blocks(), rand, cenc, cmac));
  // RFC 6043 App. A.1: IV with CSB ID 0xFFFFFFFF and the Ticket Data T.
  KMS_ASSIGN_OR_RETURN(
      std::vector<uint8_t> ct,
      crypto::KemacEncrypt(cenc, tk.encr_key, tk.salt_key, crypto::kTicketKemacCsbId,
                           TimestampIv64(t), plain.Reveal()));
  mikey::BaseTicketData td;
  td.t = t;
  td.rand = mikey::Rand{rand};
  td.kemac = mikey::Kemac{opt.encr, std::move(ct), mikey::MacAlg::kNull, {}};
  td.idr_psk = MakeIdr(mikey::IdRole::kPreSharedKey, mikey::IdType::kByteString, tpk.id);
  td.v = PlaceholderV(opt.mac);
  mikey::Ticket ticket;
  ticket.policy = pol;
  KMS_ASSIGN_OR_RETURN(ticket.ticket_data, mikey::EncodeBaseTicketData(td));

  // The ticket MAC covers the TICKET payload (App. A.1): encode it inside a carrier
  // message to get the layout, MAC, patch, and take the Ticket Data bytes back out.
  mikey::Message carrier;
  carrier.hdr.data_type = mikey::DataType::kTransferInit;
  carrier.hdr.map_type = mikey::CsIdMapType::kEmpty;
  carrier.payloads.push_back(ticket);
  KMS_ASSIGN_OR_RETURN(mikey::EncodedMessage enc, mikey::EncodeWithLayout(carrier));
  KMS_ASSIGN_OR_RETURN(const std::vector<uint8_t> mac_in,
                       mikey::TicketMacInput(enc.wire, enc.layout));
  KMS_ASSIGN_OR_RETURN(const std::vector<uint8_t> mac,
                       crypto::ComputeMac(cmac, tk.auth_key, mac_in));
  KMS_RETURN_IF_ERROR(mikey::PatchTicketMac(enc.wire, enc.layout, mac));
  const mikey::ByteRange r = enc.layout.ticket->ticket_data;
  ticket.ticket_data.assign(enc.wire.begin() + static_cast<std::ptrdiff_t>(r.offset),
                            enc.wire.begin() + static_cast<std::ptrdiff_t>(r.end()));

  KMS_ASSIGN_OR_RETURN(crypto::SoftwareInKey mpk_key, crypto::SoftwareInKey::Create(mpk));
  KMS_ASSIGN_OR_RETURN(crypto::MpkPair pair, crypto::DeriveMpkPair(prf, mpk_key.blocks(), rand));
  InitiatorTicket out;
  out.ticket = std::move(ticket);
  out.kms_identity = opt.kms_identity;
  out.mpki = std::move(pair.mpki);
  if (opt.forking) {
    out.mpkr = std::move(pair.mpkr);
  }
  out.session_keys.push_back(std::move(chain[1]));
  return out;
}

}  // namespace kms::client
