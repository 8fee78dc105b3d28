#include "src/cli/kms_client/message_json.h"

#include <cstdio>
#include <string>

#include "src/base/encoding.h"
#include "src/mikey/key_data.h"
#include "src/mikey/ticket_data.h"

namespace kms::cli {
namespace {

using nlohmann::json;

std::string Hex(std::span<const uint8_t> b) { return HexEncode(b); }

std::string Hex32(uint32_t v) {
  char buf[11];
  std::snprintf(buf, sizeof(buf), "0x%08x", v);
  return buf;
}

bool Printable(std::span<const uint8_t> b) {
  if (b.empty()) return false;
  for (uint8_t c : b) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

json IdData(std::span<const uint8_t> b) {
  return Printable(b) ? json(std::string(b.begin(), b.end())) : json("hex:" + Hex(b));
}

const char* PrfName(mikey::PrfFunc p) {
  switch (p) {
    case mikey::PrfFunc::kMikey1:
      return "MIKEY-1";
    case mikey::PrfFunc::kPrfHmacSha256:
      return "PRF-HMAC-SHA-256";
  }
  return "unknown";
}
const char* MapName(mikey::CsIdMapType t) {
  switch (t) {
    case mikey::CsIdMapType::kSrtpId:
      return "SRTP-ID";
    case mikey::CsIdMapType::kEmpty:
      return "Empty";
    case mikey::CsIdMapType::kGenericId:
      return "GENERIC-ID";
  }
  return "unknown";
}
const char* EncrName(mikey::EncrAlg a) {
  switch (a) {
    case mikey::EncrAlg::kNull:
      return "NULL";
    case mikey::EncrAlg::kAesCm128:
      return "AES-CM-128";
    case mikey::EncrAlg::kAesKw128:
      return "AES-KW-128";
    case mikey::EncrAlg::kAesCm256:
      return "AES-CM-256";
  }
  return "unknown";
}
const char* MacName(mikey::MacAlg a) {
  switch (a) {
    case mikey::MacAlg::kNull:
      return "NULL";
    case mikey::MacAlg::kHmacSha1_160:
      return "HMAC-SHA-1-160";
    case mikey::MacAlg::kHmacSha256_256:
      return "HMAC-SHA-256-256";
  }
  return "unknown";
}
const char* TsName(mikey::TsType t) {
  switch (t) {
    case mikey::TsType::kNtpUtc:
      return "NTP-UTC";
    case mikey::TsType::kNtp:
      return "NTP";
    case mikey::TsType::kCounter:
      return "COUNTER";
    case mikey::TsType::kNtpUtc32:
      return "NTP-UTC-32";
  }
  return "unknown";
}
const char* IdTypeName(mikey::IdType t) {
  switch (t) {
    case mikey::IdType::kNai:
      return "NAI";
    case mikey::IdType::kUri:
      return "URI";
    case mikey::IdType::kByteString:
      return "Byte string";
  }
  return "unknown";
}
const char* IdRoleName(mikey::IdRole r) {
  switch (r) {
    case mikey::IdRole::kInitiator:
      return "IDRi";
    case mikey::IdRole::kResponder:
      return "IDRr";
    case mikey::IdRole::kKms:
      return "IDRkms";
    case mikey::IdRole::kPreSharedKey:
      return "IDRpsk";
    case mikey::IdRole::kApplication:
      return "IDRapp";
    case mikey::IdRole::kInitiatorKms:
      return "IDRkms-i";
    case mikey::IdRole::kResponderKms:
      return "IDRkms-r";
  }
  return "unknown";
}
const char* RandRoleName(mikey::RandRole r) {
  switch (r) {
    case mikey::RandRole::kInitiator:
      return "RANDRi";
    case mikey::RandRole::kResponder:
      return "RANDRr";
    case mikey::RandRole::kKms:
      return "RANDRkms";
  }
  return "unknown";
}
const char* TsRoleName(mikey::TsRole r) {
  switch (r) {
    case mikey::TsRole::kTimeOfIssue:
      return "TRi";
    case mikey::TsRole::kStartOfValidity:
      return "TRs";
    case mikey::TsRole::kEndOfValidity:
      return "TRe";
    case mikey::TsRole::kRekeyingInterval:
      return "TRr";
  }
  return "unknown";
}
const char* KeyTypeName(mikey::KeyDataType t) {
  static const char* kNames[] = {"TGK", "TGK+SALT", "TEK", "TEK+SALT", "GTGK", "GTGK+SALT", "MPK"};
  const auto i = static_cast<size_t>(t);
  return i < 7 ? kNames[i] : "unknown";
}

json KeyChainJson(std::span<const uint8_t> plain, bool show_keys) {
  auto keys = mikey::DecodeKeyDataChain(plain);
  if (!keys.ok()) {
    return json{{"error", "key data chain does not parse"}};
  }
  json arr = json::array();
  for (const mikey::KeyData& k : *keys) {
    json j{{"type", KeyTypeName(k.type)}, {"key_length", k.key.size()}};
    if (show_keys) j["key"] = Hex(k.key.Reveal());
    if (k.salt) {
      j["salt_length"] = k.salt->size();
      if (show_keys) j["salt"] = Hex(k.salt->Reveal());
    }
    if (k.kv_type == mikey::KvType::kSpi) j["spi"] = Hex(k.spi);
    if (k.kv_type == mikey::KvType::kInterval) {
      j["valid_from"] = Hex(k.valid_from);
      j["valid_to"] = Hex(k.valid_to);
    }
    arr.push_back(std::move(j));
  }
  return arr;
}

json KemacJson(const mikey::Kemac& k, bool show_keys) {
  json j{{"encr_alg", EncrName(k.encr_alg)},
         {"mac_alg", MacName(k.mac_alg)},
         {"encr_data_length", k.encr_data.size()}};
  if (k.encr_alg == mikey::EncrAlg::kNull) {
    j["key_data"] = KeyChainJson(k.encr_data, show_keys);  // plaintext chain
  }
  if (!k.mac.empty()) j["mac"] = Hex(k.mac);
  return j;
}

json TimeJson(mikey::TsType type, uint64_t value) {
  const bool four = type == mikey::TsType::kCounter || type == mikey::TsType::kNtpUtc32;
  char buf[19];
  std::snprintf(buf, sizeof(buf), four ? "%08llx" : "%016llx",
                static_cast<unsigned long long>(value));
  return json{{"ts_type", TsName(type)}, {"ts_value", buf}};
}

json FlagsJson(const mikey::TpFlags& f) {
  return json{{"D", f.d}, {"E", f.e}, {"F", f.f}, {"G", f.g}, {"H", f.h}, {"I", f.i},
              {"J", f.j}, {"K", f.k}, {"L", f.l}, {"M", f.m}, {"N", f.n}, {"O", f.o}};
}

json InnerJson(const mikey::InnerPayload& p, bool show_keys);

json PolicyJson(const mikey::TicketPolicy& p, bool show_keys) {
  json data = json::array();
  for (const auto& q : p.tp_data) data.push_back(InnerJson(q, show_keys));
  return json{{"ticket_type", static_cast<int>(p.ticket_type)},
              {"subtype", p.subtype},
              {"version", p.version},
              {"prf_func", PrfName(p.prf)},
              {"flags", FlagsJson(p.flags)},
              {"tp_data", data}};
}

template <typename P>
json CommonJson(const P& p, bool show_keys) {
  using T = std::decay_t<P>;
  if constexpr (std::is_same_v<T, mikey::Kemac>) {
    return KemacJson(p, show_keys);
  } else if constexpr (std::is_same_v<T, mikey::Timestamp>) {
    return TimeJson(p.ts_type, p.value);
  } else if constexpr (std::is_same_v<T, mikey::TimestampR>) {
    json j = TimeJson(p.ts_type, p.value);
    j["ts_role"] = TsRoleName(p.role);
    return j;
  } else if constexpr (std::is_same_v<T, mikey::Idr>) {
    return json{{"id_role", IdRoleName(p.role)},
                {"id_type", IdTypeName(p.id_type)},
                {"id_data", IdData(p.id_data)}};
  } else if constexpr (std::is_same_v<T, mikey::Id>) {
    return json{{"id_type", IdTypeName(p.id_type)}, {"id_data", IdData(p.id_data)}};
  } else if constexpr (std::is_same_v<T, mikey::RandR>) {
    return json{
        {"rand_role", RandRoleName(p.role)}, {"rand_length", p.rand.size()}, {"rand", Hex(p.rand)}};
  } else if constexpr (std::is_same_v<T, mikey::Rand>) {
    return json{{"rand_length", p.rand.size()}, {"rand", Hex(p.rand)}};
  } else if constexpr (std::is_same_v<T, mikey::Verification>) {
    return json{{"auth_alg", MacName(p.mac_alg)}, {"mac", Hex(p.mac)}};
  } else if constexpr (std::is_same_v<T, mikey::SecurityPolicy>) {
    json params = json::array();
    for (const auto& t : p.params)
      params.push_back(json{{"type", t.type}, {"value", Hex(t.value)}});
    return json{{"policy_no", p.policy_no},
                {"prot_type", static_cast<int>(p.prot_type)},
                {"params", params}};
  } else if constexpr (std::is_same_v<T, mikey::ErrorPayload>) {
    return json{{"error_no", static_cast<int>(p.error_no)}};
  } else if constexpr (std::is_same_v<T, mikey::GeneralExtension>) {
    json j{{"ext_type", static_cast<int>(p.type)}, {"data_length", p.data.size()}};
    j["data"] = IdData(p.data);
    return j;
  } else if constexpr (std::is_same_v<T, mikey::Cert>) {
    return json{{"cert_type", static_cast<int>(p.cert_type)}, {"cert_length", p.cert_data.size()}};
  } else if constexpr (std::is_same_v<T, mikey::Chash>) {
    return json{{"hash_func", static_cast<int>(p.hash_func)}, {"hash", Hex(p.hash)}};
  } else if constexpr (std::is_same_v<T, mikey::Pke>) {
    return json{{"c", p.c}, {"data_length", p.data.size()}};
  } else if constexpr (std::is_same_v<T, mikey::Dh>) {
    return json{{"dh_group", static_cast<int>(p.group)}, {"value_length", p.value.size()}};
  } else if constexpr (std::is_same_v<T, mikey::Sign>) {
    return json{{"s_type", static_cast<int>(p.s_type)}, {"signature_length", p.signature.size()}};
  } else if constexpr (std::is_same_v<T, mikey::Tp>) {
    return PolicyJson(p.policy, show_keys);
  } else {
    static_assert(std::is_same_v<T, mikey::Ticket>);
    json j = PolicyJson(p.policy, show_keys);
    j["ticket_data_length"] = p.ticket_data.size();
    j["initiator_data_length"] = p.initiator_data.size();
    if (p.policy.ticket_type == mikey::TicketType::kMikeyBaseTicket) {
      if (auto td = mikey::DecodeBaseTicketData(p.ticket_data); td.ok()) {
        json b{{"thdr_data_length", td->thdr.data.size()},
               {"T", TimeJson(td->t.ts_type, td->t.value)},
               {"RAND", json{{"rand_length", td->rand.rand.size()}, {"rand", Hex(td->rand.rand)}}},
               {"KEMAC", KemacJson(td->kemac, false)},
               {"V", json{{"auth_alg", MacName(td->v.mac_alg)}, {"mac", Hex(td->v.mac)}}}};
        if (td->idr_psk) b["IDRpsk"] = IdData(td->idr_psk->id_data);
        j["base_ticket"] = b;
      }
    }
    if (!p.initiator_data.empty()) {
      if (auto id = mikey::DecodeInitiatorData(p.initiator_data); id.ok()) {
        j["initiator_data"] = json{{"Vi", Hex(id->vi.mac)}, {"Vr", Hex(id->vr.mac)}};
      }
    }
    return j;
  }
}

template <typename V>
json WithType(const V& v, bool show_keys) {
  return std::visit(
      [&](const auto& p) {
        json j = CommonJson(p, show_keys);
        j["payload"] = mikey::PayloadTypeName(mikey::TypeOf(V(p)));
        return j;
      },
      v);
}

json InnerJson(const mikey::InnerPayload& p, bool show_keys) { return WithType(p, show_keys); }

}  // namespace

const char* DataTypeName(mikey::DataType t) {
  switch (t) {
    case mikey::DataType::kPskInit:
      return "Pre-shared";
    case mikey::DataType::kPskVerify:
      return "PSK ver msg";
    case mikey::DataType::kPkInit:
      return "Public key";
    case mikey::DataType::kPkVerify:
      return "PK ver msg";
    case mikey::DataType::kDhInit:
      return "D-H init";
    case mikey::DataType::kDhResp:
      return "D-H resp";
    case mikey::DataType::kError:
      return "Error";
    case mikey::DataType::kDhhmacInit:
      return "DHHMAC init";
    case mikey::DataType::kDhhmacResp:
      return "DHHMAC resp";
    case mikey::DataType::kRsaRInit:
      return "RSA-R I_MSG";
    case mikey::DataType::kRsaRResp:
      return "RSA-R R_MSG";
    case mikey::DataType::kRequestInitPsk:
      return "REQUEST_INIT_PSK";
    case mikey::DataType::kRequestInitPk:
      return "REQUEST_INIT_PK";
    case mikey::DataType::kRequestResp:
      return "REQUEST_RESP";
    case mikey::DataType::kTransferInit:
      return "TRANSFER_INIT";
    case mikey::DataType::kTransferResp:
      return "TRANSFER_RESP";
    case mikey::DataType::kResolveInitPsk:
      return "RESOLVE_INIT_PSK";
    case mikey::DataType::kResolveInitPk:
      return "RESOLVE_INIT_PK";
    case mikey::DataType::kResolveResp:
      return "RESOLVE_RESP";
    case mikey::DataType::kSakke:
      return "SAKKE";
  }
  return "unknown";
}

json MessageToJson(const mikey::Message& m, bool show_keys) {
  json hdr{
      {"version", m.hdr.version},
      {"data_type", DataTypeName(m.hdr.data_type)},
      {"next_payload",
       m.payloads.empty() ? "Last payload" : mikey::PayloadTypeName(mikey::TypeOf(m.payloads[0]))},
      {"V", m.hdr.v_flag},
      {"prf_func", PrfName(m.hdr.prf)},
      {"csb_id", Hex32(m.hdr.csb_id)},
      {"cs_count", m.hdr.cs_count},
      {"cs_id_map_type", MapName(m.hdr.map_type)}};
  json map = json::array();
  for (const auto& e : m.hdr.srtp_map) {
    map.push_back(json{{"policy_no", e.policy_no}, {"ssrc", Hex32(e.ssrc)}, {"roc", e.roc}});
  }
  for (const auto& b : m.hdr.generic_map) {
    map.push_back(json{{"cs_id", b.cs_id},
                       {"prot_type", static_cast<int>(b.prot_type)},
                       {"S", b.s_flag},
                       {"policy_nos", b.policy_nos},
                       {"session_data", Hex(b.session_data)},
                       {"spi", Hex(b.spi)}});
  }
  hdr["cs_id_map_info"] = map;
  json payloads = json::array();
  for (size_t i = 0; i < m.payloads.size(); ++i) {
    json j = WithType(m.payloads[i], show_keys);
    j["next_payload"] = i + 1 < m.payloads.size()
                            ? mikey::PayloadTypeName(mikey::TypeOf(m.payloads[i + 1]))
                            : "Last payload";
    payloads.push_back(std::move(j));
  }
  return json{{"HDR", hdr}, {"payloads", payloads}};
}

}  // namespace kms::cli
