#include "src/http/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace kms::http {
namespace {

void AppendDouble(std::string* out, double v) {
  if (std::isnan(v)) {
    out->append("NaN");
    return;
  }
  if (std::isinf(v)) {
    out->append(v > 0 ? "+Inf" : "-Inf");
    return;
  }
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

// Exposition format: label values escape backslash, double quote and newline; HELP text
// escapes backslash and newline.
void AppendEscaped(std::string* out, std::string_view v, bool quote_too) {
  for (char c : v) {
    if (c == '\\') {
      out->append("\\\\");
    } else if (c == '\n') {
      out->append("\\n");
    } else if (c == '"' && quote_too) {
      out->append("\\\"");
    } else {
      out->push_back(c);
    }
  }
}

void AppendLabels(std::string* out, const std::vector<std::string>& names,
                  const LabelValues& values, std::string_view extra_name = {},
                  std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) {
    return;
  }
  out->push_back('{');
  bool first = true;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!first) {
      out->push_back(',');
    }
    first = false;
    out->append(names[i]).append("=\"");
    AppendEscaped(out, values[i], true);
    out->push_back('"');
  }
  if (!extra_name.empty()) {
    if (!first) {
      out->push_back(',');
    }
    out->append(extra_name).append("=\"").append(extra_value).push_back('"');
  }
  out->push_back('}');
}

template <typename Map>
bool HasRoomFor(const Map& map, const LabelValues& labels, std::atomic<uint64_t>* dropped) {
  if (map.size() < kMaxSeriesPerFamily || map.count(labels) != 0) {
    return true;
  }
  dropped->fetch_add(1);
  return false;
}

}  // namespace

bool IsValidMetricName(std::string_view name) {
  if (name.empty()) {
    return false;
  }
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    bool digit = c >= '0' && c <= '9';
    if (!(alpha || (digit && i > 0))) {
      return false;
    }
  }
  return true;
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty() || name.find(':') != std::string_view::npos || name.starts_with("__")) {
    return false;
  }
  return IsValidMetricName(name);
}

std::vector<double> DefaultLatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

void CounterFamily::Inc(const LabelValues& labels, uint64_t n) {
  KMS_CHECK(labels.size() == label_names_.size());
  std::lock_guard lock(mu_);
  if (HasRoomFor(values_, labels, dropped_)) {
    values_[labels] += n;
  }
}

uint64_t CounterFamily::Get(const LabelValues& labels) const {
  std::lock_guard lock(mu_);
  auto it = values_.find(labels);
  return it == values_.end() ? 0 : it->second;
}

void CounterFamily::Render(const std::string& name, std::string* out) const {
  std::lock_guard lock(mu_);
  if (values_.empty() && label_names_.empty()) {
    out->append(name).append(" 0\n");
    return;
  }
  for (const auto& [labels, v] : values_) {
    out->append(name);
    AppendLabels(out, label_names_, labels);
    out->append(" ").append(std::to_string(v)).push_back('\n');
  }
}

void GaugeFamily::Set(const LabelValues& labels, double value) {
  KMS_CHECK(labels.size() == label_names_.size());
  std::lock_guard lock(mu_);
  if (HasRoomFor(values_, labels, dropped_)) {
    values_[labels] = value;
  }
}

void GaugeFamily::Add(const LabelValues& labels, double delta) {
  KMS_CHECK(labels.size() == label_names_.size());
  std::lock_guard lock(mu_);
  if (HasRoomFor(values_, labels, dropped_)) {
    values_[labels] += delta;
  }
}

double GaugeFamily::Get(const LabelValues& labels) const {
  std::lock_guard lock(mu_);
  auto it = values_.find(labels);
  return it == values_.end() ? 0 : it->second;
}

void GaugeFamily::Render(const std::string& name, std::string* out) const {
  std::lock_guard lock(mu_);
  if (values_.empty() && label_names_.empty()) {
    out->append(name).append(" 0\n");
    return;
  }
  for (const auto& [labels, v] : values_) {
    out->append(name);
    AppendLabels(out, label_names_, labels);
    out->push_back(' ');
    AppendDouble(out, v);
    out->push_back('\n');
  }
}

void HistogramFamily::Observe(const LabelValues& labels, double value) {
  KMS_CHECK(labels.size() == label_names_.size());
  std::lock_guard lock(mu_);
  if (!HasRoomFor(series_, labels, dropped_)) {
    return;
  }
  Series& s = series_[labels];
  if (s.buckets.empty()) {
    s.buckets.assign(bounds_.size() + 1, 0);
  }
  size_t i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) -
                                 bounds_.begin());
  s.buckets[i] += 1;  // bucket i holds values in (bounds_[i-1], bounds_[i]]; last is +Inf
  s.count += 1;
  s.sum += value;
}

uint64_t HistogramFamily::Count(const LabelValues& labels) const {
  std::lock_guard lock(mu_);
  auto it = series_.find(labels);
  return it == series_.end() ? 0 : it->second.count;
}

void HistogramFamily::Render(const std::string& name, std::string* out) const {
  std::lock_guard lock(mu_);
  for (const auto& [labels, s] : series_) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= bounds_.size(); ++i) {
      cumulative += s.buckets[i];
      std::string le;
      if (i == bounds_.size()) {
        le = "+Inf";
      } else {
        AppendDouble(&le, bounds_[i]);
      }
      out->append(name).append("_bucket");
      AppendLabels(out, label_names_, labels, "le", le);
      out->append(" ").append(std::to_string(cumulative)).push_back('\n');
    }
    out->append(name).append("_sum");
    AppendLabels(out, label_names_, labels);
    out->push_back(' ');
    AppendDouble(out, s.sum);
    out->push_back('\n');
    out->append(name).append("_count");
    AppendLabels(out, label_names_, labels);
    out->append(" ").append(std::to_string(s.count)).push_back('\n');
  }
}

Status MetricsRegistry::CheckNew(const std::string& name,
                                 const std::vector<std::string>& labels) const {
  if (!IsValidMetricName(name)) {
    return InvalidArgumentError("invalid metric name: " + name);
  }
  for (const auto& l : labels) {
    if (!IsValidLabelName(l)) {
      return InvalidArgumentError("invalid label name for " + name + ": " + l);
    }
  }
  for (const Entry& e : entries_) {
    if (e.name == name) {
      return InvalidArgumentError("duplicate metric name: " + name);
    }
  }
  return Status::Ok();
}

Result<CounterFamily*> MetricsRegistry::AddCounter(std::string name, std::string help,
                                                   std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  KMS_RETURN_IF_ERROR(CheckNew(name, label_names));
  Entry e{std::move(name), std::move(help), "counter", {}, {}, {}, {}};
  e.counter.reset(new CounterFamily(std::move(label_names), &dropped_series_));
  CounterFamily* p = e.counter.get();
  entries_.push_back(std::move(e));
  return p;
}

Result<GaugeFamily*> MetricsRegistry::AddGauge(std::string name, std::string help,
                                               std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  KMS_RETURN_IF_ERROR(CheckNew(name, label_names));
  Entry e{std::move(name), std::move(help), "gauge", {}, {}, {}, {}};
  e.gauge.reset(new GaugeFamily(std::move(label_names), &dropped_series_));
  GaugeFamily* p = e.gauge.get();
  entries_.push_back(std::move(e));
  return p;
}

Result<HistogramFamily*> MetricsRegistry::AddHistogram(std::string name, std::string help,
                                                       std::vector<std::string> label_names,
                                                       std::vector<double> bounds) {
  std::lock_guard lock(mu_);
  KMS_RETURN_IF_ERROR(CheckNew(name, label_names));
  if (std::find(label_names.begin(), label_names.end(), "le") != label_names.end()) {
    return InvalidArgumentError("histogram label may not be named le: " + name);
  }
  if (bounds.empty()) {
    return InvalidArgumentError("histogram needs at least one bucket: " + name);
  }
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1]))) {
      return InvalidArgumentError("histogram buckets must be finite and increasing: " + name);
    }
  }
  Entry e{std::move(name), std::move(help), "histogram", {}, {}, {}, {}};
  e.histogram.reset(
      new HistogramFamily(std::move(label_names), std::move(bounds), &dropped_series_));
  HistogramFamily* p = e.histogram.get();
  entries_.push_back(std::move(e));
  return p;
}

Status MetricsRegistry::AddCallbackGauge(std::string name, std::string help,
                                         std::function<double()> read) {
  std::lock_guard lock(mu_);
  KMS_RETURN_IF_ERROR(CheckNew(name, {}));
  if (!read) {
    return InvalidArgumentError("callback gauge without a callback: " + name);
  }
  entries_.push_back(Entry{std::move(name), std::move(help), "gauge", {}, {}, {}, std::move(read)});
  return Status::Ok();
}

std::string MetricsRegistry::Render() const {
  std::string out;
  std::lock_guard lock(mu_);
  for (const Entry& e : entries_) {
    out.append("# HELP ").append(e.name).push_back(' ');
    AppendEscaped(&out, e.help, false);
    out.append("\n# TYPE ").append(e.name).push_back(' ');
    out.append(e.type).push_back('\n');
    if (e.counter) {
      e.counter->Render(e.name, &out);
    } else if (e.gauge) {
      e.gauge->Render(e.name, &out);
    } else if (e.histogram) {
      e.histogram->Render(e.name, &out);
    } else {
      out.append(e.name).push_back(' ');
      AppendDouble(&out, e.callback());
      out.push_back('\n');
    }
  }
  out.append("# HELP kms_metrics_dropped_series_total Label sets dropped by the series cap\n");
  out.append("# TYPE kms_metrics_dropped_series_total counter\n");
  out.append("kms_metrics_dropped_series_total ")
      .append(std::to_string(dropped_series_.load()))
      .push_back('\n');
  return out;
}

}  // namespace kms::http
