// A page posted on a plain card of its paper's colour (a social-media post:
// an avatar and a name above the page, a caption and a row of icons below)
// has neither a frame nor margins of its own. The "body" views
// (fingerprint::BodyRects) cut the post's header and footer off at the blank
// gaps around the page, and PDQ finds the page's registered trimmed hash
// through them: Japanese text pages (fonts-noto-cjk) among 40 of the font,
// and real typeset pages (tests/data/real) posted at 16 widths.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "cjk_pages.h"
#include "kagami/index/store.h"
#include "kagami/pipeline/scanner.h"
#include "scan_fixture.h"

namespace kagami::index {
namespace {

namespace fs = std::filesystem;

constexpr int kRegistered = 40;
constexpr int kShown = 8;

// The page `width` px wide on a white card 1100 px wide: an avatar, a name
// and a handle above it, a line of caption and four icons below.
cv::Mat Card(const cv::Mat& page, int width) {
  cv::Mat shown;
  cv::resize(page, shown, cv::Size(width, page.rows * width / page.cols), 0, 0, cv::INTER_AREA);
  cv::Mat card(shown.rows + 330, 1100, CV_8UC3, cv::Scalar(255, 255, 255));
  cv::circle(card, cv::Point(70, 66), 34, cv::Scalar(180, 130, 60), cv::FILLED);
  cv::putText(card, "manga_leaks", cv::Point(124, 58), cv::FONT_HERSHEY_SIMPLEX, 0.9,
              cv::Scalar(20, 20, 20), 2, cv::LINE_AA);
  cv::putText(card, "@manga_leaks  1h", cv::Point(124, 92), cv::FONT_HERSHEY_SIMPLEX, 0.6,
              cv::Scalar(120, 120, 120), 1, cv::LINE_AA);
  const int x = (card.cols - shown.cols) / 2;
  shown.copyTo(card(cv::Rect(x, 140, shown.cols, shown.rows)));
  const int y = 140 + shown.rows;
  cv::putText(card, "ch. 88 is up, raw link in bio", cv::Point(40, y + 70),
              cv::FONT_HERSHEY_SIMPLEX, 0.8, cv::Scalar(20, 20, 20), 2, cv::LINE_AA);
  for (int i = 0; i < 4; ++i) {
    cv::circle(card, cv::Point(70 + 170 * i, y + 140), 15, cv::Scalar(110, 110, 110), 2);
  }
  return card;
}

class BodyViewTest : public ::kagami::testing::CjkWorkTest {
 protected:
  void SetUp() override {
    RegisterCjkWork(kRegistered, 9700, {"novel", "Novel", "", WorkKind::kManga, {}});
    if (IsSkipped() || HasFatalFailure()) return;
    posts_ = dir_ / "posts";
    fs::create_directories(posts_);
    for (int i = 0; i < kShown; ++i) {
      cv::imwrite((posts_ / ::kagami::testing::CjkPageName(i)).string(),
                  Card(pages_[i], 480 + 20 * i), {cv::IMWRITE_JPEG_QUALITY, 85});
    }
  }

  fs::path posts_;
};

TEST_F(BodyViewTest, PdqAloneFindsPagesPostedOnAPlainCardThroughTheirBodyViews) {
  RobustOptions without;
  without.local = LocalStage::kNever;
  without.body_views = false;
  EXPECT_TRUE(::kagami::testing::MatchesByMember(*store_, posts_, without).empty())
      << "PDQ finds the posts without the body views";
  RobustOptions with;
  with.local = LocalStage::kNever;
  const auto by_member = ::kagami::testing::MatchesByMember(*store_, posts_, with);
  EXPECT_GE(::kagami::testing::FoundOwnPages(by_member).size(), 6u);
  for (const auto& [member, matches] : by_member) {
    for (const pipeline::PageMatchRecord& m : matches) EXPECT_EQ(m.view, "body") << member;
  }
}

TEST_F(BodyViewTest, PostsOfPagesNotRegisteredMatchNothing) {
  // Other pages of the same font and layout on the same card: their body
  // views are the same kind of image as a registered page's and must not
  // match one (the default scan, local stage included).
  cv::Ptr<cv::freetype::FreeType2> ft = ::kagami::testing::NotoSansCjk();
  const fs::path others = dir_ / "others";
  fs::create_directories(others);
  for (int i = 0; i < kShown; ++i) {
    cv::imwrite((others / ::kagami::testing::CjkPageName(i)).string(),
                Card(::kagami::testing::CjkTextPage(*ft, 9900 + i), 480 + 20 * i),
                {cv::IMWRITE_JPEG_QUALITY, 85});
  }
  const auto by_member = ::kagami::testing::MatchesByMember(*store_, others, RobustOptions{});
  for (const auto& [member, matches] : by_member) {
    for (const pipeline::PageMatchRecord& m : matches) {
      ADD_FAILURE() << member << " matched " << m.ref.member << " (" << m.view << ", "
                    << m.hit.distance << " bits)";
    }
  }
}

TEST(BodyViewScaleTest, RealTypesetPagesPostedAtAnyWidthAreFoundBetweenTwoOfTheirScales) {
  // Registration hashed each page at the scale its own file decoded to (a
  // 612x792 JPEG at 1/2), and a post shows it at any width: PDQ of a page of
  // type moves by tens of bits between scales a factor 2 apart, so a body is
  // hashed at 1/sqrt(2) of its size besides its own size and half of it.
  // Real typeset pages (Debian manuals, poppler) at 16 widths: 28 of 80 were
  // found at the two scales alone, 42 with the third (a finer ladder of
  // five, 44); a dense page of type stays tens of bits off at every scale in
  // some posts, which the local stage is for.
  const fs::path data(KAGAMI_TEST_DATA_DIR);
  const std::vector<std::string> names = {"manual-050.jpg", "manual-051.jpg", "manual-052.jpg",
                                          "manual-053.jpg", "valgrind-048.jpg"};
  ::kagami::testing::TempDir temp;
  const fs::path registered = temp.path() / "registered";
  fs::create_directories(registered);
  for (const std::string& name : names) fs::copy_file(data / "real" / name, registered / name);
  auto store = ::kagami::testing::OpenAndRegister(temp.path() / "data", registered,
                                                  {"manuals", "Manuals", "", WorkKind::kOther, {}},
                                                  static_cast<int>(names.size()));
  ASSERT_NE(store, nullptr);
  RobustOptions pdq_alone;
  pdq_alone.local = LocalStage::kNever;
  pdq_alone.blurred_views = false;
  RobustOptions blurred = pdq_alone;
  blurred.blurred_views = true;
  blurred.decoded_scale_bodies = false;
  RobustOptions decoded_scale = blurred;
  decoded_scale.decoded_scale_bodies = true;
  size_t found = 0, found_blurred = 0, found_decoded_scale = 0;
  for (int width = 300; width <= 900; width += 40) {
    const fs::path posts = temp.path() / ("posts-" + std::to_string(width));
    fs::create_directories(posts);
    for (const std::string& name : names) {
      const cv::Mat page = cv::imread((data / "real" / name).string(), cv::IMREAD_COLOR);
      ASSERT_FALSE(page.empty()) << name;
      cv::imwrite((posts / name).string(), Card(page, width), {cv::IMWRITE_JPEG_QUALITY, 85});
    }
    const auto by_member = ::kagami::testing::MatchesByMember(*store, posts, pdq_alone);
    found += ::kagami::testing::FoundOwnPages(by_member).size();
    for (const auto& [member, matches] : by_member) {
      for (const pipeline::PageMatchRecord& m : matches) {
        EXPECT_EQ(m.view, "body") << member << " at " << width << " px";
        EXPECT_FALSE(m.blurred) << member << " at " << width << " px";
      }
    }
    found_blurred +=
        ::kagami::testing::FoundOwnPages(::kagami::testing::MatchesByMember(*store, posts, blurred))
            .size();
    found_decoded_scale += ::kagami::testing::FoundOwnPages(
                               ::kagami::testing::MatchesByMember(*store, posts, decoded_scale))
                               .size();
  }
  EXPECT_GE(found, 38u) << "of 80 posts";
  // The blurred hashes (fingerprint/blurred_pdq.h) of the bodies move little
  // with the scale: most posts the PDQ hashes miss are found by them.
  EXPECT_GE(found_blurred, found + 20) << "of 80 posts (PDQ's hashes alone: " << found << ")";
  // A body cut at the decoded scale as well as on the larger decode, hashed
  // blurred (RobustOptions::decoded_scale_bodies): measured 71 -> 80.
  EXPECT_GE(found_decoded_scale, found_blurred + 6)
      << "of 80 posts (blurred, larger decode's cuts alone: " << found_blurred << ")";
}

}  // namespace
}  // namespace kagami::index
