// Output of kms-bench: the machine description and the text form of each phase. The JSON
// form (--json) is assembled in main.cc from the same values; nothing here prints keys.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "src/cli/kms_bench/ceiling.h"
#include "src/cli/kms_bench/http_driver.h"
#include "src/cli/kms_bench/stats.h"

namespace kms::bench {

// MachineJson: CPU model and count, memory, kernel, SoftHSM2 version if known.
nlohmann::json MachineJson();

// PhaseJson: throughput, latency summary and error counts of one driven phase.
nlohmann::json PhaseJson(const DriveResult& r);

// PrintPhase: "  <label>: N msg in S s = R/s; p50 .. p99 .. max .. ms; errors ..".
void PrintPhase(const std::string& label, const DriveResult& r);
void PrintCeiling(const CeilingResult& c);
// The half-load baseline: the token calls alone in open loop (MeasureTokenOpenLoop).
nlohmann::json OpenLoopJson(const OpenLoopLeg& leg);
void PrintOpenLoop(const std::string& label, const OpenLoopLeg& leg);

// Issue 10 item 3: p99 under 10 ms at half of the maximum throughput.
constexpr double kHalfLoadTargetP99Ms = 10;
bool HalfLoadTargetMet(const DriveResult& r);
// PrintHalfLoadVerdict: met or missed, and when missed what else the phase saw (host steal,
// audit commits over 10 ms, the token alone's own p99), so an operator can tell a host
// that lost time from a KMS that is too slow.
void PrintHalfLoadVerdict(const std::string& label, const DriveResult& r, const OpenLoopLeg& token);
void PrintTrace(const TokenTrace& t);

double Rate(const DriveResult& r);

}  // namespace kms::bench
