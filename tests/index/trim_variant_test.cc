// Trim variants (RobustOptions::trim_variants, fingerprint::TrimVariantRects):
// a small re-encode of a typeset page is trimmed by the other reading of the
// band at its text's edge too, so that its blurred hash meets the one
// registration stored. Real typeset pages (tests/data/real: valgrind's manual
// rendered with poppler), the calibration's small re-encode (long side 0.4x,
// JPEG q40).
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

const std::vector<std::string>& Pages() {
  static const std::vector<std::string> kNames = {
      "valgrind-048.jpg", "valgrind-062.jpg", "valgrind-082.jpg", "manual-050.jpg",
      "manual-051.jpg",   "manual-052.jpg",   "manual-053.jpg"};
  return kNames;
}

class TrimVariantTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const fs::path registered = temp_.path() / "registered";
    fs::create_directories(registered);
    for (const std::string& name : Pages()) fs::copy_file(data_ / "real" / name, registered / name);
    store_ = ::kagami::testing::OpenAndRegister(temp_.path() / "data", registered,
                                                {"manuals", "Manuals", "", WorkKind::kOther, {}},
                                                static_cast<int>(Pages().size()));
  }

  // The page at 0.4 of its size, JPEG quality 40, alone in a folder.
  fs::path SmallCopy(const std::string& name) {
    const cv::Mat page = cv::imread((data_ / "real" / name).string(), cv::IMREAD_COLOR);
    EXPECT_FALSE(page.empty()) << name;
    cv::Mat small;
    cv::resize(page, small, cv::Size(), 0.4, 0.4, cv::INTER_AREA);
    const fs::path dir = temp_.path() / ("small-" + name);
    fs::create_directories(dir);
    cv::imwrite((dir / name).string(), small, {cv::IMWRITE_JPEG_QUALITY, 40});
    return dir;
  }

  const fs::path data_{KAGAMI_TEST_DATA_DIR};
  ::kagami::testing::TempDir temp_;
  std::unique_ptr<Store> store_;
};

TEST_F(TrimVariantTest, SmallReencodesOfListPagesMatchTheirOwnPageByATrimVariant) {
  // Pages 62 and 82: a list's bullets, a column of option names at the left
  // edge of the text. The default trims of registration's decode and of the
  // small copy part by 1.5-2% of the width; PDQ, trimmed and blurred hashes
  // of the default trims are 38-56 bits apart.
  ASSERT_NE(store_, nullptr);
  for (const char* name : {"valgrind-062.jpg", "valgrind-082.jpg"}) {
    SCOPED_TRACE(name);
    const auto by_member =
        ::kagami::testing::MatchesByMember(*store_, SmallCopy(name), RobustOptions{});
    ASSERT_EQ(by_member.size(), 1u);
    const std::vector<pipeline::PageMatchRecord>& matches = by_member.begin()->second;
    ASSERT_EQ(matches.size(), 1u);
    const pipeline::PageMatchRecord& m = matches.front();
    EXPECT_EQ(m.ref.member, name);
    EXPECT_EQ(m.view, "trimmed");
    EXPECT_TRUE(m.blurred);
    EXPECT_LE(m.hit.distance, RobustOptions{}.strong_radius);
  }
}

TEST_F(TrimVariantTest, SmallReencodesOfOtherPagesStillMatchOnlyThemselves) {
  // The trim variants add blurred views to every typeset query: the other
  // pages of both manuals, small, still find their own page and no other.
  ASSERT_NE(store_, nullptr);
  for (const char* name : {"valgrind-048.jpg", "manual-050.jpg", "manual-051.jpg", "manual-052.jpg",
                           "manual-053.jpg"}) {
    SCOPED_TRACE(name);
    const auto by_member =
        ::kagami::testing::MatchesByMember(*store_, SmallCopy(name), RobustOptions{});
    for (const auto& [member, matches] : by_member) {
      for (const pipeline::PageMatchRecord& m : matches) {
        EXPECT_EQ(m.ref.member, name)
            << m.view << ", " << m.hit.distance << " bits, blurred " << m.blurred;
      }
    }
  }
}

}  // namespace
}  // namespace kagami::index
