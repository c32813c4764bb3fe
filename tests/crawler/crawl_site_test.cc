// `kagami crawl` against a hostile fixture "internet" served on 127.0.0.1 by
// tests/crawler/fixture_site.py: registered works are found on a reader (lazy
// images, script image lists, pagination) and in a CBZ on a locker host; the
// traps are contained; evidence is in WARC files that an independent reader
// (warcio.js) accepts; a crawl killed with SIGKILL resumes to the same findings.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>
#include <memory>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "kagami/reports/findings_ledger.h"
#include "kagami/synth/page_generator.h"
#include "process.h"
#include "sqlite_db.h"
#include "temp_dir.h"

namespace kagami {
namespace {

namespace fs = std::filesystem;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

const char* kHosts[] = {"reader.test",  "img.test",    "leech.test",      "locker.test",
                        "bad.test",     "polite.test", "ra-seconds.test", "ra-date.test",
                        "backoff.test", "moved.test",  "robots-cdn.test", "down.test",
                        "flaky.test"};

using kagami::testing::Lines;
using kagami::testing::ReadText;
using kagami::testing::Spawn;
using kagami::testing::Wait;

int RunProcess(const std::vector<std::string>& args, const fs::path& log) {
  return Wait(Spawn(args, log));
}

// One registered store and fixture site shared by the tests of this file.
class CrawlSiteTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = std::make_unique<testing::TempDir>();
    const fs::path root = root_->path();
    // Work A: 6 pages shown on the reader, 3 per chapter, re-encoded by the site.
    for (int i = 0; i < 6; ++i) {
      cv::Mat page = synth::GenerateMangaPage(7100 + i, 900, 1300);
      testing::WriteFile(root / "reg-a" / ("p" + std::to_string(i + 1) + ".png"),
                         synth::EncodePng(page));
      testing::WriteFile(root / "content/img" / ("c" + std::to_string(1 + i / 3)) /
                             (std::to_string(100 + i) + ".jpg"),
                         synth::EncodeJpeg(page, 75));
    }
    // An unrelated page on the reader (a decoy that must not be reported).
    testing::WriteFile(root / "content/img/c2/999.jpg",
                       synth::EncodeJpeg(synth::GenerateMangaPage(9999, 900, 1300), 75));
    // Work B: 4 pages inside a CBZ on the locker.
    for (int i = 0; i < 4; ++i) {
      cv::Mat page = synth::GenerateMangaPage(8100 + i, 900, 1300);
      testing::WriteFile(root / "reg-b" / ("p" + std::to_string(i + 1) + ".png"),
                         synth::EncodePng(page));
      testing::WriteFile(root / "cbz-src" / ("page" + std::to_string(i + 1) + ".jpg"),
                         synth::EncodeJpeg(page, 80));
    }
    fs::create_directories(root / "content/locker");
    std::string zip = "cd '" + (root / "cbz-src").string() + "' && python3 -m zipfile -c '" +
                      (root / "content/locker/vol1.cbz").string() +
                      "' page1.jpg page2.jpg page3.jpg page4.jpg";
    ASSERT_EQ(std::system(zip.c_str()), 0);

    template_data_ = root / "data-template";
    ASSERT_EQ(RunProcess({KAGAMI_BINARY, "--data", template_data_.string(), "register", "--work",
                          "reader-work", "--title", "Reader Work", (root / "reg-a").string()},
                         root / "reg-a.log"),
              0)
        << ReadText(root / "reg-a.log");
    ASSERT_EQ(RunProcess({KAGAMI_BINARY, "--data", template_data_.string(), "register", "--work",
                          "locker-work", "--title", "Locker Work", (root / "reg-b").string()},
                         root / "reg-b.log"),
              0)
        << ReadText(root / "reg-b.log");

    access_log_ = root / "access.log";
    fs::path port_file = root / "port";
    server_ =
        Spawn({"python3", KAGAMI_CRAWLER_FIXTURE_SITE, "--content", (root / "content").string(),
               "--port-file", port_file.string(), "--log", access_log_.string()},
              root / "server.log");
    port_ = testing::WaitForPort(port_file);
    ASSERT_GT(port_, 0) << ReadText(root / "server.log");
  }

  static void TearDownTestSuite() {
    testing::Stop(server_);
    root_.reset();
  }

  static std::string Origin(const std::string& host) {
    return "http://" + host + ":" + std::to_string(port_);
  }

  // A fresh data dir holding the registered works; a job file pointing at the site.
  fs::path NewDataDir(const std::string& name) {
    fs::path d = root_->path() / name;
    fs::copy(template_data_, d, fs::copy_options::recursive);
    return d;
  }

  fs::path WriteJob(const std::string& name, double min_delay, int per_host) {
    std::ostringstream job;
    job << "name = \"" << name << "\"\n"
        << "seeds = [\"" << Origin("reader.test") << "/\"]\n"
        << "follow_hosts = [\"leech.test\", \"bad.test\", \"intranet.test\"]\n"
        << "allow_addresses = [\"127.0.0.1\"]\n"
        << "operator = \"crawler-tests@kagami.invalid\"\n"
        << "resolve = [";
    for (const char* h : kHosts) job << "\"" << h << ":" << port_ << ":127.0.0.1\", ";
    job << "\"intranet.test:" << port_ << ":10.1.2.3\"]\n"
        << "[limits]\nmax_depth = 4\nmax_pages = 80\ntotal_timeout_s = 6\nlow_speed_time_s = 2\n"
        << "low_speed_bytes_per_s = 1000\nmax_media_bytes = 33554432\nmax_page_bytes = 4194304\n"
        << "[politeness]\nmin_delay_s = " << min_delay << "\nper_host_connections = " << per_host
        << "\nmax_retries = 1\n"
        << "[[site]]\nhost = \"reader.test\"\nscript_media = ['var pages = (\\[[^\\]]*\\])']\n";
    fs::path p = root_->path() / (name + ".toml");
    testing::WriteFile(p, job.str());
    return p;
  }

  // The ledger's findings, as `kagami findings --format jsonl` lists them.
  static std::vector<nlohmann::json> Findings(const fs::path& data) {
    std::vector<nlohmann::json> out;
    fs::path listing = data / "findings-listing.jsonl";
    if (!fs::exists(data / "findings.sqlite")) return out;
    RunProcess({KAGAMI_BINARY, "--data", data.string(), "findings", "--format", "jsonl"}, listing);
    for (const std::string& line : Lines(ReadText(listing))) {
      nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_object()) out.push_back(j);
    }
    return out;
  }

  // (work, media URL, member) of each matched page.
  static std::set<std::string> FindingKeys(const std::vector<nlohmann::json>& findings) {
    std::set<std::string> keys;
    for (const auto& f : findings)
      for (const auto& u : f["units"])
        keys.insert(f["work"].get<std::string>() + " " + f["media_url"].get<std::string>() + " " +
                    u["member"].get<std::string>());
    return keys;
  }

  static std::vector<std::string> Requests() { return Lines(ReadText(access_log_)); }

  // Server-side monotonic times (seconds) of the requests for "host path".
  static std::vector<double> RequestTimes(const std::string& host_path) {
    std::vector<double> out;
    for (const std::string& line : Lines(ReadText(access_log_.string() + ".times"))) {
      size_t sp = line.rfind(' ');
      if (sp != std::string::npos && line.substr(0, sp) == host_path)
        out.push_back(std::stod(line.substr(sp + 1)));
    }
    return out;
  }

  static long RequestCount(const std::string& host_path) {
    std::vector<std::string> r = Requests();
    return std::count(r.begin(), r.end(), host_path);
  }

  // A small job file: `extra` is appended at top level before the tables.
  fs::path WriteSmallJob(const std::string& name, const std::string& seed_host,
                         const std::string& extra, const std::string& politeness,
                         const std::string& limits = "") {
    std::ostringstream job;
    job << "name = \"" << name << "\"\n"
        << "seeds = [\"" << Origin(seed_host) << "/\"]\n"
        << "allow_addresses = [\"127.0.0.1\"]\n"
        << extra << "resolve = [";
    for (const char* h : kHosts) job << "\"" << h << ":" << port_ << ":127.0.0.1\", ";
    job << "]\n[limits]\nmax_depth = 3\ntotal_timeout_s = 6\nlow_speed_time_s = 2\n"
        << "low_speed_bytes_per_s = 1000\n"
        << limits << "[politeness]\n"
        << politeness;
    fs::path p = root_->path() / (name + ".toml");
    testing::WriteFile(p, job.str());
    return p;
  }

  static inline std::unique_ptr<testing::TempDir> root_;
  static inline fs::path template_data_;
  static inline fs::path access_log_;
  static inline pid_t server_ = -1;
  static inline int port_ = 0;
};

// url -> (state, note) from the job's frontier.
std::map<std::string, std::pair<int, std::string>> FrontierStates(const fs::path& db_path) {
  std::map<std::string, std::pair<int, std::string>> out;
  testing::SqliteDb db = testing::OpenSqlite(db_path, SQLITE_OPEN_READONLY);
  if (!db) return out;
  testing::SqliteStmt stmt =
      testing::PrepareSqlite(db.get(), "SELECT url, state, COALESCE(note,'') FROM urls");
  while (stmt && sqlite3_step(stmt.get()) == SQLITE_ROW) {
    out[reinterpret_cast<const char*>(sqlite3_column_text(stmt.get(), 0))] = {
        sqlite3_column_int(stmt.get(), 1),
        reinterpret_cast<const char*>(sqlite3_column_text(stmt.get(), 2))};
  }
  return out;
}

TEST_F(CrawlSiteTest, FindsRegisteredWorksContainsTrapsAndKeepsEvidence) {
  fs::path data = NewDataDir("data-full");
  fs::path job = WriteJob("full", 0.0, 4);
  fs::path log = root_->path() / "crawl-full.log";
  ASSERT_EQ(RunProcess({KAGAMI_BINARY, "--data", data.string(), "crawl", job.string(), "--format",
                        "jsonl"},
                       log),
            0)
      << ReadText(log);
  std::vector<nlohmann::json> findings = Findings(data);

  // Work A: every page, from both the lazy <img> chapter and the script-list chapter.
  std::set<std::string> reader_media, locker_members;
  for (const auto& f : findings) {
    EXPECT_THAT(f["work"].get<std::string>(), ::testing::AnyOf("reader-work", "locker-work"));
    EXPECT_EQ(f["source_kind"], "url");
    if (f["work"] == "reader-work") {
      reader_media.insert(f["media_url"].get<std::string>());
      EXPECT_THAT(f["page_url"].get<std::string>(), HasSubstr("/manga/title/chapter-"));
    }
    if (f["work"] == "locker-work") {
      EXPECT_EQ(f["media_url"], Origin("locker.test") + "/files/vol1.cbz");
      EXPECT_EQ(f["page_url"], Origin("leech.test") + "/");
      for (const auto& u : f["units"]) locker_members.insert(u["member"].get<std::string>());
    }
    EXPECT_THAT(f["media_url"].get<std::string>(), Not(HasSubstr("999.jpg")));  // the decoy
    EXPECT_EQ(f["content_sha256"].get<std::string>().size(), 64u);
    EXPECT_EQ(f["server_ip"], "127.0.0.1");
    EXPECT_EQ(f["http_status"], 200);
    EXPECT_THAT(f["warc_file"].get<std::string>(), HasSubstr("crawl/full/warc/"));
    EXPECT_THAT(f["warc_record_id"].get<std::string>(), HasSubstr("urn:uuid:"));
    EXPECT_TRUE(fs::exists(data / f["evidence_file"].get<std::string>()));
    for (const auto& u : f["units"]) EXPECT_EQ(u["pdq"].get<std::string>().size(), 64u);
  }
  EXPECT_EQ(reader_media.size(), 6u) << ReadText(log);
  EXPECT_EQ(locker_members.size(), 4u) << ReadText(log);

  // Traps.
  std::vector<std::string> requests = Requests();
  auto count = [&](const std::string& line) {
    return std::count(requests.begin(), requests.end(), line);
  };
  EXPECT_EQ(count("reader.test /private/vault"), 0) << "robots.txt disallow ignored";
  EXPECT_EQ(count("reader.test /loop/a"), 1);
  EXPECT_EQ(count("reader.test /loop/b"), 1);
  EXPECT_EQ(count("reader.test /big"), 1);
  EXPECT_EQ(count("reader.test /bomb.html"), 1);
  EXPECT_LE(count("bad.test /"), 2) << "500-ing host retried more than max_retries";
  EXPECT_GE(count("bad.test /"), 1);
  int calendar = 0;
  for (const std::string& r : requests)
    if (r.rfind("reader.test /calendar", 0) == 0) ++calendar;
  EXPECT_LE(calendar, 4) << "endless calendar not bounded by max_depth";
  for (const std::string& r : requests) {
    EXPECT_EQ(std::count(requests.begin(), requests.end(), r) > 2, false) << "fetched 3x: " << r;
  }

  auto states = FrontierStates(data / "crawl/full/frontier.sqlite");
  ASSERT_FALSE(states.empty());
  auto note = [&](const std::string& url) {
    auto it = states.find(url);
    return it == states.end() ? std::string("(not in frontier)") : it->second.second;
  };
  EXPECT_THAT(note("http://169.254.169.254/latest/meta-data/iam.jpg"), HasSubstr("link-local"));
  EXPECT_THAT(note("http://intranet.test:" + std::to_string(port_) + "/admin"),
              HasSubstr("10.1.2.3 is private"));  // checked after --resolve pinning
  EXPECT_THAT(note("http://192.168.0.1/cam.jpg"), HasSubstr("private"));
  EXPECT_THAT(note("http://[::1]:" + std::to_string(port_) + "/x.jpg"), HasSubstr("loopback"));
  EXPECT_THAT(note(Origin("reader.test") + "/private/vault"), HasSubstr("robots.txt"));
  EXPECT_THAT(note(Origin("reader.test") + "/big"), HasSubstr("cap"));
  EXPECT_THAT(note(Origin("reader.test") + "/bomb.html"), HasSubstr("decompression"));
  EXPECT_THAT(note(Origin("locker.test") + "/files/bomb.zip"), HasSubstr("ratio"));
  // The playlist is fetched by the media stage (404 here: no stream served yet).
  EXPECT_THAT(note(Origin("locker.test") + "/stream/ep1.m3u8"), HasSubstr("404"));
  EXPECT_EQ(states.count("ftp://reader.test/x.cbz"), 0u);
  for (const auto& [url, st] : states) EXPECT_GE(st.first, 2) << url << " left unfinished";

  // A second run of a finished job starts afresh and accuses nobody twice.
  ASSERT_EQ(RunProcess({KAGAMI_BINARY, "--data", data.string(), "crawl", job.string()}, log), 0)
      << ReadText(log);
  EXPECT_EQ(Findings(data).size(), findings.size());

  // WARC: an independent reader accepts every file and agrees on the digests.
  fs::path npm_dir = fs::path(KAGAMI_CRAWLER_BUILD_DIR) / "warcio";
  if (std::system(
          ("'" + std::string(KAGAMI_CRAWLER_INSTALL_WARCIO) + "' '" + npm_dir.string() + "'")
              .c_str()) != 0) {
    GTEST_SKIP() << "warcio.js could not be installed from npm; WARC not checked independently";
  }
  fs::path warc_check = npm_dir / "warc_check.mjs";
  fs::copy_file(KAGAMI_CRAWLER_WARC_CHECK, warc_check, fs::copy_options::overwrite_existing);
  std::vector<std::string> args = {"node", warc_check.string()};
  for (const auto& e : fs::directory_iterator(data / "crawl/full/warc")) args.push_back(e.path());
  fs::path out = root_->path() / "warc-check.jsonl";
  ASSERT_EQ(RunProcess(args, out), 0) << ReadText(out);
  std::set<std::string> response_ids;
  int responses = 0, requests_seen = 0, infos = 0;
  bool after_truncated = false;
  for (const std::string& line : Lines(ReadText(out))) {
    nlohmann::json r = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(r.is_discarded()) << line;
    // warcio.js 2.x misreads two bytes of the record after a response whose
    // HTTP Content-Length (10 GB) exceeds its stored (truncated) payload; the
    // record's headers still parse, so only its version line is not compared.
    if (!after_truncated) {
      EXPECT_EQ(r["version"], "WARC/1.1") << line;
    }
    after_truncated = r["type"] == "response" && !r["truncated"].is_null();
    if (r["type"] == "warcinfo") ++infos;
    if (r["type"] == "request") ++requests_seen;
    if (r["type"] != "response") continue;
    ++responses;
    response_ids.insert(r["id"].get<std::string>());
    EXPECT_FALSE(r["uri"].is_null());
    EXPECT_FALSE(r["date"].is_null());
    EXPECT_EQ(r["ip"], "127.0.0.1");
    if (r["truncated"].is_null()) {
      EXPECT_EQ(r["payload_digest"], r["payload_sha256"]) << line;
    }
  }
  EXPECT_EQ(infos, 2);  // two runs, one file each
  EXPECT_EQ(responses, requests_seen);
  EXPECT_GT(responses, 20);
  for (const auto& f : findings)
    EXPECT_THAT(response_ids, Contains(f["warc_record_id"].get<std::string>()));
}

TEST_F(CrawlSiteTest, CrawlKilledMidwayResumesToTheSameFindings) {
  fs::path full = NewDataDir("data-reference");
  fs::path job = WriteJob("resume", 0.0, 4);
  fs::path log = root_->path() / "crawl-reference.log";
  ASSERT_EQ(RunProcess({KAGAMI_BINARY, "--data", full.string(), "crawl", job.string()}, log), 0)
      << ReadText(log);
  std::set<std::string> expected = FindingKeys(Findings(full));
  ASSERT_GE(expected.size(), 8u);

  // A slow, polite crawl killed once it has recorded a first finding.
  fs::path data = NewDataDir("data-killed");
  fs::path slow = WriteJob("resume", 0.15, 1);
  pid_t pid = Spawn({KAGAMI_BINARY, "--data", data.string(), "crawl", slow.string()},
                    root_->path() / "crawl-killed.log");
  bool killed_midway = false;
  for (int i = 0; i < 600; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (fs::exists(data / "findings.sqlite") && !Findings(data).empty()) {
      kill(pid, SIGKILL);
      killed_midway = true;
      break;
    }
  }
  int rc = Wait(pid);
  ASSERT_TRUE(killed_midway) << ReadText(root_->path() / "crawl-killed.log");
  EXPECT_EQ(rc, -SIGKILL);
  EXPECT_LT(FindingKeys(Findings(data)).size(), expected.size())
      << "the crawl finished before the kill";

  fs::path log2 = root_->path() / "crawl-resumed.log";
  ASSERT_EQ(RunProcess({KAGAMI_BINARY, "--data", data.string(), "crawl", job.string()}, log2), 0)
      << ReadText(log2);
  EXPECT_THAT(ReadText(log2), HasSubstr("(resumed)"));
  std::vector<nlohmann::json> after = Findings(data);
  EXPECT_EQ(FindingKeys(after), expected);
  std::set<std::string> media;
  for (const auto& f : after)
    media.insert(f["work"].get<std::string>() + " " + f["media_url"].get<std::string>());
  EXPECT_EQ(after.size(), media.size()) << "a finding was recorded twice";
}

TEST_F(CrawlSiteTest, HonoursRetryAfterBackOffAndRobotsTxtThroughRedirects) {
  fs::path data = NewDataDir("data-polite");
  fs::path job = WriteSmallJob("polite", "polite.test",
                               "follow_hosts = [\"moved.test\", \"down.test\", \"flaky.test\"]\n",
                               "min_delay_s = 0\nper_host_connections = 2\nmax_retries = 3\n"
                               "max_backoff_s = 10\nrobots_retry_s = 0.4\nrobots_retries = 2\n");
  fs::path log = root_->path() / "crawl-polite.log";
  ASSERT_EQ(RunProcess({KAGAMI_BINARY, "--data", data.string(), "crawl", job.string()}, log), 0)
      << ReadText(log);

  // Each retry host answers 200 only once the crawler waited as told, so a
  // finding on it means the wait was honoured; told twice = came back early.
  std::set<std::string> media;
  for (const auto& f : Findings(data)) media.insert(f["media_url"].get<std::string>());
  for (const char* host : {"ra-seconds.test", "ra-date.test", "backoff.test"}) {
    EXPECT_THAT(media, Contains(Origin(host) + "/page.jpg")) << ReadText(log);
  }
  EXPECT_EQ(RequestCount("ra-seconds.test /page.jpg"), 2);  // 429 + Retry-After: 1, then 200
  EXPECT_EQ(RequestCount("ra-date.test /page.jpg"), 2);     // 503 + Retry-After: HTTP-date
  std::vector<double> t = RequestTimes("ra-seconds.test /page.jpg");
  ASSERT_EQ(t.size(), 2u);
  EXPECT_GE(t[1] - t[0], 0.95);
  // No Retry-After: exponential back-off (0.25 s, then 0.5 s at min_delay_s = 0).
  t = RequestTimes("backoff.test /page.jpg");
  ASSERT_EQ(t.size(), 3u);
  EXPECT_GE(t[1] - t[0], 0.24);
  EXPECT_GE(t[2] - t[1], 0.48);
  EXPECT_GT(t[2] - t[1], t[1] - t[0]);

  // moved.test's robots.txt is two redirects away, on another host (RFC 9309 2.3.1.2).
  EXPECT_EQ(RequestCount("moved.test /secret/page"), 0) << "robots.txt behind redirects ignored";
  EXPECT_EQ(RequestCount("robots-cdn.test /moved/robots-final.txt"), 1);
  EXPECT_THAT(media, Contains(Origin("moved.test") + "/open.jpg"));
  // down.test's robots.txt always answers 503 (RFC 9309 2.3.1.4): complete
  // disallow, robots.txt asked again after 0.4 s and 0.8 s (robots_retries =
  // 2), then the host's URLs are refused; nothing else there is fetched.
  EXPECT_EQ(RequestCount("down.test /"), 0);
  EXPECT_EQ(RequestCount("down.test /robots.txt"), 3);
  t = RequestTimes("down.test /robots.txt");
  ASSERT_EQ(t.size(), 3u);
  EXPECT_GE(t[1] - t[0], 0.39);
  EXPECT_GE(t[2] - t[1], 0.79);
  auto states = FrontierStates(data / "crawl/polite/frontier.sqlite");
  EXPECT_EQ(states[Origin("down.test") + "/"].first, 4);  // refused
  EXPECT_THAT(states[Origin("down.test") + "/"].second, HasSubstr("robots.txt unreachable"));
  // flaky.test's robots.txt answers 503 twice, then its rules: the page
  // waited (disallowed meanwhile), then was fetched under those rules.
  EXPECT_EQ(RequestCount("flaky.test /robots.txt"), 3);
  EXPECT_EQ(RequestCount("flaky.test /"), 1);
  EXPECT_EQ(RequestCount("flaky.test /private/x"), 0);
  t = RequestTimes("flaky.test /robots.txt");
  std::vector<double> page_t = RequestTimes("flaky.test /");
  ASSERT_EQ(t.size(), 3u);
  ASSERT_EQ(page_t.size(), 1u);
  EXPECT_GE(page_t[0], t[2]);
  EXPECT_THAT(media, Contains(Origin("flaky.test") + "/open.jpg"));

  // A second run within 24 hours reuses the cached robots.txt answers.
  ASSERT_EQ(RunProcess({KAGAMI_BINARY, "--data", data.string(), "crawl", job.string()}, log), 0)
      << ReadText(log);
  EXPECT_EQ(RequestCount("moved.test /robots.txt"), 1);
  EXPECT_EQ(RequestCount("robots-cdn.test /moved/robots-final.txt"), 1);
  EXPECT_EQ(RequestCount("moved.test /secret/page"), 0);
  // An unreachable robots.txt is not cached: the next run asks again.
  EXPECT_EQ(RequestCount("down.test /robots.txt"), 6);
  EXPECT_EQ(RequestCount("down.test /"), 0);
}

TEST_F(CrawlSiteTest, RobotsOverrideForANamedHostIsRecordedWithTheFindings) {
  fs::path data = NewDataDir("data-override");
  fs::path job = WriteSmallJob("override", "moved.test", "",
                               "min_delay_s = 0\nignore_robots_hosts = [\"moved.test\"]\n");
  fs::path log = root_->path() / "crawl-override.log";
  ASSERT_EQ(RunProcess({KAGAMI_BINARY, "--data", data.string(), "crawl", job.string()}, log), 0)
      << ReadText(log);
  std::map<std::string, std::string> override_by_media;
  for (const auto& f : Findings(data))
    override_by_media[f["media_url"].get<std::string>()] = f["robots_override"].get<std::string>();
  ASSERT_EQ(override_by_media.count(Origin("moved.test") + "/secret/p.jpg"), 1u) << ReadText(log);
  EXPECT_THAT(override_by_media[Origin("moved.test") + "/secret/p.jpg"],
              HasSubstr("overrides robots.txt"));
  EXPECT_THAT(override_by_media[Origin("moved.test") + "/secret/p.jpg"], HasSubstr("override"));
  ASSERT_EQ(override_by_media.count(Origin("moved.test") + "/open.jpg"), 1u);
  EXPECT_EQ(override_by_media[Origin("moved.test") + "/open.jpg"], "");  // robots allowed it
}

// `kagami schedule JOBDIR` as a real process: runs a due job, stores the last
// and next run, does not repeat the run after a restart, and on SIGTERM ends
// a crawl cleanly; the interrupted run resumes on the next start.
TEST_F(CrawlSiteTest, ScheduleRunsDueJobsPersistsStateAndStopsOnSigterm) {
  fs::path data = NewDataDir("data-schedule");
  fs::path jobs = root_->path() / "jobs";
  fs::create_directories(jobs);
  // Due once now (state seeded), then yearly: 00:00 UTC on 1 January.
  std::string toml = ReadText(WriteJob("sched", 0.25, 1));
  testing::WriteFile(jobs / "sched.toml", "schedule = \"0 0 1 1 *\"\n" + toml);
  fs::path state_path = data / "crawl/sched/schedule.json";
  long now = static_cast<long>(std::time(nullptr));
  testing::WriteFile(state_path, "{\"next_run\": " + std::to_string(now - 5) + "}\n");
  auto state = [&] {
    nlohmann::json j = nlohmann::json::parse(ReadText(state_path), nullptr, false);
    return j.is_object() ? j : nlohmann::json::object();
  };
  auto wait_for = [&](const std::function<bool()>& done) {
    for (int i = 0; i < 1200 && !done(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return done();
  };
  auto stop = [&](pid_t pid) {
    kill(pid, SIGTERM);
    int rc = -1;
    bool exited = wait_for([&] {
      int st = 0;
      if (waitpid(pid, &st, WNOHANG) != pid) return false;
      rc = WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
      return true;
    });
    if (!exited) {
      kill(pid, SIGKILL);
      Wait(pid);
    }
    return rc;
  };

  // 1. The due job starts; SIGTERM arrives mid-crawl: a clean exit, the run marked interrupted.
  fs::path log1 = root_->path() / "schedule-1.log";
  pid_t pid = Spawn({KAGAMI_BINARY, "--data", data.string(), "schedule", jobs.string()}, log1);
  ASSERT_TRUE(wait_for([&] { return state().value("running", false); })) << ReadText(log1);
  ASSERT_TRUE(wait_for([&] { return fs::exists(data / "crawl/sched/frontier.sqlite"); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  EXPECT_EQ(stop(pid), 0) << ReadText(log1);
  EXPECT_THAT(ReadText(log1), HasSubstr("kagami schedule: stopped"));
  EXPECT_EQ(state().value("last_status", ""), "stopped") << ReadText(log1);
  EXPECT_TRUE(state().value("running", false));

  // 2. Restarted: the interrupted run resumes at once and completes.
  fs::path log2 = root_->path() / "schedule-2.log";
  pid = Spawn({KAGAMI_BINARY, "--data", data.string(), "schedule", jobs.string()}, log2);
  bool finished = wait_for([&] { return state().value("last_status", "") == "ok"; });
  EXPECT_EQ(stop(pid), 0) << ReadText(log2);
  ASSERT_TRUE(finished) << ReadText(log2);
  nlohmann::json after = state();
  EXPECT_FALSE(after.value("running", true));
  std::time_t next = after.value("next_run", static_cast<std::time_t>(0));
  std::tm tm{};
  gmtime_r(&next, &tm);
  EXPECT_GT(next, now);
  EXPECT_EQ(tm.tm_mon, 0);
  EXPECT_EQ(tm.tm_mday, 1);
  EXPECT_EQ(tm.tm_hour, 0);
  EXPECT_EQ(tm.tm_min, 0);
  EXPECT_GE(FindingKeys(Findings(data)).size(), 8u) << ReadText(log2);

  // 3. Restarted again: nothing is due, so the job does not run again.
  long last_start = after.value("last_start", 0L);
  fs::path log3 = root_->path() / "schedule-3.log";
  pid = Spawn({KAGAMI_BINARY, "--data", data.string(), "schedule", jobs.string()}, log3);
  ASSERT_TRUE(wait_for([&] { return ReadText(log3).find("watching") != std::string::npos; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(stop(pid), 0) << ReadText(log3);
  EXPECT_EQ(state().value("last_start", 0L), last_start);
  EXPECT_THAT(ReadText(log3), Not(HasSubstr("running sched")));
}

// HLS over HTTP: `kagami scan URL.m3u8` and a crawl that finds the playlist
// both fetch every playlist and segment through the crawler's safe fetcher
// (the fixture's access log shows each segment; the bytes are in WARC) and
// match the stream as video against the registered clip, with segment times.
TEST_F(CrawlSiteTest, HlsStreamsAreFetchedByTheCrawlerAndMatchedAsVideo) {
  const fs::path root = root_->path();
  const std::string clip = (root / "anime.mp4").string();
  ASSERT_EQ(std::system(("ffmpeg -nostdin -v error -y -f lavfi -i mandelbrot=s=320x180:rate=25:"
                         "end_pts=6000:inner=mincol:start_x=-0.743643887037151:"
                         "start_y=0.13182590420533:start_scale=2 -f lavfi -i "
                         "aevalsrc='0.3*sin(2*PI*t*(300+200*sin(0.37*t)))':s=22050 -t 24 "
                         "-c:v libx264 -preset ultrafast -crf 26 -pix_fmt yuv420p -c:a aac "
                         "-shortest '" +
                         clip + "'")
                            .c_str()),
            0);
  fs::path data = NewDataDir("data-hls");
  fs::path reg_log = root / "register-hls.log";
  ASSERT_EQ(RunProcess({KAGAMI_BINARY, "--data", data.string(), "register", "--work", "anime-work",
                        "--title", "Anime Work", "--kind", "anime", clip},
                       reg_log),
            0)
      << ReadText(reg_log);
  // The pirate stream: re-encoded smaller, cut into 4 s MPEG-TS segments.
  fs::path hls = root / "content/hls";
  fs::create_directories(hls);
  ASSERT_EQ(
      std::system(("ffmpeg -nostdin -v error -y -i '" + clip +
                   "' -vf scale=256:144 -c:v libx264 -preset ultrafast -crf 32 -g 50 -c:a aac "
                   "-f hls -hls_time 4 -hls_list_size 0 -hls_segment_filename '" +
                   (hls / "ep1-%03d.ts").string() + "' '" + (hls / "ep1.m3u8").string() + "'")
                      .c_str()),
      0);
  const std::string playlist = Origin("locker.test") + "/stream/ep1.m3u8";
  auto near = [](const nlohmann::json& range, double start, double end) {
    return range.is_array() && range.size() == 2 && std::abs(range[0].get<double>() - start) <= 2 &&
           std::abs(range[1].get<double>() - end) <= 2;
  };

  // 1. kagami scan URL.m3u8
  fs::path scan_out = root / "scan-hls.jsonl";
  ASSERT_EQ(RunProcess({KAGAMI_BINARY, "--data", data.string(), "scan", "--format", "jsonl",
                        "--allow-address", "127.0.0.1", "--resolve",
                        "locker.test:" + std::to_string(port_) + ":127.0.0.1", playlist},
                       scan_out),
            0)
      << ReadText(scan_out);
  int segments = 0;
  for (const std::string& line : Lines(ReadText(scan_out))) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object() || j.value("unit", "") != "segment") continue;
    ++segments;
    EXPECT_EQ(j["work"], "anime-work") << line;
    EXPECT_NEAR(j["start"].get<double>(), 0, 2) << line;
    EXPECT_NEAR(j["end"].get<double>(), 24, 2) << line;
    EXPECT_NEAR(j["ref_start"].get<double>(), 0, 2) << line;
    EXPECT_NEAR(j["ref_end"].get<double>(), 24, 2) << line;
  }
  EXPECT_EQ(segments, 1) << ReadText(scan_out);
  int ts_files = 0;
  for (const auto& e : fs::directory_iterator(hls)) ts_files += e.path().extension() == ".ts";
  ASSERT_GE(ts_files, 5);
  for (int i = 0; i < ts_files; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "ep1-%03d.ts", i);
    EXPECT_EQ(RequestCount("locker.test /stream/" + std::string(name)), 1) << name;
  }
  int warcs = 0;
  for (const auto& e : fs::directory_iterator(data / "fetch"))
    warcs += e.path().string().find(".warc.gz") != std::string::npos;
  EXPECT_EQ(warcs, 1);
  // Without --allow-address the loopback fixture is refused by the address policy.
  fs::path refused = root / "scan-hls-refused.log";
  EXPECT_NE(
      RunProcess({KAGAMI_BINARY, "--data", data.string(), "scan", "--format", "jsonl", "--resolve",
                  "locker.test:" + std::to_string(port_) + ":127.0.0.1", playlist},
                 refused),
      0);
  EXPECT_THAT(ReadText(refused), HasSubstr("loopback"));

  // 2. A crawl of the leech page finds the playlist and records a finding with the times.
  fs::path job = WriteSmallJob("hls", "leech.test", "", "min_delay_s = 0\n");
  fs::path log = root / "crawl-hls.log";
  ASSERT_EQ(RunProcess({KAGAMI_BINARY, "--data", data.string(), "crawl", job.string()}, log), 0)
      << ReadText(log);
  int hls_findings = 0;
  for (const auto& f : Findings(data)) {
    if (f["media_url"] != playlist) continue;
    ++hls_findings;
    EXPECT_EQ(f["work"], "anime-work");
    EXPECT_EQ(f["page_url"], Origin("leech.test") + "/");
    EXPECT_THAT(f["warc_record_id"].get<std::string>(), HasSubstr("urn:uuid:"));
    EXPECT_EQ(f["content_sha256"].get<std::string>().size(), 64u);
    ASSERT_EQ(f["units"].size(), 1u) << f.dump();
    EXPECT_TRUE(near(f["units"][0]["time"], 0, 24)) << f.dump();
    EXPECT_TRUE(near(f["units"][0]["ref_time"], 0, 24)) << f.dump();
    // The exhibit's query frame was kept from the fetched media segment named.
    const nlohmann::json& q = f["units"][0]["query_frame"];
    ASSERT_TRUE(q.is_object()) << f.dump();
    const std::string seg = q.value("segment_url", "");
    ASSERT_EQ(seg.rfind(Origin("locker.test") + "/stream/ep1-", 0), 0u) << f.dump();
    auto sha = kagami::Sha256HexFile(hls / seg.substr(seg.rfind('/') + 1));
    ASSERT_TRUE(sha.ok()) << f.dump();
    EXPECT_EQ(q.value("segment_sha256", ""), *sha);
    EXPECT_TRUE(fs::exists(data / q.value("file", "missing"))) << f.dump();
  }
  EXPECT_EQ(hls_findings, 1) << ReadText(log);

  // 3. The same stream made live (no #EXT-X-ENDLIST): the job's live bounds
  // stop the crawl after two media segments, instead of following the
  // playlist until it stalls.
  {
    std::string text = ReadText(hls / "ep1.m3u8");
    const size_t end = text.find("#EXT-X-ENDLIST");
    ASSERT_NE(end, std::string::npos) << text;
    text.erase(end);
    testing::WriteFile(hls / "ep1.m3u8", text);
  }
  auto segment_requests = [&](int i) {
    char name[32];
    std::snprintf(name, sizeof name, "ep1-%03d.ts", i);
    return RequestCount("locker.test /stream/" + std::string(name));
  };
  std::vector<long> before;
  for (int i = 0; i < ts_files; ++i) before.push_back(segment_requests(i));
  fs::path live_job = WriteSmallJob("hls-live", "leech.test", "", "min_delay_s = 0\n",
                                    "live_max_segments = 2\nlive_max_stall_s = 5\n");
  fs::path live_log = root / "crawl-hls-live.log";
  ASSERT_EQ(
      RunProcess({KAGAMI_BINARY, "--data", data.string(), "crawl", live_job.string()}, live_log), 0)
      << ReadText(live_log);
  for (int i = 0; i < ts_files; ++i) {
    EXPECT_EQ(segment_requests(i), before[i] + (i < 2 ? 1 : 0)) << "segment " << i;
  }
}

}  // namespace
}  // namespace kagami
