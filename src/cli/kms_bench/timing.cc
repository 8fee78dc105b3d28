#include "src/cli/kms_bench/timing.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "src/mikey/decoder.h"

namespace kms::bench {
namespace {

// Welch's t for two samples given by their mean, variance and size.
double Welch(double m1, double v1, size_t n1, double m2, double v2, size_t n2) {
  if (n1 < 2 || n2 < 2) return 0;
  const double se = std::sqrt(v1 / static_cast<double>(n1) + v2 / static_cast<double>(n2));
  return se > 0 ? (m1 - m2) / se : 0;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

// Moments of the samples of one or more classes below the crop.
struct Moments {
  size_t n = 0;
  double mean = 0, m2 = 0;
  void Add(double x) {  // Welford
    ++n;
    const double d = x - mean;
    mean += d / static_cast<double>(n);
    m2 += d * (x - mean);
  }
  double variance() const { return n > 1 ? m2 / static_cast<double>(n - 1) : 0; }
};

}  // namespace

const char* TimingClassName(TimingClass c) {
  switch (c) {
    case TimingClass::kMacFirstByte:
      return "wrong MAC, first byte";
    case TimingClass::kMacLastByte:
      return "wrong MAC, last byte";
    case TimingClass::kUnknownUser:
      return "unknown credential";
  }
  return "?";
}

Result<TimingProbes> BuildTimingProbes(const std::vector<client::Credentials>& users,
                                       size_t per_class, size_t first,
                                       const std::string& kms_identity) {
  KMS_ASSIGN_OR_RETURN(RequestBatch valid,
                       BuildRequests(users, per_class * kTimingClasses, first, kms_identity));
  TimingProbes p;
  for (size_t k = 0; k < valid.wires.size(); ++k) {
    Wire w = valid.wires[k];
    const auto cls = static_cast<TimingClass>(k % kTimingClasses);
    KMS_ASSIGN_OR_RETURN(mikey::Message m, mikey::Decode(w));
    const mikey::Verification* v = m.FindV();
    if (v == nullptr || v->mac.empty() || v->mac.size() > w.size()) {
      return InternalError("a built request has no MAC");
    }
    // The V payload ends the message (RFC 3830 §6.9), its MAC last.
    if (cls == TimingClass::kMacFirstByte) w[w.size() - v->mac.size()] ^= 0x01;
    if (cls == TimingClass::kMacLastByte) w.back() ^= 0x01;
    if (cls == TimingClass::kUnknownUser) {
      const std::string& id = users[valid.initiator[k]].psk_id;
      auto at = std::search(w.begin(), w.end(), id.begin(), id.end());
      if (id.empty() || at == w.end()) return InternalError("IDRpsk not found in a request");
      *at = static_cast<uint8_t>(*at == 'Z' ? 'Y' : 'Z');  // same length: still well-formed
    }
    p.wires.push_back(std::move(w));
    p.classes.push_back(cls);
  }
  // Random order: a drift of the host over the run then hits every class alike.
  std::vector<size_t> order(p.wires.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937_64(std::random_device{}()));
  TimingProbes shuffled;
  for (size_t i : order) {
    shuffled.wires.push_back(std::move(p.wires[i]));
    shuffled.classes.push_back(p.classes[i]);
  }
  return shuffled;
}

bool TimingReport::leak() const {
  return std::fabs(t_first_vs_last) > kTimingThreshold ||
         std::fabs(t_unknown_vs_mac) > kTimingThreshold;
}

TimingReport AnalyzeTiming(const std::vector<TimingClass>& classes,
                           const std::vector<double>& latency_us) {
  TimingReport r;
  const size_t n = std::min(classes.size(), latency_us.size());
  std::vector<double> pooled(latency_us.begin(),
                             latency_us.begin() + static_cast<std::ptrdiff_t>(n));
  std::sort(pooled.begin(), pooled.end());
  if (pooled.empty()) return r;
  std::vector<double> all[kTimingClasses];
  for (size_t i = 0; i < n; ++i) all[static_cast<int>(classes[i])].push_back(latency_us[i]);
  // dudect's way: the test on the samples below several pooled percentiles, and the largest
  // |t| counts. A low crop keeps the fast mode, where a small difference stands out of a
  // small spread; a high one keeps a difference that only shows in slower answers.
  for (const double q : {0.25, 0.5, 0.75, 0.9}) {
    const double crop = pooled[static_cast<size_t>(q * static_cast<double>(pooled.size() - 1))];
    Moments m[kTimingClasses], mac;
    for (size_t i = 0; i < n; ++i) {
      if (latency_us[i] > crop) continue;
      m[static_cast<int>(classes[i])].Add(latency_us[i]);
      if (classes[i] != TimingClass::kUnknownUser) mac.Add(latency_us[i]);
    }
    const Moments& first = m[static_cast<int>(TimingClass::kMacFirstByte)];
    const Moments& last = m[static_cast<int>(TimingClass::kMacLastByte)];
    const Moments& unknown = m[static_cast<int>(TimingClass::kUnknownUser)];
    const double t1 =
        Welch(first.mean, first.variance(), first.n, last.mean, last.variance(), last.n);
    const double t2 =
        Welch(unknown.mean, unknown.variance(), unknown.n, mac.mean, mac.variance(), mac.n);
    if (std::fabs(t1) > std::fabs(r.t_first_vs_last)) r.t_first_vs_last = t1;
    if (std::fabs(t2) > std::fabs(r.t_unknown_vs_mac)) r.t_unknown_vs_mac = t2;
    if (q == 0.9) {  // the figures printed per class
      r.crop_us = crop;
      for (int c = 0; c < kTimingClasses; ++c) {
        r.cls[c] = {m[c].n, Median(all[c]), m[c].mean, m[c].variance()};
      }
    }
  }
  return r;
}

}  // namespace kms::bench
