// Status: the error model of the whole project (style.md "Error model"). No exceptions
// cross a module boundary; every fallible function returns a Status or a Result<T>.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kms {

// Canonical codes. Clients of the KMS only ever see coarse codes: an unknown user, a bad
// MAC and a bad ticket are all kAuthFailed, so replies are no oracle.
enum class StatusCode : uint8_t {
  kOk = 0,
  kInvalidArgument,
  kDecodeError,
  kAuthFailed,
  kPermissionDenied,
  kNotFound,
  kAlreadyExists,
  kFailedPrecondition,
  kUnavailable,
  kResourceExhausted,
  kInternal,
};

std::string_view StatusCodeName(StatusCode code);

// Status is a code, a message for operators (never key bytes, PINs or whole messages) and
// an optional protocol detail, e.g. the MIKEY error number (RFC 3830 §6.12) to send back.
class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message, std::optional<uint8_t> detail = std::nullopt);

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  std::optional<uint8_t> detail() const { return detail_; }

  // WithContext: returns a copy whose message is "<context>: <message>"; code and detail kept.
  Status WithContext(std::string_view context) const;

  // ToString: "CODE: message" (plus " [detail N]"); "OK" when ok.
  std::string ToString() const;

  // Explicitly discards a status where failure really does not matter (documented at call).
  void IgnoreError() const {}

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_ && a.detail_ == b.detail_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::optional<uint8_t> detail_;
};

Status InvalidArgumentError(std::string message);
Status DecodeError(std::string message, std::optional<uint8_t> detail = std::nullopt);
Status AuthFailedError(std::string message);
Status PermissionDeniedError(std::string message);
Status NotFoundError(std::string message);
Status AlreadyExistsError(std::string message);
Status FailedPreconditionError(std::string message);
Status UnavailableError(std::string message);
Status ResourceExhaustedError(std::string message);
Status InternalError(std::string message);

// StatusOf: the Status of a Status (itself) or of a Result<T> (see result.h).
inline const Status& StatusOf(const Status& s) { return s; }

}  // namespace kms

// KMS_RETURN_IF_ERROR(expr): returns the Status of expr from the enclosing function if it
// is not OK. Works for functions returning Status or Result<T>.
#define KMS_RETURN_IF_ERROR(expr)                       \
  do {                                                  \
    if (::kms::Status kms_s_ = ::kms::StatusOf(expr); !kms_s_.ok()) {  \
      return kms_s_;                                    \
    }                                                   \
  } while (0)
