// Test-only helpers that pick fixed inputs (RANDs, T, CSB IDs, KEMAC data) out of the
// MIKEY messages in tests/vectors/mikey-ticket-mode1-fork.txt, using the "layout" lines of
// the file. Deliberately minimal and independent of src/mikey (which is tested elsewhere).
#pragma once

#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

#include "tests/unit/crypto/test_util.h"

namespace kms::crypto::test {

struct PayloadPos {
  std::string type;
  size_t off = 0;
  size_t len = 0;
};

// ParseLayout: "[('HDR', 0, 10), ('T', 10, 10), ...]".
inline std::vector<PayloadPos> ParseLayout(const std::string& text) {
  static const std::regex kItem(R"(\('([A-Za-z]+)', (\d+), (\d+)\))");
  std::vector<PayloadPos> out;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kItem);
       it != std::sregex_iterator(); ++it) {
    out.push_back({(*it)[1].str(), std::stoul((*it)[2].str()), std::stoul((*it)[3].str())});
  }
  EXPECT_FALSE(out.empty()) << "unparsable layout: " << text;
  return out;
}

// Nth: the n-th (0-based) payload of a type; fails the test if absent.
inline PayloadPos Nth(const std::vector<PayloadPos>& layout, const std::string& type,
                      size_t n = 0) {
  for (const PayloadPos& p : layout) {
    if (p.type == type && n-- == 0) {
      return p;
    }
  }
  ADD_FAILURE() << "layout has no payload " << type;
  return {};
}

// PayloadBytes: the payload's bytes in msg.
inline std::span<const uint8_t> PayloadBytes(std::span<const uint8_t> msg, const PayloadPos& p) {
  return Sub(msg, p.off, p.len);
}

// RandrValue: RANDR = next | role | len | value (RFC 6043 §6.8); checks role and length.
inline std::vector<uint8_t> RandrValue(std::span<const uint8_t> payload, uint8_t role) {
  if (payload.size() < 3) {
    ADD_FAILURE() << "short RANDR";
    return {};
  }
  EXPECT_EQ(payload[1], role);
  EXPECT_EQ(payload.size(), 3U + payload[2]);
  auto v = Sub(payload, 3, payload[2]);
  return {v.begin(), v.end()};
}

// IdrData: IDR = next | role | type | len16 | data (RFC 6043 §6.6); checks the role.
inline std::vector<uint8_t> IdrData(std::span<const uint8_t> payload, uint8_t role) {
  if (payload.size() < 5) {
    ADD_FAILURE() << "short IDR";
    return {};
  }
  EXPECT_EQ(payload[1], role);
  const uint16_t len = U16At(payload, 3);
  EXPECT_EQ(payload.size(), 5U + len);
  auto v = Sub(payload, 5, len);
  return {v.begin(), v.end()};
}

// TimestampNtp64: T = next | TS type | value; NTP-UTC (type 0) 64-bit value.
inline uint64_t TimestampNtp64(std::span<const uint8_t> payload) {
  EXPECT_EQ(payload.size(), 10U);
  EXPECT_EQ(payload.size() > 1 ? payload[1] : 0xFF, 0);  // NTP-UTC
  return U64At(payload, 2);
}

// KemacView: KEMAC = next | encr alg | len16 | encr data | mac alg (RFC 3830 §6.2).
struct KemacView {
  uint8_t encr_alg = 0;
  std::vector<uint8_t> encr_data;
  size_t encr_data_off = 0;  // offset of encr data inside the payload
};
inline KemacView ParseKemac(std::span<const uint8_t> payload) {
  KemacView k;
  if (payload.size() < 5) {
    ADD_FAILURE() << "short KEMAC";
    return k;
  }
  k.encr_alg = payload[1];
  const uint16_t len = U16At(payload, 2);
  EXPECT_EQ(payload.size(), 4U + len + 1U);  // MIKEY-TICKET KEMACs carry a NULL MAC
  EXPECT_EQ(payload[payload.size() - 1], 0);
  auto d = Sub(payload, 4, len);
  k.encr_data.assign(d.begin(), d.end());
  k.encr_data_off = 4;
  return k;
}

// KeyDataValue: the key of the n-th Key data sub-payload (next | type/KV | len16 | key |
// KV data) in a plaintext chain where every key has KV = SPI (spec §11 A8) and no salt.
inline std::vector<uint8_t> KeyDataValue(std::span<const uint8_t> chain, size_t n,
                                         uint8_t* type = nullptr) {
  size_t off = 0;
  for (size_t i = 0;; ++i) {
    auto head = Sub(chain, off, 4);
    if (head.empty()) {
      return {};
    }
    EXPECT_EQ(head[1] & 0x0F, 1) << "KV must be SPI";
    const uint16_t key_len = U16At(chain, off + 2);
    auto key = Sub(chain, off + 4, key_len);
    auto spi_len = Sub(chain, off + 4 + key_len, 1);
    if (spi_len.empty()) {
      return {};
    }
    if (i == n) {
      if (type != nullptr) {
        *type = static_cast<uint8_t>(head[1] >> 4);
      }
      return {key.begin(), key.end()};
    }
    off += 4U + key_len + 1U + spi_len[0];
  }
}

// TicketView: the parts of a TICKET payload (RFC 6043 §6.10) a crypto test needs.
struct TicketView {
  uint8_t tp_prf = 0;          // PRF func from the flags byte (bits 7..1)
  size_t ticket_data_off = 0;  // inside the TICKET payload
  size_t ticket_data_len = 0;
  size_t init_data_len_off = 0;  // the 2-byte Initiator Data length
  size_t init_data_len = 0;
};
inline TicketView ParseTicket(std::span<const uint8_t> t) {
  TicketView v;
  // next(1) type(2) subtype(1) version(1) PRF|D(1) flags(2) TP Data len(2) TP Data ...
  v.tp_prf = static_cast<uint8_t>(Sub(t, 5, 1).empty() ? 0xFF : t[5] >> 1);
  const uint16_t tp_len = U16At(t, 8);
  v.ticket_data_len = U16At(t, 10U + tp_len);
  v.ticket_data_off = 12U + tp_len;
  v.init_data_len_off = v.ticket_data_off + v.ticket_data_len;
  v.init_data_len = U16At(t, v.init_data_len_off);
  EXPECT_EQ(t.size(), v.init_data_len_off + 2 + v.init_data_len);
  return v;
}

// Base-ticket Ticket Data = THDR, T, RAND, KEMAC, [IDRpsk], V (RFC 6043 App. A).
struct TicketDataView {
  uint64_t t64 = 0;
  std::vector<uint8_t> rand;
  KemacView kemac;
  std::vector<uint8_t> idr_psk;
  std::vector<uint8_t> mac;
  std::vector<PayloadPos> walked;  // (type, len) in order, offsets from Ticket Data start
};
inline TicketDataView ParseTicketData(std::span<const uint8_t> td) {
  TicketDataView v;
  const uint16_t thdr_len = U16At(td, 1);  // THDR: next | len16 | data
  size_t off = 3U + thdr_len;
  v.t64 = TimestampNtp64(Sub(td, off, 10));
  v.walked.push_back({"T", off, 10});
  off += 10;
  const uint8_t rand_len = Sub(td, off + 1, 1).empty() ? 0 : td[off + 1];
  auto r = Sub(td, off + 2, rand_len);
  v.rand.assign(r.begin(), r.end());
  v.walked.push_back({"RAND", off, 2U + rand_len});
  off += 2U + rand_len;
  const size_t kemac_len = 4U + U16At(td, off + 2) + 1U;
  v.kemac = ParseKemac(Sub(td, off, kemac_len));
  v.walked.push_back({"KEMAC", off, kemac_len});
  off += kemac_len;
  const size_t idr_len = 5U + U16At(td, off + 3);
  v.idr_psk = IdrData(Sub(td, off, idr_len), 4);
  v.walked.push_back({"IDR", off, idr_len});
  off += idr_len;
  v.walked.push_back({"V", off, td.size() - off});
  auto mac = Sub(td, off + 2, 20);
  v.mac.assign(mac.begin(), mac.end());
  EXPECT_EQ(td.size(), off + 22);
  return v;
}

}  // namespace kms::crypto::test
