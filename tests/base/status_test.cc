#include "kagami/base/status.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace kagami {
namespace {

Result<int> ParsePositive(int v) {
  if (v <= 0) return Status::InvalidArgument("must be positive");
  return v;
}

Status UseParsed(int v, int* out) {
  KAGAMI_ASSIGN_OR_RETURN(int parsed, ParsePositive(v));
  *out = parsed;
  return Status::Ok();
}

TEST(StatusTest, OkStatusPrintsOk) {
  EXPECT_TRUE(Status::Ok().ok());
  EXPECT_EQ(Status::Ok().ToString(), "ok");
}

TEST(StatusTest, ErrorCarriesCodeAndContext) {
  Status s = Status::Corrupt("bad header").WithContext("vol1.cbz");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kCorrupt);
  EXPECT_EQ(s.ToString(), "corrupt: vol1.cbz: bad header");
}

TEST(StatusTest, ErrnoIsMappedToCodes) {
  EXPECT_EQ(ErrnoStatus(ENOENT, "open x").code(), StatusCode::kNotFound);
  EXPECT_EQ(ErrnoStatus(ENOSPC, "write x").code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(ErrnoStatus(EACCES, "open x").code(), StatusCode::kIoError);
  EXPECT_NE(ErrnoStatus(ENOENT, "open x").message().find("open x"), std::string::npos);
}

TEST(ResultTest, AssignOrReturnPropagatesErrors) {
  int out = 0;
  EXPECT_TRUE(UseParsed(5, &out).ok());
  EXPECT_EQ(out, 5);
  Status s = UseParsed(-1, &out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(out, 5);
}

}  // namespace
}  // namespace kagami
