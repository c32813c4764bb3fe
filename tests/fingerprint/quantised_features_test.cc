#include "kagami/fingerprint/quantised_features.h"

#include <gtest/gtest.h>

#include <algorithm>
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

TEST(VisualVocabularyTest, WordsAndTopWordsAtOnceEqualTheSeparateCalls) {
  const VisualVocabulary& v = VisualVocabulary::BuiltIn();
  std::mt19937_64 rng(5);
  std::vector<Hash256> descriptors(300);
  for (Hash256& h : descriptors)
    for (auto& b : h.bytes) b = static_cast<uint8_t>(rng());
  // Real ORB descriptors too: many tie at the top level.
  const LocalFeatures f = Extract(Gray(synth::GenerateMangaPage(8, 600, 850)), false, Registered());
  for (int i = 0; i < f.size(); ++i) {
    Hash256 h;
    std::copy_n(f.descriptors.ptr<uint8_t>(i), 32, h.bytes.begin());
    descriptors.push_back(h);
  }
  for (const Hash256& d : descriptors) {
    for (int n_words : {1, 3}) {
      for (int n_top : {1, 4}) {
        uint32_t words[8], top[8], words_at_once[8], top_at_once[8];
        const int nw = v.Words(d, n_words, words);
        const int nt = v.TopWords(d, n_top, top);
        v.WordsAndTopWords(d, n_words, words_at_once, n_top, top_at_once);
        EXPECT_TRUE(std::equal(words, words + nw, words_at_once));
        EXPECT_TRUE(std::equal(top, top + nt, top_at_once));
      }
    }
  }
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

// MatchQuantised's bucketed path (portable and POPCNT) gives exactly the
// reference's correspondences, in the same order, on real page features and
// on random ones dense enough for ties and shared keypoints.
void ExpectSameCorrespondences(const QuantisedQuery& query, const QuantisedFeatures& ref,
                               const QuantisedMatchOptions& options) {
  std::vector<cv::Point2f> want_q, want_r;
  MatchQuantisedReference(query, ref, options, &want_q, &want_r);
  for (SimdLevel level : SupportedSimdLevels()) {
    std::vector<cv::Point2f> got_q, got_r;
    MatchQuantised(query, ref, options, level, &got_q, &got_r);
    ASSERT_EQ(got_q.size(), want_q.size()) << SimdLevelName(level);
    for (size_t i = 0; i < want_q.size(); ++i) {
      EXPECT_EQ(got_q[i], want_q[i]) << SimdLevelName(level) << " correspondence " << i;
      EXPECT_EQ(got_r[i], want_r[i]) << SimdLevelName(level) << " correspondence " << i;
    }
  }
}

TEST(QuantisedMatchTest, BucketedMatchingAgreesWithTheReferenceOnPageFeatures) {
  const VisualVocabulary& v = VisualVocabulary::BuiltIn();
  const cv::Mat page = Gray(synth::GenerateMangaPage(44));
  const QuantisedFeatures ref = Quantise(Extract(page, false, Registered()), v);
  const cv::Rect crop(page.cols / 8, page.rows / 10, page.cols * 3 / 4, page.rows * 4 / 5);
  const QuantisedQuery copy = QuantiseQuery(Extract(page(crop).clone()), v);
  const QuantisedQuery other = QuantiseQuery(Extract(Gray(synth::GenerateMangaPage(45))), v);
  std::vector<cv::Point2f> qp, rp;
  MatchQuantisedReference(copy, ref, {}, &qp, &rp);
  ASSERT_GT(qp.size(), 50u);  // a real comparison, not two empty sets
  for (const QuantisedQuery* q : {&copy, &other}) {
    for (int max_d : {0, 3, 6, 10}) {
      for (bool drop_ties : {false, true}) {
        QuantisedMatchOptions o;
        o.max_signature_distance = max_d;
        o.drop_ties = drop_ties;
        ExpectSameCorrespondences(*q, ref, o);
      }
    }
  }
}

TEST(QuantisedMatchTest, BucketedMatchingAgreesWithTheReferenceOnDenseRandomWords) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 20; ++trial) {
    QuantisedFeatures ref;
    const int n = 1 + static_cast<int>(rng() % kMaxQuantisedKeypoints);
    for (int i = 0; i < n; ++i) {
      // Few top-level words (word / 256 in 0..3) and 6 signature bits: many
      // candidates per query keypoint, equal distances, repeated keypoints.
      ref.words.push_back(static_cast<uint16_t>((rng() % 4) * 256 + rng() % 256));
      ref.signatures.push_back(rng() & 0x3Fu);
      ref.points.emplace_back(static_cast<float>(rng() % 100) / 100.0f,
                              static_cast<float>(rng() % 100) / 100.0f);
    }
    QuantisedQuery query;
    query.top_assignment = 1 + trial % 3;
    const int m = 1 + static_cast<int>(rng() % 600);
    for (int i = 0; i < m; ++i) {
      for (int a = 0; a < query.top_assignment; ++a) {
        // Mostly valid words, some padding (UINT32_MAX) and words no page has.
        const uint32_t r = rng() % 10;
        query.top_words.push_back(r == 0 ? UINT32_MAX : r == 1 ? 200 : rng() % 4);
      }
      query.signatures.push_back(rng() & 0x3Fu);
      query.points.emplace_back(static_cast<float>(i), 0.5f);
    }
    QuantisedMatchOptions o;
    o.max_signature_distance = static_cast<int>(rng() % 7);
    o.drop_ties = trial % 2 == 1;
    ExpectSameCorrespondences(query, ref, o);
  }
}

}  // namespace
}  // namespace kagami::fingerprint
