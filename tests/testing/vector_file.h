// VectorFile: reads the known-answer files in tests/vectors/ (BoringSSL file_test idea).
// Entries are "name (N bytes) = hex" (the byte count is checked) and indented
// "name: text" lines, grouped under numbered section headings ("3. REQUEST_INIT_PSK ...").
// Every entry a test reads is marked consumed; Unconsumed() lists the rest, so a
// data-driven test can fail when the file holds a value nobody checked.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "src/base/result.h"

namespace kms::testing {

class VectorFile {
 public:
  // Load: parses the file; a malformed entry line (bad hex, wrong byte count, a duplicate
  // name within a section) is an error naming the line number.
  static Result<VectorFile> Load(const std::string& path);

  // Bytes / Text: the entry `name` of section `section`; kNotFound if absent. Marks it used.
  Result<std::vector<uint8_t>> Bytes(int section, std::string_view name) const;
  Result<std::string> Text(int section, std::string_view name) const;

  // Unconsumed: "section N: name" for every entry not yet read.
  std::vector<std::string> Unconsumed() const;
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    bool is_bytes = false;
    std::vector<uint8_t> bytes;
    std::string text;
  };
  using Key = std::pair<int, std::string>;
  std::map<Key, Entry> entries_;
  mutable std::set<Key> consumed_;
};

// VectorPath: absolute path of a file in tests/vectors/.
std::string VectorPath(std::string_view file_name);

}  // namespace kms::testing
