// The same page registered in two works from the command line (a first
// edition and a reprint, each from its own files): `kagami scan --record`
// reports a copy for both works, the second naming the first as the same
// picture; each work gets its own finding, and the exported bundle says so.
// `register` counts the pages that are the same pictures as another work's,
// and names the work that keeps a file byte-identical to one it holds (the
// catalog holds each file once). Real typeset pages from gnuplot-doc's
// manual (tests/data/real/).

#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "json_lines.h"
#include "shell.h"
#include "temp_dir.h"

namespace kagami {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

testing::CommandResult Kagami(const std::vector<std::string>& args) {
  return testing::RunKagami(args, testing::Stderr::kMerge);
}

void Reencode(const fs::path& from, const fs::path& to, int quality) {
  const cv::Mat page = cv::imread(from.string(), cv::IMREAD_COLOR);
  ASSERT_FALSE(page.empty()) << from;
  ASSERT_TRUE(cv::imwrite(to.string(), page, {cv::IMWRITE_JPEG_QUALITY, quality}));
}

TEST(TwinPagesEvidenceTest, ACopyOfAPageTwoWorksHoldIsRecordedForBothWithTheTwinNamed) {
  const fs::path real = fs::path(KAGAMI_TEST_DATA_DIR) / "real";
  testing::TempDir dir;
  const std::string data = (dir / "data").string();
  for (const char* sub : {"first", "reprint", "suspect"}) fs::create_directories(dir / sub);
  fs::copy_file(real / "manual-050.jpg", dir / "first/p050.jpg");
  fs::copy_file(real / "manual-051.jpg", dir / "first/p051.jpg");
  // The reprint's page 50 from its own file; its page 51 is the first
  // edition's very file.
  Reencode(real / "manual-050.jpg", dir / "reprint/p050.jpg", 80);
  fs::copy_file(real / "manual-051.jpg", dir / "reprint/p051.jpg");
  Reencode(real / "manual-050.jpg", dir / "suspect/page.jpg", 70);

  testing::CommandResult r = Kagami({"--data", data, "register", "--work", "first", "--title",
                                     "Manual", "--kind", "other", (dir / "first").string()});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  r = Kagami({"--data", data, "register", "--work", "reprint", "--title", "Manual, reprint",
              "--kind", "other", "--json", (dir / "reprint").string()});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const std::vector<json> summary = testing::JsonLines(r.out, true);
  ASSERT_EQ(summary.size(), 1u) << r.out;
  EXPECT_EQ(summary[0]["assets_added"], 1) << r.out;
  // Its page 50 is the same picture as the first edition's.
  EXPECT_EQ(summary[0]["twin_pages"], json({{"first", 1}})) << r.out;
  ASSERT_EQ(summary[0]["assets_in_other_works"].size(), 1u) << r.out;
  EXPECT_EQ(summary[0]["assets_in_other_works"][0]["work"], "first") << r.out;
  EXPECT_NE(summary[0]["assets_in_other_works"][0]["file"].get<std::string>().find("p051.jpg"),
            std::string::npos)
      << r.out;

  r = Kagami({"--data", data, "scan", "--record", "--format", "jsonl",
              (dir / "suspect/page.jpg").string()});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  std::set<std::string> works, matched_works;
  int twins = 0;
  for (const json& j : testing::JsonLines(r.out, true)) {
    if (j.value("type", "") == "summary") {
      for (const json& w : j["works"])
        if (w["matched"].get<bool>()) matched_works.insert(w["work"].get<std::string>());
      continue;
    }
    if (j.value("type", "") != "match") continue;
    works.insert(j["work"].get<std::string>());
    EXPECT_EQ(j["ref_member"], "p050.jpg") << j.dump();
    if (!j.contains("same_picture_as")) continue;
    ++twins;
    EXPECT_NE(j["same_picture_as"]["work"], j["work"]) << j.dump();
    EXPECT_EQ(j["same_picture_as"]["ref_member"], "p050.jpg") << j.dump();
    EXPECT_LE(j["same_picture_as"]["registered_distance"].get<int>(), 16) << j.dump();
  }
  EXPECT_EQ(works, (std::set<std::string>{"first", "reprint"})) << r.out;
  EXPECT_EQ(matched_works, works) << r.out;
  EXPECT_EQ(twins, 1) << r.out;

  r = Kagami({"--data", data, "findings", "--format", "jsonl"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const std::vector<json> findings = testing::JsonLines(r.out, true);
  ASSERT_EQ(findings.size(), 2u) << r.out;
  int named = 0;
  for (const json& f : findings) {
    ASSERT_EQ(f["units"].size(), 1u) << f.dump();
    if (f["units"][0].contains("same_picture_as")) {
      ++named;
      EXPECT_NE(f["units"][0]["same_picture_as"]["work"], f["work"]) << f.dump();
    }
  }
  EXPECT_EQ(named, 1) << r.out;

  // The text listing marks the twin's finding, and only it.
  r = Kagami({"--data", data, "findings"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  size_t marks = 0;
  for (size_t at = r.out.find("same picture as work "); at != std::string::npos;
       at = r.out.find("same picture as work ", at + 1))
    ++marks;
  EXPECT_EQ(marks, 1u) << r.out;

  std::string failure;
  const std::string report =
      testing::ExportVerifiedReport(data, (dir / "bundle").string(), &failure);
  ASSERT_FALSE(report.empty()) << failure;
  EXPECT_NE(report.find("the same picture is registered in work"), std::string::npos);
}

}  // namespace
}  // namespace kagami
