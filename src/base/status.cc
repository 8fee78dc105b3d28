#include "src/base/status.h"

#include <utility>

namespace kms {

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "OK";
    case StatusCode::kInvalidArgument: return "INVALID_ARGUMENT";
    case StatusCode::kDecodeError: return "DECODE_ERROR";
    case StatusCode::kAuthFailed: return "AUTH_FAILED";
    case StatusCode::kPermissionDenied: return "PERMISSION_DENIED";
    case StatusCode::kNotFound: return "NOT_FOUND";
    case StatusCode::kAlreadyExists: return "ALREADY_EXISTS";
    case StatusCode::kFailedPrecondition: return "FAILED_PRECONDITION";
    case StatusCode::kUnavailable: return "UNAVAILABLE";
    case StatusCode::kResourceExhausted: return "RESOURCE_EXHAUSTED";
    case StatusCode::kInternal: return "INTERNAL";
  }
  return "UNKNOWN";
}

Status::Status(StatusCode code, std::string message, std::optional<uint8_t> detail)
    : code_(code), message_(std::move(message)), detail_(detail) {
  if (code_ == StatusCode::kOk) {
    // An OK status carries nothing; keeps ok() statuses comparable.
    message_.clear();
    detail_.reset();
  }
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) {
    return *this;
  }
  std::string m(context);
  m += ": ";
  m += message_;
  return Status(code_, std::move(m), detail_);
}

std::string Status::ToString() const {
  if (ok()) {
    return "OK";
  }
  std::string s(StatusCodeName(code_));
  s += ": ";
  s += message_;
  if (detail_) {
    s += " [detail ";
    s += std::to_string(*detail_);
    s += "]";
  }
  return s;
}

Status InvalidArgumentError(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
Status DecodeError(std::string m, std::optional<uint8_t> detail) {
  return {StatusCode::kDecodeError, std::move(m), detail};
}
Status AuthFailedError(std::string m) { return {StatusCode::kAuthFailed, std::move(m)}; }
Status PermissionDeniedError(std::string m) {
  return {StatusCode::kPermissionDenied, std::move(m)};
}
Status NotFoundError(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
Status AlreadyExistsError(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
Status FailedPreconditionError(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}
Status UnavailableError(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
Status ResourceExhaustedError(std::string m) {
  return {StatusCode::kResourceExhausted, std::move(m)};
}
Status InternalError(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

}  // namespace kms
