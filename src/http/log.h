// Logger: operational log lines for journald (style.md "Log vs audit"): one line per event
// on stderr, `key=value` pairs, a level and the request's correlation id. Never a secret, a
// PIN, a key, or a message body: callers pass only identifiers, sizes and status codes.
// TODO(lead): candidate for src/base/logger.h; lives here until base has one.
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

namespace kms::http {

enum class LogLevel : uint8_t { kDebug = 0, kInfo, kWarning, kError };

// ParseLogLevel: "debug", "info", "warning", "error"; false for anything else.
bool ParseLogLevel(std::string_view text, LogLevel* out);

struct LogField {
  std::string_view key;
  std::string value;
};

class Logger {
 public:
  // Logger: writes to `fd` (not owned). With `journald_prefix` each line starts with the
  // syslog priority "<N>" that journald's stdout stream parser understands.
  explicit Logger(int fd = 2, LogLevel min_level = LogLevel::kInfo, bool journald_prefix = false);

  // Log: one line, written with a single write(2). Values are quoted and escaped when they
  // contain spaces, quotes, '=' or control bytes, and cut at 200 bytes.
  void Log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields) const;

  void set_min_level(LogLevel level) { min_level_.store(level); }
  bool Enabled(LogLevel level) const { return level >= min_level_.load(); }

  // FormatLine: the line Log writes (without the journald prefix), for tests.
  static std::string FormatLine(LogLevel level, std::string_view event,
                                std::span<const LogField> fields);

 private:
  int fd_;
  std::atomic<LogLevel> min_level_;
  bool journald_prefix_;
};

}  // namespace kms::http
