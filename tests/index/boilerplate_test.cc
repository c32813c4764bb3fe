// Positional stop words (index/include/kagami/index/boilerplate.h): which
// keypoints of a registered page are layout shared with its siblings.
#include "kagami/index/boilerplate.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>

#include "kagami/fingerprint/local_features.h"
#include "kagami/fingerprint/quantised_features.h"
#include "kagami/fingerprint/visual_vocabulary.h"
#include "kagami/index/inverted_file.h"
#include "kagami/index/robust_matcher.h"

namespace kagami::index {
namespace {

namespace fs = std::filesystem;
using fingerprint::QuantisedFeatures;

uint32_t Vocabulary() { return fingerprint::VisualVocabulary::BuiltIn().id(); }

// A page of `n` keypoints with random words, signatures and places.
QuantisedFeatures RandomPage(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  QuantisedFeatures f;
  f.vocabulary_id = Vocabulary();
  f.page_width = 0.75f;
  f.page_height = 1.0f;
  for (int i = 0; i < n; ++i) {
    f.words.push_back(static_cast<uint16_t>(rng()));
    f.signatures.push_back(rng() & 0xFFFFFFu);
    f.points.emplace_back(std::uniform_real_distribution<float>(0, 0.75f)(rng),
                          std::uniform_real_distribution<float>(0, 1.0f)(rng));
  }
  return f;
}

// `page` with its first `shared` keypoints copied into `other` (moved by
// `offset`, signatures flipped in `flip_bits` bits), after other's own.
QuantisedFeatures WithSharedLayout(const QuantisedFeatures& page, QuantisedFeatures other,
                                   int shared, cv::Point2f offset = {0, 0}, int flip_bits = 0) {
  for (int i = 0; i < shared; ++i) {
    other.words.push_back(page.words[i]);
    other.signatures.push_back(page.signatures[i] ^ ((1u << flip_bits) - 1));
    other.points.push_back(page.points[i] + offset);
  }
  return other;
}

BoilerplateMask Mark(const QuantisedFeatures& page, std::vector<const QuantisedFeatures*> s) {
  return MarkBoilerplate(page, s);
}

TEST(BoilerplateTest, APageWithoutSiblingsHasNone) {
  const QuantisedFeatures page = RandomPage(300, 1);
  const BoilerplateMask mask = Mark(page, {});
  EXPECT_EQ(mask.count, 0);
  EXPECT_EQ(mask.marked.size(), 300u);
  EXPECT_EQ(WithoutBoilerplate(page, mask).size(), 300);
}

TEST(BoilerplateTest, KeypointsRecurringAtTheSamePlaceOnASiblingAreMarked) {
  const QuantisedFeatures page = RandomPage(300, 1);
  // The sibling repeats the page's first 60 keypoints (its header), 3 px off
  // at 800 px and 2 signature bits apart, among 240 of its own.
  const QuantisedFeatures sibling =
      WithSharedLayout(page, RandomPage(240, 2), 60, {0.003f, -0.002f}, 2);
  const BoilerplateMask mask = Mark(page, {&sibling});
  EXPECT_EQ(mask.siblings_compared, 1);
  EXPECT_EQ(mask.duplicates, 0);
  int header = 0;
  for (int i = 0; i < 60; ++i) header += mask.marked[i];
  EXPECT_EQ(header, 60);
  // Chance twins among the random rest: same coarse word (1 in 256), within
  // 1% and 6 bits of 24: essentially none.
  EXPECT_LE(mask.count - header, 2);
  const QuantisedFeatures rest = WithoutBoilerplate(page, mask);
  EXPECT_EQ(rest.size(), 300 - mask.count);
  EXPECT_EQ(rest.page_width, page.page_width);
  // The kept keypoints keep their order.
  EXPECT_EQ(rest.words.back(), page.words.back());
}

TEST(BoilerplateTest, TheSameKeypointElsewhereOnTheSiblingIsNotBoilerplate) {
  const QuantisedFeatures page = RandomPage(300, 1);
  // 3% of the long side away: another line, another column.
  const QuantisedFeatures sibling = WithSharedLayout(page, RandomPage(240, 2), 60, {0.0f, 0.03f});
  EXPECT_LE(Mark(page, {&sibling}).count, 2);
}

TEST(BoilerplateTest, ADifferentDescriptorAtTheSamePlaceIsNotBoilerplate) {
  const QuantisedFeatures page = RandomPage(300, 1);
  // 10 signature bits apart: another glyph where the page has one.
  const QuantisedFeatures sibling = WithSharedLayout(page, RandomPage(240, 2), 60, {0, 0}, 10);
  EXPECT_LE(Mark(page, {&sibling}).count, 2);
}

TEST(BoilerplateTest, AmongSeveralSiblingsLayoutRecursOnTwo) {
  // Keypoints 0-59 recur on all three siblings (the running header); 60-89
  // on one only (a chance twin of content): not layout.
  const QuantisedFeatures page = RandomPage(300, 1);
  QuantisedFeatures content_twin = page;
  content_twin.words.erase(content_twin.words.begin(), content_twin.words.begin() + 60);
  content_twin.signatures.erase(content_twin.signatures.begin(),
                                content_twin.signatures.begin() + 60);
  content_twin.points.erase(content_twin.points.begin(), content_twin.points.begin() + 60);
  const QuantisedFeatures a = WithSharedLayout(page, RandomPage(200, 2), 60);
  const QuantisedFeatures b = WithSharedLayout(page, RandomPage(200, 3), 60);
  const QuantisedFeatures c =
      WithSharedLayout(content_twin, WithSharedLayout(page, RandomPage(200, 4), 60), 30);
  const BoilerplateMask mask = Mark(page, {&a, &b, &c});
  EXPECT_EQ(mask.siblings_compared, 3);
  EXPECT_EQ(mask.duplicates, 0);
  for (int i = 0; i < 60; ++i) EXPECT_TRUE(mask.marked[i]) << i;
  for (int i = 60; i < 90; ++i) EXPECT_FALSE(mask.marked[i]) << i;
  // One sibling twinning them is enough when it is the only one.
  const BoilerplateMask alone = Mark(page, {&c});
  for (int i = 0; i < 90; ++i) EXPECT_TRUE(alone.marked[i]) << i;
}

TEST(BoilerplateTest, AMatchHoldsWithoutBoilerplateOnASaneConsensusOfEnoughInliers) {
  fingerprint::VerifyOptions verify;
  verify.min_inliers = 13;
  fingerprint::Verification v;
  v.sane = true;
  v.inliers = 13;
  v.coverage = 0.01;  // below min_coverage: measured on the whole match
  EXPECT_TRUE(HoldsWithoutBoilerplate(v, verify));
  v.inliers = 12;
  EXPECT_FALSE(HoldsWithoutBoilerplate(v, verify));
  v.inliers = 40;
  v.sane = false;
  EXPECT_FALSE(HoldsWithoutBoilerplate(v, verify));
}

TEST(BoilerplateTest, ADuplicateOfThePageMarksNothing) {
  // The same page registered twice, or a page that differs from another by
  // one speech bubble: what they share is content, not layout.
  const QuantisedFeatures page = RandomPage(300, 1);
  const QuantisedFeatures duplicate = WithSharedLayout(page, RandomPage(20, 3), 280);
  const QuantisedFeatures sibling = WithSharedLayout(page, RandomPage(240, 2), 50);
  const BoilerplateMask mask = Mark(page, {&duplicate, &sibling});
  EXPECT_EQ(mask.siblings_compared, 2);
  EXPECT_EQ(mask.duplicates, 1);
  EXPECT_GE(mask.count, 50);  // the layout shared with the other sibling
  EXPECT_LE(mask.count, 52);
}

TEST(BoilerplateTest, SiblingsOfAnotherPageSizeAreNotCompared) {
  const QuantisedFeatures page = RandomPage(300, 1);
  QuantisedFeatures landscape = WithSharedLayout(page, RandomPage(240, 2), 60);
  landscape.page_width = 1.0f;
  landscape.page_height = 0.7f;
  const BoilerplateMask mask = Mark(page, {&landscape});
  EXPECT_EQ(mask.siblings_compared, 0);
  EXPECT_EQ(mask.count, 0);
}

TEST(BoilerplateTest, DisabledMarksNothing) {
  const QuantisedFeatures page = RandomPage(300, 1);
  const QuantisedFeatures sibling = WithSharedLayout(page, RandomPage(240, 2), 60);
  BoilerplateOptions off;
  off.enabled = false;
  const std::vector<const QuantisedFeatures*> siblings = {&sibling};
  EXPECT_EQ(MarkBoilerplate(page, siblings, off).count, 0);
}

TEST(BoilerplateTest, NeighbourUnitsFollowRegistrationOrder) {
  InvertedFile index(Vocabulary());
  for (int64_t unit : {10, 11, 30, 31, 32}) index.Add(unit, RandomPage(50, unit));
  EXPECT_EQ(index.NeighbourUnits(30, 2), (std::vector<int64_t>{11, 31, 10, 32}));
  EXPECT_EQ(index.NeighbourUnits(10, 1), (std::vector<int64_t>{11}));
  EXPECT_TRUE(index.NeighbourUnits(99, 2).empty());
  EXPECT_TRUE(index.NeighbourUnits(30, 0).empty());
}

// Real pages: gnuplot.pdf's contents pages 10 and 12 (80 dpi), quantised as
// registration stores them.
// The running header and its rule: y 0.07-0.09 of the long side.
constexpr float kHeaderBand = 0.1f;

QuantisedFeatures RegisteredPage(const std::string& number) {
  const cv::Mat gray = cv::imread(
      (fs::path(KAGAMI_TEST_DATA_DIR) / "real" / ("gnuplot-contents-" + number + ".png")).string(),
      cv::IMREAD_GRAYSCALE);
  EXPECT_FALSE(gray.empty()) << number;
  fingerprint::LocalFeatureOptions o = RobustOptions::RegisteredFeatureOptions();
  o.max_keypoints = fingerprint::kMaxQuantisedKeypoints;
  auto f = fingerprint::ExtractLocalFeatures(gray, false, o);
  EXPECT_TRUE(f.ok());
  return fingerprint::Quantise(*f, fingerprint::VisualVocabulary::BuiltIn());
}

TEST(BoilerplateTest, TheContentsPagesShareTheirRunningHeaderButNotTheirEntries) {
  const QuantisedFeatures p10 = RegisteredPage("010"), p12 = RegisteredPage("012");
  const BoilerplateMask mask = Mark(p12, {&p10});
  EXPECT_EQ(mask.duplicates, 0);
  // The running header ("gnuplot 5.4" and the rule under it) lies in the top
  // band of the page; most of its keypoints recur on page 10.
  int header = 0, header_marked = 0;
  for (int i = 0; i < p12.size(); ++i) {
    if (p12.points[i].y < kHeaderBand) {
      ++header;
      header_marked += mask.marked[i];
    }
  }
  ASSERT_GE(header, 10);
  EXPECT_GE(header_marked * 2, header) << header_marked << " of " << header;
  // The entries are another page's: most of the page stays.
  EXPECT_LE(mask.count * 2, p12.size()) << mask.count << " of " << p12.size();
}

}  // namespace
}  // namespace kagami::index
