// A reported PDQ distance is to a registered hash the index holds: a unit's
// page hash below Store::kMinIndexQuality is not indexed, so a hit found
// through the unit's trimmed view's hash reports the bits to that hash and its
// quality, never the nearer bits to the unindexed page hash (which the
// evidence could not stand on: its quality is below the accepted minimum).
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "kagami/index/robust_matcher.h"
#include "kagami/index/store.h"
#include "scan_fixture.h"
#include "temp_dir.h"

namespace kagami::index {
namespace {

namespace fs = std::filesystem;

// Flips the first `bits` bits of `hash`.
fingerprint::Hash256 Flipped(fingerprint::Hash256 hash, int bits) {
  for (int i = 0; i < bits; ++i) hash.bytes[i / 8] ^= static_cast<uint8_t>(1u << (i % 8));
  return hash;
}

TEST(RegisteredHashQualityTest, DistanceAndQualityAreOfTheIndexedHashThatMatched) {
  const fs::path image = fs::path(KAGAMI_TEST_DATA_DIR) / "real" / "manual-050.jpg";
  ASSERT_TRUE(fs::exists(image)) << image;
  ::kagami::testing::TempDir temp;
  fs::create_directories(temp / "query");
  fs::copy_file(image, temp / "query" / "page.jpg");

  // The page's hash as registration computes it (the scan's full view is the
  // same decode of the same file).
  auto scratch = ::kagami::testing::OpenAndRegister(temp / "scratch", temp / "query",
                                                    Work{"w", "W", "", WorkKind::kOther, {}}, 1);
  ASSERT_NE(scratch, nullptr);
  auto registered = scratch->catalog().GetUnitRef(scratch->catalog().MaxUnitId());
  ASSERT_TRUE(registered.ok()) << registered.status().ToString();
  const fingerprint::Hash256 page_hash = registered->pdq;
  scratch.reset();

  // A unit whose page hash is that hash at quality 30 (not indexed) and whose
  // trimmed view's hash is 20 bits from it at quality 90 (indexed).
  auto store = Store::Open(temp / "data");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_TRUE((*store)->catalog().UpsertWork(Work{"w", "W", "", WorkKind::kOther, {}}).ok());
  AssetRecord asset;
  asset.work_id = "w";
  asset.path = "/library/w/page.jpg";
  asset.sha256_hex = std::string(64, 'a');
  asset.size_bytes = 1;
  asset.media_type = "image/jpeg";
  UnitRecord unit;
  unit.member = "page.jpg";
  unit.pdq = page_hash;
  unit.quality = 30;
  unit.pdq_trimmed = Flipped(page_hash, 20);
  unit.trimmed_quality = 90;
  ASSERT_TRUE((*store)->AddAsset(asset, {unit}).ok());

  RobustOptions robust;
  robust.local = LocalStage::kNever;
  robust.normalized_views = false;  // the full view only
  robust.blurred_views = false;
  const auto by_member = ::kagami::testing::MatchesByMember(**store, temp / "query", robust);
  ASSERT_EQ(by_member.size(), 1u);
  const auto& matches = by_member.begin()->second;
  ASSERT_EQ(matches.size(), 1u);
  const pipeline::PageMatchRecord& m = matches.front();
  EXPECT_EQ(m.method, "pdq");
  EXPECT_EQ(m.view, "full");
  EXPECT_EQ(m.hit.distance, 20);  // not 0: the page hash at quality 30 is not indexed
  EXPECT_EQ(m.ref_quality, 90);
}

}  // namespace
}  // namespace kagami::index
