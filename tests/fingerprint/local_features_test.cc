#include "kagami/fingerprint/local_features.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <opencv2/imgproc.hpp>

#include "kagami/synth/page_generator.h"

#include "page_fixtures.h"

namespace kagami::fingerprint {
namespace {

cv::Mat GrayPage(uint64_t seed, int w = 900, int h = 1275) {
  return ::kagami::testing::Gray(synth::GenerateMangaPage(seed, w, h));
}

using ::kagami::testing::Extract;

TEST(ExtractLocalFeatures, KeepsAtMostMaxKeypointsSpreadOverThePage) {
  const cv::Mat gray = GrayPage(1);
  const LocalFeatures f = Extract(gray);
  EXPECT_EQ(f.kind, FeatureKind::kOrb);
  EXPECT_LE(f.size(), 500);
  EXPECT_GE(f.size(), 400);  // a busy manga page has far more corners than that
  EXPECT_EQ(f.descriptors.rows, f.size());
  EXPECT_EQ(f.descriptors.cols, 32);
  EXPECT_EQ(f.descriptors.type(), CV_8UC1);
  // Normalised page: long side 1.
  EXPECT_FLOAT_EQ(f.page_height, 1.0f);
  EXPECT_NEAR(f.page_width, 900.0 / 1275.0, 0.002);
  int cells[4][4] = {};
  for (const cv::Point2f& p : f.points) {
    ASSERT_GE(p.x, 0.0f);
    ASSERT_LE(p.x, f.page_width);
    ASSERT_GE(p.y, 0.0f);
    ASSERT_LE(p.y, f.page_height);
    ++cells[std::min(3, static_cast<int>(p.y * 4))]
           [std::min(3, static_cast<int>(p.x / f.page_width * 4))];
  }
  // Bucketing: every quarter-by-quarter cell of the page has keypoints and none
  // holds more than a fifth of them.
  for (const auto& row : cells) {
    for (int c : row) {
      EXPECT_GT(c, 0);
      EXPECT_LT(c, f.size() / 5);
    }
  }
}

TEST(ExtractLocalFeatures, IsDeterministic) {
  const cv::Mat gray = GrayPage(2);
  const LocalFeatures a = Extract(gray), b = Extract(gray);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(a.points, b.points);
  EXPECT_EQ(cv::norm(a.descriptors, b.descriptors, cv::NORM_INF), 0);
}

TEST(ExtractLocalFeatures, RespectsMaxKeypointsAndWorkingSize) {
  LocalFeatureOptions options;
  options.max_keypoints = 100;
  options.working_long_side = 400;
  const LocalFeatures f = Extract(GrayPage(3), false, options);
  EXPECT_LE(f.size(), 100);
  EXPECT_GE(f.size(), 80);
}

TEST(ExtractLocalFeatures, MirroredFeaturesLiveInTheFlippedFrame) {
  const cv::Mat gray = GrayPage(4);
  const LocalFeatures plain = Extract(gray);
  cv::Mat flipped;
  cv::flip(gray, flipped, 1);
  // Mirrored extraction of the flipped page sees the original page again.
  const LocalFeatures unflipped = Extract(flipped, /*mirrored=*/true);
  EXPECT_TRUE(unflipped.mirrored);
  EXPECT_FALSE(plain.mirrored);
  ASSERT_GT(unflipped.size(), 100);
  int close = 0;
  for (const cv::Point2f& p : unflipped.points) {
    for (const cv::Point2f& q : plain.points) {
      if (cv::norm(p - q) < 0.003) {
        ++close;
        break;
      }
    }
  }
  EXPECT_GT(close, unflipped.size() * 8 / 10);
}

TEST(ExtractLocalFeatures, BlankPageHasNoKeypoints) {
  const LocalFeatures f = Extract(cv::Mat(600, 400, CV_8UC1, cv::Scalar(245)));
  EXPECT_EQ(f.size(), 0);
  EXPECT_EQ(f.descriptors.rows, 0);
}

TEST(ExtractLocalFeatures, RejectsUnusableInput) {
  EXPECT_EQ(ExtractLocalFeatures(cv::Mat(8, 200, CV_8UC1, cv::Scalar(0))).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ExtractLocalFeatures(cv::Mat(100, 100, CV_8UC3, cv::Scalar(0))).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ExtractLocalFeatures(cv::Mat()).status().code(), StatusCode::kInvalidArgument);
  LocalFeatureOptions bad;
  bad.max_keypoints = 0;
  EXPECT_EQ(ExtractLocalFeatures(GrayPage(5, 300, 400), false, bad).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(ExtractLocalFeatures, AkazeAndSiftHaveTheirDescriptorSizes) {
  const cv::Mat gray = GrayPage(6, 450, 640);
  for (FeatureKind kind : {FeatureKind::kAkaze, FeatureKind::kSift}) {
    LocalFeatureOptions options;
    options.kind = kind;
    options.working_long_side = 500;
    const LocalFeatures f = Extract(gray, false, options);
    EXPECT_GT(f.size(), 50);
    EXPECT_LE(f.size(), 500);
    EXPECT_EQ(f.descriptors.cols, DescriptorBytes(kind));
    EXPECT_EQ(f.kind, kind);
    const Result<LocalFeatures> back = LocalFeatures::Deserialize(f.Serialize());
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(cv::norm(back->descriptors, f.descriptors, cv::NORM_INF), 0);
  }
  EXPECT_EQ(DescriptorBytes(FeatureKind::kOrb), 32);
  EXPECT_TRUE(IsBinary(FeatureKind::kAkaze));
  EXPECT_FALSE(IsBinary(FeatureKind::kSift));
}

TEST(LocalFeaturesBlob, RoundTripsWithinQuantisation) {
  const LocalFeatures f = Extract(GrayPage(7), /*mirrored=*/true);
  const std::vector<uint8_t> blob = f.Serialize();
  EXPECT_EQ(blob.size(), 20u + f.size() * (4u + 32u));
  const Result<LocalFeatures> back = LocalFeatures::Deserialize(blob);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->kind, f.kind);
  EXPECT_TRUE(back->mirrored);
  EXPECT_FLOAT_EQ(back->page_width, f.page_width);
  EXPECT_FLOAT_EQ(back->page_height, f.page_height);
  ASSERT_EQ(back->size(), f.size());
  for (int i = 0; i < f.size(); ++i) {
    EXPECT_NEAR(back->points[i].x, f.points[i].x, 1e-4);
    EXPECT_NEAR(back->points[i].y, f.points[i].y, 1e-4);
  }
  EXPECT_EQ(cv::norm(back->descriptors, f.descriptors, cv::NORM_INF), 0);
  // Serialising again is stable.
  EXPECT_EQ(back->Serialize(), blob);
}

TEST(LocalFeaturesBlob, EmptyFeaturesRoundTrip) {
  LocalFeatures f;
  f.descriptors = cv::Mat(0, 32, CV_8UC1);
  const Result<LocalFeatures> back = LocalFeatures::Deserialize(f.Serialize());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->size(), 0);
}

TEST(LocalFeaturesBlob, RejectsCorruptBlobs) {
  LocalFeatureOptions options;
  options.max_keypoints = 20;
  const std::vector<uint8_t> good = Extract(GrayPage(8, 300, 420), false, options).Serialize();
  ASSERT_GT(good.size(), 40u);
  auto expect_corrupt = [](std::vector<uint8_t> blob, const char* what) {
    const Result<LocalFeatures> r = LocalFeatures::Deserialize(blob);
    ASSERT_FALSE(r.ok()) << what;
    EXPECT_EQ(r.status().code(), StatusCode::kCorrupt) << what;
    EXPECT_NE(r.status().message().find("local features"), std::string::npos) << what;
  };
  // Every truncation.
  for (size_t n = 0; n < good.size(); ++n) {
    expect_corrupt(std::vector<uint8_t>(good.begin(), good.begin() + n), "truncated");
  }
  auto patched = [&](size_t at, std::vector<uint8_t> bytes) {
    std::vector<uint8_t> b = good;
    std::copy(bytes.begin(), bytes.end(), b.begin() + at);
    return b;
  };
  expect_corrupt(patched(0, {'X'}), "magic");
  expect_corrupt(patched(3, {2}), "version");
  expect_corrupt(patched(4, {0}), "kind 0");
  expect_corrupt(patched(4, {9}), "kind 9");
  expect_corrupt(patched(4, {2}), "kind akaze with 32-byte descriptors");
  expect_corrupt(patched(5, {0x80}), "flags");
  expect_corrupt(patched(6, {61, 0}), "descriptor size");
  expect_corrupt(patched(8, {0xff, 0xff, 0xff, 0xff}), "huge count");
  expect_corrupt(patched(8, {21, 0, 0, 0}), "count does not match size");
  expect_corrupt(patched(12, {0x00, 0x00, 0xc0, 0x7f}), "NaN width");
  expect_corrupt(patched(16, {0x00, 0x00, 0x00, 0x40}), "height 2");
  expect_corrupt(patched(16, {0x00, 0x00, 0x00, 0x00}), "height 0");
  std::vector<uint8_t> trailing = good;
  trailing.push_back(0);
  expect_corrupt(trailing, "trailing byte");
}

TEST(LocalFeaturesBlob, SurvivesRandomBytes) {
  cv::RNG rng(12345);
  for (int i = 0; i < 2000; ++i) {
    std::vector<uint8_t> blob(rng.uniform(0, 200));
    for (uint8_t& b : blob) b = static_cast<uint8_t>(rng.uniform(0, 256));
    if (blob.size() >= 4 && rng.uniform(0, 2)) std::memcpy(blob.data(), "KLF\x01", 4);
    const Result<LocalFeatures> r = LocalFeatures::Deserialize(blob);
    if (r.ok()) {
      // Whatever parses must be self-consistent.
      EXPECT_EQ(r->descriptors.rows, r->size());
      EXPECT_EQ(r->descriptors.cols, DescriptorBytes(r->kind));
    }
  }
}

}  // namespace
}  // namespace kagami::fingerprint
