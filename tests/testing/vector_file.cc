#include "tests/testing/vector_file.h"

#include <fstream>
#include <regex>

#include "src/base/encoding.h"

#ifndef KMS_SOURCE_DIR
#error "KMS_SOURCE_DIR must name the repository root"
#endif

namespace kms::testing {
namespace {

std::string Trim(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) {
    return {};
  }
  const size_t e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

}  // namespace

Result<VectorFile> VectorFile::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return NotFoundError("cannot open vector file " + path);
  }
  // "3. REQUEST_INIT_PSK  (UE-A -> KMS)" opens section 3.
  static const std::regex kSection(R"(^(\d+)\.\s+\S.*$)");
  // "MAC (20 bytes) = 2587..." — the name may itself contain " = ".
  static const std::regex kBytes(R"(^(.*\S) \((\d+) bytes\) = ([0-9a-fA-F]*)$)");
  // "  layout: [...]" (indented, text).
  static const std::regex kText(R"(^\s+([A-Za-z][A-Za-z ()]*):\s+(.*)$)");

  VectorFile vf;
  int section = 0;
  std::string line;
  int line_no = 0;
  bool in_heading = false;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    const std::string where = path + ":" + std::to_string(line_no);
    std::smatch m;
    if (!line.empty() && line[0] == '=') {
      in_heading = false;  // the rule under a heading ends it
      continue;
    }
    if (line.empty() || line[0] == '#' || in_heading) {
      continue;  // blank, comment, or a heading's continuation lines
    }
    if (std::regex_match(line, m, kSection)) {
      section = std::stoi(m[1].str());
      in_heading = true;
      continue;
    }
    Key key;
    Entry entry;
    if (std::regex_match(line, m, kBytes)) {
      auto bytes = HexDecode(m[3].str());
      if (!bytes.ok()) {
        return InvalidArgumentError(where + ": " + bytes.status().message());
      }
      if (bytes->size() != std::stoul(m[2].str())) {
        return InvalidArgumentError(where + ": byte count does not match the hex value");
      }
      key = {section, Trim(m[1].str())};
      entry.is_bytes = true;
      entry.bytes = std::move(bytes).value();
    } else if (std::regex_match(line, m, kText)) {
      key = {section, Trim(m[1].str())};
      entry.text = m[2].str();
    } else {
      return InvalidArgumentError(where + ": unrecognised line");
    }
    if (section == 0) {
      return InvalidArgumentError(where + ": entry before the first section");
    }
    if (!vf.entries_.emplace(key, std::move(entry)).second) {
      return InvalidArgumentError(where + ": duplicate entry '" + key.second + "'");
    }
  }
  return vf;
}

Result<std::vector<uint8_t>> VectorFile::Bytes(int section, std::string_view name) const {
  const Key key{section, std::string(name)};
  auto it = entries_.find(key);
  if (it == entries_.end() || !it->second.is_bytes) {
    return NotFoundError("no byte entry '" + key.second + "' in section " +
                         std::to_string(section));
  }
  consumed_.insert(key);
  return it->second.bytes;
}

Result<std::string> VectorFile::Text(int section, std::string_view name) const {
  const Key key{section, std::string(name)};
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.is_bytes) {
    return NotFoundError("no text entry '" + key.second + "' in section " +
                         std::to_string(section));
  }
  consumed_.insert(key);
  return it->second.text;
}

std::vector<std::string> VectorFile::Unconsumed() const {
  std::vector<std::string> out;
  for (const auto& [key, entry] : entries_) {
    if (consumed_.count(key) == 0) {
      out.push_back("section " + std::to_string(key.first) + ": " + key.second);
    }
  }
  return out;
}

std::string VectorPath(std::string_view file_name) {
  return std::string(KMS_SOURCE_DIR) + "/tests/vectors/" + std::string(file_name);
}

}  // namespace kms::testing
