#include "policy/audit_writer.h"

#include <algorithm>
#include <utility>

#include "policy/audit_chain.h"
#include "policy/replay_log.h"

namespace kms::policy {
namespace {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<std::unique_ptr<AuditWriter>> AuditWriter::Open(const std::string& path,
                                                       ports::KeyVault& vault,
                                                       AuditWriterOptions options) {
  DbOptions o;
  o.mode = OpenMode::kReadWrite;
  o.synchronous_full = true;  // durable before the caller answers
  KMS_ASSIGN_OR_RETURN(Db db, Db::Open(path, o));
  // The fold below holds the write lock for moments: wait for it in short steps, not in the
  // busy timeout's growing sleeps, but give up no later than the timeout would have.
  db.SetBusyWait(std::chrono::microseconds(100),
                 std::chrono::milliseconds(o.busy_timeout_ms));
  KMS_RETURN_IF_ERROR(db.Exec("PRAGMA wal_autocheckpoint=0"));  // FoldWal does it
  KMS_ASSIGN_OR_RETURN(Db wal_db, Db::Open(path, o));
  wal_db.SetBusyWait(std::chrono::microseconds(100), options.wal_restart_wait);
  std::unique_ptr<AuditWriter> w(
      new AuditWriter(std::move(db), std::move(wal_db), vault, std::move(options)));
  w->thread_ = std::thread([p = w.get()] { p->Run(); });
  w->watchdog_ = std::thread([p = w.get()] { p->Watch(); });
  w->wal_folder_ = std::thread([p = w.get()] { p->FoldWal(); });
  return w;
}

AuditWriter::AuditWriter(Db db, Db wal_db, ports::KeyVault& vault, AuditWriterOptions options)
    : db_(std::move(db)),
      vault_(vault),
      options_(std::move(options)),
      last_checkpoint_(std::chrono::steady_clock::now()),
      wal_db_(std::move(wal_db)) {}

AuditWriter::~AuditWriter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();  // the writer drains the queue first: every callback has fired
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    watch_stop_ = true;
  }
  watch_cv_.notify_all();
  if (watchdog_.joinable()) {
    watchdog_.join();
  }
  {
    std::lock_guard<std::mutex> lock(wal_mu_);
    wal_stop_ = true;
  }
  wal_cv_.notify_all();
  if (wal_folder_.joinable()) {
    wal_folder_.join();
  }
  (void)Checkpoint();  // best effort: an unsealed tail is reported as such by verify
}

size_t AuditWriter::queue_depth() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

void AuditWriter::AppendAsync(const ports::AuditRecord& record, Done done) {
  auto p = std::make_shared<Pending>();
  p->record = record;
  p->done = std::move(done);
  p->deadline = std::chrono::steady_clock::now() + options_.max_wait;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (stop_) {
      lock.unlock();
      p->Fire(UnavailableError("audit writer stopped"));
      return;
    }
    if (queue_.size() >= options_.queue_limit) {
      lock.unlock();
      SetHealthy(false, "audit queue full");
      p->Fire(ResourceExhaustedError("audit queue full"));
      return;
    }
    queue_.push_back(std::move(p));
  }
  cv_.notify_one();
}

void AuditWriter::EndDecision() {
  if (deciding_.fetch_sub(1) == 1) {
    // The last open decision ended: wake a writer waiting in its batch window. Taking the
    // lock orders this with the writer's check of deciding_, so the wake-up cannot be lost.
    { std::lock_guard<std::mutex> lock(mu_); }
    cv_.notify_all();
  }
}

void AuditWriter::Nudge() {
  // Only a writer inside its window has anything to re-check; an idle writer is not woken
  // (a worker idles after most messages at partial load).
  std::lock_guard<std::mutex> lock(mu_);
  if (in_window_) {
    cv_.notify_all();
  }
}

Result<int64_t> AuditWriter::Append(const ports::AuditRecord& record) {
  auto promise = std::make_shared<std::promise<Result<int64_t>>>();
  std::future<Result<int64_t>> done = promise->get_future();
  AppendAsync(record, [promise](Result<int64_t> r) { promise->set_value(std::move(r)); });
  if (done.wait_for(options_.max_wait) != std::future_status::ready) {
    // Fail closed: the caller must not answer. The row may still be written later; it is
    // then an audit of a request that was refused for want of an audit, which is harmless.
    SetHealthy(false, "audit row not durable within the configured time");
    return UnavailableError("audit row not durable within the configured time");
  }
  return done.get();
}

void AuditWriter::Watch() {
  const auto tick = std::clamp(options_.max_wait / 4, std::chrono::milliseconds(5),
                               std::chrono::milliseconds(100));
  std::unique_lock<std::mutex> lock(mu_);
  while (!watch_stop_) {
    watch_cv_.wait_for(lock, tick);
    const auto now = std::chrono::steady_clock::now();
    std::vector<std::shared_ptr<Pending>> overdue;
    // Both lists are in arrival order and every row gets the same max_wait, so the overdue
    // rows are a prefix of each.
    for (Batch* list : {&committing_, &queue_}) {
      for (const auto& p : *list) {
        if (p->deadline > now) {
          break;
        }
        if (!p->fired.load()) {
          overdue.push_back(p);
        }
      }
    }
    if (overdue.empty()) {
      continue;
    }
    lock.unlock();
    SetHealthy(false, "audit row not durable within the configured time");
    for (const auto& p : overdue) {
      p->Fire(UnavailableError("audit row not durable within the configured time"));
    }
    lock.lock();
  }
}

void AuditWriter::SetHealthy(bool healthy, const std::string& reason) {
  if (healthy_.exchange(healthy) != healthy && options_.on_health_change) {
    options_.on_health_change(healthy, reason);
  }
}

void AuditWriter::FoldWal() {
  std::unique_lock<std::mutex> lock(wal_mu_);
  while (!wal_stop_) {
    wal_cv_.wait_for(lock, options_.wal_checkpoint_interval);
    if (wal_stop_) {
      break;
    }
    lock.unlock();
    // PASSIVE: copies what no reader still needs and returns; a busy database is simply
    // tried again next time (the rows are durable in the WAL already). Then RESTART, which
    // holds the write lock only while it copies the few frames committed since and waits,
    // briefly and boundedly, for readers of older snapshots to finish; if they do not, the
    // next interval tries again.
    Result<int> wal_frames = wal_db_.WalCheckpoint(WalCheckpointMode::kPassive);
    if (options_.wal_restart_wait.count() > 0 && wal_frames.ok() &&
        *wal_frames >= options_.wal_restart_frames) {
      (void)wal_db_.WalCheckpoint(WalCheckpointMode::kRestart);
    }
    lock.lock();
  }
}

Result<std::vector<int64_t>> AuditWriter::CommitBatch(const Batch& batch) {
  std::lock_guard<std::mutex> db_lock(db_mu_);
  const auto start = std::chrono::steady_clock::now();
  KMS_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(db_, TxnKind::kImmediate));
  KMS_ASSIGN_OR_RETURN(ChainHead head, ReadChainHead(db_));
  std::vector<int64_t> seqs;
  seqs.reserve(batch.size());
  for (const auto& p : batch) {
    KMS_ASSIGN_OR_RETURN(head, AppendRow(db_, head, p->record));
    seqs.push_back(head.seq);
    // The replay mark joins its row's commit: durable before the reply is released.
    if (p->record.replay) KMS_RETURN_IF_ERROR(AppendReplayMark(db_, *p->record.replay));
  }
  if (options_.replay_retention.count() > 0 &&
      start - last_replay_prune_ >= std::chrono::seconds(1)) {
    KMS_RETURN_IF_ERROR(PruneReplayLog(
        db_, UnixTime(std::chrono::nanoseconds(NowNs())) - options_.replay_retention));
    last_replay_prune_ = start;
  }
  KMS_RETURN_IF_ERROR(txn.Commit());
  last_commit_s_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  rows_since_checkpoint_ += static_cast<int64_t>(batch.size());
  return seqs;
}

void AuditWriter::MaybeCheckpoint(bool force) {
  const auto now = std::chrono::steady_clock::now();
  const bool rows_due = rows_since_checkpoint_ >= options_.checkpoint_rows;
  const bool time_due = now - last_checkpoint_ >= options_.checkpoint_interval;
  if (!force && !rows_due && !time_due) {
    return;
  }
  if (!force && !rows_due) {
    // The timer: seal whatever the trail holds after the last checkpoint, whoever appended
    // it. rows_since_checkpoint_ counts only this writer's rows; kmsctl appends its admin
    // rows (policy set, key destroy, user import) from another process, and they must not
    // wait unsealed for the next ticket or for kmsd to stop. A read, once per interval; the
    // write lock and the token's HMAC only when there is something to seal.
    Result<bool> unsealed = HasUnsealedRows();
    if (!unsealed.ok()) {
      return;  // the database is busy or failing: the next round tries again
    }
    if (!*unsealed) {
      rows_since_checkpoint_ = 0;
      last_checkpoint_ = now;
      return;
    }
  }
  if (Checkpoint().ok()) {
    rows_since_checkpoint_ = 0;
    last_checkpoint_ = now;
  }
}

Result<bool> AuditWriter::HasUnsealedRows() {
  std::lock_guard<std::mutex> db_lock(db_mu_);
  KMS_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(db_, TxnKind::kDeferred));  // one snapshot
  KMS_ASSIGN_OR_RETURN(ChainHead head, ReadChainHead(db_));
  KMS_ASSIGN_OR_RETURN(CheckpointHead prev, ReadCheckpointHead(db_));
  return head.seq > prev.last_row;
}

Status AuditWriter::Checkpoint() {
  SealedCheckpoint sealed;
  {
    std::lock_guard<std::mutex> db_lock(db_mu_);
    KMS_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(db_, TxnKind::kImmediate));
    KMS_ASSIGN_OR_RETURN(ChainHead head, ReadChainHead(db_));
    KMS_ASSIGN_OR_RETURN(CheckpointHead prev, ReadCheckpointHead(db_));
    if (head.seq == 0 || prev.last_row >= head.seq) {
      return Status::Ok();  // nothing new to seal
    }
    KMS_ASSIGN_OR_RETURN(CheckpointHead cp, WriteCheckpoint(db_, vault_, head, prev, NowNs()));
    KMS_RETURN_IF_ERROR(txn.Commit());
    sealed = {cp.seq, cp.last_row, head.hash, cp.time_ns};
  }
  // Only a committed checkpoint is reported: an anchor naming one that was rolled back
  // would make every later verify fail as truncated. Called outside db_mu_ so that the
  // observer never runs while holding the database (on the writer thread it still delays
  // the next commit: hence "must not block").
  if (options_.on_checkpoint) {
    options_.on_checkpoint(sealed);
  }
  return Status::Ok();
}

void AuditWriter::Run() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) {
        if (stop_) {
          return;
        }
        lock.unlock();
        MaybeCheckpoint(false);
        continue;
      }
    }
    // Group commit: let rows of messages still being decided join this batch, for at most
    // batch_interval; with no decision open, no row is on its way and waiting only delays,
    // and with a decision worker idle the held replies are what the next messages wait for
    // (docs/performance-group-commit.md).
    if (options_.batch_interval.count() > 0) {
      std::unique_lock<std::mutex> lock(mu_);
      in_window_ = true;
      cv_.wait_for(lock, options_.batch_interval, [&] {
        return stop_ || deciding_.load() <= 0 ||
               (options_.idle_workers != nullptr && options_.idle_workers->count.load() > 0);
      });
      in_window_ = false;
    }
    Batch batch;
    {
      std::lock_guard<std::mutex> lock(mu_);
      batch.swap(queue_);
      committing_ = batch;  // the watchdog's view of what is being written
    }
    Result<std::vector<int64_t>> seqs = CommitBatch(batch);
    SetHealthy(seqs.ok(), seqs.ok() ? "" : "audit commit failed: " + seqs.status().message());
    if (seqs.ok() && options_.on_commit) {
      options_.on_commit(last_commit_s_.load(), batch.size());
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      batch[i]->Fire(seqs.ok() ? Result<int64_t>((*seqs)[i])
                               : Result<int64_t>(UnavailableError("audit commit failed: " +
                                                                  seqs.status().message())));
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      committing_.clear();
    }
    if (!seqs.ok()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // no hot loop on a bad disk
      continue;
    }
    MaybeCheckpoint(false);
  }
}

}  // namespace kms::policy
