// Two registered photos side by side as one image (a spread without a gutter):
// the first pass describes the image as a whole, and the textured photo takes
// the keypoints and the gate score, so the faint one beside it is not among
// the gate's candidates. The other-page look (RobustOptions::
// other_page_min_width) describes the part of the image beside the accepted
// page on its own.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "kagami/index/store.h"
#include "real_images.h"
#include "scan_fixture.h"
#include "temp_dir.h"

namespace kagami::index {
namespace {

namespace fs = std::filesystem;

// The registered pages each scanned spread matched, by spread file name; a
// match to a page the spread does not show fails the test.
std::map<std::string, std::set<std::string>> PagesFound(
    Store& store, const fs::path& folder, const RobustOptions& options,
    const std::map<std::string, std::set<std::string>>& shown) {
  std::map<std::string, std::set<std::string>> found;
  for (const auto& [member, matches] : ::kagami::testing::MatchesByMember(store, folder, options)) {
    for (const pipeline::PageMatchRecord& m : matches) {
      EXPECT_TRUE(shown.at(member).contains(m.ref.member))
          << member << " matched " << m.ref.member << ", which it does not show";
      found[member].insert(m.ref.member);
    }
  }
  return found;
}

int Count(const std::map<std::string, std::set<std::string>>& found) {
  int n = 0;
  for (const auto& [member, pages] : found) n += static_cast<int>(pages.size());
  return n;
}

TEST(OtherPageTest, AFaintPhotoBesideATexturedOneIsFoundInTheSameImage) {
  // plasma-workspace-wallpapers. DarkestHour (fog over water) is registered
  // at the adaptive FAST threshold's lowest step; the others have texture
  // everywhere. FallenLeaf is not registered: it only stands beside a page.
  const std::vector<std::string> names = {"DarkestHour", "Autumn",      "BytheWater",
                                          "ColdRipple",  "EveningGlow", "PastelHills"};
  const ::kagami::testing::TempDir temp;
  const fs::path dir = temp.path();
  fs::create_directories(dir / "spreads");
  using ::kagami::testing::Wallpaper;
  const fs::path missing = ::kagami::testing::CopyWallpapers(names, dir / "registered");
  if (!missing.empty()) GTEST_SKIP() << missing << " missing (scripts/bootstrap installs it)";
  if (!fs::exists(Wallpaper("FallenLeaf"))) GTEST_SKIP() << Wallpaper("FallenLeaf") << " missing";

  // Each textured photo beside DarkestHour, in either order, and one beside
  // an unregistered photo.
  std::map<std::string, std::set<std::string>> shown;
  auto write_spread = [&](const std::string& left, const std::string& right,
                          const std::set<std::string>& registered) {
    const cv::Mat l = cv::imread(Wallpaper(left).string());
    const cv::Mat r = cv::imread(Wallpaper(right).string());
    ASSERT_FALSE(l.empty());
    ASSERT_FALSE(r.empty());
    cv::Mat r_scaled, spread;
    cv::resize(r, r_scaled, cv::Size(r.cols * l.rows / r.rows, l.rows), 0, 0, cv::INTER_AREA);
    cv::hconcat(l, r_scaled, spread);
    const std::string file = left + "+" + right + ".jpg";
    ASSERT_TRUE(
        cv::imwrite((dir / "spreads" / file).string(), spread, {cv::IMWRITE_JPEG_QUALITY, 85}));
    shown[file] = registered;
  };
  for (size_t i = 1; i < names.size(); ++i) {
    const std::set<std::string> pages = {"DarkestHour.jpg", names[i] + ".jpg"};
    write_spread("DarkestHour", names[i], pages);
    write_spread(names[i], "DarkestHour", pages);
  }
  write_spread("Autumn", "FallenLeaf", {"Autumn.jpg"});
  std::unique_ptr<Store> store = ::kagami::testing::OpenAndRegister(
      dir / "data", dir / "registered", {"walls", "Walls", "", WorkKind::kManga, {}},
      static_cast<int>(names.size()));
  ASSERT_NE(store, nullptr);

  RobustOptions without;
  without.other_page_min_width = 0;
  const int before = Count(PagesFound(*store, dir / "spreads", without, shown));
  EXPECT_LT(before, 21) << "every page was found without the look: the fixture no longer "
                           "hides a page behind its neighbour";

  const std::map<std::string, std::set<std::string>> found =
      PagesFound(*store, dir / "spreads", RobustOptions{}, shown);
  for (const auto& [file, pages] : shown) {
    EXPECT_EQ(found.contains(file) ? found.at(file) : std::set<std::string>{}, pages) << file;
  }
}

}  // namespace
}  // namespace kagami::index
