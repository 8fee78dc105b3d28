// Helpers shared by the kms::mikey unit tests.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <regex>
#include <string>
#include <tuple>
#include <vector>

#include "src/mikey/decoder.h"
#include "tests/testing/vector_file.h"

namespace kms::mikey::testing {

// A message of the mode-1 vector file: section number and entry name.
struct VectorMessage {
  int section;
  const char* name;
};

inline const std::vector<VectorMessage>& VectorMessages() {
  static const std::vector<VectorMessage> kMessages = {
      {3, "REQUEST_INIT_PSK"}, {5, "REQUEST_RESP"}, {6, "TRANSFER_INIT"},
      {7, "RESOLVE_INIT_PSK"}, {8, "RESOLVE_RESP"}, {9, "TRANSFER_RESP"},
  };
  return kMessages;
}

inline const kms::testing::VectorFile& Vectors() {
  static const kms::testing::VectorFile* vf = [] {
    auto r =
        kms::testing::VectorFile::Load(kms::testing::VectorPath("mikey-ticket-mode1-fork.txt"));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return new kms::testing::VectorFile(std::move(r).value());
  }();
  return *vf;
}

inline std::vector<uint8_t> VectorBytes(int section, const std::string& name) {
  auto r = Vectors().Bytes(section, name);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r.value() : std::vector<uint8_t>();
}

// ParseLayout: "[('HDR', 0, 10), ('T', 10, 10)]" -> {("HDR",0,10), ("T",10,10)}.
using LayoutEntry = std::tuple<std::string, size_t, size_t>;
inline std::vector<LayoutEntry> ParseLayout(const std::string& text) {
  static const std::regex kItem(R"(\('([A-Z]+)', (\d+), (\d+)\))");
  std::vector<LayoutEntry> out;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kItem);
       it != std::sregex_iterator(); ++it) {
    out.emplace_back((*it)[1].str(), std::stoul((*it)[2].str()), std::stoul((*it)[3].str()));
  }
  return out;
}

// ExpectDecodeError: decoding fails with kDecodeError and exactly this MIKEY error number.
inline void ExpectDecodeError(const std::vector<uint8_t>& wire, uint8_t error_no,
                              const DecodeLimits& limits = {}) {
  auto r = Decode(wire, limits);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDecodeError) << r.status().ToString();
  EXPECT_EQ(r.status().detail(), std::optional<uint8_t>(error_no)) << r.status().ToString();
}

}  // namespace kms::mikey::testing
