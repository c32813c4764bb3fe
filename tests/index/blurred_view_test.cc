// Blurred hashes (fingerprint/blurred_pdq.h) find pages of type at another
// scale than registered (body_view_test.cc: posts at 16 widths); they must not
// find other pages of the same manual and layout. Real typeset pages
// (tests/data/real: Debian manuals rendered with poppler).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "kagami/index/store.h"
#include "kagami/pipeline/scanner.h"
#include "scan_fixture.h"

namespace kagami::index {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string>& TypesetPages() {
  static const std::vector<std::string> kNames = {"manual-050.jpg",   "manual-051.jpg",
                                                  "manual-052.jpg",   "manual-053.jpg",
                                                  "valgrind-048.jpg", "gnuplot-contents-009.png"};
  return kNames;
}

class BlurredViewTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const fs::path registered = temp_.path() / "registered";
    fs::create_directories(registered);
    for (const std::string& name : TypesetPages())
      fs::copy_file(data_ / "real" / name, registered / name);
    store_ = ::kagami::testing::OpenAndRegister(temp_.path() / "data", registered,
                                                {"manuals", "Manuals", "", WorkKind::kOther, {}},
                                                static_cast<int>(TypesetPages().size()));
  }

  const fs::path data_{KAGAMI_TEST_DATA_DIR};
  ::kagami::testing::TempDir temp_;
  std::unique_ptr<Store> store_;
};

TEST_F(BlurredViewTest, OtherPagesOfTheSameManualMatchNone) {
  // The gnuplot manual's other contents pages: the layout of the registered
  // page 9 (a running head, dotted leaders, a column of page numbers), at
  // its scale and others, in the default scan.
  ASSERT_NE(store_, nullptr);
  const fs::path others = temp_.path() / "others";
  fs::create_directories(others);
  for (const char* name :
       {"gnuplot-contents-010.png", "gnuplot-contents-011.png", "gnuplot-contents-012.png",
        "gnuplot-contents-013.png", "gnuplot-contents-015.png"}) {
    const cv::Mat page = cv::imread((data_ / "real" / name).string(), cv::IMREAD_COLOR);
    ASSERT_FALSE(page.empty()) << name;
    for (const double scale : {1.0, 0.7, 0.5}) {
      cv::Mat shown;
      cv::resize(page, shown, cv::Size(), scale, scale, cv::INTER_AREA);
      cv::imwrite((others / (std::to_string(scale) + "-" + name + ".jpg")).string(), shown,
                  {cv::IMWRITE_JPEG_QUALITY, 75});
    }
  }
  const auto by_member = ::kagami::testing::MatchesByMember(*store_, others, RobustOptions{});
  for (const auto& [member, matches] : by_member) {
    for (const pipeline::PageMatchRecord& m : matches) {
      ADD_FAILURE() << member << " matched " << m.ref.member << " (" << m.view << ", "
                    << m.hit.distance << " bits, blurred " << m.blurred << ")";
    }
  }
}

}  // namespace
}  // namespace kagami::index
