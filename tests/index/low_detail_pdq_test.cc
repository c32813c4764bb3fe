// Issue 7's false matches on flat band images, found by the false-match sweep
// (bench/e2e/false_match_sweep.cc): openclipart-png's flags of Peru (turned)
// and Hungary matched the registered flag of Austria by PDQ alone at 28 and
// 30 bits, quality 100 on both sides. Such a page has almost no local
// keypoints, and many unrelated images share its 64x64 luminance, so a PDQ
// hit on it is reported unverified only within
// RobustOptions::low_detail_radius. A re-encoded copy of the flag itself
// still matches. Skipped when openclipart-png is missing.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "kagami/index/robust_matcher.h"
#include "kagami/index/store.h"
#include "kagami/pipeline/registrar.h"
#include "kagami/pipeline/scanner.h"
#include "real_images.h"
#include "scan_fixture.h"

namespace kagami::index {
namespace {

namespace fs = std::filesystem;

constexpr char kFlags[] = "/usr/share/openclipart/png/signs_and_symbols/flags/";

using ::kagami::testing::LoadOnWhite;

class LowDetailPdqTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::map<std::string, std::string> registered = {{"austria.jpg", "europe/austria.png"},
                                                           {"japan.jpg", "asia/japan.png"}};
    const std::map<std::string, std::string> queries = {{"peru.jpg", "america/peru.png"},
                                                        {"hungary.jpg", "europe/hungary.png"},
                                                        {"austria.jpg", "europe/austria.png"}};
    for (const auto& m : {registered, queries}) {
      for (const auto& [name, path] : m) {
        if (!fs::exists(fs::path(kFlags) / path))
          GTEST_SKIP() << path << " missing (openclipart-png)";
      }
    }
    dir_ = fs::path(::testing::TempDir()) /
           ("kagami_low_detail_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "_" +
            std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "registered");
    fs::create_directories(dir_ / "queries");
    for (const auto& [name, path] : registered) {
      cv::imwrite((dir_ / "registered" / name).string(), LoadOnWhite(fs::path(kFlags) / path, 600),
                  {cv::IMWRITE_JPEG_QUALITY, 95});
    }
    for (const auto& [name, path] : queries) {
      cv::Mat q = LoadOnWhite(fs::path(kFlags) / path, 600);
      // Peru's bands are vertical: the turned flag is what matched Austria.
      if (name == "peru.jpg") cv::rotate(q, q, cv::ROTATE_90_CLOCKWISE);
      cv::imwrite((dir_ / "queries" / name).string(), q, {cv::IMWRITE_JPEG_QUALITY, 80});
    }
    auto store = Store::Open(dir_ / "data");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    auto summary = ::kagami::testing::RegisterFolder(*store_, dir_ / "registered",
                                                     {"flags", "Flags", "", WorkKind::kOther, {}});
    ASSERT_TRUE(summary.ok()) << summary.status().ToString();
    ASSERT_EQ(summary->units_added, 2);
  }
  void TearDown() override {
    store_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // Query -> the registered member it matched.
  std::map<std::string, std::string> Scan(const RobustOptions& robust) {
    std::map<std::string, std::string> found;
    for (const auto& [member, matches] :
         ::kagami::testing::MatchesByMember(*store_, dir_ / "queries", robust)) {
      for (const auto& m : matches) found[member] = m.ref.member;
    }
    return found;
  }

  fs::path dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(LowDetailPdqTest, OtherFlagsOfTheSameBandsNeverMatchByPdqAlone) {
  // Without the rule the false match must reproduce, or this test proves
  // nothing about it.
  RobustOptions without;
  without.min_unverified_keypoints = 0;
  const auto before = Scan(without);
  EXPECT_TRUE(before.count("peru.jpg") || before.count("hungary.jpg"))
      << "the flags no longer reproduce the false match";

  for (LocalStage local : {LocalStage::kAuto, LocalStage::kNever}) {
    RobustOptions robust;
    robust.local = local;
    const auto found = Scan(robust);
    EXPECT_EQ(found.count("peru.jpg"), 0u);
    EXPECT_EQ(found.count("hungary.jpg"), 0u);
    // The flag itself, re-encoded, is still found.
    ASSERT_TRUE(found.count("austria.jpg"));
    EXPECT_EQ(found.at("austria.jpg"), "austria.jpg");
  }
}

}  // namespace
}  // namespace kagami::index
