#include "tests/testing/vector_file.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "src/base/encoding.h"

namespace kms::testing {
namespace {

std::string WriteTemp(const std::string& text) {
  char name[] = "/tmp/kms_vf_XXXXXX";
  const int fd = mkstemp(name);
  EXPECT_GE(fd, 0);
  std::ofstream(name) << text;
  return name;
}

TEST(VectorFileTest, LoadsSharedVectorsAndTracksConsumption) {
  auto vf = VectorFile::Load(VectorPath("mikey-ticket-mode1-fork.txt"));
  ASSERT_TRUE(vf.ok()) << vf.status().ToString();
  EXPECT_GT(vf->size(), 60u);
  auto mac = vf->Bytes(3, "MAC");
  ASSERT_TRUE(mac.ok());
  EXPECT_EQ(HexEncode(*mac), "25873e61287d596e12c5ad9dccf63afb3317e765");
  auto name_with_equals = vf->Bytes(3, "MAC input = msg-without-MAC || IDi || IDkms");
  ASSERT_TRUE(name_with_equals.ok());
  EXPECT_EQ(name_with_equals->size(), 264u);
  auto layout = vf->Text(4, "Ticket Data layout (after THDR)");
  ASSERT_TRUE(layout.ok());
  EXPECT_EQ(layout->substr(0, 12), "[('T', 1, 10");
  const auto left = vf->Unconsumed();
  EXPECT_EQ(left.size(), vf->size() - 3);
  for (const auto& s : left) {
    EXPECT_NE(s, "section 3: MAC");
  }
}

TEST(VectorFileTest, MissingEntryIsNotFound) {
  auto vf = VectorFile::Load(VectorPath("mikey-ticket-mode1-fork.txt"));
  ASSERT_TRUE(vf.ok());
  EXPECT_EQ(vf->Bytes(3, "no such").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(vf->Bytes(99, "MAC").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(vf->Text(3, "MAC").status().code(), StatusCode::kNotFound);  // bytes, not text
}

TEST(VectorFileTest, RejectsMalformedFiles) {
  const char* bad[] = {
      "1. S\n===\nx (2 bytes) = 00\n",           // byte count mismatch
      "1. S\n===\nx (1 bytes) = 0g\n",           // bad hex
      "1. S\n===\nx (1 bytes) = 00\nx (1 bytes) = 01\n",  // duplicate
      "x (1 bytes) = 00\n",                 // before any section
      "1. S\n===\nthis is not an entry\n",       // unrecognised
  };
  for (const char* text : bad) {
    const std::string path = WriteTemp(text);
    auto vf = VectorFile::Load(path);
    EXPECT_FALSE(vf.ok()) << text;
    EXPECT_EQ(vf.status().code(), StatusCode::kInvalidArgument) << text;
    std::remove(path.c_str());
  }
  EXPECT_EQ(VectorFile::Load("/nonexistent/file").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace kms::testing
