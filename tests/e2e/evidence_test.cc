// Evidence end to end: scan --record, findings review, keys, export, verify,
// tampering, exhibit content, and report.html rendered by headless Chromium.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <memory>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "json_lines.h"
#include "kagami/reports/findings_ledger.h"
#include "kagami/reports/signing_key.h"
#include "kagami/synth/page_generator.h"
#include "shell.h"
#include "temp_dir.h"

namespace kagami {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using CmdResult = testing::CommandResult;  // stdout and stderr

std::string Quote(const std::string& s) { return testing::ShellQuote(s); }
CmdResult Shell(const std::string& cmd) { return testing::RunShell(cmd, testing::Stderr::kMerge); }
CmdResult Kagami(const std::vector<std::string>& args) {
  return testing::RunKagami(args, testing::Stderr::kMerge, "KAGAMI_OPERATOR=tester ");
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteText(const fs::path& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << s;
}

// Output here has stderr merged in: only the JSON lines are parsed.
std::vector<json> JsonLines(const std::string& out) { return testing::JsonLines(out, true); }

// Mean absolute difference of two BGR images after resizing `b` to `a`'s size.
double MeanAbsDiff(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat r, d;
  cv::resize(b, r, a.size(), 0, 0, cv::INTER_AREA);
  cv::absdiff(a, r, d);
  cv::Scalar m = cv::mean(d);
  return (m[0] + m[1] + m[2]) / 3;
}

// Pixels within `tol` of a BGR colour.
int CountColour(const cv::Mat& img, cv::Vec3b bgr, int tol) {
  int n = 0;
  for (int y = 0; y < img.rows; ++y) {
    for (int x = 0; x < img.cols; ++x) {
      cv::Vec3b p = img.at<cv::Vec3b>(y, x);
      if (std::abs(p[0] - bgr[0]) <= tol && std::abs(p[1] - bgr[1]) <= tol &&
          std::abs(p[2] - bgr[2]) <= tol) {
        ++n;
      }
    }
  }
  return n;
}

// One data directory with a registered work, a scanned local copy (finding 1)
// and a crawled-style finding (2) appended through the ledger API; built once.
class EvidenceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<testing::TempDir>();
    data_ = (*dir_ / "data").string();
    for (int i = 0; i < 3; ++i) {
      pages_.push_back(synth::GenerateMangaPage(700 + i, 900, 1300));
      testing::WriteFile(*dir_ / ("reg/p" + std::to_string(i + 1) + ".png"),
                         synth::EncodePng(pages_.back()));
    }
    found_ = synth::ApplyEdit(pages_[1], synth::Edit::kCrop10, 1);
    testing::WriteFile(*dir_ / "suspect/copy.jpg", synth::EncodeJpeg(found_, 88));
    setup_log_ += Kagami({"--data", data_, "register", "--work", "w1", "--title", "鏡の国 第1巻",
                          "--rights-holder", "Example Publishing", (*dir_ / "reg").string()})
                      .out;
    CmdResult scan = Kagami({"--data", data_, "scan", "--record", "--local", "always", "--format",
                             "jsonl", (*dir_ / "suspect/copy.jpg").string()});
    scan_exit_ = scan.exit_code;
    setup_log_ += scan.out;
    // A crawled finding for the same bytes, as the crawler records it.
    auto ledger = reports::FindingsLedger::Open(data_);
    if (ledger.ok()) {
      auto list = (*ledger)->List({});
      if (list.ok() && !list->empty()) {
        reports::Finding f = list->front().finding;
        f.source = "https://img.pirate.example/ch1/003.jpg";
        f.source_is_url = true;
        f.page_url = "https://reader.pirate.example/title/ch1?page=2";
        f.media_url = "https://img.pirate.example/ch1/003.jpg";
        f.server_ip = "127.0.0.1";
        f.http_status = 200;
        f.http_headers = {{"Content-Type", "image/jpeg"}};
        f.recorded_by = "test crawler";
        (void)(*ledger)->Append(f);
      }
    }
    setup_log_ += Kagami({"--data", data_, "findings", "review", "2", "--confirm", "--note",
                          "same page, cropped"})
                      .out;
    setup_log_ += Kagami({"--data", data_, "keys", "init"}).out;
    WriteText(
        fs::path(data_) / "rights.json",
        R"({"name":"Example Publishing Co., Ltd.","name_ja":"株式会社例示出版",)"
        R"("agent":"Taro Yamada","address":"1-2-3 Chiyoda, Tokyo","address_ja":"東京都千代田区1-2-3",)"
        R"("email":"legal@example.jp","signature":"/Taro Yamada/",)"
        R"("hosts":{"reader.pirate.example":{"recipient":"Abuse Desk"}}})");
    CmdResult exp =
        Kagami({"--data", data_, "export", "--out", (*dir_ / "bundle").string(), "--case", "CASE-1",
                "--rights-holder", (fs::path(data_) / "rights.json").string(), "--zip"});
    export_exit_ = exp.exit_code;
    setup_log_ += exp.out;
  }
  static void TearDownTestSuite() {
    dir_.reset();
    pages_.clear();
  }

  // A fresh copy of the bundle to tamper with.
  fs::path CopyBundle(const std::string& name) {
    fs::path dst = *dir_ / ("tamper-" + name);
    fs::remove_all(dst);
    fs::copy(*dir_ / "bundle", dst, fs::copy_options::recursive);
    return dst;
  }

  static inline std::unique_ptr<testing::TempDir> dir_;
  static std::string data_;
  static std::vector<cv::Mat> pages_;
  static cv::Mat found_;
  static int scan_exit_, export_exit_;
  static std::string setup_log_;
};

std::string EvidenceTest::data_;
std::vector<cv::Mat> EvidenceTest::pages_;
cv::Mat EvidenceTest::found_;
int EvidenceTest::scan_exit_ = -1;
int EvidenceTest::export_exit_ = -1;
std::string EvidenceTest::setup_log_;

TEST_F(EvidenceTest, ScanRecordAddsFindingsListedAsJsonl) {
  ASSERT_EQ(scan_exit_, 0) << setup_log_;
  CmdResult r = Kagami({"--data", data_, "findings", "--format", "jsonl"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  std::vector<json> lines = JsonLines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out << setup_log_;
  const json& local = lines[0];
  EXPECT_EQ(local["work"], "w1");
  EXPECT_EQ(local["source_kind"], "file");
  EXPECT_THAT(local["source"].get<std::string>(), ::testing::EndsWith("suspect/copy.jpg"));
  EXPECT_EQ(local["content_sha256"], kagami::Sha256Hex(ReadFile(*dir_ / "suspect/copy.jpg")));
  EXPECT_TRUE(fs::exists(fs::path(data_) / local["evidence_file"].get<std::string>()));
  ASSERT_FALSE(local["units"].empty());
  EXPECT_EQ(local["units"][0]["ref_index"], 1);
  EXPECT_GT(local["units"][0]["similarity"].get<double>(), 0.0);
  EXPECT_GT(local["units"][0]["inliers"].get<int>(), 0);
  EXPECT_EQ(local["units"][0]["pdq"].get<std::string>().size(), 64u);
  EXPECT_EQ(local["status"], "new");
  const json& crawled = lines[1];
  EXPECT_EQ(crawled["page_url"], "https://reader.pirate.example/title/ch1?page=2");
  EXPECT_EQ(crawled["media_url"], "https://img.pirate.example/ch1/003.jpg");
  EXPECT_EQ(crawled["status"], "confirmed");
  EXPECT_EQ(crawled["reviews"][0]["who"], "tester");
  EXPECT_EQ(crawled["reviews"][0]["note"], "same page, cropped");
  // Filters.
  EXPECT_EQ(
      JsonLines(
          Kagami({"--data", data_, "findings", "--format", "jsonl", "--status", "confirmed"}).out)
          .size(),
      1u);
  EXPECT_EQ(
      JsonLines(Kagami({"--data", data_, "findings", "--format", "jsonl", "--work", "nope"}).out)
          .size(),
      0u);
  EXPECT_EQ(Kagami({"--data", data_, "findings", "review", "99", "--reject"}).exit_code, 2);
  EXPECT_EQ(Kagami({"--data", data_, "findings", "review", "1"}).exit_code, 1);  // no decision
  EXPECT_EQ(Kagami({"--data", data_, "findings", "--verify"}).exit_code, 0);
  // Scanning the same file again does not duplicate the finding.
  CmdResult again = Kagami({"--data", data_, "scan", "--record", "--local", "always",
                            (*dir_ / "suspect/copy.jpg").string()});
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_THAT(again.out, ::testing::HasSubstr("is already finding 1"));
  EXPECT_EQ(JsonLines(Kagami({"--data", data_, "findings", "--format", "jsonl"}).out).size(), 2u);
}

TEST_F(EvidenceTest, SigningKeyIsPrivateToTheOwner) {
  struct stat st {};
  ASSERT_EQ(::stat((fs::path(data_) / "keys/signing.key").c_str(), &st), 0) << setup_log_;
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(Kagami({"--data", data_, "keys", "init"}).exit_code, 0);  // no silent overwrite
}

TEST_F(EvidenceTest, ExportedBundleVerifies) {
  ASSERT_EQ(export_exit_, 0) << setup_log_;
  fs::path b = *dir_ / "bundle";
  for (const char* f :
       {"manifest.json", "manifest.sig", "signing.pub", "ledger.jsonl", "findings.csv",
        "report.html", "findings/1/finding.json", "findings/1/exhibit-1.png",
        "findings/1/captured/copy.jpg", "notices/reader.pirate.example/dmca-512c3.txt",
        "notices/reader.pirate.example/notice-ja.txt",
        "notices/reader.pirate.example/lumen.json"}) {
    EXPECT_TRUE(fs::exists(b / f)) << f;
  }
  CmdResult v = Kagami({"verify", b.string()});
  EXPECT_EQ(v.exit_code, 0) << v.out;
  EXPECT_THAT(v.out, ::testing::HasSubstr("bundle verifies"));
  CmdResult z = Kagami({"verify", (*dir_ / "bundle.zip").string()});
  EXPECT_EQ(z.exit_code, 0) << z.out;
  json manifest = json::parse(ReadFile(b / "manifest.json"));
  EXPECT_EQ(manifest["case"], "CASE-1");
  EXPECT_EQ(manifest["operator"], "tester");
  EXPECT_EQ(manifest["ledger"]["head_seq"], 3);
  EXPECT_EQ(manifest["findings"].size(), 2u);
  // The unreviewed local finding is exported as evidence but gets no notice.
  EXPECT_THAT(ReadFile(b / "notices/reader.pirate.example/dmca-512c3.txt"),
              ::testing::Not(::testing::HasSubstr("copy.jpg")));
}

TEST_F(EvidenceTest, NoticesCarryTheSixElementsAndMarkMissingFields) {
  ASSERT_EQ(export_exit_, 0) << setup_log_;
  fs::path n = *dir_ / "bundle/notices/reader.pirate.example";
  std::string dmca = ReadFile(n / "dmca-512c3.txt");
  for (const char* element : {"512(c)(3)(A)(i)", "(ii)", "(iii)", "(iv)", "(v)", "(vi)",
                              "good faith belief", "penalty of perjury", "/Taro Yamada/",
                              "https://reader.pirate.example/title/ch1?page=2", "鏡の国 第1巻"}) {
    EXPECT_THAT(dmca, ::testing::HasSubstr(element));
  }
  EXPECT_THAT(dmca, ::testing::HasSubstr("[missing: phone]"));  // not in the config
  std::string ja = ReadFile(n / "notice-ja.txt");
  EXPECT_THAT(ja, ::testing::HasSubstr("著作権侵害の通知"));
  EXPECT_THAT(ja, ::testing::HasSubstr("株式会社例示出版"));
  EXPECT_THAT(ja, ::testing::HasSubstr("[missing: phone]"));
  json lumen = json::parse(ReadFile(n / "lumen.json"));
  EXPECT_EQ(lumen["notice"]["type"], "DMCA");
  EXPECT_EQ(lumen["notice"]["works"][0]["infringing_urls"][0]["url"],
            "https://reader.pirate.example/title/ch1?page=2");
  EXPECT_THAT(setup_log_, ::testing::HasSubstr("missing phone"));
  CmdResult strict =
      Kagami({"--data", data_, "export", "--out", (*dir_ / "strict").string(), "--rights-holder",
              (fs::path(data_) / "rights.json").string(), "--require-complete"});
  EXPECT_EQ(strict.exit_code, 2);
  EXPECT_THAT(strict.out, ::testing::HasSubstr("phone"));
  EXPECT_FALSE(fs::exists(*dir_ / "strict"));
  EXPECT_FALSE(fs::exists(*dir_ / "strict.partial"));
}

TEST_F(EvidenceTest, FlippedExhibitByteIsNamed) {
  fs::path b = CopyBundle("exhibit");
  std::string png = ReadFile(b / "findings/1/exhibit-1.png");
  ASSERT_GT(png.size(), 1000u);
  png[png.size() / 2] ^= 0x01;
  WriteText(b / "findings/1/exhibit-1.png", png);
  CmdResult v = Kagami({"verify", b.string()});
  EXPECT_EQ(v.exit_code, 2);
  EXPECT_THAT(v.out, ::testing::HasSubstr("FAIL: findings/1/exhibit-1.png: SHA-256 mismatch"));
}

TEST_F(EvidenceTest, EditedCsvRowIsNamed) {
  fs::path b = CopyBundle("csv");
  std::string csv = ReadFile(b / "findings.csv");
  size_t pos = csv.find(",confirmed,");
  ASSERT_NE(pos, std::string::npos);
  csv.replace(pos, 11, ",rejected,");
  WriteText(b / "findings.csv", csv);
  CmdResult v = Kagami({"verify", b.string()});
  EXPECT_EQ(v.exit_code, 2);
  EXPECT_THAT(v.out, ::testing::HasSubstr("FAIL: findings.csv: SHA-256 mismatch"));
}

TEST_F(EvidenceTest, ReorderedOrDeletedLedgerEntriesAreNamed) {
  std::vector<std::string> lines;
  {
    std::istringstream in(ReadFile(*dir_ / "bundle/ledger.jsonl"));
    std::string l;
    while (std::getline(in, l)) lines.push_back(l);
  }
  ASSERT_EQ(lines.size(), 3u);
  fs::path b = CopyBundle("reorder");
  WriteText(b / "ledger.jsonl", lines[1] + "\n" + lines[0] + "\n" + lines[2] + "\n");
  CmdResult v = Kagami({"verify", b.string()});
  EXPECT_EQ(v.exit_code, 2);
  EXPECT_THAT(v.out, ::testing::HasSubstr("FAIL: ledger.jsonl: SHA-256 mismatch"));
  EXPECT_THAT(v.out, ::testing::HasSubstr("FAIL: ledger.jsonl: ledger entry 2: out of sequence"));

  b = CopyBundle("delete-middle");
  WriteText(b / "ledger.jsonl", lines[0] + "\n" + lines[2] + "\n");
  v = Kagami({"verify", b.string()});
  EXPECT_EQ(v.exit_code, 2);
  EXPECT_THAT(v.out, ::testing::HasSubstr("ledger entry 3: out of sequence"));

  b = CopyBundle("delete-last");
  WriteText(b / "ledger.jsonl", lines[0] + "\n" + lines[1] + "\n");
  v = Kagami({"verify", b.string()});
  EXPECT_EQ(v.exit_code, 2);
  EXPECT_THAT(v.out, ::testing::HasSubstr("differs from the manifest's head"));

  // An entry's body edited with its hash left alone.
  b = CopyBundle("edit-entry");
  std::string edited = lines[1];
  size_t pos = edited.find("reader.pirate.example");
  ASSERT_NE(pos, std::string::npos);
  edited.replace(pos, 6, "READER");
  WriteText(b / "ledger.jsonl", lines[0] + "\n" + edited + "\n" + lines[2] + "\n");
  v = Kagami({"verify", b.string()});
  EXPECT_THAT(v.out, ::testing::HasSubstr("ledger entry 2: hash mismatch"));
}

TEST_F(EvidenceTest, ReplacedKeyOrEditedManifestIsNamed) {
  testing::TempDir other;
  ASSERT_EQ(Kagami({"--data", other.path().string(), "keys", "init"}).exit_code, 0);
  fs::path b = CopyBundle("key");
  fs::copy_file(other.path() / "keys/signing.pub", b / "signing.pub",
                fs::copy_options::overwrite_existing);
  CmdResult v = Kagami({"verify", b.string()});
  EXPECT_EQ(v.exit_code, 2);
  EXPECT_THAT(v.out, ::testing::HasSubstr("FAIL: manifest.sig: the signature does not verify"));

  b = CopyBundle("manifest");
  std::string m = ReadFile(b / "manifest.json");
  size_t pos = m.find("CASE-1");
  ASSERT_NE(pos, std::string::npos);
  m.replace(pos, 6, "CASE-2");
  WriteText(b / "manifest.json", m);
  v = Kagami({"verify", b.string()});
  EXPECT_EQ(v.exit_code, 2);
  EXPECT_THAT(v.out, ::testing::HasSubstr("FAIL: manifest.sig"));

  // A forger swaps in their own key, fixes the key id and re-signs: the bundle is
  // self-consistent, so only a pinned key (--key) tells.
  b = CopyBundle("resigned");
  auto forger = reports::SigningKey::Load(other.path());
  ASSERT_TRUE(forger.ok());
  json forged = json::parse(ReadFile(b / "manifest.json"));
  forged["signing_key"]["key_id"] = forger->key_id();
  for (json& f : forged["files"]) {
    if (f["path"] == "signing.pub") f["sha256"] = kagami::Sha256Hex(forger->PublicKeyFile());
  }
  std::string forged_text = forged.dump(2) + "\n";
  WriteText(b / "manifest.json", forged_text);
  WriteText(b / "manifest.sig", forger->Sign(forged_text) + "\n");
  WriteText(b / "signing.pub", forger->PublicKeyFile());
  v = Kagami({"verify", b.string()});
  EXPECT_EQ(v.exit_code, 0) << v.out;
  EXPECT_THAT(v.out, ::testing::HasSubstr("the bundle's own key"));
  v = Kagami({"verify", "--key", (fs::path(data_) / "keys/signing.pub").string(), b.string()});
  EXPECT_EQ(v.exit_code, 2);
  EXPECT_THAT(v.out, ::testing::HasSubstr("FAIL: signing.pub: public key"));
  EXPECT_THAT(v.out, ::testing::HasSubstr("is not the trusted key"));
  v = Kagami({"verify", "--key", (fs::path(data_) / "keys/signing.pub").string(),
              (*dir_ / "bundle").string()});
  EXPECT_EQ(v.exit_code, 0) << v.out;
}

TEST_F(EvidenceTest, ExhibitShowsRegisteredPageLeftAndFoundPageRightWithOutline) {
  ASSERT_EQ(export_exit_, 0) << setup_log_;
  json rec = json::parse(ReadFile(*dir_ / "bundle/findings/1/finding.json"));
  ASSERT_FALSE(rec["exhibits"].empty()) << setup_log_;
  const json& ex = rec["exhibits"][0];
  cv::Mat img = cv::imread((*dir_ / "bundle" / ex["file"].get<std::string>()).string());
  ASSERT_FALSE(img.empty());
  auto box = [&](const char* key) {
    const json& b = ex[key];
    return cv::Rect(b[0], b[1], b[2], b[3]);
  };
  cv::Rect reg = box("registered_box"), found = box("found_box");
  EXPECT_LT(reg.x + reg.width, found.x);  // registered on the left
  cv::Mat reg_px = img(reg), found_px = img(found);
  // The registered panel shows registered page 2, not pages 1 or 3.
  double same = MeanAbsDiff(reg_px, pages_[1]);
  EXPECT_LT(same, 12.0);
  EXPECT_LT(same * 2, MeanAbsDiff(reg_px, pages_[0]));
  EXPECT_LT(same * 2, MeanAbsDiff(reg_px, pages_[2]));
  // The found panel shows the cropped copy, which differs from the uncropped page.
  double found_same = MeanAbsDiff(found_px, found_);
  EXPECT_LT(found_same, 12.0);
  EXPECT_LT(found_same * 1.5, MeanAbsDiff(found_px, pages_[1]));
  // Header band and the red outline of the matched region.
  EXPECT_GT(CountColour(img(cv::Rect(0, 0, img.cols, 40)), {126, 35, 26}, 4), img.cols * 20);
  EXPECT_TRUE(ex["outlined"].get<bool>());
  // The crop kept the central 80%: the outline on the registered page runs near x = 10%.
  cv::Mat red_col;
  int x10 = reg.x + reg.width / 10;
  int reds = CountColour(img(cv::Rect(x10 - 6, reg.y, 12, reg.height)), {0, 0, 230}, 60);
  EXPECT_GT(reds, reg.height / 2) << "no outline near the crop edge";
}

TEST_F(EvidenceTest, ReportHtmlRendersItsExhibitsInHeadlessChromium) {
  ASSERT_EQ(export_exit_, 0) << setup_log_;
  if (Shell("command -v chromium").exit_code != 0) GTEST_SKIP() << "chromium not installed";
  auto screenshot = [&](const fs::path& html, const fs::path& png) {
    fs::path profile = *dir_ / ("chromium-" + png.stem().string());
    std::string cmd =
        "timeout 120 chromium --headless --no-sandbox --disable-gpu "
        "--hide-scrollbars --disable-dev-shm-usage --user-data-dir=" +
        Quote(profile.string()) + " --window-size=1400,2600 --screenshot=" + Quote(png.string()) +
        " " + Quote("file://" + html.string());
    CmdResult r = Shell(cmd);
    return r;
  };
  fs::path html = *dir_ / "bundle/report.html";
  CmdResult r = screenshot(html, *dir_ / "shot.png");
  cv::Mat shot = cv::imread((*dir_ / "shot.png").string());
  ASSERT_FALSE(shot.empty()) << r.out;
  // Control: the same report with its image data removed (broken images).
  std::string text = ReadFile(html);
  std::string broken;
  size_t at = 0;
  while (true) {
    size_t p = text.find("data:image/png;base64,", at);
    if (p == std::string::npos) break;
    size_t end = text.find('"', p);
    broken += text.substr(at, p - at) + "data:image/png;base64,AAAA";
    at = end;
  }
  broken += text.substr(at);
  WriteText(*dir_ / "broken.html", broken);
  screenshot(*dir_ / "broken.html", *dir_ / "broken.png");
  cv::Mat control = cv::imread((*dir_ / "broken.png").string());
  ASSERT_FALSE(control.empty());
  // The exhibit's header band colour appears only when the images loaded.
  int with = CountColour(shot, {126, 35, 26}, 8);
  int without = CountColour(control, {126, 35, 26}, 8);
  if (const char* keep = std::getenv("KAGAMI_TEST_KEEP")) {  // for looking at the output
    fs::copy(*dir_ / "bundle", fs::path(keep) / "bundle", fs::copy_options::recursive);
    fs::copy_file(*dir_ / "shot.png", fs::path(keep) / "shot.png");
  }
  EXPECT_GT(with, 20000) << "exhibit images did not render";
  EXPECT_LT(without, 100);
  // And the registered page's pixels are on screen (not only the band).
  cv::Mat gray;
  cv::cvtColor(shot, gray, cv::COLOR_BGR2GRAY);
  EXPECT_GT(cv::countNonZero(gray < 60), 5000);
}

}  // namespace
}  // namespace kagami

namespace kagami {
namespace {

// A local RFC 3161 TSA (`openssl ts -reply` behind HTTP on 127.0.0.1), started here.
class LocalTsa {
 public:
  explicit LocalTsa(const fs::path& dir) : dir_(dir) {
    std::string data = KAGAMI_TEST_DATA_DIR;
    CmdResult made = Shell(Quote(data + "/tsa/make_tsa.sh") + " " + Quote(dir.string()));
    if (made.exit_code != 0) {
      error_ = "make_tsa.sh: " + made.out;
      return;
    }
    CmdResult started = Shell("python3 " + Quote(data + "/tsa/tsa_server.py") + " " +
                              Quote((dir / "tsa.cnf").string()) + " " +
                              Quote((dir / "port").string()) + " >/dev/null 2>&1 & echo $!");
    pid_ = std::atoi(started.out.c_str());
    for (int i = 0; i < 600 && !fs::exists(dir / "port"); ++i) ::usleep(100 * 1000);
    if (!fs::exists(dir / "port")) error_ = "the TSA server did not start";
    url_ = "http://127.0.0.1:" + ReadFile(dir / "port") + "/tsa";
  }
  ~LocalTsa() {
    if (pid_ > 0) ::kill(pid_, SIGTERM);
  }
  const std::string& url() const { return url_; }
  const std::string& error() const { return error_; }
  fs::path ca() const { return dir_ / "ca.pem"; }

 private:
  fs::path dir_;
  pid_t pid_ = 0;
  std::string url_, error_;
};

TEST_F(EvidenceTest, Rfc3161TimestampFromALocalTsaVerifiesAndTamperingIsNamed) {
  ASSERT_EQ(export_exit_, 0) << setup_log_;
  LocalTsa tsa(*dir_ / "tsa");
  ASSERT_TRUE(tsa.error().empty()) << tsa.error();
  fs::path b = *dir_ / "stamped";
  CmdResult e = Kagami({"--data", data_, "export", "--out", b.string(), "--tsa", tsa.url(),
                        "--tsa-ca", tsa.ca().string()});
  ASSERT_EQ(e.exit_code, 0) << e.out;
  ASSERT_TRUE(fs::exists(b / "timestamp.tsr"));
  CmdResult v = Kagami({"verify", b.string()});
  EXPECT_EQ(v.exit_code, 0) << v.out;
  EXPECT_THAT(v.out, ::testing::HasSubstr("RFC 3161 token over manifest.json verifies"));
  // OpenSSL's own verifier agrees.
  CmdResult o =
      Shell("openssl ts -verify -data " + Quote((b / "manifest.json").string()) + " -in " +
            Quote((b / "timestamp.tsr").string()) + " -CAfile " + Quote(tsa.ca().string()));
  EXPECT_THAT(o.out, ::testing::HasSubstr("Verification: OK"));
  // A token for another manifest does not verify for this one.
  fs::path other = *dir_ / "stamped2";
  ASSERT_EQ(Kagami({"--data", data_, "export", "--out", other.string(), "--case", "other", "--tsa",
                    tsa.url(), "--tsa-ca", tsa.ca().string()})
                .exit_code,
            0);
  fs::copy_file(other / "timestamp.tsr", b / "timestamp.tsr", fs::copy_options::overwrite_existing);
  v = Kagami({"verify", b.string()});
  EXPECT_EQ(v.exit_code, 2);
  EXPECT_THAT(v.out, ::testing::HasSubstr("FAIL: timestamp.tsr"));
  // A dead TSA is a clear error and leaves no bundle behind.
  CmdResult dead = Kagami({"--data", data_, "export", "--out", (*dir_ / "dead").string(), "--tsa",
                           "http://127.0.0.1:1/tsa"});
  EXPECT_EQ(dead.exit_code, 2);
  EXPECT_FALSE(fs::exists(*dir_ / "dead"));
}

}  // namespace
}  // namespace kagami

namespace kagami {
namespace {

// A registered file edited after registration, and kept evidence that went
// missing: the export still succeeds, says what is wrong, and draws no exhibit
// from the wrong pixels.
TEST(EvidenceRobustnessTest, ChangedRegisteredFileAndLostEvidenceAreWarnedNotFatal) {
  testing::TempDir dir;
  std::string data = (dir / "data").string();
  cv::Mat page = synth::GenerateMangaPage(901, 900, 1300);
  cv::Mat other = synth::GenerateMangaPage(902, 900, 1300);
  testing::WriteFile(dir / "reg/a.png", synth::EncodePng(page));
  testing::WriteFile(dir / "reg/b.png", synth::EncodePng(other));
  testing::WriteFile(dir / "s1/a.jpg", synth::EncodeJpeg(page, 90));
  testing::WriteFile(dir / "s2/b.jpg", synth::EncodeJpeg(other, 90));
  ASSERT_EQ(
      Kagami({"--data", data, "register", "--work", "w", "--title", "T", (dir / "reg").string()})
          .exit_code,
      0);
  ASSERT_EQ(Kagami({"--data", data, "scan", "--record", (dir / "s1/a.jpg").string(),
                    (dir / "s2/b.jpg").string()})
                .exit_code,
            0);
  ASSERT_EQ(Kagami({"--data", data, "keys", "init"}).exit_code, 0);
  // a.png is re-saved (different bytes); b.jpg's kept copy disappears.
  testing::WriteFile(dir / "reg/a.png", synth::EncodePng(synth::GenerateMangaPage(903, 900, 1300)));
  auto ledger = reports::FindingsLedger::Open(data);
  ASSERT_TRUE(ledger.ok());
  auto list = (*ledger)->List({});
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  for (const auto& r : *list) {
    if (r.finding.source.find("b.jpg") != std::string::npos) {
      fs::remove(fs::path(data) / r.finding.evidence_file);
    }
  }
  CmdResult e = Kagami({"--data", data, "export", "--out", (dir / "bundle").string()});
  ASSERT_EQ(e.exit_code, 0) << e.out;
  EXPECT_THAT(e.out, ::testing::HasSubstr("changed since registration"));
  EXPECT_THAT(e.out, ::testing::HasSubstr("finding 2"));
  EXPECT_FALSE(fs::exists(dir / "bundle/findings/1/exhibit-1.png"));
  json manifest = json::parse(ReadFile(dir / "bundle/manifest.json"));
  EXPECT_GE(manifest["warnings"].size(), 2u);
  CmdResult v = Kagami({"verify", (dir / "bundle").string()});
  EXPECT_EQ(v.exit_code, 0) << v.out;
  // Exporting over an existing bundle is refused.
  EXPECT_EQ(Kagami({"--data", data, "export", "--out", (dir / "bundle").string()}).exit_code, 2);
}

}  // namespace
}  // namespace kagami
