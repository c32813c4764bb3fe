#include "kagami/base/sha256.h"

#include <gtest/gtest.h>

#include <string>

#include "kagami/base/hex.h"
#include "temp_dir.h"

namespace kagami {
namespace {

using ::kagami::testing::TempDir;
using ::kagami::testing::WriteFile;

// Digests from FIPS 180-4's examples and Python's hashlib.
constexpr char kAbc[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr char kEmpty[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

TEST(HexLowerTest, TwoLowercaseDigitsPerByte) {
  const unsigned char bytes[] = {0x00, 0x0f, 0xa5, 0xff};
  EXPECT_EQ(HexLower(bytes, sizeof bytes), "000fa5ff");
  EXPECT_EQ(HexLower(std::string_view("\x01\xab", 2)), "01ab");
  EXPECT_EQ(HexLower(std::string_view()), "");
}

TEST(Sha256Test, MatchesKnownDigests) {
  EXPECT_EQ(Sha256Hex("abc"), kAbc);
  EXPECT_EQ(Sha256Hex(std::string_view()), kEmpty);
  EXPECT_EQ(Sha256Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Test, PartsAndUpdatesHashTheirConcatenation) {
  EXPECT_EQ(Sha256Hex({"a", "", "bc"}), kAbc);
  Sha256 h;
  h.Update("ab");
  h.Update(std::string_view());
  h.Update("c", 1);
  EXPECT_EQ(h.FinalHex(), kAbc);
  Sha256 raw;
  raw.Update("abc");
  const auto digest = raw.Final();
  EXPECT_EQ(HexLower(digest.data(), digest.size()), kAbc);
}

TEST(Sha256Test, FilesAreStreamedWhateverTheirSize) {
  TempDir dir;
  WriteFile(dir / "abc", std::string("abc"));
  WriteFile(dir / "empty", std::string());
  // 3 MiB + 5 of 'a': spans several 1 MiB reads.
  WriteFile(dir / "big", std::string((3u << 20) + 5, 'a'));
  Result<std::string> abc = Sha256HexFile(dir / "abc");
  ASSERT_TRUE(abc.ok()) << abc.status().ToString();
  EXPECT_EQ(*abc, kAbc);
  EXPECT_EQ(Sha256HexFile(dir / "empty").value(), kEmpty);
  EXPECT_EQ(Sha256HexFile(dir / "big").value(),
            "aff2c7498aae939dfb2fb1dc6c0c83fa3708b069428e51338801af7f5dc2bf0f");
  EXPECT_EQ(Sha256HexFile(dir / "nope").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace kagami
