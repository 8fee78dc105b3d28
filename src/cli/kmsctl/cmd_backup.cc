// kmsctl backup create|restore (issue 9 item 5; docs/security-target.md "Backup").
//
// File format: "KMSBK001" || u32 backup key version (big endian) || IV(12) || AES-256-GCM
// ciphertext || tag(16), computed inside the token under "kms-backup-v<N>" (NIST SP 800-38D);
// the 12-byte header is the GCM additional data, so the version cannot be swapped either.
// The plaintext is a consistent SQLite snapshot (VACUUM INTO): users, wrapped credentials,
// policy, peers, key versions and the audit trail. It holds no key in plaintext: credentials
// are KEK-wrapped, and long-term keys never leave the token (they reach a second token by
// cloning the token, which carries the backup key with them).
//
// restore writes into a database path that does not exist yet, and only after checking that
// the token holds every TPK, KEK and audit key version the backup still needs.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>

#include "hsm/key_manager.h"
#include "src/cli/kmsctl/commands.h"

namespace kmsctl {
namespace {

constexpr std::array<uint8_t, 8> kMagic = {'K', 'M', 'S', 'B', 'K', '0', '0', '1'};
constexpr size_t kHeaderBytes = 12;
constexpr size_t kMaxBackupBytes = size_t{1} << 31;

std::array<uint8_t, kHeaderBytes> Header(uint32_t version) {
  std::array<uint8_t, kHeaderBytes> h{};
  std::copy(kMagic.begin(), kMagic.end(), h.begin());
  for (int i = 0; i < 4; ++i) {
    h[8 + static_cast<size_t>(i)] = static_cast<uint8_t>(version >> (24 - 8 * i));
  }
  return h;
}

kms::Result<std::vector<uint8_t>> ReadAllBytes(const std::string& path, size_t max) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return kms::NotFoundError(path + ": cannot be read");
  std::vector<uint8_t> out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (out.size() > max) return kms::InvalidArgumentError(path + ": too large");
  return out;
}

kms::Status WriteNew(const std::string& path, std::span<const uint8_t> a,
                     std::span<const uint8_t> b) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return kms::FailedPreconditionError(path + ": exists or cannot be created");
  bool ok = write(fd, a.data(), a.size()) == static_cast<ssize_t>(a.size()) &&
            write(fd, b.data(), b.size()) == static_cast<ssize_t>(b.size()) && fsync(fd) == 0;
  ok = close(fd) == 0 && ok;
  if (!ok) {
    unlink(path.c_str());
    return kms::UnavailableError(path + ": write failed");
  }
  return kms::Status::Ok();
}

// PrivateTempDir: a 0700 directory next to `near` for the plaintext snapshot.
kms::Result<std::string> PrivateTempDir(const std::string& near) {
  const size_t slash = near.rfind('/');
  std::string tmpl = (slash == std::string::npos ? "." : near.substr(0, slash)) +
                     "/.kmsctl-backup-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    return kms::UnavailableError("cannot create a private temporary directory");
  }
  return tmpl;
}

int Seal(kms::hsm::TokenStack& stack, kms::policy::PolicyAdmin& a, const std::string& out);

// ReportRefused: objects labelled like a backup key that KeyManager refused (not generated
// in the token as a backup key: hsm/key_provenance.h) were never used; their presence means
// someone wrote to the token, so say so as kmsd does for the long-term key id.
void ReportRefused(const kms::hsm::KeyManager& km) {
  for (const kms::hsm::RejectedKeyObject& r : km.RejectedBackupKeys()) {
    std::cerr << "kmsctl: warning: token object " << r.label
              << " refused and not used: " << r.reason << "\n";
  }
}

int Create(const Globals& g, const std::string& out) {
  if (access(out.c_str(), F_OK) == 0) {
    return Fail(kms::FailedPreconditionError(out + " exists"));
  }
  return WithTokenAndAdmin(g, [&](kms::hsm::TokenStack& stack, kms::policy::PolicyAdmin& admin) {
    return Seal(stack, admin, out);
  });
}

int Seal(kms::hsm::TokenStack& stack, kms::policy::PolicyAdmin& a, const std::string& out) {
  kms::hsm::KeyManager km(*stack.token);
  auto version = km.EnsureBackupKey();
  ReportRefused(km);
  if (!version.ok()) return Fail(version.status());
  // The audit row goes in first, so the backup itself records that it was taken.
  if (kms::Status s = a.RecordEvent("backup.create", out, "backup key v" +
                                         std::to_string(*version));
      !s.ok()) {
    return Fail(s);
  }
  auto dir = PrivateTempDir(out);
  if (!dir.ok()) return Fail(dir.status());
  const std::string snap = *dir + "/snapshot.db";
  kms::Status s = a.SnapshotTo(snap);
  kms::Result<std::vector<uint8_t>> plain = s.ok() ? ReadAllBytes(snap, kMaxBackupBytes)
                                                   : kms::Result<std::vector<uint8_t>>(s);
  unlink(snap.c_str());
  rmdir(dir->c_str());
  if (!plain.ok()) return Fail(plain.status());
  const auto header = Header(*version);
  auto sealed = km.SealBackup(*version, *plain, header);
  if (!sealed.ok()) return Fail(sealed.status());
  if (kms::Status w = WriteNew(out, header, *sealed); !w.ok()) return Fail(w);
  std::cout << "backup written to " << out << " (" << plain->size()
            << " bytes of database, sealed under kms-backup-v" << *version << ")\n";
  return kExitOk;
}

// MissingKeys: the non-destroyed key versions the restored database names that the token
// lacks (tickets, credentials or checkpoints under them would fail after the restore).
std::vector<std::string> MissingKeys(kms::policy::PolicyAdmin& admin, kms::hsm::Token& token) {
  std::vector<std::string> missing;
  auto keys = admin.ListKeyVersions();
  if (!keys.ok()) return {"(key versions unreadable)"};
  for (const auto& k : *keys) {
    if (k.state != kms::ports::KeyState::kDestroyed &&
        !token.LongTermKey(ToHsmKind(k.kind), k.version).ok()) {
      missing.push_back(kms::hsm::LongTermKeyLabel(ToHsmKind(k.kind), k.version));
    }
  }
  return missing;
}

int Restore(const Globals& g, const std::string& in) {
  struct stat st{};
  if (stat(g.db.c_str(), &st) == 0) {
    return Fail(kms::FailedPreconditionError(
        g.db + " exists: restore only into an empty appliance (a new --db path)"));
  }
  auto file = ReadAllBytes(in, kMaxBackupBytes);
  if (!file.ok()) return Fail(file.status());
  if (file->size() < kHeaderBytes ||
      !std::equal(kMagic.begin(), kMagic.end(), file->begin())) {
    return Fail(kms::InvalidArgumentError(in + ": not a kmsctl backup"));
  }
  uint32_t version = 0;
  for (size_t i = 8; i < kHeaderBytes; ++i) version = (version << 8) | (*file)[i];
  auto stack = OpenToken(g);
  if (!stack.ok()) return Fail(stack.status());
  kms::hsm::KeyManager km(*(*stack)->token);
  const std::span<const uint8_t> all(*file);
  auto plain = km.OpenBackup(version, all.subspan(kHeaderBytes), all.first(kHeaderBytes));
  ReportRefused(km);
  if (!plain.ok()) return Fail(plain.status());
  static constexpr char kSqliteMagic[] = "SQLite format 3";
  if (plain->size() < 100 || !std::equal(kSqliteMagic, kSqliteMagic + 16, plain->begin())) {
    return Fail(kms::InvalidArgumentError(in + ": authenticated, but not a database"));
  }
  // Written beside the target first, checked, then renamed: the target never holds a
  // database that the token cannot serve.
  const std::string tmp = g.db + ".restoring";
  if (kms::Status w = WriteNew(tmp, *plain, {}); !w.ok()) return Fail(w);
  std::fill(plain->begin(), plain->end(), 0);
  int rc = kExitOk;
  {
    auto admin = kms::policy::PolicyAdmin::Open(tmp, OperatorName(g));
    if (!admin.ok()) {
      rc = Fail(admin.status());
    } else if (auto missing = MissingKeys(*admin, *(*stack)->token); !missing.empty()) {
      std::string list;
      for (const auto& m : missing) list += " " + m;
      rc = Fail(kms::FailedPreconditionError(
          "the token lacks" + list + ": move the keys first (clone the token, "
          "docs/operations.md \"Backup and restore\")"));
    } else if (kms::Status s = admin->RecordRestore(in, "backup key v" + std::to_string(version));
               !s.ok()) {
      rc = Fail(s);
    }
  }
  if (rc != kExitOk || std::rename(tmp.c_str(), g.db.c_str()) != 0) {
    unlink(tmp.c_str());
    for (const char* suffix : {"-wal", "-shm"}) unlink((tmp + suffix).c_str());
    return rc != kExitOk ? rc : Fail(kms::UnavailableError("cannot rename into " + g.db));
  }
  std::cout << "restored " << g.db << " from " << in << "\n";
  return kExitOk;
}

}  // namespace

void AddBackupCommands(CLI::App& app, Context& ctx) {
  auto path = std::make_shared<std::string>();
  auto* backup = app.add_subcommand("backup", "backup and restore")->require_subcommand(1);
  auto* create = backup->add_subcommand("create", "write an encrypted, authenticated backup");
  create->add_option("file", *path, "backup file to create (must not exist)")->required();
  create->callback([&ctx, path] { ctx.action = [&ctx, path] { return Create(ctx.g, *path); }; });
  auto* restore = backup->add_subcommand("restore", "restore into a new database path");
  restore->add_option("file", *path, "backup file")->required();
  restore->callback([&ctx, path] {
    ctx.action = [&ctx, path] { return Restore(ctx.g, *path); };
  });
}

}  // namespace kmsctl
