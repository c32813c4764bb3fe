#include "kagami/fingerprint/hash256.h"

#include <gtest/gtest.h>

namespace kagami::fingerprint {
namespace {

// A row of the reference vectors (expected.csv, b_blur_700x500.png).
constexpr char kKnownHex[] = "0e4c6bec20b39c466b1b36c811ee8936e9b3fa4fb56441b6eee3677c708aa488";

TEST(Hash256Test, KnownReferenceHashRoundTrips) {
  auto parsed = Hash256::FromHex(kKnownHex);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->ToHex(), kKnownHex);
}

TEST(Hash256Test, FromHexAcceptsUpperCaseAndPrintsLowerCase) {
  std::string upper = kKnownHex;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto parsed = Hash256::FromHex(upper);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->ToHex(), kKnownHex);
}

TEST(Hash256Test, HexPrintsWordFifteenFirst) {
  // Word w holds bits 16w..16w+15; the reference prints words 15..0.
  Hash256 h;
  h.SetBit(0);
  EXPECT_EQ(h.ToHex(), std::string(63, '0') + "1");
  EXPECT_EQ(h.bytes[0], 1);

  Hash256 top;
  top.SetBit(255);
  EXPECT_EQ(top.ToHex(), "8" + std::string(63, '0'));
  EXPECT_EQ(top.bytes[31], 0x80);

  Hash256 w1;
  w1.SetBit(16 + 9);  // word 1, bit 9 -> 0x0200 in the 15th group of four digits
  EXPECT_EQ(w1.ToHex(), std::string(56, '0') + "0200" + "0000");
  EXPECT_EQ(w1.bytes[3], 0x02);
}

TEST(Hash256Test, FirstWordOfKnownHashLandsInLastBytes) {
  auto parsed = Hash256::FromHex(kKnownHex);
  ASSERT_TRUE(parsed.ok());
  // "0e4c" is word 15: low byte 0x4c, high byte 0x0e.
  EXPECT_EQ(parsed->bytes[30], 0x4c);
  EXPECT_EQ(parsed->bytes[31], 0x0e);
  // "a488" is word 0.
  EXPECT_EQ(parsed->bytes[0], 0x88);
  EXPECT_EQ(parsed->bytes[1], 0xa4);
}

TEST(Hash256Test, FromHexRejectsWrongLength) {
  EXPECT_FALSE(Hash256::FromHex("").ok());
  EXPECT_FALSE(Hash256::FromHex(std::string(kKnownHex).substr(0, 63)).ok());
  EXPECT_FALSE(Hash256::FromHex(std::string(kKnownHex) + "0").ok());
  EXPECT_EQ(Hash256::FromHex("abc").status().code(), StatusCode::kInvalidArgument);
}

TEST(Hash256Test, FromHexRejectsNonHexCharacters) {
  for (const char bad : {'g', 'x', ' ', '-', '\0', 'G'}) {
    std::string s = kKnownHex;
    s[17] = bad;
    auto parsed = Hash256::FromHex(s);
    EXPECT_FALSE(parsed.ok()) << "accepted character code " << static_cast<int>(bad);
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
  }
}

TEST(Hash256Test, HammingDistanceCountsDifferingBits) {
  Hash256 zero;
  Hash256 ones;
  ones.bytes.fill(0xFF);
  EXPECT_EQ(HammingDistance(zero, zero), 0);
  EXPECT_EQ(HammingDistance(zero, ones), 256);
  Hash256 some;
  some.SetBit(3);
  some.SetBit(64);
  some.SetBit(200);
  EXPECT_EQ(HammingDistance(zero, some), 3);
  EXPECT_EQ(HammingDistance(some, zero), 3);
  EXPECT_EQ(HammingDistance(ones, some), 253);
}

TEST(Hash256Test, GetBitMatchesSetBit) {
  Hash256 h;
  h.SetBit(77);
  for (int b = 0; b < 256; ++b) EXPECT_EQ(h.GetBit(b), b == 77) << b;
}

}  // namespace
}  // namespace kagami::fingerprint
