// Reader-page evidence for `kagami crawl --worker` on a shared PostgreSQL
// store: a worker's unsampled images of a page wait while an entry of the
// run is still queued or leased elsewhere (here: the page's last image, its
// host delayed by a 429 with Retry-After, which a shared frontier does not
// offer until then), and are described once that image matches, instead of
// being completed unchecked. Against tests/crawler/fixture_site.py --bench.

#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <string>

#include "kagami/synth/page_generator.h"
#include "pg_server.h"
#include "process.h"
#include "temp_dir.h"

namespace kagami {
namespace {

namespace fs = std::filesystem;
using kagami::testing::ReadText;
using kagami::testing::Spawn;
using kagami::testing::Wait;

constexpr int kUnrelated = 7;

class PgPageEvidenceTest : public testing::PgServerTest {
 protected:
  void SetUp() override {
    PgServerTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    const fs::path root = dir_.path();
    testing::WriteFile(root / "reg/p0.png",
                       synth::EncodePng(synth::GenerateMangaPage(5200, 900, 1300)));
    for (int i = 0; i < kUnrelated; ++i) {
      testing::WriteFile(root / "content/img/c1" / ("u" + std::to_string(i) + ".jpg"),
                         synth::EncodeJpeg(synth::GenerateMangaPage(7700 + i, 900, 1300), 80));
    }
    fs::path port_file = root / "port";
    site_ = Spawn({"python3", KAGAMI_CRAWLER_FIXTURE_SITE, "--bench", "--chapters", "1",
                   "--content", (root / "content").string(), "--port-file", port_file.string(),
                   "--log", (root / "access.log").string()},
                  root / "site.log");
    port_ = testing::WaitForPort(port_file);
    ASSERT_GT(port_, 0) << ReadText(root / "site.log");
  }

  void TearDown() override { testing::Stop(site_); }

  struct CrawlResult {
    int exit_code = -1;
    std::string log;
    long not_checked = 0;  // "N images not checked by local features", 0 when absent
  };

  // One worker crawls the site into a new database `db` holding the
  // registered page.
  CrawlResult CrawlAsWorker(const std::string& db) {
    const fs::path root = dir_.path();
    EXPECT_EQ(server_->CreateDatabase(db), "");
    const std::string conninfo = server_->Conninfo(db);
    const fs::path reg_log = root / ("register-" + db + ".log");
    EXPECT_EQ(
        Wait(Spawn({KAGAMI_BINARY, "--data", (root / ("reg-" + db)).string(), "--store", conninfo,
                    "register", "--work", "pg-work", "--title", "PG Work", (root / "reg").string()},
                   reg_log)),
        0)
        << ReadText(reg_log);
    const fs::path job = root / (db + ".toml");
    testing::WriteFile(job, "name = \"" + db +
                                "\"\nseeds = [\"http://127.0.0.1:" + std::to_string(port_) +
                                "/\"]\nallow_addresses = [\"127.0.0.1\"]\n"
                                "[limits]\ntotal_timeout_s = 60\n"
                                "[politeness]\nmin_delay_s = 0\nper_host_connections = 4\n");
    const fs::path data = root / ("data-" + db);
    const fs::path keys_log = root / ("keys-" + db + ".log");
    EXPECT_EQ(Wait(Spawn({KAGAMI_BINARY, "--data", data.string(), "keys", "init"}, keys_log)), 0)
        << ReadText(keys_log);
    CrawlResult r;
    const fs::path log = root / ("crawl-" + db + ".log");
    r.exit_code =
        Wait(Spawn({KAGAMI_BINARY, "--data", data.string(), "--threads", "2", "crawl", job.string(),
                    "--worker", "--store", conninfo, "--run", "r1", "--local-sample", "12"},
                   log));
    r.log = ReadText(log);
    std::smatch m;
    static const std::regex kNotChecked("(\\d+) images not checked by local features");
    if (std::regex_search(r.log, m, kNotChecked)) r.not_checked = std::stol(m[1]);
    return r;
  }

  testing::TempDir dir_;
  pid_t site_ = -1;
  int port_ = 0;
};

TEST_F(PgPageEvidenceTest, UnsampledImagesWaitForALaterImageOfTheirPageOnADelayedHost) {
  // Only unrelated images: the first to arrive is described, the others are
  // completed unchecked at the end.
  CrawlResult unrelated = CrawlAsWorker("unrelated");
  ASSERT_EQ(unrelated.exit_code, 0) << unrelated.log;
  EXPECT_EQ(unrelated.not_checked, kUnrelated - 1) << unrelated.log;

  // The registered page among them, served only after a 429 (Retry-After:
  // 2 s): its match opens every waiting image of the page.
  testing::WriteFile(dir_.path() / "content/img/c1/z-late.jpg",
                     synth::EncodeJpeg(synth::GenerateMangaPage(5200, 900, 1300), 90));
  CrawlResult late = CrawlAsWorker("late");
  ASSERT_EQ(late.exit_code, 0) << late.log;
  EXPECT_NE(late.log.find("z-late.jpg"), std::string::npos) << late.log;
  EXPECT_EQ(late.not_checked, 0) << late.log;
}

}  // namespace
}  // namespace kagami
