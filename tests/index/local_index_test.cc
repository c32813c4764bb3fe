#include "kagami/index/local_index.h"

#include <gtest/gtest.h>
#include <memory>

#include <opencv2/imgproc.hpp>
#include <thread>

#include "kagami/fingerprint/page_normalizer.h"
#include "kagami/synth/page_generator.h"

#include "page_fixtures.h"

namespace kagami::index {
namespace {

using fingerprint::ExtractLocalFeatures;
using fingerprint::FeatureKind;
using fingerprint::LocalFeatures;

using ::kagami::testing::Extract;
using ::kagami::testing::Gray;

// Query features of an edited page: its trimmed view, as the scanner does.
LocalFeatures QueryFeatures(const cv::Mat& bgr, bool mirrored = false) {
  const cv::Mat gray = Gray(bgr);
  return Extract(gray(fingerprint::TrimUniformBorders(gray)), mirrored);
}

constexpr int kPages = 50;
constexpr int64_t kUnitBase = 1000;  // unit ids are not 0-based positions

class LocalIndexTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pages_ = std::make_unique<std::vector<cv::Mat>>();
    features_ = std::make_unique<std::vector<LocalFeatures>>();
    for (int i = 0; i < kPages; ++i) {
      pages_->push_back(synth::GenerateMangaPage(7000 + i, 900, 1275));
      features_->push_back(Extract(Gray(pages_->back())));
    }
  }
  static void TearDownTestSuite() {
    pages_.reset();
    features_.reset();
  }
  static void Fill(LocalIndex& index) {
    for (int i = 0; i < kPages; ++i) ASSERT_TRUE(index.Add(kUnitBase + i, (*features_)[i]).ok());
  }
  static inline std::unique_ptr<std::vector<cv::Mat>> pages_;
  static inline std::unique_ptr<std::vector<LocalFeatures>> features_;
};

TEST_F(LocalIndexTest, VotesTheRightPageFirstForEditedCopies) {
  LocalIndex index;
  Fill(index);
  EXPECT_EQ(index.descriptors(), [] {
    int64_t n = 0;
    for (const auto& f : *features_) n += f.size();
    return n;
  }());
  EXPECT_FALSE(index.uses_ivf());
  const synth::Edit edits[] = {synth::Edit::kCrop10,       synth::Edit::kPad16x9,
                               synth::Edit::kRotate5,      synth::Edit::kJpegQ30,
                               synth::Edit::kCreditsStrip, synth::Edit::kBalloonText,
                               synth::Edit::kCrop20};
  for (int i = 0; i < kPages; i += 10) {
    for (synth::Edit e : edits) {
      const std::vector<Candidate> c =
          index.Vote(QueryFeatures(synth::ApplyEdit((*pages_)[i], e, i)), 5);
      ASSERT_FALSE(c.empty());
      EXPECT_EQ(c[0].unit_id, kUnitBase + i) << synth::EditName(e) << " page " << i;
      EXPECT_LE(c.size(), 5u);
      for (size_t k = 1; k < c.size(); ++k) EXPECT_GE(c[k - 1].votes, c[k].votes);
    }
  }
}

TEST_F(LocalIndexTest, MirroredQueryFeaturesFindMirroredCopies) {
  LocalIndex index;
  Fill(index);
  for (int i = 3; i < kPages; i += 10) {
    const cv::Mat mirrored = synth::ApplyEdit((*pages_)[i], synth::Edit::kMirror, 0);
    const std::vector<Candidate> c = index.Vote(QueryFeatures(mirrored, /*mirrored=*/true), 3);
    ASSERT_FALSE(c.empty());
    EXPECT_EQ(c[0].unit_id, kUnitBase + i);
  }
}

TEST_F(LocalIndexTest, TrueCopyOutvotesAnyUnrelatedPage) {
  LocalIndex index;
  Fill(index);
  // Pages from other seeds draw some votes (same style) but far fewer than a copy.
  const std::vector<Candidate> copy =
      index.Vote(QueryFeatures(synth::ApplyEdit((*pages_)[7], synth::Edit::kCrop10, 1)), 1);
  ASSERT_EQ(copy.size(), 1u);
  for (uint64_t seed = 90000; seed < 90005; ++seed) {
    const std::vector<Candidate> c =
        index.Vote(QueryFeatures(synth::GenerateMangaPage(seed, 900, 1275)), 1);
    if (!c.empty()) {
      EXPECT_LT(c[0].votes * 2, copy[0].votes) << seed;
    }
  }
}

TEST_F(LocalIndexTest, IvfBackendStillRanksTheRightPageFirst) {
  LocalIndexOptions options;
  options.ivf_min_descriptors = 0;
  LocalIndex index(FeatureKind::kOrb, options);
  // 20 pages keep FAISS's k-means (and its software popcount) quick.
  constexpr int kIvfPages = 20;
  for (int i = 0; i < kIvfPages; ++i) ASSERT_TRUE(index.Add(kUnitBase + i, (*features_)[i]).ok());
  ASSERT_TRUE(index.Build().ok());
  EXPECT_TRUE(index.uses_ivf());
  int top1 = 0, total = 0;
  for (int i = 0; i < kIvfPages; i += 4) {
    const std::vector<Candidate> c =
        index.Vote(QueryFeatures(synth::ApplyEdit((*pages_)[i], synth::Edit::kCrop10, i)), 3);
    top1 += !c.empty() && c[0].unit_id == kUnitBase + i;
    ++total;
  }
  EXPECT_GE(top1, total - 1);
  // Adds after Build go to the IVF lists.
  const int64_t before = index.descriptors();
  ASSERT_TRUE(index.Add(99, (*features_)[0]).ok());
  EXPECT_EQ(index.descriptors(), before + (*features_)[0].size());
}

TEST_F(LocalIndexTest, ConcurrentVotesMatchSerialVotes) {
  LocalIndex index;
  Fill(index);
  std::vector<LocalFeatures> queries;
  for (int i = 0; i < 6; ++i)
    queries.push_back(QueryFeatures(synth::ApplyEdit((*pages_)[i], synth::Edit::kRotate2, i)));
  std::vector<std::vector<Candidate>> serial;
  for (const auto& q : queries) serial.push_back(index.Vote(q, 4));
  std::vector<std::vector<Candidate>> parallel(queries.size());
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      for (size_t q = t; q < queries.size(); q += 3) parallel[q] = index.Vote(queries[q], 4);
    });
  }
  for (auto& t : threads) t.join();
  for (size_t q = 0; q < queries.size(); ++q) {
    ASSERT_EQ(parallel[q].size(), serial[q].size());
    for (size_t k = 0; k < serial[q].size(); ++k) {
      EXPECT_EQ(parallel[q][k].unit_id, serial[q][k].unit_id);
      EXPECT_EQ(parallel[q][k].votes, serial[q][k].votes);
    }
  }
}

TEST_F(LocalIndexTest, RejectsFeaturesOfAnotherKind) {
  LocalIndex index;
  LocalFeatures sift;
  sift.kind = FeatureKind::kSift;
  sift.points = {{0.1f, 0.1f}};
  sift.descriptors = cv::Mat(1, 128, CV_8UC1, cv::Scalar(1));
  EXPECT_EQ(index.Add(1, sift).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(index.Vote(sift, 5).empty());
  LocalFeatures bad = (*features_)[0];
  bad.descriptors = bad.descriptors.colRange(0, 16).clone();
  EXPECT_EQ(index.Add(2, bad).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(index.descriptors(), 0);
}

TEST_F(LocalIndexTest, EmptyInputsGiveNoCandidates) {
  LocalIndex index;
  LocalFeatures empty;
  empty.descriptors = cv::Mat(0, 32, CV_8UC1);
  EXPECT_TRUE(index.Vote((*features_)[0], 5).empty());  // empty index
  ASSERT_TRUE(index.Add(5, empty).ok());                // a blank page is fine
  EXPECT_EQ(index.descriptors(), 0);
  ASSERT_TRUE(index.Add(6, (*features_)[0]).ok());
  EXPECT_TRUE(index.Vote(empty, 5).empty());
  EXPECT_TRUE(index.Vote((*features_)[0], 0).empty());
  const std::vector<Candidate> self = index.Vote((*features_)[0], 5);
  ASSERT_EQ(self.size(), 1u);
  EXPECT_EQ(self[0].unit_id, 6);
  EXPECT_EQ(self[0].votes, (*features_)[0].size());  // every descriptor finds itself, one vote each
}

}  // namespace
}  // namespace kagami::index
