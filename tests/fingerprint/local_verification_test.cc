#include <gtest/gtest.h>
#include <memory>

#include <cmath>
#include <map>
#include <opencv2/imgproc.hpp>

#include "kagami/fingerprint/geometric_verifier.h"
#include "kagami/fingerprint/local_features.h"
#include "kagami/fingerprint/page_normalizer.h"
#include "kagami/synth/page_generator.h"

#include "page_fixtures.h"

namespace kagami::fingerprint {
namespace {

using ::kagami::testing::Extract;
using ::kagami::testing::Gray;

// Query features as Kagami computes them: the trimmed page, or each half of a
// spread; plain and mirrored.
struct Query {
  std::vector<LocalFeatures> plain, mirrored;
};
Query QueryFeatures(const cv::Mat& bgr) {
  const cv::Mat gray = Gray(bgr);
  const std::vector<View> views = NormalizedViews(gray);
  const bool halves = views.back().name == "right";
  Query q;
  for (const View& v : views) {
    if (halves ? (v.name == "full" || v.name == "trimmed") : (v.name == "full" && views.size() > 1))
      continue;
    q.plain.push_back(Extract(v.image));
    q.mirrored.push_back(Extract(v.image, true));
  }
  return q;
}

Verification Best(const Query& q, const LocalFeatures& ref) {
  Verification best;
  for (size_t i = 0; i < q.plain.size(); ++i) {
    const Verification v = VerifyEitherOrientation(q.plain[i], &q.mirrored[i], ref);
    if (std::make_pair(v.accepted, v.inliers) > std::make_pair(best.accepted, best.inliers))
      best = v;
  }
  return best;
}

class GeometricVerifier : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pages_ = std::make_unique<std::vector<cv::Mat>>();
    refs_ = std::make_unique<std::vector<LocalFeatures>>();
    for (uint64_t seed = 0; seed < kPages; ++seed) {
      pages_->push_back(synth::GenerateMangaPage(500 + seed));
      refs_->push_back(Extract(Gray(pages_->back())));
    }
  }
  static void TearDownTestSuite() {
    pages_.reset();
    refs_.reset();
  }
  static constexpr int kPages = 8;
  static inline std::unique_ptr<std::vector<cv::Mat>> pages_;
  static inline std::unique_ptr<std::vector<LocalFeatures>> refs_;
};

TEST_F(GeometricVerifier, IdenticalPageVerifiesWithIdentityHomography) {
  const Verification v = Verify((*refs_)[0], (*refs_)[0]);
  EXPECT_TRUE(v.accepted);
  EXPECT_TRUE(v.sane);
  EXPECT_GT(v.inliers, 300);
  EXPECT_GT(v.coverage, 0.5);
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(v.homography(r, c), r == c ? 1.0 : 0.0, 0.01);
  }
}

TEST_F(GeometricVerifier, AcceptsPirateEditsOfThePage) {
  const synth::Edit edits[] = {
      synth::Edit::kCrop10,       synth::Edit::kPad16x9,     synth::Edit::kRotate5,
      synth::Edit::kCreditsStrip, synth::Edit::kBalloonText, synth::Edit::kJpegQ30,
      synth::Edit::kMirror,       synth::Edit::kRescale50,   synth::Edit::kWatermarkStrip};
  for (int i = 0; i < 4; ++i) {
    for (synth::Edit e : edits) {
      const Verification v = Best(QueryFeatures(synth::ApplyEdit((*pages_)[i], e, i)), (*refs_)[i]);
      EXPECT_TRUE(v.accepted) << synth::EditName(e) << " page " << i << ": " << v.inliers
                              << " inliers, coverage " << v.coverage;
      EXPECT_EQ(v.mirrored, e == synth::Edit::kMirror) << synth::EditName(e) << " page " << i;
    }
  }
}

TEST_F(GeometricVerifier, AcceptsMostTwentyPercentCrops) {
  // A 20% crop keeps 36% of the page; calibration accepts about 90% of them.
  int accepted = 0;
  for (int i = 0; i < kPages; ++i) {
    const Verification v =
        Best(QueryFeatures(synth::ApplyEdit((*pages_)[i], synth::Edit::kCrop20, i)), (*refs_)[i]);
    accepted += v.accepted;
  }
  EXPECT_GE(accepted, kPages - 2);
}

TEST_F(GeometricVerifier, AcceptsEitherHalfOfASpread) {
  for (int i = 0; i + 1 < kPages; i += 2) {
    // Right-to-left: page i on the right, page i+1 on the left.
    const Query q = QueryFeatures(synth::MakeSpread((*pages_)[i + 1], (*pages_)[i]));
    ASSERT_EQ(q.plain.size(), 2u);
    EXPECT_TRUE(Best(q, (*refs_)[i]).accepted) << i;
    EXPECT_TRUE(Best(q, (*refs_)[i + 1]).accepted) << i + 1;
  }
}

TEST_F(GeometricVerifier, HomographyMapsACropBackToItsPlace) {
  const cv::Mat& page = (*pages_)[1];
  const cv::Rect crop = synth::CropRectForEdit(page.size(), synth::Edit::kCrop10, 0);
  // No trimming here: the query frame is exactly the crop.
  const LocalFeatures q = Extract(Gray(page(crop)));
  const Verification v = Verify(q, (*refs_)[1]);
  ASSERT_TRUE(v.accepted);
  const double long_side = std::max(page.cols, page.rows);
  // The query's top-left and bottom-right corners land on the crop's corners.
  const auto project = [&](double x, double y) {
    const cv::Vec3d p = v.homography * cv::Vec3d(x, y, 1);
    return cv::Point2d(p[0] / p[2], p[1] / p[2]) * long_side;
  };
  const cv::Point2d tl = project(0, 0);
  const cv::Point2d br = project(q.page_width, q.page_height);
  EXPECT_NEAR(tl.x, crop.x, 6);
  EXPECT_NEAR(tl.y, crop.y, 6);
  EXPECT_NEAR(br.x, crop.br().x, 6);
  EXPECT_NEAR(br.y, crop.br().y, 6);
}

TEST_F(GeometricVerifier, RejectsDifferentPagesOfTheSameStyle) {
  // Every ordered pair of distinct pages, as-is and after edits that add
  // their own structure (credits, padding, rotation).
  const VerifyOptions options;
  int max_inliers = 0;
  for (int i = 0; i < 6; ++i) {
    const Query edited =
        QueryFeatures(synth::ApplyEdit((*pages_)[i], synth::Edit::kCreditsStrip, i));
    const Query padded = QueryFeatures(synth::ApplyEdit((*pages_)[i], synth::Edit::kPad16x9, i));
    for (int j = 0; j < 6; ++j) {
      if (i == j) continue;
      const Verification plain = Verify((*refs_)[i], (*refs_)[j]);
      EXPECT_FALSE(plain.accepted) << i << " vs " << j << ": " << plain.inliers << " inliers";
      for (const Query* q : {&edited, &padded}) {
        const Verification v = Best(*q, (*refs_)[j]);
        EXPECT_FALSE(v.accepted) << i << " vs " << j << ": " << v.inliers << " inliers";
        max_inliers = std::max(max_inliers, v.inliers);
      }
      max_inliers = std::max(max_inliers, plain.inliers);
    }
  }
  // Margin: unrelated pairs stay well below the threshold.
  EXPECT_LT(max_inliers, options.min_inliers * 3 / 4);
}

TEST_F(GeometricVerifier, RejectsMirroredCopyWithoutMirroredFeatures) {
  // Descriptors are not mirror-invariant, and the verifier refuses
  // orientation-reversing homographies: a flipped page needs flipped features.
  cv::Mat flipped;
  cv::flip(Gray((*pages_)[2]), flipped, 1);
  EXPECT_FALSE(Verify(Extract(flipped), (*refs_)[2]).accepted);
  EXPECT_TRUE(Verify(Extract(flipped, true), (*refs_)[2]).accepted);
}

TEST_F(GeometricVerifier, RejectsAPerspectiveViewThatNoDigitalCopyHas) {
  // A camera-like view of the page (one edge foreshortened to 60%): plenty of
  // inliers, but perspective terms no crop, pad, rescale or small rotation has.
  const cv::Mat gray = Gray((*pages_)[3]);
  const float w = static_cast<float>(gray.cols), h = static_cast<float>(gray.rows);
  const cv::Point2f from[4] = {{0, 0}, {w, 0}, {w, h}, {0, h}};
  const cv::Point2f to[4] = {{0, 0}, {w, h * 0.1f}, {w, h * 0.9f}, {0, h}};
  cv::Mat warped;
  cv::warpPerspective(gray, warped, cv::getPerspectiveTransform(from, to), gray.size(),
                      cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar(255));
  VerifyOptions relaxed;
  relaxed.max_perspective = 100;
  relaxed.max_anisotropy = 100;
  relaxed.max_rotation_deg = 180;
  const Verification loose = Verify(Extract(warped), (*refs_)[3], relaxed);
  ASSERT_GE(loose.inliers, relaxed.min_inliers) << "the warp should still match geometrically";
  EXPECT_GT(loose.perspective, VerifyOptions{}.max_perspective);
  // The inliers themselves show the perspective: the homography explains them
  // far better than the similarity, which is therefore never judged instead.
  EXPECT_GT(loose.projective_gain, VerifyOptions{}.max_projective_gain);
  const Verification v = Verify(Extract(warped), (*refs_)[3]);
  EXPECT_FALSE(v.accepted);
  EXPECT_TRUE(v.rejected_by == "perspective" || v.rejected_by == "aspect change") << v.rejected_by;
}

// Correspondences of a copy (scale 0.8, rotation 2 degrees, shifted) whose
// registered points all lie on one horizontal band (y 0.41-0.43 of a 1 x 0.625
// page, x 0.15-0.75), with +-1.5 px of noise at a long side of 1000 px: the
// texture of a dark landscape photo.
void BandCorrespondences(std::vector<cv::Point2f>* query, std::vector<cv::Point2f>* ref) {
  cv::RNG rng(7);
  const double s = 0.8, a = 2.0 * CV_PI / 180;
  for (int i = 0; i < 120; ++i) {
    const cv::Point2f r(static_cast<float>(rng.uniform(0.15, 0.75)),
                        static_cast<float>(rng.uniform(0.41, 0.43)));
    // ref = s R q + t  =>  q = R^T (ref - t) / s
    const double x = r.x - 0.05, y = r.y - 0.02;
    const double qx = (std::cos(a) * x + std::sin(a) * y) / s;
    const double qy = (-std::sin(a) * x + std::cos(a) * y) / s;
    query->emplace_back(static_cast<float>(qx + rng.uniform(-1.5e-3, 1.5e-3)),
                        static_cast<float>(qy + rng.uniform(-1.5e-3, 1.5e-3)));
    ref->push_back(r);
  }
}

TEST(SimilarityFallbackTest, InliersOnOneBandAreJudgedWithTheSimilarity) {
  std::vector<cv::Point2f> query, ref;
  BandCorrespondences(&query, &ref);
  const cv::Size2f query_page(1.0f, 0.78f), ref_page(1.0f, 0.625f);
  VerifyOptions homography_only;
  homography_only.max_projective_gain = 0;
  const Verification h = VerifyCorrespondences(query, ref, query_page, ref_page, homography_only);
  ASSERT_GE(h.inliers, 100);
  EXPECT_EQ(h.model, "homography");
  EXPECT_FALSE(h.sane) << "the band no longer makes the least-squares homography degenerate";
  EXPECT_LT(h.projective_gain, VerifyOptions{}.max_projective_gain);

  const Verification v = VerifyCorrespondences(query, ref, query_page, ref_page);
  EXPECT_EQ(v.model, "similarity");
  EXPECT_TRUE(v.sane);
  EXPECT_NEAR(v.scale, 0.8, 0.01);  // query -> registered
  EXPECT_NEAR(v.rotation_deg, 2.0, 0.2);
  EXPECT_EQ(v.perspective, 0);
  // Every acceptance threshold still applies: a band covers too little.
  EXPECT_FALSE(v.accepted);
  EXPECT_EQ(v.rejected_by, "coverage");
}

TEST_F(GeometricVerifier, ReportsTheTransformOfACopy) {
  const Verification v = Verify((*refs_)[0], (*refs_)[0]);
  ASSERT_TRUE(v.accepted) << v.rejected_by;
  EXPECT_NEAR(v.scale, 1.0, 0.01);
  EXPECT_NEAR(v.anisotropy, 1.0, 0.01);
  EXPECT_NEAR(v.rotation_deg, 0.0, 0.5);
  EXPECT_LT(v.perspective, 0.005);
  EXPECT_GT(v.overlap, 0.99);
  EXPECT_GE(v.grid_cells, 14);
  EXPECT_EQ(v.rejected_by, "");
  EXPECT_EQ(v.model, "homography");
  // The registered page fills the whole query.
  EXPECT_NEAR(v.query_region.x, 0, 0.01);
  EXPECT_NEAR(v.query_region.width, (*refs_)[0].page_width, 0.01);
}

TEST_F(GeometricVerifier, SpreadHalvesExplainSeparateRegions) {
  // Full-spread features (no halves): each page is verified in its own half.
  const LocalFeatures full = Extract(Gray(synth::MakeSpread((*pages_)[1], (*pages_)[0])));
  const Verification right = Verify(full, (*refs_)[0]);
  const Verification left = Verify(full, (*refs_)[1]);
  ASSERT_TRUE(right.accepted) << right.rejected_by;
  ASSERT_TRUE(left.accepted) << left.rejected_by;
  EXPECT_LT(left.query_region.x + left.query_region.width, 0.55);
  EXPECT_GT(right.query_region.x, 0.45);
  EXPECT_FALSE(RegionsOverlap(left.query_region, right.query_region));
  EXPECT_TRUE(RegionsOverlap(left.query_region, left.query_region));
}

TEST(RegionsOverlapTest, SmallerRegionDecides) {
  const cv::Rect2d page(0, 0, 1, 0.7);
  const cv::Rect2d left(0, 0, 0.5, 0.7), right(0.5, 0, 0.5, 0.7);
  EXPECT_FALSE(RegionsOverlap(left, right));
  EXPECT_TRUE(RegionsOverlap(page, left));  // a page and its half: never two matches
  EXPECT_FALSE(RegionsOverlap(cv::Rect2d(0, 0, 0.55, 0.7), cv::Rect2d(0.45, 0, 0.55, 0.7)));
  EXPECT_TRUE(RegionsOverlap(cv::Rect2d(0, 0, 0.7, 0.7), cv::Rect2d(0.3, 0, 0.7, 0.7)));
  EXPECT_TRUE(RegionsOverlap(cv::Rect2d(), left));  // unknown extent counts as overlapping
}

TEST(GeometricVerifierEdgeCases, TooFewFeaturesAreNotAccepted) {
  LocalFeatures empty;
  empty.descriptors = cv::Mat(0, 32, CV_8UC1);
  LocalFeatures page = Extract(Gray(synth::GenerateMangaPage(1, 600, 850)));
  for (const auto& [a, b] :
       {std::pair{&empty, &page}, std::pair{&page, &empty}, std::pair{&empty, &empty}}) {
    const Verification v = Verify(*a, *b);
    EXPECT_FALSE(v.accepted);
    EXPECT_EQ(v.inliers, 0);
  }
  EXPECT_FALSE(VerifyEitherOrientation(empty, nullptr, page).accepted);
}

// Correspondences without descriptors (as a quantised index gives them): a
// cropped, scaled copy's points verify; the same points paired at random do not.
TEST(VerifyCorrespondencesTest, JudgesGivenPointPairs) {
  cv::RNG rng(7);
  const cv::Size2f ref_page(0.7f, 1.0f);
  std::vector<cv::Point2f> ref_points, query_points, shuffled;
  // Query = the registered page cropped 10% per side, long side rescaled to 1.
  const float s = 1.0f / 0.8f;
  const cv::Size2f query_page(0.56f * s, 1.0f);
  for (int i = 0; i < 300; ++i) {
    const cv::Point2f r(rng.uniform(0.07f, 0.63f), rng.uniform(0.1f, 0.9f));
    ref_points.push_back(r);
    query_points.push_back((r - cv::Point2f(0.07f, 0.1f)) * s);
  }
  const Verification v = VerifyCorrespondences(query_points, ref_points, query_page, ref_page);
  EXPECT_TRUE(v.accepted) << v.rejected_by;
  EXPECT_EQ(v.matches, 300);
  EXPECT_GE(v.inliers, 290);
  EXPECT_NEAR(v.scale, 0.8, 0.01);
  EXPECT_FALSE(v.mirrored);

  shuffled = query_points;
  cv::randShuffle(shuffled, 1.0, &rng);
  const Verification random = VerifyCorrespondences(shuffled, ref_points, query_page, ref_page);
  EXPECT_FALSE(random.accepted);

  const Verification few = VerifyCorrespondences(
      std::span(query_points).first(5), std::span(ref_points).first(5), query_page, ref_page);
  EXPECT_FALSE(few.accepted);
  EXPECT_EQ(few.inliers, 0);
}

}  // namespace
}  // namespace kagami::fingerprint
