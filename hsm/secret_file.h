// Reading secrets (the token PIN, a raw key file for import) from the file system with the
// checks an evaluator expects (evaluator-checklist.md §1 "Operations"): the file must be a
// regular file owned by the process's effective user and not readable or writable by group
// or others; otherwise it is refused. The PIN never comes from argv or the environment.
//
// One exception, for systemd credentials: systemd >= 254 puts LoadCredential=/SetCredential=
// files on a tmpfs, owned by root with mode 0440 and an ACL entry granting the service user
// read (the group bits of the mode are then the ACL mask). Such a file is accepted when
//  * its directory is the one $CREDENTIALS_DIRECTORY names (same device and inode, and the
//    opened file is that directory's entry of that name: no string prefix comparison),
//  * it is owned by root or by the effective user,
//  * nobody but root can write it (no group or other write bit, and the owner write bit only
//    for root; the mask bounds every named ACL entry), and others have no permission at all.
// Every other file keeps the owner-only rule.
#pragma once

#include <cstddef>
#include <string>

#include "src/base/result.h"
#include "src/base/secret_bytes.h"

namespace kms::hsm {

// ReadSecretFile: the file's bytes (at most max_bytes) in SecretBytes. With trim_newline,
// one trailing "\n" or "\r\n" is removed (PIN files written by echo). Symlinks are refused
// (O_NOFOLLOW). kPermissionDenied for a bad owner or mode (the systemd credential exception
// above aside), kNotFound for a missing file, kInvalidArgument for an empty or oversized
// file. The message names the path only.
Result<SecretBytes> ReadSecretFile(const std::string& path, size_t max_bytes,
                                   bool trim_newline);

// ReadSystemdCredential: $CREDENTIALS_DIRECTORY/<name> (systemd LoadCredential=), with
// the same checks. kFailedPrecondition when CREDENTIALS_DIRECTORY is unset; the name must
// be a plain file name (no '/', not "." or "..").
Result<SecretBytes> ReadSystemdCredential(const std::string& name, size_t max_bytes,
                                          bool trim_newline);

// PinSource: where the user PIN comes from; read at every (re)connect and scrubbed after
// C_Login, so the PIN is not kept in memory between logins.
struct PinSource {
  enum class Kind { kFile, kSystemdCredential };
  Kind kind = Kind::kFile;
  std::string location;  // a path (kFile) or a credential name (kSystemdCredential)

  static constexpr size_t kMaxPinBytes = 256;
  Result<SecretBytes> Read() const;
};

}  // namespace kms::hsm
