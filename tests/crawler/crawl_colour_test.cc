// The colour check in `kagami crawl`: openclipart's glossy button registered
// in purple; a reader chapter (tests/crawler/fixture_site.py --bench) shows
// the purple drawing re-encoded and the same drawing in blue. A crawl reports
// the purple copy with its measured colour disagreement and not the blue one
// (PDQ and the local features see one shape); with --no-colour-check (job key
// colour_check = false) it reports both. Real images from openclipart-png
// (scripts/bootstrap installs it); skipped when missing.

#include <gtest/gtest.h>
#include <sys/types.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "process.h"
#include "real_images.h"
#include "temp_dir.h"

namespace kagami {
namespace {

namespace fs = std::filesystem;
using testing::ClipartButton;
using testing::Lines;
using testing::ReadText;
using testing::Spawn;
using testing::Wait;
using testing::WriteJpeg;

// The findings of one crawl of the site into a fresh copy of the registered
// store, by the media file's name.
std::map<std::string, nlohmann::json> CrawlFindings(const fs::path& root, const fs::path& data,
                                                    int port, const std::vector<std::string>& extra,
                                                    std::string* log_text) {
  fs::copy(root / "data-template", data, fs::copy_options::recursive);
  std::vector<std::string> args = {
      KAGAMI_BINARY,     "--data",
      data.string(),     "crawl",
      "--seed",          "http://127.0.0.1:" + std::to_string(port) + "/",
      "--allow-address", "127.0.0.1",
      "--min-delay",     "0",
      "--format",        "jsonl"};
  args.insert(args.end(), extra.begin(), extra.end());
  const fs::path log = data.string() + ".log";
  const int code = Wait(Spawn(args, log));
  *log_text = ReadText(log);
  EXPECT_EQ(code, 0) << *log_text;
  std::map<std::string, nlohmann::json> found;
  for (const std::string& line : Lines(*log_text)) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.value("work", "") == "buttons")
      found[fs::path(j.value("media_url", "")).filename().string()] = j;
  }
  return found;
}

TEST(CrawlColourCheck, ARecolouredDrawingIsReportedOnlyWithoutTheColourCheck) {
  for (const char* colour : {"purple", "blue"}) {
    if (!fs::exists(ClipartButton(colour))) GTEST_SKIP() << ClipartButton(colour) << " missing";
  }
  testing::TempDir dir;
  const fs::path root = dir.path();
  WriteJpeg(root / "reg" / "button.jpg", testing::LoadOnWhite(ClipartButton("purple"), 800), 92);
  WriteJpeg(root / "content/img/c1/blue.jpg", testing::LoadOnWhite(ClipartButton("blue"), 640), 70);
  WriteJpeg(root / "content/img/c1/purple.jpg", testing::LoadOnWhite(ClipartButton("purple"), 640),
            70);
  ASSERT_EQ(Wait(Spawn({KAGAMI_BINARY, "--data", (root / "data-template").string(), "register",
                        "--work", "buttons", "--title", "Buttons", (root / "reg").string()},
                       root / "reg.log")),
            0)
      << ReadText(root / "reg.log");
  pid_t server = Spawn({"python3", KAGAMI_CRAWLER_FIXTURE_SITE, "--bench", "--chapters", "1",
                        "--content", (root / "content").string(), "--port-file",
                        (root / "port").string(), "--log", (root / "access.log").string()},
                       root / "server.log");
  const testing::StopOnExit stop_server(server);
  const int port = testing::WaitForPort(root / "port");
  ASSERT_GT(port, 0) << ReadText(root / "server.log");

  std::string log;
  const std::map<std::string, nlohmann::json> checked =
      CrawlFindings(root, root / "checked", port, {}, &log);
  ASSERT_EQ(checked.count("purple.jpg"), 1u) << log;
  EXPECT_EQ(checked.count("blue.jpg"), 0u) << log;
  const nlohmann::json& unit = checked.at("purple.jpg")["units"].at(0);
  ASSERT_TRUE(unit.contains("colour_disagreement")) << unit.dump();
  EXPECT_LE(unit["colour_disagreement"].get<double>(), 0.1) << unit.dump();

  const std::map<std::string, nlohmann::json> unchecked =
      CrawlFindings(root, root / "unchecked", port, {"--no-colour-check"}, &log);
  EXPECT_EQ(unchecked.count("purple.jpg"), 1u) << log;
  ASSERT_EQ(unchecked.count("blue.jpg"), 1u) << log;
  EXPECT_FALSE(unchecked.at("blue.jpg")["units"].at(0).contains("colour_disagreement"))
      << unchecked.at("blue.jpg").dump();
}

}  // namespace
}  // namespace kagami
