#include "src/base/status.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "src/base/result.h"

namespace kms {
namespace {

TEST(StatusTest, DefaultIsOkAndCarriesNothing) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.ToString(), "OK");
  Status forced(StatusCode::kOk, "ignored", 7);
  EXPECT_TRUE(forced.message().empty());
  EXPECT_FALSE(forced.detail().has_value());
  EXPECT_EQ(forced, Status::Ok());
}

TEST(StatusTest, ErrorsKeepCodeMessageAndDetail) {
  Status s = DecodeError("KEMAC truncated", 13);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kDecodeError);
  EXPECT_EQ(s.message(), "KEMAC truncated");
  ASSERT_TRUE(s.detail().has_value());
  EXPECT_EQ(*s.detail(), 13);
  EXPECT_EQ(s.ToString(), "DECODE_ERROR: KEMAC truncated [detail 13]");
  Status c = s.WithContext("REQUEST_INIT");
  EXPECT_EQ(c.message(), "REQUEST_INIT: KEMAC truncated");
  EXPECT_EQ(c.detail(), s.detail());
  EXPECT_EQ(Status().WithContext("x"), Status());
}

TEST(StatusTest, EveryFactoryHasItsCanonicalCode) {
  EXPECT_EQ(InvalidArgumentError("").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(AuthFailedError("").code(), StatusCode::kAuthFailed);
  EXPECT_EQ(PermissionDeniedError("").code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(NotFoundError("").code(), StatusCode::kNotFound);
  EXPECT_EQ(AlreadyExistsError("").code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(FailedPreconditionError("").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(UnavailableError("").code(), StatusCode::kUnavailable);
  EXPECT_EQ(ResourceExhaustedError("").code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(InternalError("").code(), StatusCode::kInternal);
  EXPECT_EQ(StatusCodeName(StatusCode::kUnavailable), "UNAVAILABLE");
}

Result<int> ParsePositive(int v) {
  if (v <= 0) {
    return InvalidArgumentError("not positive");
  }
  return v;
}

Result<int> Doubled(int v) {
  KMS_ASSIGN_OR_RETURN(int x, ParsePositive(v));
  return 2 * x;
}

Status CheckBoth(int a, int b) {
  KMS_RETURN_IF_ERROR(ParsePositive(a));
  KMS_RETURN_IF_ERROR(ParsePositive(b).status());
  return Status::Ok();
}

TEST(ResultTest, HoldsValueOrError) {
  Result<int> ok = Doubled(4);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 8);
  Result<int> bad = Doubled(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckBoth(1, 2).ok());
  EXPECT_EQ(CheckBoth(1, 0).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckBoth(0, 1).message(), "not positive");
}

TEST(ResultTest, MoveOnlyValues) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(5);
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 5);
}

TEST(ResultDeathTest, OkStatusAndValueOfErrorAreProgrammingErrors) {
  EXPECT_DEATH({ Result<int> r{Status::Ok()}; (void)r; }, "KMS_CHECK failed");
  EXPECT_DEATH(
      {
        Result<int> r = InternalError("x");
        (void)r.value();
      },
      "KMS_CHECK failed");
}

}  // namespace
}  // namespace kms
