#include "src/cli/kmsctl/audit_archive_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "src/base/encoding.h"
#include "src/cli/kmsctl/context.h"
#include "src/crypto/digest.h"

namespace kmsctl {
namespace {

using kms::policy::Hash32;

constexpr const char* kFormat = "kms-audit-archive-1";

// The text fields of a row, in EncodeRow's order (policy/audit_chain.h).
struct TextField {
  const char* name;
  std::string kms::policy::AuditRow::*member;
};
constexpr TextField kTextFields[] = {{"actor", &kms::policy::AuditRow::actor},
                                     {"action", &kms::policy::AuditRow::action},
                                     {"initiator", &kms::policy::AuditRow::initiator},
                                     {"responder", &kms::policy::AuditRow::responder},
                                     {"credential_id", &kms::policy::AuditRow::credential_id},
                                     {"ticket_id", &kms::policy::AuditRow::ticket_id},
                                     {"outcome", &kms::policy::AuditRow::outcome},
                                     {"rule", &kms::policy::AuditRow::rule},
                                     {"correlation_id", &kms::policy::AuditRow::correlation_id},
                                     {"detail", &kms::policy::AuditRow::detail}};

std::string Hex(const Hash32& h) { return kms::HexEncode(h); }

// LineWriter: JSON lines to a file descriptor through a 64 KiB buffer, hashed as written.
class LineWriter {
 public:
  LineWriter(int fd, kms::crypto::Sha256Stream sha) : fd_(fd), sha_(std::move(sha)) {}
  kms::Status Put(const nlohmann::json& j) {
    buf_ += DumpJson(j);
    buf_ += '\n';
    return buf_.size() >= (64u << 10) ? Flush() : kms::Status::Ok();
  }
  kms::Status Flush() {
    KMS_RETURN_IF_ERROR(sha_.Update(kms::AsBytes(buf_)));
    size_t off = 0;
    while (off < buf_.size()) {
      const ssize_t n = write(fd_, buf_.data() + off, buf_.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return kms::UnavailableError(std::string("write: ") + std::strerror(errno));
      off += static_cast<size_t>(n);
    }
    buf_.clear();
    return kms::Status::Ok();
  }
  kms::Result<Hash32> Finish() {
    KMS_RETURN_IF_ERROR(Flush());
    return sha_.Finish();
  }

 private:
  int fd_;
  kms::crypto::Sha256Stream sha_;
  std::string buf_;
};

nlohmann::json RowJson(const kms::policy::AuditRow& r) {
  nlohmann::json j{{"seq", r.seq},
                   {"time_ns", r.time_ns},
                   {"policy_version", r.policy_version},
                   {"prev_hash", Hex(r.prev_hash)},
                   {"hash", Hex(r.hash)}};
  for (const TextField& f : kTextFields) PutText(j, f.name, r.*f.member);
  return j;
}

nlohmann::json CheckpointJson(const kms::policy::CheckpointRow& c) {
  return {{"seq", c.seq},
          {"last_row", c.last_row},
          {"row_hash", Hex(c.row_hash)},
          {"key_version", c.key_version},
          {"time_ns", c.time_ns},
          {"prev_mac", Hex(c.prev_mac)},
          {"mac", Hex(c.mac)}};
}

kms::Status WriteAll(kms::policy::Db& db, const kms::policy::ArchivePlan& plan, LineWriter& w) {
  KMS_RETURN_IF_ERROR(w.Put({{"format", kFormat},
                             {"first_row", plan.first_row},
                             {"last_row", plan.last_row},
                             {"prev_hash", Hex(plan.prev_hash)},
                             {"last_hash", Hex(plan.last_hash)},
                             {"checkpoint", plan.checkpoint}}));
  int64_t checkpoints = 0;
  KMS_RETURN_IF_ERROR(
      kms::policy::ForEachPlannedCheckpoint(db, plan, [&](const kms::policy::CheckpointRow& c) {
        ++checkpoints;
        return w.Put({{"checkpoint", CheckpointJson(c)}});
      }));
  KMS_RETURN_IF_ERROR(kms::policy::ForEachPlannedRow(db, plan, [&](const kms::policy::AuditRow& r) {
    return w.Put({{"row", RowJson(r)}});
  }));
  return w.Put(
      {{"end", {{"rows", plan.last_row - plan.first_row + 1}, {"checkpoints", checkpoints}}}});
}

kms::Status SyncDirOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return kms::UnavailableError("cannot open " + dir + ": " + std::strerror(errno));
  const int rc = fsync(fd);
  close(fd);
  return rc == 0 ? kms::Status::Ok() : kms::UnavailableError("fsync " + dir);
}

// ---- reading ----

Hash32 HashField(const nlohmann::json& j, const char* key) {
  auto bytes = kms::HexDecode(j.at(key).get<std::string>());
  Hash32 h{};
  if (!bytes.ok() || bytes->size() != h.size()) {
    throw std::invalid_argument(std::string(key) + " is not 64 hex digits");
  }
  std::copy(bytes->begin(), bytes->end(), h.begin());
  return h;
}

std::string TextFieldOf(const nlohmann::json& j, const char* key) {
  const std::string hex_key = std::string(key) + "_hex";
  if (j.contains(hex_key)) {
    auto bytes = kms::HexDecode(j.at(hex_key).get<std::string>());
    if (!bytes.ok()) throw std::invalid_argument(hex_key + " is not hex");
    return std::string(bytes->begin(), bytes->end());
  }
  return j.at(key).get<std::string>();
}

kms::policy::AuditRow RowFrom(const nlohmann::json& j) {
  kms::policy::AuditRow r;
  r.seq = j.at("seq").get<int64_t>();
  r.time_ns = j.at("time_ns").get<int64_t>();
  r.policy_version = j.at("policy_version").get<uint64_t>();
  for (const TextField& f : kTextFields) r.*f.member = TextFieldOf(j, f.name);
  r.prev_hash = HashField(j, "prev_hash");
  r.hash = HashField(j, "hash");
  return r;
}

// Reader: the state of one pass over the file.
struct Reader {
  kms::ports::KeyVault& vault;
  ArchiveFileReport report;
  Hash32 prev_hash{}, last_hash{};
  int64_t checkpoint = 0;
  int64_t next_row = 0;
  Hash32 running{};
  std::map<int64_t, std::pair<Hash32, int64_t>> sealed;  // last_row -> (row_hash, checkpoint)
  bool header = false, rows_started = false, ended = false;

  // Line: checks one line; returns the problem, or an empty string.
  kms::Result<std::string> Line(const nlohmann::json& j) {
    if (ended) return std::string("content after the end line");
    if (!header) {
      if (!j.contains("format") || j.at("format") != kFormat) {
        return std::string("not a kms audit archive (format line missing)");
      }
      report.first_row = j.at("first_row").get<int64_t>();
      report.last_row = j.at("last_row").get<int64_t>();
      prev_hash = HashField(j, "prev_hash");
      last_hash = HashField(j, "last_hash");
      checkpoint = j.at("checkpoint").get<int64_t>();
      if (report.first_row < 1 || report.last_row < report.first_row) {
        return std::string("the row range is empty or negative");
      }
      next_row = report.first_row;
      running = prev_hash;
      header = true;
      return std::string();
    }
    if (j.contains("checkpoint")) return Checkpoint(j.at("checkpoint"));
    if (j.contains("row")) return Row(j.at("row"));
    if (j.contains("end")) return End(j.at("end"));
    return std::string("unknown line");
  }

  kms::Result<std::string> Checkpoint(const nlohmann::json& c) {
    if (rows_started) return std::string("a checkpoint after the rows");
    const int64_t seq = c.at("seq").get<int64_t>();
    const int64_t last_row = c.at("last_row").get<int64_t>();
    const Hash32 row_hash = HashField(c, "row_hash");
    const uint32_t key_version = c.at("key_version").get<uint32_t>();
    const int64_t time_ns = c.at("time_ns").get<int64_t>();
    const Hash32 prev_mac = HashField(c, "prev_mac");
    const Hash32 mac = HashField(c, "mac");
    const std::string name = "checkpoint " + std::to_string(seq);
    if (last_row < report.first_row || last_row > report.last_row) {
      return name + " seals a row outside the archive";
    }
    kms::Result<kms::ports::KeyRef> key = vault.AuditKey(key_version);
    if (!key.ok()) {
      if (key.status().code() != kms::StatusCode::kNotFound) return key.status();
      return name + " names an unknown audit key version";
    }
    Hash32 expect{};
    KMS_RETURN_IF_ERROR(vault.Hmac(
        *key, kms::crypto::HmacAlg::kSha256,
        kms::policy::CheckpointMacInput(seq, last_row, row_hash, key_version, time_ns, prev_mac),
        expect));
    if (!kms::ConstantTimeEquals(expect, mac)) return name + " has a wrong MAC";
    sealed[last_row] = {row_hash, seq};
    ++report.checkpoints;
    return std::string();
  }

  kms::Result<std::string> Row(const nlohmann::json& j) {
    rows_started = true;
    const kms::policy::AuditRow r = RowFrom(j);
    const std::string name = "row " + std::to_string(r.seq);
    if (r.seq != next_row) return "row " + std::to_string(next_row) + " is missing";
    if (r.prev_hash != running) return name + " is not chained to the row before it";
    if (kms::policy::RowHash(running, r) != r.hash) return name + " does not match its hash";
    if (auto it = sealed.find(r.seq); it != sealed.end() && it->second.first != r.hash) {
      return name + " differs from what checkpoint " + std::to_string(it->second.second) +
             " sealed";
    }
    running = r.hash;
    ++next_row;
    return std::string();
  }

  kms::Result<std::string> End(const nlohmann::json& e) {
    ended = true;
    if (next_row != report.last_row + 1) {
      return "the rows end at " + std::to_string(next_row - 1) + ", not at " +
             std::to_string(report.last_row);
    }
    if (running != last_hash) return std::string("the last row's hash is not last_hash");
    auto it = sealed.find(report.last_row);
    if (it == sealed.end() || it->second.second != checkpoint) {
      return "checkpoint " + std::to_string(checkpoint) + " sealing the last row is missing";
    }
    if (e.at("rows").get<int64_t>() != report.last_row - report.first_row + 1 ||
        e.at("checkpoints").get<int64_t>() != report.checkpoints) {
      return std::string("the end line's counts differ from the content");
    }
    return std::string();
  }
};

}  // namespace

kms::Result<Hash32> WriteArchiveFile(kms::policy::Db& db, const kms::policy::ArchivePlan& plan,
                                     const std::string& path) {
  if (access(path.c_str(), F_OK) == 0) {
    return kms::AlreadyExistsError(path + " exists; archives are never overwritten");
  }
  const std::string partial = path + ".partial";
  const int fd = open(partial.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    return kms::UnavailableError("cannot create " + partial + ": " + std::strerror(errno) +
                                 (errno == EEXIST ? " (left by an interrupted archive: "
                                                    "remove it and run again)"
                                                  : ""));
  }
  KMS_ASSIGN_OR_RETURN(kms::crypto::Sha256Stream sha, kms::crypto::Sha256Stream::Create());
  LineWriter w(fd, std::move(sha));
  // One read transaction: the rows and checkpoints of one snapshot.
  kms::Result<Hash32> digest = [&]() -> kms::Result<Hash32> {
    KMS_ASSIGN_OR_RETURN(kms::policy::Txn txn,
                         kms::policy::Txn::Begin(db, kms::policy::TxnKind::kDeferred));
    KMS_RETURN_IF_ERROR(WriteAll(db, plan, w));
    return w.Finish();
  }();
  const bool synced = digest.ok() && fsync(fd) == 0;
  close(fd);
  // link(2) fails if path appeared meanwhile: an existing archive is never replaced.
  if (!digest.ok() || !synced || link(partial.c_str(), path.c_str()) != 0) {
    const std::string why = !digest.ok() ? std::string(digest.status().message())
                            : !synced    ? "fsync failed"
                                         : std::string("link: ") + std::strerror(errno);
    unlink(partial.c_str());
    return kms::UnavailableError("cannot write the archive " + path + ": " + why);
  }
  unlink(partial.c_str());
  KMS_RETURN_IF_ERROR(SyncDirOf(path));
  return digest;
}

kms::Result<ArchiveFileReport> VerifyArchiveFile(
    const std::string& path, kms::ports::KeyVault& vault,
    const std::optional<kms::policy::ArchiveRecord>& record) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return kms::NotFoundError("cannot open " + path);
  KMS_ASSIGN_OR_RETURN(kms::crypto::Sha256Stream sha, kms::crypto::Sha256Stream::Create());
  Reader reader{vault, {}, {}, {}, 0, 0, {}, {}, false, false, false};
  std::string line, problem;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    const bool newline = !in.eof();
    KMS_RETURN_IF_ERROR(sha.Update(kms::AsBytes(line)));
    if (newline) KMS_RETURN_IF_ERROR(sha.Update(kms::AsBytes(std::string_view("\n"))));
    if (!problem.empty()) continue;  // hash the rest of the file only
    try {
      const nlohmann::json j = nlohmann::json::parse(line);
      KMS_ASSIGN_OR_RETURN(problem, reader.Line(j));
    } catch (const std::exception& e) {
      problem = "malformed (" + std::string(e.what()) + ")";
    }
    if (!problem.empty()) problem = "line " + std::to_string(line_no) + ": " + problem;
  }
  if (in.bad()) return kms::UnavailableError("cannot read " + path);
  if (problem.empty() && !reader.ended) problem = "the file ends before its end line (cut off)";
  ArchiveFileReport report = reader.report;
  KMS_ASSIGN_OR_RETURN(report.sha256, sha.Finish());
  if (problem.empty() && record) {
    if (record->first_row != report.first_row || record->last_row != report.last_row ||
        record->last_hash != reader.last_hash || record->checkpoint != reader.checkpoint) {
      problem = "the file's range is not that of archive " + std::to_string(record->seq);
    } else if (!kms::ConstantTimeEquals(record->file_sha256, report.sha256)) {
      problem = "the file's SHA-256 differs from archive " + std::to_string(record->seq) +
                "'s record (changed after it was archived)";
    }
  }
  report.problem = problem;
  report.intact = problem.empty();
  return report;
}

}  // namespace kmsctl
