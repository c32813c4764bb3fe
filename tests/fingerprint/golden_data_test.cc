// Real images (tests/data/golden, see its README.md) against PDQ hashes
// computed by an independent implementation: exact-mode decoding and hashing
// must reproduce them bit for bit.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "kagami/fingerprint/pdq_hasher.h"
#include "kagami/ingest/image_decoder.h"
#include "kagami/ingest/page_source.h"

namespace kagami::fingerprint {
namespace {

const std::filesystem::path kGolden = std::filesystem::path(KAGAMI_TEST_DATA_DIR) / "golden";

struct Row {
  std::string hash_hex;
  int quality = 0;
  std::string file;
};

std::vector<Row> Expected() {
  std::vector<Row> rows;
  std::ifstream in(kGolden / "expected.csv");
  std::string line;
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    Row row;
    std::string quality;
    if (std::getline(ss, row.hash_hex, ',') && std::getline(ss, quality, ',') &&
        std::getline(ss, row.file)) {
      row.quality = std::stoi(quality);
      rows.push_back(row);
    }
  }
  return rows;
}

Hash256 Parse(const std::string& hex) {
  auto parsed = Hash256::FromHex(hex);
  EXPECT_TRUE(parsed.ok()) << hex;
  return parsed.ok() ? *parsed : Hash256{};
}

TEST(GoldenDataTest, RealImagesHashExactlyAsTheIndependentReference) {
  const std::vector<Row> rows = Expected();
  ASSERT_EQ(rows.size(), 3u);
  PdqHasher hasher;
  for (const Row& row : rows) {
    SCOPED_TRACE(row.file);
    std::ifstream in(kGolden / row.file, std::ios::binary);
    std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)),
                                     std::istreambuf_iterator<char>());
    ASSERT_FALSE(bytes.empty());
    ingest::DecodeOptions exact;
    exact.mode = ingest::DecodeMode::kExact;
    auto decoded = ingest::DecodeImage(bytes.data(), bytes.size(), exact, ingest::IngestLimits{});
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    PdqHash got = hasher.Hash(decoded->pixels);
    EXPECT_EQ(HammingDistance(got.hash, Parse(row.hash_hex)), 0)
        << got.hash.ToHex() << " vs " << row.hash_hex;
    EXPECT_EQ(got.quality, row.quality);
  }
}

TEST(GoldenDataTest, RenderedPdfPageIsWithinTenBitsOfPdftoppmsRendering) {
  const std::vector<Row> rows = Expected();
  std::optional<Row> png;
  for (const Row& row : rows) {
    if (row.file == "manual-libtasn1-p1-100dpi.png") png = row;
  }
  ASSERT_TRUE(png.has_value());
  ingest::AssetFile asset;
  asset.path = kGolden / "manual-libtasn1-p1.pdf";
  ingest::IngestLimits limits;
  limits.pdf_render_dpi = 100;
  auto source = ingest::OpenAsset(asset, limits);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  std::optional<ingest::EncodedPage> page = (*source)->Next();
  ASSERT_TRUE(page.has_value());
  ASSERT_TRUE(page->status.ok()) << page->status.ToString();
  PdqHash got = PdqHasher().Hash(page->rendered);
  const int bits = HammingDistance(got.hash, Parse(png->hash_hex));
  std::printf("  [golden] PDF page rendered by Kagami vs pdftoppm: %d bits\n", bits);
  EXPECT_LE(bits, 10);
}

}  // namespace
}  // namespace kagami::fingerprint
