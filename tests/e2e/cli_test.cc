// The `kagami` command as users and scripts call it: exit codes and the jsonl interface.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "json_lines.h"
#include "kagami/synth/page_generator.h"
#include "shell.h"
#include "temp_dir.h"

namespace kagami {
namespace {

using testing::CommandResult;
using testing::RunKagami;

using testing::JsonLines;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 6; ++i) {
      page_.push_back(synth::GenerateMangaPage(300 + i, 900, 1300));
      testing::WriteFile(dir_ / ("vol/page" + std::to_string(i + 1) + ".jpg"),
                         synth::EncodeJpeg(page_.back(), 90));
    }
    data_ = (dir_ / "data").string();
  }
  testing::TempDir dir_;
  std::vector<cv::Mat> page_;
  std::string data_;
};

TEST_F(CliTest, UsageErrorsExitWithOne) {
  EXPECT_EQ(RunKagami({}).exit_code, 1);
  EXPECT_EQ(RunKagami({"frobnicate"}).exit_code, 1);
  EXPECT_EQ(RunKagami({"register", "--title", "x", "somewhere"}).exit_code, 1);  // no --work
  EXPECT_EQ(RunKagami({"--data", data_, "scan", "--format", "xml", "a"}).exit_code, 1);
}

TEST_F(CliTest, HashPrintsOneJsonLinePerPageInNaturalOrder) {
  CommandResult r = RunKagami({"hash", "--dihedral", (dir_ / "vol").string()});
  ASSERT_EQ(r.exit_code, 0);
  std::vector<nlohmann::json> lines = JsonLines(r.out);
  ASSERT_EQ(lines.size(), 6u);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(lines[i]["unit"], "page");
    EXPECT_EQ(lines[i]["index"], i);
    EXPECT_THAT(lines[i]["file"].get<std::string>(),
                ::testing::EndsWith("page" + std::to_string(i + 1) + ".jpg"));
    EXPECT_EQ(lines[i]["member"], "page" + std::to_string(i + 1) + ".jpg");
    EXPECT_EQ(lines[i]["pdq"].get<std::string>().size(), 64u);
    EXPECT_EQ(lines[i]["dihedral"].size(), 8u);
    EXPECT_EQ(lines[i]["dihedral"][0], lines[i]["pdq"]);
    EXPECT_GE(lines[i]["quality"].get<int>(), 50);
  }
}

TEST_F(CliTest, HashOfACorruptFileReportsAnErrorAndExitsTwo) {
  testing::WriteFile(dir_ / "bad.jpg", std::string("\xFF\xD8\xFF\xE0garbage", 11));
  CommandResult r = RunKagami({"hash", (dir_ / "bad.jpg").string()});
  EXPECT_EQ(r.exit_code, 2);
  std::vector<nlohmann::json> lines = JsonLines(r.out);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(lines[0].contains("error"));
}

TEST_F(CliTest, RegisterThenScanFindsMirroredCopiesAsJsonl) {
  CommandResult reg = RunKagami({"--data", data_, "register", "--work", "vol1", "--title",
                                 "Volume One", "--rights-holder", "Holder", "--id", "isbn=42",
                                 "--json", (dir_ / "vol").string()});
  ASSERT_EQ(reg.exit_code, 0);
  nlohmann::json summary = nlohmann::json::parse(reg.out);
  EXPECT_EQ(summary["units_added"], 6);

  for (int i = 0; i < 6; ++i) {
    cv::Mat mirrored = synth::ApplyEdit(page_[i], synth::Edit::kMirror, 1);
    testing::WriteFile(dir_ / ("suspect/" + std::to_string(i) + ".jpg"),
                       synth::EncodeJpeg(mirrored, 60));
  }
  testing::WriteFile(dir_ / "other/x.jpg",
                     synth::EncodeJpeg(synth::GenerateMangaPage(9999, 900, 1300), 80));

  CommandResult scan = RunKagami({"--data", data_, "scan", "--format", "jsonl",
                                  (dir_ / "suspect").string(), (dir_ / "other").string()});
  ASSERT_EQ(scan.exit_code, 0);
  std::vector<nlohmann::json> lines = JsonLines(scan.out);
  int matches = 0;
  std::vector<nlohmann::json> summaries;
  for (const auto& j : lines) {
    if (j["type"] == "match") {
      ++matches;
      EXPECT_EQ(j["work"], "vol1");
      EXPECT_EQ(j["title"], "Volume One");
      EXPECT_EQ(j["index"], j["ref_index"]);
      // PDQ names the left-right mirror "flipY" (a flip about the vertical axis).
      EXPECT_EQ(j["variant"], "flipY");
      EXPECT_LE(j["distance"].get<int>(), 31);
    } else {
      summaries.push_back(j);
    }
  }
  EXPECT_GE(matches, 5);
  ASSERT_EQ(summaries.size(), 2u);
  EXPECT_EQ(summaries[0]["verdict"], "match");
  EXPECT_EQ(summaries[0]["works"][0]["work"], "vol1");
  EXPECT_EQ(summaries[1]["verdict"], "no_match");

  CommandResult works = RunKagami({"--data", data_, "works", "--format", "jsonl"});
  ASSERT_EQ(works.exit_code, 0);
  std::vector<nlohmann::json> w = JsonLines(works.out);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0]["units"], 6);
  EXPECT_EQ(w[0]["identifiers"]["isbn"], "42");
}

TEST_F(CliTest, ScanStillWorksAfterTheIndexFileIsDamaged) {
  ASSERT_EQ(RunKagami({"--data", data_, "register", "--work", "v", "--title", "V",
                       (dir_ / "vol").string()})
                .exit_code,
            0);
  testing::WriteFile(std::filesystem::path(data_) / "pdq.index", std::string("garbage"));
  CommandResult scan =
      RunKagami({"--data", data_, "scan", "--format", "jsonl", (dir_ / "vol").string()});
  ASSERT_EQ(scan.exit_code, 0);
  std::vector<nlohmann::json> lines = JsonLines(scan.out);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back()["verdict"], "match");
}

TEST_F(CliTest, AStoreThatIsNotACatalogIsARuntimeFailure) {
  testing::WriteFile(std::filesystem::path(data_) / "catalog.sqlite", std::string(4096, 'x'));
  CommandResult r = RunKagami({"--data", data_, "works"});
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
}  // namespace kagami
