#include "kagami/base/fnv.h"

#include <gtest/gtest.h>

#include <string_view>

namespace kagami {
namespace {

uint64_t Hash(std::string_view s) { return Fnv1a64(kFnv1a64Offset, s.data(), s.size()); }

TEST(Fnv1a64Test, MatchesThePublishedVectors) {
  EXPECT_EQ(Hash(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(Hash("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(Hash("foobar"), 0x85944171f73967e8ull);
}

TEST(Fnv1a64Test, ContinuesAcrossPieces) {
  const uint64_t foo = Hash("foo");
  EXPECT_EQ(Fnv1a64(foo, "bar", 3), Hash("foobar"));
}

}  // namespace
}  // namespace kagami
