// The same picture registered in two works (a first edition and its reprint,
// each registered from its own files): a copy of that page is reported for
// both works, each on its own evidence, the second as the first's twin; a
// page only one of them holds is reported for that one alone; and within one
// work a page still matches one registered page. Real typeset pages from
// gnuplot-doc's manual (tests/data/real/).
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "kagami/index/robust_matcher.h"
#include "kagami/index/store.h"
#include "scan_fixture.h"
#include "temp_dir.h"

namespace kagami::index {
namespace {

namespace fs = std::filesystem;

const fs::path kReal = fs::path(KAGAMI_TEST_DATA_DIR) / "real";

// `name` from tests/data/real re-encoded as JPEG at `quality` into `dir` (as
// `as`, else under its own stem), cropped by `crop` of each side first.
void WriteCopy(const std::string& name, const fs::path& dir, int quality, double crop = 0,
               const std::string& as = "") {
  const cv::Mat page = cv::imread((kReal / name).string(), cv::IMREAD_COLOR);
  ASSERT_FALSE(page.empty()) << name;
  const int dx = static_cast<int>(page.cols * crop), dy = static_cast<int>(page.rows * crop);
  const cv::Mat cut = page(cv::Rect(dx, dy, page.cols - 2 * dx, page.rows - 2 * dy));
  fs::create_directories(dir);
  const std::string out = as.empty() ? fs::path(name).stem().string() + ".jpg" : as;
  ASSERT_TRUE(cv::imwrite((dir / out).string(), cut, {cv::IMWRITE_JPEG_QUALITY, quality}));
}

class TwinPagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_.path();
    fs::create_directories(dir_ / "first");
    fs::create_directories(dir_ / "reprint");
    // The first edition: manual pages 50-52 and a contents page, as shipped.
    for (const char* name : {"manual-050.jpg", "manual-051.jpg", "manual-052.jpg"})
      fs::copy_file(kReal / name, dir_ / "first" / name);
    fs::copy_file(kReal / "gnuplot-contents-009.png", dir_ / "first" / "gnuplot-contents-009.png");
    // The reprint: page 50 again from its own file (re-encoded), page 53 and
    // another contents page that the first edition lacks.
    WriteCopy("manual-050.jpg", dir_ / "reprint", 80);
    fs::copy_file(kReal / "manual-053.jpg", dir_ / "reprint" / "manual-053.jpg");
    fs::copy_file(kReal / "gnuplot-contents-011.png",
                  dir_ / "reprint" / "gnuplot-contents-011.png");
    auto store = Store::Open(dir_ / "data");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    for (const auto& [work, pages] :
         {std::pair{Work{"first", "Manual, first edition", "", WorkKind::kOther, {}}, 4},
          std::pair{Work{"reprint", "Manual, reprint", "", WorkKind::kOther, {}}, 3}}) {
      auto summary = ::kagami::testing::RegisterFolder(*store_, dir_ / work.id, work);
      ASSERT_TRUE(summary.ok()) << summary.status().ToString();
      ASSERT_EQ(summary->units_added, pages) << work.id;
      // Registration counts the reprint's page 50 as the first edition's
      // picture, and nothing else of either.
      if (work.id == "first") {
        EXPECT_TRUE(summary->twin_pages.empty());
      }
      if (work.id == "reprint") {
        EXPECT_EQ(summary->twin_pages, (std::map<std::string, int>{{"first", 1}}));
      }
    }
  }
  void TearDown() override { store_.reset(); }

  // Works each scanned member matched, and its matches.
  std::map<std::string, std::vector<pipeline::PageMatchRecord>> Scan(const fs::path& folder,
                                                                     const RobustOptions& robust) {
    return ::kagami::testing::MatchesByMember(*store_, folder, robust);
  }
  static std::set<std::string> Works(const std::vector<pipeline::PageMatchRecord>& matches) {
    std::set<std::string> works;
    for (const pipeline::PageMatchRecord& m : matches) works.insert(m.ref.work_id);
    return works;
  }

  ::kagami::testing::TempDir temp_;
  fs::path dir_;
  std::unique_ptr<Store> store_;
};

// Each reported match is the scanned page's own registered page; the twin
// names the other match of the same scanned page and is within the radius.
void ExpectTwinPair(const std::vector<pipeline::PageMatchRecord>& matches, int twin_radius) {
  ASSERT_EQ(matches.size(), 2u);
  int twins = 0;
  for (const pipeline::PageMatchRecord& m : matches) {
    EXPECT_EQ(m.ref.member, "manual-050.jpg");
    if (m.twin_of == 0) continue;
    ++twins;
    const pipeline::PageMatchRecord& other = &m == &matches[0] ? matches[1] : matches[0];
    EXPECT_EQ(m.twin_of, other.hit.unit_id);
    EXPECT_EQ(other.twin_of, 0);
    EXPECT_NE(m.ref.work_id, other.ref.work_id);
    EXPECT_GE(m.twin_bits, 0);
    EXPECT_LE(m.twin_bits, twin_radius);
  }
  EXPECT_EQ(twins, 1);
}

TEST_F(TwinPagesTest, ACopyOfAPageBothWorksHoldIsReportedForBothOnPdq) {
  WriteCopy("manual-050.jpg", dir_ / "q", 70);
  RobustOptions robust;
  robust.local = LocalStage::kNever;
  const auto by_member = Scan(dir_ / "q", robust);
  ASSERT_EQ(by_member.count("manual-050.jpg"), 1u);
  const auto& matches = by_member.at("manual-050.jpg");
  EXPECT_EQ(Works(matches), (std::set<std::string>{"first", "reprint"}));
  for (const pipeline::PageMatchRecord& m : matches) {
    EXPECT_EQ(m.method, "pdq");
    EXPECT_GE(m.hit.distance, 0);
    EXPECT_LE(m.hit.distance, 31);
  }
  ExpectTwinPair(matches, robust.twin_radius);
}

TEST_F(TwinPagesTest, ACroppedCopyIsVerifiedAgainstBothWorksPages) {
  WriteCopy("manual-050.jpg", dir_ / "q", 75, /*crop=*/0.08);
  RobustOptions robust;
  // The crop's blurred hash is within the radius of the page's: without the
  // blurred views, the local stage is what finds it.
  robust.blurred_views = false;
  const auto by_member = Scan(dir_ / "q", robust);
  ASSERT_EQ(by_member.count("manual-050.jpg"), 1u);
  const auto& matches = by_member.at("manual-050.jpg");
  EXPECT_EQ(Works(matches), (std::set<std::string>{"first", "reprint"}));
  for (const pipeline::PageMatchRecord& m : matches) {
    EXPECT_GE(m.inliers, robust.verify.min_inliers) << m.ref.work_id;
    EXPECT_TRUE(m.verification.accepted) << m.ref.work_id;
  }
  ExpectTwinPair(matches, robust.twin_radius);
}

TEST_F(TwinPagesTest, APageOnlyOneWorkHoldsIsReportedForThatWorkAlone) {
  WriteCopy("manual-051.jpg", dir_ / "q", 70);
  WriteCopy("manual-053.jpg", dir_ / "q", 70);
  WriteCopy("manual-052.jpg", dir_ / "q", 75, /*crop=*/0.08);
  const auto by_member = Scan(dir_ / "q", RobustOptions{});
  const std::map<std::string, std::string> expected = {
      {"manual-051.jpg", "first"}, {"manual-053.jpg", "reprint"}, {"manual-052.jpg", "first"}};
  for (const auto& [member, work] : expected) {
    ASSERT_EQ(by_member.count(member), 1u) << member << " was not found";
    const auto& matches = by_member.at(member);
    ASSERT_EQ(matches.size(), 1u) << member;
    EXPECT_EQ(matches[0].ref.work_id, work) << member;
    EXPECT_EQ(matches[0].ref.member, member);
    EXPECT_EQ(matches[0].twin_of, 0) << member;
  }
}

TEST_F(TwinPagesTest, WithoutTwinsAPageMatchesOneRegisteredPage) {
  WriteCopy("manual-050.jpg", dir_ / "q", 70);
  RobustOptions robust;
  robust.twin_radius = 0;
  const auto by_member = Scan(dir_ / "q", robust);
  ASSERT_EQ(by_member.count("manual-050.jpg"), 1u);
  EXPECT_EQ(by_member.at("manual-050.jpg").size(), 1u);
  EXPECT_EQ(by_member.at("manual-050.jpg")[0].twin_of, 0);
}

TEST(TwinPagesOneWorkTest, APageRegisteredTwiceInOneWorkMatchesOnce) {
  ::kagami::testing::TempDir temp;
  const fs::path dir = temp.path();
  fs::create_directories(dir / "work");
  fs::copy_file(kReal / "manual-050.jpg", dir / "work" / "manual-050.jpg");
  WriteCopy("manual-050.jpg", dir / "work", 80, 0, "manual-050-again.jpg");
  fs::copy_file(kReal / "manual-051.jpg", dir / "work" / "manual-051.jpg");
  auto store = ::kagami::testing::OpenAndRegister(dir / "data", dir / "work",
                                                  {"one", "One work", "", WorkKind::kOther, {}}, 3);
  ASSERT_NE(store, nullptr);
  WriteCopy("manual-050.jpg", dir / "q", 70);
  for (LocalStage local : {LocalStage::kNever, LocalStage::kAlways}) {
    RobustOptions robust;
    robust.local = local;
    const auto by_member = ::kagami::testing::MatchesByMember(*store, dir / "q", robust);
    ASSERT_EQ(by_member.count("manual-050.jpg"), 1u);
    EXPECT_EQ(by_member.at("manual-050.jpg").size(), 1u);
  }
}

}  // namespace
}  // namespace kagami::index
