// Test helpers for the UE library: scripted randomness, the vector file's fixed inputs,
// and a complete vector flow run by the library on both sides.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "src/base/clock.h"
#include "src/base/encoding.h"
#include "src/client/initiator.h"
#include "src/client/responder.h"
#include "src/crypto/random.h"
#include "src/mikey/decoder.h"
#include "tests/testing/vector_file.h"

namespace kms::client::testing {

// ScriptedRandom: returns queued byte strings; each Fill must ask for exactly the size of
// the next queued value (so a changed draw order fails loudly).
class ScriptedRandom final : public crypto::Random {
 public:
  void Push(std::vector<uint8_t> v) { q_.push_back(std::move(v)); }
  void PushU32(uint32_t v) {
    Push({static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
          static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)});
  }
  Status Fill(std::span<uint8_t> out) override {
    if (q_.empty()) {
      return InternalError("scripted random exhausted");
    }
    std::vector<uint8_t> v = std::move(q_.front());
    q_.pop_front();
    if (v.size() != out.size()) {
      return InternalError("scripted random: size " + std::to_string(out.size()) + " asked, " +
                           std::to_string(v.size()) + " queued");
    }
    std::copy(v.begin(), v.end(), out.begin());
    return Status::Ok();
  }
  bool empty() const { return q_.empty(); }

 private:
  std::deque<std::vector<uint8_t>> q_;
};

// At: Unix time 1700000000 + seconds (+ 0.5 s when half), the vector flow's clock.
inline UnixTime At(int seconds, bool half = false) {
  return UnixTime(std::chrono::seconds(1700000000 + seconds)) +
         std::chrono::milliseconds(half ? 500 : 0);
}

inline const kms::testing::VectorFile& Vectors() {
  static const kms::testing::VectorFile* v = [] {
    auto r =
        kms::testing::VectorFile::Load(kms::testing::VectorPath("mikey-ticket-mode1-fork.txt"));
    KMS_CHECK(r.ok());
    return new kms::testing::VectorFile(std::move(r).value());
  }();
  return *v;
}

inline std::vector<uint8_t> Vec(int section, const char* name) {
  auto r = Vectors().Bytes(section, name);
  KMS_CHECK(r.ok());
  return std::move(r).value();
}

inline std::string Text(int section, const char* name) {
  const std::vector<uint8_t> b = Vec(section, name);
  return std::string(b.begin(), b.end());
}

inline Credentials CredsA() {
  return Credentials{Text(2, "IDi"), Text(2, "B-TID(A)"), SecretBytes::CopyFrom(Vec(2, "PSK_A"))};
}
inline Credentials CredsB() {
  return Credentials{Text(2, "IDr"), Text(2, "B-TID(B)"), SecretBytes::CopyFrom(Vec(2, "PSK_B"))};
}

// RandOf: the RANDR of `role` in a vector message.
inline std::vector<uint8_t> RandOf(const std::vector<uint8_t>& msg, mikey::RandRole role) {
  auto m = mikey::Decode(msg);
  KMS_CHECK(m.ok());
  const mikey::RandR* r = m->FindRandR(role);
  KMS_CHECK(r != nullptr);
  return r->rand;
}

inline uint32_t CsbOf(const std::vector<uint8_t>& msg) {
  auto m = mikey::Decode(msg);
  KMS_CHECK(m.ok());
  return m->hdr.csb_id;
}

// TekSalt: a TEK+SALT key (16 bytes of key_fill, 14 of salt_fill) with KV = SPI.
inline mikey::KeyData TekSalt(uint8_t key_fill, uint8_t salt_fill, std::vector<uint8_t> spi) {
  mikey::KeyData tek;
  tek.type = mikey::KeyDataType::kTekSalt;
  tek.key = SecretBytes::CopyFrom(std::vector<uint8_t>(16, key_fill));
  tek.salt = SecretBytes::CopyFrom(std::vector<uint8_t>(14, salt_fill));
  tek.spi = std::move(spi);
  return tek;
}

// TicketRequestOptions of the vector flow.
inline TicketRequestOptions VectorRequestOptions() {
  TicketRequestOptions o;
  o.kms_identity = Text(2, "IDkms");
  o.responders = {Text(2, "IDr")};
  o.validity = std::chrono::seconds(3600);
  return o;
}

}  // namespace kms::client::testing
