// A drawing registered twice, once as it is and once turned a quarter (one
// arrow drawn pointing two ways, an icon set's rotations): a copy of either
// lies within PDQ's noise of both, the other through a turned variant of the
// query's hash. The page in its own orientation is reported
// (robust_matcher.cc, kTurnedVariantBits), whichever is nearer by a bit or
// two and whichever was registered first.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "kagami/index/robust_matcher.h"
#include "scan_fixture.h"
#include "temp_dir.h"

namespace kagami::index {
namespace {

namespace fs = std::filesystem;

const fs::path kData(KAGAMI_TEST_DATA_DIR);

TEST(TurnedTwinTest, ACopyMatchesThePageInItsOwnOrientationNotItsTurnedTwin) {
  const std::vector<std::string> drawings = {"golden/clipart-flask.png", "real/manual-050.jpg",
                                             "golden/wallpaper-flow-360x720.jpg",
                                             "real/gnuplot-contents-009.png"};
  ::kagami::testing::TempDir temp;
  const fs::path registered = temp.path() / "registered";
  const fs::path copies = temp.path() / "copies";
  fs::create_directories(registered);
  fs::create_directories(copies);
  for (size_t i = 0; i < drawings.size(); ++i) {
    const cv::Mat m = cv::imread((kData / drawings[i]).string(), cv::IMREAD_COLOR);
    ASSERT_FALSE(m.empty()) << drawings[i];
    cv::Mat turned;
    cv::rotate(m, turned, cv::ROTATE_90_COUNTERCLOCKWISE);
    const std::string n = std::to_string(i);
    // The turned twin first: registered first, it has the lower unit id.
    cv::imwrite((registered / ("d" + n + "a_turned.png")).string(), turned);
    cv::imwrite((registered / ("d" + n + "b_own.png")).string(), m);
    for (int quality : {75, 90}) {
      cv::imwrite((copies / ("d" + n + "b_own_q" + std::to_string(quality) + ".jpg")).string(), m,
                  {cv::IMWRITE_JPEG_QUALITY, quality});
    }
  }
  auto store = ::kagami::testing::OpenAndRegister(temp.path() / "data", registered,
                                                  {"icons", "Icons", "", WorkKind::kOther, {}},
                                                  static_cast<int>(2 * drawings.size()));
  ASSERT_NE(store, nullptr);
  RobustOptions robust;
  robust.local = LocalStage::kNever;  // PDQ's choice alone
  const auto by_member = ::kagami::testing::MatchesByMember(*store, copies, robust);
  int copies_seen = 0;
  for (const auto& entry : fs::directory_iterator(copies)) {
    const std::string member = entry.path().filename().string();
    ++copies_seen;
    auto it = by_member.find(member);
    ASSERT_NE(it, by_member.end()) << member << " matched nothing";
    ASSERT_EQ(it->second.size(), 1u) << member;
    EXPECT_EQ(it->second[0].ref.member, member.substr(0, member.find("_q")) + ".png") << member;
  }
  EXPECT_EQ(copies_seen, static_cast<int>(2 * drawings.size()));
}

}  // namespace
}  // namespace kagami::index
