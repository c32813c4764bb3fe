// Interoperability with the reference PDQ implementation (Meta ThreatExchange
// pdq/cpp) on the vectors in KAGAMI_PDQ_VECTORS_DIR (see its README.md).

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "kagami/fingerprint/pdq_hasher.h"

namespace kagami::fingerprint {
namespace {

const std::filesystem::path kVectorsDir = KAGAMI_PDQ_VECTORS_DIR;
// pdq_hasher.h promises bit-exact hashes and the reference's quality on every
// vector and every dihedral variant, at every SIMD level.

std::vector<std::vector<std::string>> ReadCsv(const std::filesystem::path& path) {
  std::vector<std::vector<std::string>> rows;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::vector<std::string> fields;
    std::stringstream ss(line);
    std::string field;
    while (std::getline(ss, field, ',')) fields.push_back(field);
    rows.push_back(fields);
  }
  return rows;
}

// Full-size decode as the reference tool does: 8-bit R,G,B, or 1 channel for
// gray sources (the reference then takes the gray value as luminance).
cv::Mat LoadAsReference(const std::filesystem::path& path) {
  cv::Mat img = cv::imread(path.string(), cv::IMREAD_UNCHANGED);
  if (img.empty()) return img;
  if (img.depth() != CV_8U) img.convertTo(img, CV_8U, 1.0 / 257.0);
  cv::Mat rgb;
  switch (img.channels()) {
    case 1:
      return img;
    case 3:
      cv::cvtColor(img, rgb, cv::COLOR_BGR2RGB);
      return rgb;
    case 4:
      cv::cvtColor(img, rgb, cv::COLOR_BGRA2RGBA);
      return rgb;
    default:
      return cv::Mat();
  }
}

Hash256 ParseHex(const std::string& hex) {
  auto parsed = Hash256::FromHex(hex);
  EXPECT_TRUE(parsed.ok()) << hex;
  return parsed.ok() ? *parsed : Hash256{};
}

class PdqVectorsTest : public ::testing::TestWithParam<SimdLevel> {};

TEST_P(PdqVectorsTest, HashesMatchReference) {
  const auto rows = ReadCsv(kVectorsDir / "expected.csv");
  ASSERT_FALSE(rows.empty()) << "no vectors in " << kVectorsDir;
  PdqHasher hasher(GetParam());
  int total_bits = 0;
  for (const auto& row : rows) {
    ASSERT_EQ(row.size(), 3u);
    const std::string& name = row[2];
    SCOPED_TRACE(name);
    const cv::Mat img = LoadAsReference(kVectorsDir / "images" / name);
    ASSERT_FALSE(img.empty());
    const PdqHash got = hasher.Hash(img);
    const int bits = HammingDistance(got.hash, ParseHex(row[0]));
    const int expected_quality = std::atoi(row[1].c_str());
    std::printf("  [pdq-vectors %s] %-28s %4dx%-4d ch=%d  distance=%d bits  quality=%d (ref %d)\n",
                std::string(SimdLevelName(GetParam())).c_str(), name.c_str(), img.cols, img.rows,
                img.channels(), bits, got.quality, expected_quality);
    EXPECT_EQ(bits, 0) << got.hash.ToHex() << " vs " << row[0];
    EXPECT_EQ(got.quality, expected_quality);
    total_bits += bits;
  }
  EXPECT_EQ(total_bits, 0);
  std::printf("  [pdq-vectors %s] %zu images, %d differing bits in total\n",
              std::string(SimdLevelName(GetParam())).c_str(), rows.size(), total_bits);
}

TEST_P(PdqVectorsTest, DihedralHashesMatchReference) {
  const auto rows = ReadCsv(kVectorsDir / "expected-dihedral.csv");
  ASSERT_FALSE(rows.empty()) << "no vectors in " << kVectorsDir;
  PdqHasher hasher(GetParam());
  int total_bits = 0;
  for (const auto& row : rows) {
    ASSERT_EQ(row.size(), 10u);
    const std::string& name = row[9];
    SCOPED_TRACE(name);
    const cv::Mat img = LoadAsReference(kVectorsDir / "images" / name);
    ASSERT_FALSE(img.empty());
    const PdqDihedralHashes got = hasher.HashDihedral(img);
    std::string distances;
    for (int d = 0; d < 8; ++d) {
      const int bits = HammingDistance(got.hashes[d], ParseHex(row[d]));
      EXPECT_EQ(bits, 0) << "variant " << d << ": " << got.hashes[d].ToHex() << " vs " << row[d];
      distances += " " + std::to_string(bits);
      total_bits += bits;
    }
    const int expected_quality = std::atoi(row[8].c_str());
    std::printf("  [pdq-dihedral %s] %-28s distances:%s  quality=%d (ref %d)\n",
                std::string(SimdLevelName(GetParam())).c_str(), name.c_str(), distances.c_str(),
                got.quality, expected_quality);
    EXPECT_EQ(got.quality, expected_quality);
  }
  EXPECT_EQ(total_bits, 0);
  std::printf("  [pdq-dihedral %s] %zu images x 8 variants, %d differing bits in total\n",
              std::string(SimdLevelName(GetParam())).c_str(), rows.size(), total_bits);
}

INSTANTIATE_TEST_SUITE_P(AllLevels, PdqVectorsTest, ::testing::ValuesIn(SupportedSimdLevels()),
                         [](const ::testing::TestParamInfo<SimdLevel>& info) {
                           return std::string(SimdLevelName(info.param));
                         });

}  // namespace
}  // namespace kagami::fingerprint
