// WorkDir: everything one kms-bench run creates lives under one fresh directory: a private
// SoftHSM2 token directory with its own SOFTHSM2_CONF, the PIN files (owner-only), the
// SQLite database, a self-signed TLS certificate and kmsd's configuration and log. Nothing
// touches the system token directory (style.md "Tests", anti-pattern 12).
#pragma once

#include <string>
#include <vector>

#include "src/base/result.h"

namespace kms::bench {

struct WorkDir {
  std::string root;
  std::string softhsm_conf, token_label = "kms-bench";
  std::string pin_file, so_pin_file;
  std::string db, tls_cert, tls_key;
  std::string kmsd_config, kmsd_log;
  bool keep = false;  // leave the directory for inspection

  // Create: mkdtemp under `parent`, writes softhsm2.conf and exports SOFTHSM2_CONF for this
  // process and the kmsd it starts (SoftHSM2 reads it at C_Initialize), draws random PINs,
  // initialises the token with softhsm2-util and makes the certificate with openssl.
  static Result<WorkDir> Create(const std::string& parent, bool keep);
  // Remove: deletes the directory unless keep is set.
  void Remove() const;
};

// RunCommand: fork/exec of argv (no shell), stdout and stderr to /dev/null; kInternal when
// the program cannot run or exits non-zero. Arguments may carry PINs: they are never logged.
Status RunCommand(const std::vector<std::string>& argv);

// ReadTextFile: a whole file as a string (kNotFound if unreadable).
Result<std::string> ReadTextFile(const std::string& path);
// WriteTextFile: creates or replaces a file with the given mode.
Status WriteTextFile(const std::string& path, const std::string& text, unsigned mode);

}  // namespace kms::bench
