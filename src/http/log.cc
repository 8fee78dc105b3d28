#include "src/http/log.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace kms::http {
namespace {

constexpr size_t kMaxValueBytes = 200;

std::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "error";
}

// Syslog priorities (RFC 5424 §6.2.1): debug 7, info 6, warning 4, err 3.
int Priority(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return 7;
    case LogLevel::kInfo:
      return 6;
    case LogLevel::kWarning:
      return 4;
    case LogLevel::kError:
      return 3;
  }
  return 3;
}

bool NeedsQuoting(std::string_view v) {
  if (v.empty()) {
    return true;
  }
  for (char c : v) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '"' || c == '=' || c == '\\') {
      return true;
    }
  }
  return false;
}

void AppendValue(std::string* out, std::string_view v) {
  bool cut = v.size() > kMaxValueBytes;
  if (cut) {
    v = v.substr(0, kMaxValueBytes);
  }
  if (!NeedsQuoting(v) && !cut) {
    out->append(v);
    return;
  }
  out->push_back('"');
  for (char c : v) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(c);
    } else if (u < 0x20 || u >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned>(u));
      out->append(buf);
    } else {
      out->push_back(c);
    }
  }
  if (cut) {
    out->append("...");
  }
  out->push_back('"');
}

bool IsKeyChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

}  // namespace

bool ParseLogLevel(std::string_view text, LogLevel* out) {
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning, LogLevel::kError}) {
    if (text == LevelName(l)) {
      *out = l;
      return true;
    }
  }
  return false;
}

Logger::Logger(int fd, LogLevel min_level, bool journald_prefix)
    : fd_(fd), min_level_(min_level), journald_prefix_(journald_prefix) {}

std::string Logger::FormatLine(LogLevel level, std::string_view event,
                               std::span<const LogField> fields) {
  std::string line;
  line.reserve(128);
  line.append("level=").append(LevelName(level)).append(" event=");
  AppendValue(&line, event);
  for (const LogField& f : fields) {
    line.push_back(' ');
    // Keys are program constants; anything unexpected is replaced rather than trusted.
    for (char c : f.key) {
      line.push_back(IsKeyChar(c) ? c : '_');
    }
    line.push_back('=');
    AppendValue(&line, f.value);
  }
  line.push_back('\n');
  return line;
}

void Logger::Log(LogLevel level, std::string_view event,
                 std::initializer_list<LogField> fields) const {
  if (!Enabled(level)) {
    return;
  }
  std::string line;
  if (journald_prefix_) {
    line.push_back('<');
    line.push_back(static_cast<char>('0' + Priority(level)));
    line.push_back('>');
  }
  line += FormatLine(level, event, std::span<const LogField>(fields.begin(), fields.size()));
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return;  // nowhere to report a failing log sink
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace kms::http
