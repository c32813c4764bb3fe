#include "kagami/fingerprint/quantised_features.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

#include "kagami/fingerprint/visual_vocabulary.h"
#include "kagami/synth/page_generator.h"

#include "page_fixtures.h"

namespace kagami::fingerprint {
namespace {

using ::kagami::testing::Extract;
using ::kagami::testing::Gray;

LocalFeatureOptions Registered() {
  LocalFeatureOptions o;
  o.max_keypoints = 1000;
  return o;
}

TEST(VisualVocabularyTest, BuiltInVocabularyIsLinkedAndRoundTrips) {
  const VisualVocabulary& v = VisualVocabulary::BuiltIn();
  ASSERT_EQ(v.words(), 65536);
  Result<VisualVocabulary> copy = VisualVocabulary::Deserialize(v.Serialize());
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  EXPECT_EQ(copy->id(), v.id());
  std::vector<uint8_t> damaged = v.Serialize();
  damaged.pop_back();
  EXPECT_EQ(VisualVocabulary::Deserialize(damaged).status().code(), StatusCode::kCorrupt);
}

TEST(VisualVocabularyTest, TrainingIsDeterministicAndAssignsNearestLeaves) {
  std::mt19937_64 rng(3);
  std::vector<Hash256> data(2000);
  for (Hash256& h : data)
    for (auto& b : h.bytes) b = static_cast<uint8_t>(rng());
  Result<VisualVocabulary> a = VisualVocabulary::Train(data, 8, 4, 3, 11);
  Result<VisualVocabulary> b = VisualVocabulary::Train(data, 8, 4, 3, 11);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->id(), b->id());
  EXPECT_EQ(a->words(), 32);
  for (int i = 0; i < 50; ++i) {
    uint32_t words[3];
    ASSERT_EQ(a->Words(data[i], 3, words), 3);
    EXPECT_EQ(words[0], a->Word(data[i]));
    EXPECT_EQ(std::set<uint32_t>(words, words + 3).size(), 3u);
    EXPECT_LT(words[2], 32u);
    EXPECT_EQ(words[0] / 4, words[2] / 4);  // multiple assignment stays under one top word
  }
  EXPECT_EQ(VisualVocabulary::Train(std::span(data).first(10), 8, 4, 3, 1).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(QuantisedFeaturesTest, ARegisteredPageFitsInFourKilobytesAndRoundTrips) {
  const LocalFeatures f = Extract(Gray(synth::GenerateMangaPage(41)), false, Registered());
  ASSERT_GT(f.size(), kMaxQuantisedKeypoints);
  const QuantisedFeatures q = Quantise(f, VisualVocabulary::BuiltIn());
  EXPECT_EQ(q.size(), kMaxQuantisedKeypoints);
  const std::vector<uint8_t> blob = q.Serialize();
  EXPECT_LE(blob.size(), kMaxQuantisedBytes);
  Result<QuantisedFeatures> back = QuantisedFeatures::Deserialize(blob);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->words, q.words);
  EXPECT_EQ(back->signatures, q.signatures);
  for (int i = 0; i < q.size(); ++i) {
    EXPECT_NEAR(back->points[i].x, q.points[i].x, 1e-5);
    EXPECT_NEAR(back->points[i].y, q.points[i].y, 1e-5);
  }
  // Spread over the page: every 8x8 cell with keypoints in the source keeps some.
  std::set<int> cells_before, cells_after;
  for (const cv::Point2f& p : f.points)
    cells_before.insert(int(p.x / f.page_width * 7.999) * 8 + int(p.y / f.page_height * 7.999));
  for (const cv::Point2f& p : q.points)
    cells_after.insert(int(p.x / q.page_width * 7.999) * 8 + int(p.y / q.page_height * 7.999));
  EXPECT_EQ(cells_after, cells_before);

  std::vector<uint8_t> bad = blob;
  bad.resize(bad.size() - 3);
  EXPECT_EQ(QuantisedFeatures::Deserialize(bad).status().code(), StatusCode::kCorrupt);
  EXPECT_FALSE(QuantisedFeatures::IsQuantisedBlob(f.Serialize()));
}

TEST(QuantisedFeaturesTest, VerifiesACropFromQuantisedDataAndRejectsAnotherPage) {
  const VisualVocabulary& v = VisualVocabulary::BuiltIn();
  const cv::Mat page = Gray(synth::GenerateMangaPage(42));
  const QuantisedFeatures ref = Quantise(Extract(page, false, Registered()), v);
  const cv::Rect crop(page.cols / 10, page.rows / 10, page.cols * 8 / 10, page.rows * 8 / 10);
  const QuantisedQuery query = QuantiseQuery(Extract(page(crop).clone()), v);
  const Verification copy = VerifyQuantised(query, ref, {}, {.min_inliers = 13});
  EXPECT_TRUE(copy.accepted) << copy.rejected_by << " inliers " << copy.inliers;
  EXPECT_NEAR(copy.scale, 0.8, 0.05);

  const QuantisedQuery other = QuantiseQuery(Extract(Gray(synth::GenerateMangaPage(43))), v);
  const Verification unrelated = VerifyQuantised(other, ref, {}, {.min_inliers = 13});
  EXPECT_FALSE(unrelated.accepted) << unrelated.inliers;

  QuantisedQuery foreign = query;
  foreign.vocabulary_id ^= 1;  // another vocabulary's words mean nothing here
  EXPECT_EQ(VerifyQuantised(foreign, ref).inliers, 0);
}

}  // namespace
}  // namespace kagami::fingerprint
