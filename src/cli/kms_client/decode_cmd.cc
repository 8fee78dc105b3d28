#include <iostream>

#include "src/cli/kms_client/commands.h"
#include "src/cli/kms_client/inputs.h"
#include "src/cli/kms_client/message_json.h"
#include "src/mikey/decoder.h"

namespace kms::cli {

void AddDecodeCommand(CLI::App& app, int* exit_code) {
  struct Opts {
    std::string input = "-";
    bool show_keys = false;
    bool compact = false;
  };
  auto opts = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand(
      "decode",
      "print a MIKEY message (binary, hex, base64 or an a=key-mgmt:mikey SDP line) as JSON");
  cmd->add_option("input", opts->input, "file to read, - for stdin")->capture_default_str();
  cmd->add_flag("--show-keys", opts->show_keys,
                "print key bytes of plaintext (NULL-encrypted) key data; encrypted KEMACs show "
                "only their ciphertext length");
  cmd->add_flag("--compact", opts->compact, "one-line JSON");
  cmd->callback([opts, exit_code] {
    auto raw = ReadAll(opts->input);
    if (!raw.ok()) {
      *exit_code = Fail(kExitBadInput, "decode", raw.status());
      return;
    }
    auto bytes = ParseMikeyInput(*raw);
    if (!bytes.ok()) {
      *exit_code = Fail(kExitBadInput, "decode", bytes.status());
      return;
    }
    auto m = mikey::Decode(*bytes);
    if (!m.ok()) {
      Status s = m.status();
      if (s.detail()) {
        s = Status(s.code(), s.message() + " (MIKEY error " + std::to_string(*s.detail()) + ")");
      }
      *exit_code = Fail(kExitBadInput, "decode", s);
      return;
    }
    const nlohmann::json j = MessageToJson(*m, opts->show_keys);
    std::cout << (opts->compact ? j.dump() : j.dump(2)) << "\n";
    *exit_code = kExitOk;
  });
}

}  // namespace kms::cli
