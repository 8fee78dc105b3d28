// Inputs of kms-client: MIKEY messages in any of the accepted forms and UE credentials
// from files.
#pragma once

#include <sys/stat.h>

#include <string>
#include <vector>

#include "src/base/result.h"
#include "src/client/common.h"

namespace kms::cli {

// ReadAll: a whole file, or standard input for "-" / "".
Result<std::vector<uint8_t>> ReadAll(const std::string& path);

// ParseMikeyInput: binary (first byte 0x01, the MIKEY version), or text: an
// "a=key-mgmt:mikey <base64>" SDP line (or an SDP body containing one), hex, or base64
// (surrounding whitespace ignored). kDecodeError with a one-line reason otherwise.
Result<std::vector<uint8_t>> ParseMikeyInput(const std::vector<uint8_t>& raw);

// LoadCredentials: identity and B-TID as text files (one line), PSK as a hex file that
// must be a regular file readable only by its owner (no group/other permission bits).
Result<client::Credentials> LoadCredentials(const std::string& identity_file,
                                            const std::string& btid_file,
                                            const std::string& psk_file);

// LoadKeyFile: a key as hex (at least 16 bytes; surrounding whitespace ignored) from a
// regular file of at most 4 KiB readable only by its owner; `what` names the key in errors
// ("PSK", "mode-3 key"), which never quote the file's contents. The file is read straight
// into scrubbed memory: no other copy of the key is left in the heap.
Result<SecretBytes> LoadKeyFile(const std::string& path, const std::string& what);

// CheckPrivateFile: `fd` (opened from the file `named` in messages) is a regular file
// (else kNotFound) with no group/other permission bits and, with `must_own`, owned by the
// effective user (else kPermissionDenied, the message says how to fix it). Its fstat.
Result<struct stat> CheckPrivateFile(int fd, const std::string& named, bool must_own = false);

// ReadLine: the first line of a text file, trimmed.
Result<std::string> ReadLine(const std::string& path);

}  // namespace kms::cli
