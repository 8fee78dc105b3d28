#include "src/daemon/log.h"

#include <cstdio>
#include <mutex>

namespace kms::daemon {
namespace {

std::mutex g_log_mu;

std::string Quote(const std::string& v) {
  if (v.find_first_of(" \"=\n\t") == std::string::npos && !v.empty()) {
    return v;
  }
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += (c == '\n' || c == '\t') ? ' ' : c;
  }
  return out + "\"";
}

}  // namespace

void Log(const char* level, const char* event, std::initializer_list<Field> fields) {
  std::string line = "level=";
  line += level;
  line += " event=";
  line += event;
  for (const auto& [k, v] : fields) {
    line += ' ';
    line += k;
    line += '=';
    line += Quote(v);
  }
  line += '\n';
  std::lock_guard<std::mutex> lock(g_log_mu);
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

}  // namespace kms::daemon
