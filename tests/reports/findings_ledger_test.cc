#include "kagami/reports/findings_ledger.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "sqlite_db.h"
#include "temp_dir.h"

namespace kagami::reports {
namespace {

Finding SampleFinding(const std::string& work, const std::string& captured_at) {
  Finding f;
  f.source = "https://reader.example/ch1/p3.jpg";
  f.source_is_url = true;
  f.page_url = "https://reader.example/ch1";
  f.media_url = "https://img.example/a/p3.jpg";
  f.work = work;
  f.captured_at = captured_at;
  f.server_ip = "127.0.0.1";
  f.http_status = 200;
  f.http_headers = {{"Content-Type", "image/jpeg"}, {"Server", "nginx"}};
  f.content_sha256 = std::string(64, 'a');
  f.warc_file = "warc/crawl-1.warc.gz";
  f.warc_record_id = "<urn:uuid:00000000-0000-0000-0000-000000000001>";
  f.robots_override = "job override for reader.example: rights holder's instruction";
  f.recorded_by = "test";
  MatchedUnit u;
  u.member = "";
  u.index = 2;
  u.pdq_hex = std::string(64, 'f');
  u.quality = 93;
  u.ref_unit = 17;
  u.ref_asset = "/reg/vol1.cbz";
  u.ref_member = "003.png";
  u.ref_index = 2;
  u.method = MatchMethod::kBoth;
  u.view = MatchView::kTrimmed;
  u.distance = 12;
  u.similarity = 0.953125;
  u.inliers = 80;
  u.coverage = 0.71;
  u.homography = std::array<double, 9>{1, 0, 0.01, 0, 1, -0.02, 0, 0, 1};
  u.time = TimeRange{1.5, 3.25};
  f.units.push_back(u);
  return f;
}

FindingsLedger::Clock FixedClock(std::string t) {
  return [t] { return t; };
}

TEST(FindingsLedgerTest, EntryHashFollowsTheDocumentedPreimage) {
  // Independently computed: python3 hashlib.sha256(b"kagami-ledger/1\n1\nfinding\n"
  //   b"2026-01-01T00:00:00Z\n" + b"0"*64 + b"\n{}").hexdigest()
  EXPECT_EQ(ComputeEntryHash(1, EntryKind::kFinding, "2026-01-01T00:00:00Z", kGenesisHash, "{}"),
            "08b27fa155ce6a1682aa8938b0d849ff243d38190272041bbf2dad9398be3754");
}

TEST(FindingsLedgerTest, EveryMatchViewNameParsesBackAndUnknownNamesAreRefused) {
  for (MatchView v :
       {MatchView::kFull, MatchView::kTrimmed, MatchView::kLeft, MatchView::kRight, MatchView::kBox,
        MatchView::kUnbanded, MatchView::kDeskewed, MatchView::kLevelled}) {
    Result<MatchView> back = ParseMatchView(MatchViewName(v));
    ASSERT_TRUE(back.ok()) << MatchViewName(v);
    EXPECT_EQ(*back, v);
  }
  EXPECT_EQ(MatchViewName(MatchView::kUnbanded), "unbanded");
  EXPECT_EQ(MatchViewName(MatchView::kDeskewed), "deskewed");
  EXPECT_EQ(MatchViewName(MatchView::kLevelled), "levelled");
  EXPECT_FALSE(ParseMatchView("banded").ok());
}

TEST(FindingsLedgerTest, FindingRoundTripsThroughTheStore) {
  testing::TempDir dir;
  auto ledger = FindingsLedger::Open(dir.path(), FixedClock("2026-11-30T01:02:03Z"));
  ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
  Finding in = SampleFinding("w1", "2026-11-29T10:00:00Z");
  auto id = (*ledger)->Append(in);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(*id, 1);
  auto rec = (*ledger)->Get(*id);
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  EXPECT_EQ(rec->status, ReviewState::kNew);
  EXPECT_EQ(rec->recorded_at, "2026-11-30T01:02:03Z");
  EXPECT_EQ(FindingToJson(rec->finding), FindingToJson(in));
  const MatchedUnit& u = rec->finding.units.at(0);
  EXPECT_EQ(u.method, MatchMethod::kBoth);
  EXPECT_EQ(u.view, MatchView::kTrimmed);
  ASSERT_TRUE(u.homography.has_value());
  EXPECT_DOUBLE_EQ((*u.homography)[2], 0.01);
  ASSERT_TRUE(u.time.has_value());
  EXPECT_DOUBLE_EQ(u.time->end_s, 3.25);
  EXPECT_EQ(rec->finding.http_headers.at(1).second, "nginx");
  EXPECT_FALSE(u.geometry.has_value());  // a PDQ-and-local unit recorded without measurements
}

TEST(FindingsLedgerTest, GeometricEvidenceRoundTripsAndOlderUnitsStillRead) {
  testing::TempDir dir;
  auto ledger = FindingsLedger::Open(dir.path(), FixedClock("2026-11-30T01:02:03Z"));
  ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
  Finding in = SampleFinding("w1", "2026-11-29T10:00:00Z");
  GeometryEvidence g;
  g.matches = 140;
  g.inliers = 80;
  g.distinct_inliers = 61;
  g.layout_keypoints = 90;
  g.coverage = 0.7123456789;
  g.coverage_of = "content";
  g.overlap = 0.95;
  g.overlap_coverage = 0.74;
  g.grid_cells = 14;
  g.scale = 0.83;
  g.anisotropy = 1.02;
  g.rotation_deg = -3.9;
  g.perspective = 0.004;
  g.model = "similarity";
  g.projective_gain = 2.5;
  g.accepted_by = "appearance";
  g.appearance = 0.9512345;
  g.appearance_compared = 0.61;
  in.units[0].geometry = g;
  const std::string without = FindingToJson(SampleFinding("w1", "2026-11-29T10:00:00Z"));
  EXPECT_EQ(without.find("geometry"), std::string::npos);  // older bodies are unchanged
  auto id = (*ledger)->Append(in);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  auto rec = (*ledger)->Get(*id);
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  ASSERT_TRUE(rec->finding.units.at(0).geometry.has_value());
  const GeometryEvidence& out = *rec->finding.units[0].geometry;
  EXPECT_EQ(out.distinct_inliers, 61);
  EXPECT_EQ(out.coverage_of, "content");
  EXPECT_EQ(out.model, "similarity");
  EXPECT_DOUBLE_EQ(out.coverage, 0.712346);  // stored at 6 decimals
  EXPECT_EQ(out.grid_cells, 14);
  EXPECT_EQ(out.accepted_by, "appearance");
  EXPECT_DOUBLE_EQ(out.appearance, 0.951235);
  EXPECT_DOUBLE_EQ(out.appearance_compared, 0.61);
  EXPECT_EQ(FindingToJson(rec->finding), FindingToJson(in));
  {
    // A ledger written before the photometric check: geometry without its keys.
    nlohmann::json older = nlohmann::json::parse(FindingToJson(in));
    nlohmann::json& geometry = older["units"][0]["geometry"];
    geometry.erase("accepted_by");
    geometry.erase("appearance");
    geometry.erase("appearance_compared");
    auto read = FindingFromJson(older.dump());
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    EXPECT_EQ(read->units.at(0).geometry->accepted_by, "geometry");
    EXPECT_EQ(read->units.at(0).geometry->appearance, -2);
    nlohmann::json odd = nlohmann::json::parse(FindingToJson(in));
    odd["units"][0]["geometry"]["accepted_by"] = "votes";
    EXPECT_FALSE(FindingFromJson(odd.dump()).ok());
  }

  std::string body = FindingToJson(in);
  const std::string model = "\"model\":\"similarity\"";
  ASSERT_NE(body.find(model), std::string::npos) << body;
  body.replace(body.find(model), model.size(), "\"model\":\"affine\"");
  auto bad = FindingFromJson(body);
  EXPECT_FALSE(bad.ok());
}

TEST(FindingsLedgerTest, TheSamePictureInAnotherWorkRoundTripsAndOlderUnitsStillRead) {
  testing::TempDir dir;
  auto ledger = FindingsLedger::Open(dir.path(), FixedClock("2026-12-02T01:02:03Z"));
  ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
  Finding in = SampleFinding("reprint", "2026-12-02T10:00:00Z");
  in.units[0].same_picture_as = SamePicture{"first", 5, "/reg/first.cbz", "003.png", 2, 4};
  const std::string without = FindingToJson(SampleFinding("reprint", "2026-12-02T10:00:00Z"));
  EXPECT_EQ(without.find("same_picture_as"), std::string::npos);  // older bodies are unchanged
  auto id = (*ledger)->Append(in);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  auto rec = (*ledger)->Get(*id);
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  ASSERT_TRUE(rec->finding.units.at(0).same_picture_as.has_value());
  const SamePicture& out = *rec->finding.units[0].same_picture_as;
  EXPECT_EQ(out.work, "first");
  EXPECT_EQ(out.ref_unit, 5);
  EXPECT_EQ(out.ref_asset, "/reg/first.cbz");
  EXPECT_EQ(out.ref_member, "003.png");
  EXPECT_EQ(out.ref_index, 2);
  EXPECT_EQ(out.registered_distance, 4);
  EXPECT_EQ(FindingToJson(rec->finding), FindingToJson(in));
  EXPECT_FALSE(FindingFromJson(without)->units.at(0).same_picture_as.has_value());
  nlohmann::json odd = nlohmann::json::parse(FindingToJson(in));
  odd["units"][0]["same_picture_as"]["registered_distance"] = "near";
  EXPECT_FALSE(FindingFromJson(odd.dump()).ok());
}

// A match between blurred hashes (fingerprint/blurred_pdq.h) says so in the
// entry; entries without the field read as PDQ's.
TEST(FindingsLedgerTest, ABlurredHashMatchRoundTripsAndOlderUnitsStillRead) {
  testing::TempDir dir;
  auto ledger = FindingsLedger::Open(dir.path(), FixedClock("2026-12-03T01:02:03Z"));
  ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
  Finding in = SampleFinding("w1", "2026-12-03T10:00:00Z");
  in.units[0].blurred = true;
  const std::string without = FindingToJson(SampleFinding("w1", "2026-12-03T10:00:00Z"));
  EXPECT_EQ(without.find("blurred"), std::string::npos);  // older bodies are unchanged
  auto id = (*ledger)->Append(in);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  auto rec = (*ledger)->Get(*id);
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  EXPECT_TRUE(rec->finding.units.at(0).blurred);
  EXPECT_EQ(FindingToJson(rec->finding), FindingToJson(in));
  EXPECT_FALSE(FindingFromJson(without)->units.at(0).blurred);
  nlohmann::json odd = nlohmann::json::parse(FindingToJson(in));
  odd["units"][0]["blurred"] = "yes";
  EXPECT_FALSE(FindingFromJson(odd.dump()).ok());
}

// The colour check's measurement is kept with the unit when it was made;
// entries without it read as not measured, and a value outside 0..1 is
// refused as corrupt.
TEST(FindingsLedgerTest, AColourMeasurementRoundTripsAndOlderUnitsReadAsUnmeasured) {
  testing::TempDir dir;
  auto ledger = FindingsLedger::Open(dir.path(), FixedClock("2026-12-06T01:02:03Z"));
  ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
  Finding in = SampleFinding("w1", "2026-12-06T10:00:00Z");
  in.units[0].colour_disagreement = 0.125;
  const std::string without = FindingToJson(SampleFinding("w1", "2026-12-06T10:00:00Z"));
  EXPECT_EQ(without.find("colour_disagreement"), std::string::npos);  // older bodies unchanged
  auto id = (*ledger)->Append(in);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  auto rec = (*ledger)->Get(*id);
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  EXPECT_DOUBLE_EQ(rec->finding.units.at(0).colour_disagreement, 0.125);
  EXPECT_EQ(FindingToJson(rec->finding), FindingToJson(in));
  EXPECT_EQ(FindingFromJson(without)->units.at(0).colour_disagreement, -1.0);
  for (const nlohmann::json& bad : {nlohmann::json("low"), nlohmann::json(1.5)}) {
    nlohmann::json odd = nlohmann::json::parse(FindingToJson(in));
    odd["units"][0]["colour_disagreement"] = bad;
    EXPECT_FALSE(FindingFromJson(odd.dump()).ok()) << bad.dump();
  }
}

TEST(FindingsLedgerTest, CanonicalBodyIsStableAndSorted) {
  Finding f = SampleFinding("w1", "2026-11-29T10:00:00Z");
  std::string a = FindingToJson(f);
  EXPECT_EQ(a, FindingToJson(*FindingFromJson(a)));
  EXPECT_EQ(a.find(' '), a.find("job override") + 3);  // the only spaces are inside strings
  EXPECT_LT(a.find("\"captured_at\""), a.find("\"work\""));
}

TEST(FindingsLedgerTest, RejectsFindingsWithoutWorkSourceOrUtcTime) {
  testing::TempDir dir;
  auto ledger = FindingsLedger::Open(dir.path());
  ASSERT_TRUE(ledger.ok());
  Finding f = SampleFinding("", "2026-11-29T10:00:00Z");
  EXPECT_EQ((*ledger)->Append(f).status().code(), StatusCode::kInvalidArgument);
  f = SampleFinding("w", "2026-11-29 10:00");
  EXPECT_EQ((*ledger)->Append(f).status().code(), StatusCode::kInvalidArgument);
  auto head = (*ledger)->Head();
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->seq, 0);
}

TEST(FindingsLedgerTest, ReviewsAppendAndTheLastOneIsTheStatus) {
  testing::TempDir dir;
  auto ledger = FindingsLedger::Open(dir.path());
  ASSERT_TRUE(ledger.ok());
  auto id = (*ledger)->Append(SampleFinding("w1", "2026-11-29T10:00:00Z"));
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE((*ledger)->Review({*id, ReviewState::kConfirmed, "alice", "same page"}).ok());
  ASSERT_TRUE((*ledger)->Review({*id, ReviewState::kNoticeSent, "bob", ""}).ok());
  auto rec = (*ledger)->Get(*id);
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->status, ReviewState::kNoticeSent);
  ASSERT_EQ(rec->reviews.size(), 2u);
  EXPECT_EQ(rec->reviews[0].second.who, "alice");
  EXPECT_EQ(rec->reviews[0].second.note, "same page");
  EXPECT_EQ((*ledger)->Review({99, ReviewState::kConfirmed, "alice", ""}).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ((*ledger)->Review({*id, ReviewState::kConfirmed, "", ""}).status().code(),
            StatusCode::kInvalidArgument);
  // A review cannot target a review entry.
  EXPECT_EQ((*ledger)->Review({2, ReviewState::kConfirmed, "alice", ""}).status().code(),
            StatusCode::kNotFound);
  auto check = (*ledger)->VerifyChain();
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check->ok) << check->problem;
  EXPECT_EQ(check->entries, 3);
}

TEST(FindingsLedgerTest, FiltersByWorkSinceAndStatus) {
  testing::TempDir dir;
  auto ledger = FindingsLedger::Open(dir.path());
  ASSERT_TRUE(ledger.ok());
  auto a = (*ledger)->Append(SampleFinding("w1", "2026-11-01T00:00:00Z"));
  auto b = (*ledger)->Append(SampleFinding("w2", "2026-11-20T00:00:00Z"));
  auto c = (*ledger)->Append(SampleFinding("w1", "2026-11-25T12:00:00Z"));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  ASSERT_TRUE((*ledger)->Review({*c, ReviewState::kRejected, "alice", "different edition"}).ok());
  FindingFilter f;
  f.work = "w1";
  EXPECT_EQ((*ledger)->List(f)->size(), 2u);
  f.since = "2026-11-10";
  auto l = (*ledger)->List(f);
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l->size(), 1u);
  EXPECT_EQ(l->front().id, *c);
  f = {};
  f.status = ReviewState::kNew;
  EXPECT_EQ((*ledger)->List(f)->size(), 2u);
  f.since = "yesterday";
  EXPECT_EQ((*ledger)->List(f).status().code(), StatusCode::kInvalidArgument);
}

TEST(FindingsLedgerTest, StoreRefusesUpdatesAndDeletes) {
  testing::TempDir dir;
  {
    auto ledger = FindingsLedger::Open(dir.path());
    ASSERT_TRUE(ledger.ok());
    ASSERT_TRUE((*ledger)->Append(SampleFinding("w1", "2026-11-01T00:00:00Z")).ok());
  }
  testing::SqliteDb db = testing::OpenSqlite((dir.path() / FindingsLedger::kFileName));
  ASSERT_NE(db, nullptr);
  sqlite3* raw = db.get();
  EXPECT_NE(sqlite3_exec(raw, "UPDATE ledger SET work = 'x'", nullptr, nullptr, nullptr),
            SQLITE_OK);
  EXPECT_NE(sqlite3_exec(raw, "DELETE FROM ledger", nullptr, nullptr, nullptr), SQLITE_OK);
}

// Someone with write access drops the triggers and rewrites history: the chain names the entry.
TEST(FindingsLedgerTest, VerifyChainNamesTheEditedOrDeletedEntry) {
  testing::TempDir dir;
  {
    auto ledger = FindingsLedger::Open(dir.path());
    ASSERT_TRUE(ledger.ok());
    for (int i = 0; i < 4; ++i) {
      ASSERT_TRUE((*ledger)->Append(SampleFinding("w1", "2026-11-01T00:00:00Z")).ok());
    }
  }
  auto run = [&](const char* sql) {
    testing::SqliteDb db = testing::OpenSqlite((dir.path() / FindingsLedger::kFileName));
    ASSERT_NE(db, nullptr);
    sqlite3* raw = db.get();
    ASSERT_EQ(sqlite3_exec(raw,
                           "DROP TRIGGER IF EXISTS ledger_no_update;"
                           "DROP TRIGGER IF EXISTS ledger_no_delete;",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(raw, sql, nullptr, nullptr, nullptr), SQLITE_OK);
  };
  run("UPDATE ledger SET body = replace(body, 'w1', 'w9') WHERE seq = 2");
  auto ledger = FindingsLedger::Open(dir.path());
  ASSERT_TRUE(ledger.ok());
  auto check = (*ledger)->VerifyChain();
  ASSERT_TRUE(check.ok());
  EXPECT_FALSE(check->ok);
  EXPECT_EQ(check->bad_seq, 2);
  EXPECT_NE(check->problem.find("entry 2"), std::string::npos) << check->problem;
  EXPECT_NE(check->problem.find("hash mismatch"), std::string::npos) << check->problem;

  run("UPDATE ledger SET body = replace(body, 'w9', 'w1') WHERE seq = 2; "
      "DELETE FROM ledger WHERE seq = 3");
  check = (*ledger)->VerifyChain();
  ASSERT_TRUE(check.ok());
  EXPECT_FALSE(check->ok);
  EXPECT_EQ(check->bad_seq, 4);
  EXPECT_NE(check->problem.find("out of sequence"), std::string::npos) << check->problem;
}

TEST(FindingsLedgerTest, ConcurrentAppendsFromThreadsAndProcessesKeepOneChain) {
  testing::TempDir dir;
  constexpr int kThreads = 4, kProcs = 3, kEach = 15;
  std::vector<pid_t> kids;
  for (int p = 0; p < kProcs; ++p) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto ledger = FindingsLedger::Open(dir.path());
      int bad = 0;
      if (!ledger.ok()) {
        std::fprintf(stderr, "child %d: opening: %s\n", p, ledger.status().ToString().c_str());
        ++bad;
      }
      for (int i = 0; ledger.ok() && i < kEach; ++i) {
        Result<int64_t> id = (*ledger)->Append(SampleFinding("proc", "2026-11-01T00:00:00Z"));
        if (!id.ok()) {
          std::fprintf(stderr, "child %d: append: %s\n", p, id.status().ToString().c_str());
          ++bad;
        }
      }
      ::_exit(bad == 0 ? 0 : 1);
    }
    kids.push_back(pid);
  }
  auto ledger = FindingsLedger::Open(dir.path());
  ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        auto id = (*ledger)->Append(SampleFinding("thread", "2026-11-01T00:00:00Z"));
        if (!id.ok()) {
          ++failures;
          continue;
        }
        if (!(*ledger)->Review({*id, ReviewState::kConfirmed, "t", ""}).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  for (pid_t pid : kids) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  EXPECT_EQ(failures.load(), 0);
  auto check = (*ledger)->VerifyChain();
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check->ok) << check->problem;
  EXPECT_EQ(check->entries, kProcs * kEach + 2 * kThreads * kEach);
  auto head = (*ledger)->Head();
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->seq, check->entries);
  EXPECT_EQ(head->hash, check->head.hash);
}

TEST(FindingsLedgerTest, ExportedLinesVerifyAndReorderingIsCaught) {
  testing::TempDir dir;
  auto ledger = FindingsLedger::Open(dir.path());
  ASSERT_TRUE(ledger.ok());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE((*ledger)->Append(SampleFinding("w1", "2026-11-01T00:00:00Z")).ok());
  }
  auto entries = (*ledger)->Entries();
  ASSERT_TRUE(entries.ok());
  std::vector<LedgerEntry> back;
  for (const auto& e : *entries) {
    auto r = EntryFromJsonLine(EntryToJsonLine(e));
    ASSERT_TRUE(r.ok());
    back.push_back(*r);
  }
  EXPECT_TRUE(VerifyEntries(back).ok);
  std::swap(back[1], back[2]);
  ChainCheck check = VerifyEntries(back);
  EXPECT_FALSE(check.ok);
  EXPECT_EQ(check.bad_seq, 3);
}

TEST(FindingsLedgerTest, OpenRefusesAForeignDatabase) {
  testing::TempDir dir;
  {
    std::ofstream out(dir.path() / FindingsLedger::kFileName);
    out << "this is not sqlite at all, just text that happens to be here.......";
  }
  auto ledger = FindingsLedger::Open(dir.path());
  EXPECT_FALSE(ledger.ok());
}

TEST(EvidenceStoreTest, KeepsBytesUnderTheirHashAndDetectsChanges) {
  testing::TempDir dir;
  std::filesystem::path src = dir / "suspect.bin";
  {
    std::ofstream out(src, std::ios::binary);
    out << "suspect bytes";
  }
  EvidenceStore store(dir / "data");
  auto kept = store.KeepFile(src);
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  EXPECT_EQ(kept->first, Sha256Hex("suspect bytes"));
  EXPECT_EQ(kept->second, "evidence/" + kept->first.substr(0, 2) + "/" + kept->first);
  auto again = store.KeepBytes("suspect bytes");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->second, kept->second);
  auto path = store.Resolve(kept->second);
  ASSERT_TRUE(path.ok());
  {
    std::ofstream out(*path, std::ios::binary | std::ios::app);
    out << "!";
  }
  EXPECT_EQ(store.Resolve(kept->second).status().code(), StatusCode::kCorrupt);
  EXPECT_EQ(store.Resolve("../etc/passwd").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kagami::reports
