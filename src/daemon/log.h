// Operational log: one structured line per event on stderr (key=value, journald-friendly:
// systemd adds time and unit). Never secrets, PINs or message bytes (style.md "Log vs audit").
#pragma once

#include <initializer_list>
#include <string>
#include <utility>

namespace kms::daemon {

using Field = std::pair<const char*, std::string>;

// Log: "level=<level> event=<event> k=v ..."; values with spaces or quotes are quoted.
void Log(const char* level, const char* event, std::initializer_list<Field> fields = {});

}  // namespace kms::daemon
