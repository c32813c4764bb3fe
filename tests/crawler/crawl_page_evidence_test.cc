// Volume-level evidence across the images of one crawled reader page
// (`kagami crawl --local-sample N`): until an image of a page matches, only
// the images at positions 0, N, 3N, ... without a PDQ candidate get the local-feature stage; the
// others wait and are matched once an image of their page matches, or are
// completed as "not checked" when the crawl has nothing else left. A page
// with findings in the ledger already (an earlier crawl, another worker) has
// every image described. Against tests/crawler/fixture_site.py --bench
// (chapter pages of <img> tags).

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "kagami/synth/page_generator.h"
#include "process.h"
#include "temp_dir.h"

namespace kagami {
namespace {

namespace fs = std::filesystem;
using kagami::testing::Lines;
using kagami::testing::ReadText;
using kagami::testing::Spawn;
using kagami::testing::Wait;

constexpr int kPagesPerChapter = 8;

// Chapter 1: every registered page cropped 15% per side (no PDQ candidate:
// only local features find them). Chapter 2: unrelated pages. Chapter 3:
// empty until a test writes its images.
class CrawlPageEvidenceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = std::make_unique<testing::TempDir>();
    const fs::path root = root_->path();
    for (int i = 0; i < kPagesPerChapter; ++i) {
      cv::Mat page = synth::GenerateMangaPage(5200 + i, 900, 1300);
      char name[32];
      std::snprintf(name, sizeof name, "p%02d", i);
      testing::WriteFile(root / "reg" / (std::string(name) + ".png"), synth::EncodePng(page));
      cv::Rect crop(135, 195, 900 - 270, 1300 - 390);
      testing::WriteFile(root / "content/img/c1" / (std::string(name) + ".jpg"),
                         synth::EncodeJpeg(page(crop).clone(), 80));
      testing::WriteFile(root / "content/img/c2" / (std::string(name) + ".jpg"),
                         synth::EncodeJpeg(synth::GenerateMangaPage(6300 + i, 900, 1300), 80));
    }
    template_data_ = root / "data-template";
    ASSERT_EQ(Wait(Spawn({KAGAMI_BINARY, "--data", template_data_.string(), "register", "--work",
                          "cropped-work", "--title", "Cropped Work", (root / "reg").string()},
                         root / "reg.log")),
              0)
        << ReadText(root / "reg.log");
    fs::path port_file = root / "port";
    server_ = Spawn({"python3", KAGAMI_CRAWLER_FIXTURE_SITE, "--bench", "--chapters", "3",
                     "--content", (root / "content").string(), "--port-file", port_file.string(),
                     "--log", (root / "access.log").string()},
                    root / "server.log");
    port_ = testing::WaitForPort(port_file);
    ASSERT_GT(port_, 0) << ReadText(root / "server.log");
  }

  // Chapter 3 is each test's own.
  void TearDown() override { fs::remove_all(root_->path() / "content/img/c3"); }

  static void TearDownTestSuite() {
    testing::Stop(server_);
    root_.reset();
  }

  struct CrawlResult {
    int exit_code = -1;
    std::string log;
    std::set<std::string> found;  // media URLs with a finding of the cropped work
    long not_checked = 0;         // "N images not checked by local features", 0 when absent
  };

  // Crawls the site into data directory `name`, a copy of the registered
  // template made on its first crawl.
  static CrawlResult Crawl(const std::string& name, int local_sample) {
    const fs::path data = root_->path() / name;
    if (!fs::exists(data)) fs::copy(template_data_, data, fs::copy_options::recursive);
    CrawlResult r;
    const fs::path log = root_->path() / (name + "-" + std::to_string(++crawls_) + ".log");
    r.exit_code = Wait(Spawn({KAGAMI_BINARY, "--data", data.string(), "--threads", "2", "crawl",
                              "--seed", "http://127.0.0.1:" + std::to_string(port_) + "/",
                              "--allow-address", "127.0.0.1", "--min-delay", "0", "--per-host", "4",
                              "--local-sample", std::to_string(local_sample), "--format", "jsonl"},
                             log));
    r.log = ReadText(log);
    for (const std::string& line : Lines(r.log)) {
      nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_object() && j.value("work", "") == "cropped-work")
        r.found.insert(j.value("media_url", ""));
    }
    std::smatch m;
    static const std::regex kNotChecked("(\\d+) images not checked by local features");
    if (std::regex_search(r.log, m, kNotChecked)) r.not_checked = std::stol(m[1]);
    return r;
  }

  static inline std::unique_ptr<testing::TempDir> root_;
  static inline fs::path template_data_;
  static inline pid_t server_ = -1;
  static inline int port_ = 0;
  static inline int crawls_ = 0;
};

TEST_F(CrawlPageEvidenceTest, SampledImageMatchOpensEveryWaitingImageOfItsPage) {
  CrawlResult r = Crawl("sample4", 4);
  ASSERT_EQ(r.exit_code, 0) << r.log;
  // Only images 2 of 8 per page are described at first; the others of chapter
  // 1 are found once a sampled one matched.
  EXPECT_EQ(r.found.size(), static_cast<size_t>(kPagesPerChapter)) << r.log;
  for (const std::string& url : r.found) EXPECT_NE(url.find("/img/c1/"), std::string::npos) << url;
  // Chapter 2 matched nothing: its unsampled images without a PDQ candidate
  // were never described (at most 8 - 2 of them).
  EXPECT_GT(r.not_checked, 0) << r.log;
  EXPECT_LE(r.not_checked, kPagesPerChapter - kPagesPerChapter / 4) << r.log;
}

TEST_F(CrawlPageEvidenceTest, ARecrawlDescribesEveryImageOfAPageWithFindings) {
  const fs::path c3 = root_->path() / "content/img/c3";
  auto write_unrelated = [&](const std::string& prefix, int seed) {
    for (int i = 1; i < kPagesPerChapter; ++i) {
      testing::WriteFile(c3 / (prefix + std::to_string(i) + ".jpg"),
                         synth::EncodeJpeg(synth::GenerateMangaPage(seed + i, 900, 1300), 80));
    }
  };
  // First crawl, every image described: chapter 3 shows one registered page
  // (cropped) among unrelated ones, and is recorded as a page with findings.
  fs::remove_all(c3);
  fs::create_directories(c3);
  fs::copy_file(root_->path() / "content/img/c1/p00.jpg", c3 / "a0.jpg");
  write_unrelated("a", 7400);
  CrawlResult first = Crawl("recrawl", 1);
  ASSERT_EQ(first.exit_code, 0) << first.log;
  ASSERT_TRUE(first.found.count("http://127.0.0.1:" + std::to_string(port_) + "/img/c3/a0.jpg"))
      << first.log;

  // Chapter 3 now shows other images only. Crawled again into the same data
  // directory, its page has findings: none of its images waits unchecked. A
  // fresh data directory describes only its sampled one.
  fs::remove_all(c3);
  write_unrelated("b", 7500);
  testing::WriteFile(c3 / "b0.jpg",
                     synth::EncodeJpeg(synth::GenerateMangaPage(7600, 900, 1300), 80));
  CrawlResult again = Crawl("recrawl", 12);
  CrawlResult fresh = Crawl("fresh", 12);
  ASSERT_EQ(again.exit_code, 0) << again.log;
  ASSERT_EQ(fresh.exit_code, 0) << fresh.log;
  EXPECT_GT(fresh.not_checked, again.not_checked) << again.log << fresh.log;
}

TEST_F(CrawlPageEvidenceTest, WaitingImagesWaitForALaterImageOfTheirPageThatIsStillQueued) {
  // Chapter 3: unrelated images, and one registered page served only after a
  // 429 (Retry-After: 2 s). When the rest is done its entry is still queued:
  // the unsampled unrelated images wait for it, and are described once it
  // matches, instead of being completed unchecked. (tests/pg/
  // pg_page_evidence_test.cc: the same on a shared frontier.)
  const fs::path c3 = root_->path() / "content/img/c3";
  fs::remove_all(c3);
  for (int i = 0; i < kPagesPerChapter - 1; ++i) {
    testing::WriteFile(c3 / ("u" + std::to_string(i) + ".jpg"),
                       synth::EncodeJpeg(synth::GenerateMangaPage(7700 + i, 900, 1300), 80));
  }
  CrawlResult without_late = Crawl("without-late", 12);
  ASSERT_EQ(without_late.exit_code, 0) << without_late.log;
  testing::WriteFile(c3 / "z-late.jpg",
                     synth::EncodeJpeg(synth::GenerateMangaPage(5200, 900, 1300), 90));
  CrawlResult with_late = Crawl("with-late", 12);
  ASSERT_EQ(with_late.exit_code, 0) << with_late.log;
  const std::string late = "http://127.0.0.1:" + std::to_string(port_) + "/img/c3/z-late.jpg";
  ASSERT_TRUE(with_late.found.count(late)) << with_late.log;
  // Chapter 3's unsampled images (all but the first to arrive) were described.
  EXPECT_EQ(with_late.not_checked, without_late.not_checked - (kPagesPerChapter - 2))
      << without_late.log << with_late.log;
}

TEST_F(CrawlPageEvidenceTest, SampleOfOneDescribesEveryImage) {
  CrawlResult r = Crawl("sample1", 1);
  ASSERT_EQ(r.exit_code, 0) << r.log;
  EXPECT_EQ(r.found.size(), static_cast<size_t>(kPagesPerChapter)) << r.log;
  EXPECT_EQ(r.not_checked, 0) << r.log;
}

}  // namespace
}  // namespace kagami
