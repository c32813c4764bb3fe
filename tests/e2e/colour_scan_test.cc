// `kagami scan` and the colour check from the command line: openclipart's
// glossy button registered in purple; the same drawing in blue is not
// reported (PDQ and the local features see one shape), unless the check is
// switched off with --no-colour-check; a re-encoded purple copy is reported
// with the measured "colour_disagreement". Real images from openclipart-png
// (scripts/bootstrap installs it); skipped when missing.

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "json_lines.h"
#include "real_images.h"
#include "shell.h"
#include "temp_dir.h"

namespace kagami {
namespace {

namespace fs = std::filesystem;
using testing::ClipartButton;
using testing::CommandResult;
using testing::JsonLines;
using testing::RunKagami;
using testing::WriteJpeg;

// The "match" lines of a scan of `path`, with `extra` flags.
std::vector<nlohmann::json> Matches(const std::string& data, const fs::path& path,
                                    const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"--data", data, "scan", "--format", "jsonl"};
  args.insert(args.end(), extra.begin(), extra.end());
  args.push_back(path.string());
  CommandResult scan = RunKagami(args);
  EXPECT_EQ(scan.exit_code, 0) << scan.out;
  std::vector<nlohmann::json> matches;
  for (const nlohmann::json& j : JsonLines(scan.out)) {
    if (j["type"] == "match") matches.push_back(j);
  }
  return matches;
}

// The purple button as registered (registered/button.jpg) and two suspect
// copies, re-encoded smaller: the purple drawing (suspect/purple.jpg) and the
// same drawing in blue (suspect/blue.jpg).
class ColourScan : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* colour : {"purple", "blue"}) {
      if (!fs::exists(ClipartButton(colour))) GTEST_SKIP() << ClipartButton(colour) << " missing";
    }
    WriteJpeg(dir_ / "registered" / "button.jpg",
              testing::LoadOnWhite(ClipartButton("purple"), 800), 92);
    for (const char* colour : {"purple", "blue"}) {
      WriteJpeg(dir_ / "suspect" / (std::string(colour) + ".jpg"),
                testing::LoadOnWhite(ClipartButton(colour), 640), 70);
    }
  }

  testing::TempDir dir_;
};

TEST_F(ColourScan, ARecolouredDrawingIsReportedOnlyWithoutTheColourCheck) {
  const std::string data = (dir_ / "data").string();
  CommandResult reg = RunKagami({"--data", data, "register", "--work", "buttons", "--title",
                                 "Buttons", "--json", (dir_ / "registered").string()});
  ASSERT_EQ(reg.exit_code, 0) << reg.out;

  const std::vector<nlohmann::json> copy = Matches(data, dir_ / "suspect" / "purple.jpg", {});
  ASSERT_EQ(copy.size(), 1u);
  EXPECT_EQ(copy[0]["ref_member"], "button.jpg") << copy[0].dump();
  ASSERT_TRUE(copy[0].contains("colour_disagreement")) << copy[0].dump();
  EXPECT_LE(copy[0]["colour_disagreement"].get<double>(), 0.1) << copy[0].dump();

  EXPECT_TRUE(Matches(data, dir_ / "suspect" / "blue.jpg", {}).empty());
  const std::vector<nlohmann::json> unchecked =
      Matches(data, dir_ / "suspect" / "blue.jpg", {"--no-colour-check"});
  ASSERT_EQ(unchecked.size(), 1u);
  EXPECT_EQ(unchecked[0]["ref_member"], "button.jpg") << unchecked[0].dump();
  EXPECT_FALSE(unchecked[0].contains("colour_disagreement")) << unchecked[0].dump();
}

// The measurement travels with the finding: a recorded match of the purple
// copy keeps its colour disagreement in the ledger (`kagami findings`) and the
// exported, verified bundle's report states it; the blue drawing, dropped by
// the check, records nothing.
TEST_F(ColourScan, ARecordedMatchKeepsItsColourMeasurementInTheLedgerAndTheBundle) {
  const std::string data = (dir_ / "data").string();
  const CommandResult scan = testing::RegisterAndScanRecorded(
      data, "buttons", "Buttons", (dir_ / "registered").string(), (dir_ / "suspect").string());
  ASSERT_EQ(scan.exit_code, 0) << scan.out;

  const CommandResult listed = RunKagami({"--data", data, "findings", "--format", "jsonl"});
  ASSERT_EQ(listed.exit_code, 0) << listed.out;
  const std::vector<nlohmann::json> findings = JsonLines(listed.out);
  ASSERT_EQ(findings.size(), 1u) << listed.out;
  EXPECT_NE(findings[0].dump().find("purple.jpg"), std::string::npos) << listed.out;
  ASSERT_EQ(findings[0]["units"].size(), 1u) << listed.out;
  const nlohmann::json& unit = findings[0]["units"][0];
  ASSERT_TRUE(unit.contains("colour_disagreement")) << unit.dump();
  const double disagreement = unit["colour_disagreement"].get<double>();
  EXPECT_GE(disagreement, 0.0) << unit.dump();
  EXPECT_LE(disagreement, 0.1) << unit.dump();

  std::string failure;
  const std::string report =
      testing::ExportVerifiedReport(data, (dir_ / "bundle").string(), &failure);
  ASSERT_FALSE(report.empty()) << failure;
  EXPECT_NE(report.find("colours compared: colour disagreement " +
                        std::to_string(static_cast<int>(disagreement * 100 + 0.5)) + "%"),
            std::string::npos)
      << report;
}

}  // namespace
}  // namespace kagami
