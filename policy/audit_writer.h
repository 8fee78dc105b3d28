// AuditWriter: the AuditSink of kmsd (architecture.md §5): rows are queued, committed in
// batches by one writer thread with synchronous=FULL (group commit), and every caller learns
// its row is durable before it answers its client: Append blocks, AppendAsync calls back from
// the writer thread (so kmsd's HTTP threads serve other connections during the fsync). The
// queue is bounded and the wait is bounded: when a row is not durable within max_wait its
// caller is told kUnavailable (a watchdog thread fires overdue callbacks even while the
// writer is stuck in a slow disk), the request fails (fail closed) and Healthy() turns false
// for /readyz until the next successful commit.
//
// SQLite's WAL is folded into the database file by a background connection (PASSIVE
// checkpoints, which never block the writer), not inside the writer's commits.
//
// Checkpoints (HMAC-SHA-256 with the token's audit key over the chain head) are written
// every checkpoint_rows rows or, if any row (of any process) is unsealed, every
// checkpoint_interval seconds, in their own transaction after
// the rows: a token outage delays sealing (the tail is reported as unsealed) but never
// loses rows. The chain head is re-read inside every transaction, so kmsctl appending admin
// rows from another process keeps one chain.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "policy/audit_chain.h"
#include "policy/sqlite_db.h"
#include "src/core/ports/audit_sink.h"
#include "src/core/ports/idle_workers.h"
#include "src/core/ports/key_vault.h"

namespace kms::policy {

// SealedCheckpoint: what one checkpoint sealed, as `kmsctl audit verify` takes it back as
// external anchors: --expect-seq last_row --expect-checkpoint checkpoint
// --expect-checkpoint-hash HexEncode(row_hash). Public integrity data only: row_hash is the
// unkeyed SHA-256 chain hash of row last_row (audit_chain.h); neither the audit key nor the
// checkpoint's HMAC is part of it.
struct SealedCheckpoint {
  int64_t checkpoint = 0;  // the checkpoint's number (audit_checkpoint.seq)
  int64_t last_row = 0;    // the newest audit row it seals
  Hash32 row_hash{};       // that row's chain hash
  int64_t time_ns = 0;     // when it was sealed (unix ns)
};

struct AuditWriterOptions {
  // batch_interval: the longest extra wait before a commit for more rows to join; the wait
  // ends early as soon as no decision is open (BeginDecision/EndDecision), i.e. no other row
  // is on its way, so a lone request is committed at once. 0 here: rows that arrive while a
  // commit (and its fsync) runs already form the next batch. kmsd's config default is 2 ms:
  // a fast fsync leaves ~1 row per commit under load, and the per-commit cost (WAL frames,
  // fdatasync, a virtual disk's flush) then dominates (docs/performance-group-commit.md).
  std::chrono::milliseconds batch_interval{0};
  // idle_workers: if set, the window also ends as soon as a decision worker waits for a
  // message (its on_idle must call Nudge()): then the replies held for this commit are what
  // the next messages wait for, and holding them only idles the token (few clients in
  // closed loop). Under backlog no worker idles and the window batches as before.
  const ports::IdleWorkers* idle_workers = nullptr;
  std::chrono::milliseconds max_wait{1000};
  size_t queue_limit = 10'000;
  // wal_checkpoint_interval: how often a background connection copies committed WAL pages
  // into the database file (PRAGMA wal_checkpoint(PASSIVE)). The writer's own automatic
  // checkpoint is off: run inside a commit, it stalled every reply waiting on that commit.
  std::chrono::milliseconds wal_checkpoint_interval{500};
  // wal_restart_wait: after each such checkpoint, a RESTART checkpoint waits at most this
  // long per lock (in 100 us pauses) for the writer and for readers of older snapshots, so
  // the next commit writes the WAL from its start again. Without it, a database that always
  // has a reader (kmsd under steady load) never restarts its WAL: the file grows for as long
  // as the load lasts and every commit appends to it, which costs the file system a journal
  // commit per fdatasync (sqlite.org/wal.html "Checkpoint starvation"; docs/performance-2.80ghz.md,
  // finding 1). 0: PASSIVE checkpoints only.
  std::chrono::microseconds wal_restart_wait{2000};
  // wal_restart_frames: the RESTART runs only once the WAL holds this many frames (2,048
  // 4 KiB pages: 8 MiB). It holds the write lock while it copies and syncs the frames
  // committed since the PASSIVE pass, i.e. it pauses the writer for a sync or two; once per
  // 8 MiB rather than every interval keeps those pauses rare, and the WAL file is still
  // reused instead of growing.
  int wal_restart_frames = 2048;
  int64_t checkpoint_rows = 1000;
  std::chrono::seconds checkpoint_interval{60};
  // on_commit: called on the writer thread after each successful group commit with its
  // duration (BEGIN to durable COMMIT, fsync included) and row count; must not block.
  // kmsd feeds /metrics with it (a slow disk shows up as a long tail of commits).
  std::function<void(double seconds, size_t rows)> on_commit;
  // replay_retention: replay marks (policy/replay_log.h) sent longer ago than this are
  // deleted, at most once a second inside a group commit. kmsd sets twice its replay window
  // (a mark older than now - window can never be replayed, the rest is margin for clock
  // steps). 0: never pruned.
  std::chrono::seconds replay_retention{0};
  // on_checkpoint: called once per checkpoint this writer sealed (row count, timer,
  // Checkpoint(), and the final one in the destructor), after its transaction committed, on
  // the thread that sealed it and outside the writer's locks; must not block or call back
  // into the writer. A hash chain cannot prove where it ends (docs/security-target.md
  // "Audit trail"), so kmsd logs each one (event=audit_checkpoint): the journal, forwarded
  // off the appliance, then holds the anchors verify needs.
  std::function<void(const SealedCheckpoint&)> on_checkpoint;
  // on_health_change: called when Healthy() changes: false with the reason of the first
  // failure (a commit's SQLite error such as "database or disk is full", or a row not
  // durable within max_wait), true again after the next successful commit. Called once per
  // transition, on the thread that saw it (writer, watchdog or a blocked Append caller) and
  // outside the writer's locks; must not block or call back into the writer. kmsd logs it
  // (event=audit_unavailable / audit_recovered): a full or locked disk is otherwise visible
  // only as 503s and /readyz (evaluator checklist item 22).
  std::function<void(bool healthy, const std::string& reason)> on_health_change;
};

class AuditWriter final : public ports::AuditSink {
 public:
  // Open: opens its own connection to the (migrated) database at path.
  static Result<std::unique_ptr<AuditWriter>> Open(const std::string& path,
                                                   ports::KeyVault& vault,
                                                   AuditWriterOptions options);
  ~AuditWriter() override;  // drains the queue, seals a final checkpoint when possible

  Result<int64_t> Append(const ports::AuditRecord& record) override;
  void AppendAsync(const ports::AuditRecord& record, Done done) override;
  bool Healthy() const override { return healthy_.load(); }
  void BeginDecision() override { deciding_.fetch_add(1); }
  void EndDecision() override;
  // Nudge: re-checks the group-commit window now (a decision worker went idle).
  void Nudge();
  size_t queue_depth() const;
  double last_commit_seconds() const { return last_commit_s_.load(); }
  // Checkpoint: seals the current head now (e.g. at shutdown); OK if nothing is new.
  Status Checkpoint();

 private:
  // Pending: one queued row; Fire() delivers its outcome exactly once, from the writer
  // (durable or failed) or from the watchdog (overdue), whichever comes first.
  struct Pending {
    ports::AuditRecord record;
    Done done;
    std::chrono::steady_clock::time_point deadline;
    std::atomic<bool> fired{false};
    void Fire(Result<int64_t> outcome) {
      if (!fired.exchange(true)) {
        done(std::move(outcome));
      }
    }
  };
  using Batch = std::deque<std::shared_ptr<Pending>>;
  AuditWriter(Db db, Db wal_db, ports::KeyVault& vault, AuditWriterOptions options);
  void Run();
  // Watch: the watchdog loop; fails rows still unanswered at their deadline.
  void Watch();
  // FoldWal: the WAL checkpoint loop on wal_db_.
  void FoldWal();
  Result<std::vector<int64_t>> CommitBatch(const Batch& batch);
  // MaybeCheckpoint: seals when forced, after checkpoint_rows rows of this writer, or when
  // checkpoint_interval has passed and the trail has rows after its last checkpoint (from
  // any connection: kmsctl's admin rows included).
  void MaybeCheckpoint(bool force);
  // HasUnsealedRows: the trail has rows after the newest checkpoint (a read, no lock kept).
  Result<bool> HasUnsealedRows();
  // SetHealthy: records the outcome; reports a transition to on_health_change. Call without
  // holding mu_.
  void SetHealthy(bool healthy, const std::string& reason);

  Db db_;
  ports::KeyVault& vault_;
  AuditWriterOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Batch queue_;       // waiting for the next commit, in arrival (= deadline) order
  Batch committing_;  // the batch the writer is committing now
  std::atomic<int64_t> deciding_{0};  // open decisions (BeginDecision - EndDecision)
  bool in_window_ = false;            // the writer waits in its group-commit window (mu_)
  bool stop_ = false;
  bool watch_stop_ = false;
  std::condition_variable watch_cv_;
  std::atomic<bool> healthy_{true};
  std::atomic<double> last_commit_s_{0};
  int64_t rows_since_checkpoint_ = 0;
  std::chrono::steady_clock::time_point last_checkpoint_;
  std::chrono::steady_clock::time_point last_replay_prune_{};
  std::mutex db_mu_;  // the writer thread and Checkpoint() share db_
  std::thread thread_;
  std::thread watchdog_;
  Db wal_db_;  // FoldWal's own connection
  std::mutex wal_mu_;
  std::condition_variable wal_cv_;
  bool wal_stop_ = false;
  std::thread wal_folder_;
};

}  // namespace kms::policy
