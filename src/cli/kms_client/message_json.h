// JSON view of a decoded MIKEY message for `kms-client decode` (field names as in
// spec mikey-ticket.md §4; identities as text when printable; RANDs and MACs in hex; key
// data only as lengths unless show_keys, and only for NULL-encrypted (plaintext) KEMACs).
#pragma once

#include <nlohmann/json.hpp>

#include "src/mikey/message.h"

namespace kms::cli {

nlohmann::json MessageToJson(const mikey::Message& m, bool show_keys);

const char* DataTypeName(mikey::DataType t);

}  // namespace kms::cli
