// IdleWorkers: how many decision workers are waiting for a message right now. DecisionPool
// (src/core/decision_pool.h) keeps the count; the audit writer's group-commit window reads
// it (policy/audit_writer.h): while a worker has nothing to decide, holding the replies
// that wait for the next commit only delays the clients whose next messages would give it
// work, so the window ends there instead of running its full length.
#pragma once

#include <atomic>
#include <functional>

namespace kms::ports {

struct IdleWorkers {
  std::atomic<int> count{0};
  // on_idle: called on a worker each time it runs out of messages (count already raised).
  // Set once, before the pool starts; must not block and must not call into the pool.
  std::function<void()> on_idle;
};

}  // namespace kms::ports
