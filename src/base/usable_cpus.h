// UsableCpus: how many CPUs this thread may run on (its affinity mask, so a cpuset or
// `taskset` that confines the daemon counts, not the machine's total). Used to size thread
// pools whose threads compute rather than wait (docs/performance.md, "Decision workers").
#pragma once

namespace kms {

// At least 1; falls back to the online CPU count if the mask cannot be read.
unsigned UsableCpus();

}  // namespace kms
