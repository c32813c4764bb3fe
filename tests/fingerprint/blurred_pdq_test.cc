#include "kagami/fingerprint/blurred_pdq.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "kagami/fingerprint/hash256.h"
#include "kagami/fingerprint/page_normalizer.h"

namespace kagami::fingerprint {
namespace {

std::vector<cv::Mat> TypesetPages() {
  const std::filesystem::path real = std::filesystem::path(KAGAMI_TEST_DATA_DIR) / "real";
  std::vector<cv::Mat> pages;
  for (const char* name : {"manual-050.jpg", "manual-051.jpg", "manual-052.jpg", "manual-053.jpg",
                           "valgrind-048.jpg"}) {
    const cv::Mat page = cv::imread((real / name).string(), cv::IMREAD_GRAYSCALE);
    EXPECT_FALSE(page.empty()) << name;
    if (!page.empty()) pages.push_back(page(TrimUniformBorders(page)).clone());
  }
  return pages;
}

// Real pages of type (Debian manuals rendered with poppler) at 40-80% of
// their size: PDQ's hashes of the copies are on average much further from the
// page's than the blurred hashes are.
TEST(BlurredPdq, APageOfTypeKeepsItsHashAcrossScales) {
  PdqHasher hasher;
  int plain_total = 0, blurred_total = 0, blurred_max = 0, pairs = 0;
  for (const cv::Mat& page : TypesetPages()) {
    const Hash256 plain = hasher.Hash(page).hash;
    const Hash256 blurred = BlurredPdq(hasher, page).hash;
    for (const double scale : {0.4, 0.5, 0.6, 0.7, 0.8}) {
      cv::Mat small;
      cv::resize(page, small, cv::Size(), scale, scale, cv::INTER_AREA);
      plain_total += HammingDistance(hasher.Hash(small).hash, plain);
      const int d = HammingDistance(BlurredPdq(hasher, small).hash, blurred);
      blurred_total += d;
      blurred_max = std::max(blurred_max, d);
      ++pairs;
    }
  }
  ASSERT_EQ(pairs, 25);
  EXPECT_LT(blurred_total * 2, plain_total) << "blurred " << blurred_total << ", plain "
                                            << plain_total << " bits over " << pairs << " copies";
  EXPECT_LE(blurred_max, 31);
}

TEST(BlurredPdq, DifferentPagesOfOneManualStayFarApart) {
  PdqHasher hasher;
  const std::vector<cv::Mat> pages = TypesetPages();
  for (size_t i = 0; i < pages.size(); ++i) {
    for (size_t j = i + 1; j < pages.size(); ++j) {
      EXPECT_GT(
          HammingDistance(BlurredPdq(hasher, pages[i]).hash, BlurredPdq(hasher, pages[j]).hash), 64)
          << i << " vs " << j;
    }
  }
}

TEST(BlurredPdq, LargePagesAreReducedBeforeTheBlur) {
  // A page above kBlurredPdqMaxSide hashes as its reduction does.
  PdqHasher hasher;
  const cv::Mat page = TypesetPages().front();
  cv::Mat large;
  cv::resize(page, large, cv::Size(), 2.0, 2.0, cv::INTER_CUBIC);
  ASSERT_GT(std::max(large.cols, large.rows), kBlurredPdqMaxSide);
  EXPECT_LE(HammingDistance(BlurredPdq(hasher, large).hash, BlurredPdq(hasher, page).hash), 16);
}

}  // namespace
}  // namespace kagami::fingerprint
