// kms-client's key files (src/cli/kms_client/inputs.cc, compiled into this test): what
// LoadKeyFile accepts and refuses, that its errors never quote the file, and that loading
// leaves no copy of the key (hex or binary) in freed heap blocks: operator delete is
// replaced here to scan every block freed while a key file is loaded.
#include <gtest/gtest.h>
#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <new>
#include <string>

#include "src/base/encoding.h"
#include "src/cli/kms_client/inputs.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define KMS_TEST_SANITIZER 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define KMS_TEST_SANITIZER 1
#endif

namespace {

// While armed, every block given back to operator delete is searched for these bytes.
std::atomic<bool> g_armed{false};
std::atomic<bool> g_found{false};
const void* g_needles[2];
size_t g_needle_sizes[2];

[[maybe_unused]] void Inspect(void* p) {  // unused where the sanitizers own delete
  if (p == nullptr || !g_armed.load()) return;
  const size_t n = malloc_usable_size(p);
  for (int i = 0; i < 2; ++i) {
    if (g_needle_sizes[i] != 0 && memmem(p, n, g_needles[i], g_needle_sizes[i]) != nullptr) {
      g_found = true;
    }
  }
}

}  // namespace

#ifndef KMS_TEST_SANITIZER
// Replacements of the global allocation functions (so that libstdc++'s own allocations,
// iostream buffers included, come through here): malloc/free underneath.
void* operator new(size_t n) {
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n) { return operator new(n); }
void operator delete(void* p) noexcept {
  Inspect(p);
  std::free(p);
}
void operator delete[](void* p) noexcept { operator delete(p); }
void operator delete(void* p, size_t /*n*/) noexcept { operator delete(p); }
void operator delete[](void* p, size_t /*n*/) noexcept { operator delete(p); }
#endif

namespace kms::cli {
namespace {

namespace fs = std::filesystem;

class KeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("kms-keyfile-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Write(const std::string& content, mode_t mode = 0600) {
    const fs::path p = dir_ / "key";
    std::ofstream(p, std::ios::binary) << content;
    ::chmod(p.c_str(), mode);
    return p.string();
  }
  // Refused: LoadKeyFile fails with a message naming the file and holding `reason`, and
  // not quoting `content`.
  void ExpectRefused(const std::string& content, const std::string& reason, mode_t mode = 0600) {
    const std::string path = Write(content, mode);
    auto k = LoadKeyFile(path, "PSK");
    ASSERT_FALSE(k.ok()) << content.size() << " bytes";
    const std::string msg = k.status().message();
    EXPECT_NE(msg.find("PSK file " + path), std::string::npos) << msg;
    EXPECT_NE(msg.find(reason), std::string::npos) << msg;
    if (content.size() >= 8) {
      EXPECT_EQ(msg.find(content.substr(0, 8)), std::string::npos) << msg;
    }
  }
  fs::path dir_;
};

// 32 bytes whose hex is unlike anything else in the process.
const char kHex[] = "5a3c9e17b2d4f60813579bdf02468ace7f1e2d3c4b5a69788796a5b4c3d2e1f0";

TEST_F(KeyFileTest, LoadsExactlyTheKey) {
  const auto want = HexDecode(kHex);
  ASSERT_TRUE(want.ok());
  for (const std::string& text :
       {std::string(kHex), std::string(kHex) + "\n", "  \t" + std::string(kHex) + "\r\n\n",
        std::string("5A3C9E17B2D4F60813579BDF02468ACE")}) {
    auto k = LoadKeyFile(Write(text), "PSK");
    ASSERT_TRUE(k.ok()) << k.status().ToString();
    const size_t n = text.find("5A3C") == 0 ? 16 : 32;
    ASSERT_EQ(k->size(), n);
    EXPECT_TRUE(k->ConstantTimeEqual(std::span<const uint8_t>(want->data(), n)));
  }
}

TEST_F(KeyFileTest, ShortOrMalformedKeysRefused) {
  ExpectRefused("", "holds 0 bytes; a key needs at least 16");
  ExpectRefused(std::string(kHex, 30) + "\n", "holds 15 bytes; a key needs at least 16");
  ExpectRefused(std::string(kHex, 63), "not a key as hex");         // odd length
  ExpectRefused(std::string(kHex, 40) + "zz", "not a key as hex");  // not hex
  ExpectRefused(std::string(kHex, 32) + " " + std::string(kHex + 32, 32), "not a key as hex");
  ExpectRefused(std::string(kHex, 32) + std::string(1, '\0') + std::string(kHex + 32, 32),
                "not a key as hex");  // a NUL would end the conversion early
  ExpectRefused(std::string(kHex, 32) + ":" + std::string(kHex + 32, 32), "not a key as hex");
}

TEST_F(KeyFileTest, OversizedOrUnsafeFilesRefused) {
  EXPECT_TRUE(LoadKeyFile(Write(std::string(4096, '0')), "PSK").ok());  // at the limit
  ExpectRefused(std::string(4097, '0'), "larger than 4096 bytes");
  ExpectRefused(kHex, "readable only by its owner (chmod 600)", 0640);
  ExpectRefused(kHex, "readable only by its owner (chmod 600)", 0604);
  // Not a regular file: missing, a directory, a FIFO (refused without waiting for a writer).
  const fs::path fifo = dir_ / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (const fs::path& p : {dir_ / "missing", dir_, fifo}) {
    auto k = LoadKeyFile(p.string(), "mode-3 key");
    ASSERT_FALSE(k.ok()) << p;
    EXPECT_NE(k.status().message().find("mode-3 key file " + p.string() +
                                        " is not a readable regular file"),
              std::string::npos)
        << k.status().message();
  }
}

// Every path through LoadKeyFile: no freed heap block holds the hex text or the key bytes.
// Before, the file went through an ifstream buffer and a vector grown by push_back (both
// freed unscrubbed), and a key shorter than 16 bytes was returned as an error without
// scrubbing its decoded copy.
TEST_F(KeyFileTest, NoCopyOfTheKeyLeftInFreedMemory) {
#ifdef KMS_TEST_SANITIZER
  GTEST_SKIP() << "the sanitizers own operator new/delete";
#endif
  const auto key = HexDecode(kHex);
  ASSERT_TRUE(key.ok());
  for (const std::string& text : {std::string(kHex) + "\n", std::string(kHex, 30) + "\n"}) {
    const std::string path = Write(text);
    g_needles[0] = kHex;  // the first 12 hex digits
    g_needle_sizes[0] = 12;
    g_needles[1] = key->data();  // the first 6 key bytes
    g_needle_sizes[1] = 6;
    g_found = false;
    g_armed = true;
    {
      auto k = LoadKeyFile(path, "PSK");
      EXPECT_EQ(k.ok(), text.size() > 40);
    }
    g_armed = false;
    EXPECT_FALSE(g_found) << "a freed block held the key (file of " << text.size() << " bytes)";
  }
}

}  // namespace
}  // namespace kms::cli
