#include "kagami/reports/scan_report_writer.h"

#include <gtest/gtest.h>

#include <sstream>

#include <nlohmann/json.hpp>

namespace kagami::reports {
namespace {

pipeline::VolumeReport MatchedReport() {
  pipeline::VolumeReport r;
  r.source = "suspect/vol.cbz";
  r.verdict = pipeline::Verdict::kMatch;
  r.pages = 3;
  r.pages_hashed = 2;
  pipeline::PageMatchRecord m;
  m.member = "p1.jpg";
  m.page_index = 0;
  m.quality = 90;
  m.hit = {42, 12, fingerprint::kFlipX};
  m.ref.work_id = "w1";
  m.ref.title = "Title \"quoted\"";
  m.ref.asset_path = "/reg/w1.cbz";
  m.ref.page_index = 4;
  r.matches.push_back(m);
  pipeline::WorkResult w;
  w.tally = {"w1", 1, 1, true};
  w.title = m.ref.title;
  r.works.push_back(w);
  r.errors.push_back({"suspect/vol.cbz", "p3.jpg", Status::Corrupt("truncated JPEG")});
  return r;
}

TEST(ScanReportWriterTest, JsonlHasOneLinePerMatchAndASummary) {
  std::vector<std::string> lines = ScanReportWriter::ToJsonLines(MatchedReport());
  ASSERT_EQ(lines.size(), 2u);
  nlohmann::json match = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(match["type"], "match");
  EXPECT_EQ(match["source"], "suspect/vol.cbz");
  EXPECT_EQ(match["member"], "p1.jpg");
  EXPECT_EQ(match["unit"], "page");
  EXPECT_EQ(match["index"], 0);
  EXPECT_EQ(match["work"], "w1");
  EXPECT_EQ(match["title"], "Title \"quoted\"");
  EXPECT_EQ(match["ref_asset"], "/reg/w1.cbz");
  EXPECT_EQ(match["ref_index"], 4);
  EXPECT_EQ(match["distance"], 12);
  EXPECT_DOUBLE_EQ(match["similarity"].get<double>(), PdqSimilarity(12));
  EXPECT_EQ(match["variant"], "flipX");
  nlohmann::json summary = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(summary["verdict"], "match");
  EXPECT_EQ(summary["works"][0]["work"], "w1");
  EXPECT_EQ(summary["errors"][0]["member"], "p3.jpg");
}

TEST(ScanReportWriterTest, JsonlCarriesTheEvidenceOfEachMatch) {
  pipeline::VolumeReport r = MatchedReport();
  pipeline::PageMatchRecord& pdq = r.matches[0];
  pdq.method = "pdq";
  pdq.view = "trimmed";
  pdq.view_quality = 88;
  pdq.ref.quality = 73;
  pdq.ref_quality = 64;  // the distance is to the page's trimmed view's hash
  pipeline::PageMatchRecord local = pdq;
  local.method = "local";
  local.view = "full";
  local.hit.distance = -1;
  local.inliers = 57;
  local.coverage = 0.41234;
  local.verification.matches = 120;
  local.verification.inliers = 57;
  local.verification.coverage = 0.41234;
  local.verification.overlap = 0.9;
  local.verification.overlap_coverage = 0.45;
  local.verification.grid_cells = 12;
  local.verification.scale = 1.25;
  local.verification.anisotropy = 1.01;
  local.verification.rotation_deg = -4.0;
  local.verification.perspective = 0.002;
  local.verification.model = "similarity";
  local.verification.projective_gain = 3.14159;
  local.distinct_inliers = 41;
  local.boilerplate_keypoints = 120;
  pipeline::PageMatchRecord blurred = pdq;  // before the pushes move `pdq`
  blurred.view = "body";
  blurred.blurred = true;
  r.matches.push_back(local);
  r.matches.push_back(blurred);
  std::vector<std::string> lines = ScanReportWriter::ToJsonLines(r);
  ASSERT_EQ(lines.size(), 4u);
  nlohmann::json a = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(a["distance"], 12);
  EXPECT_EQ(a["hash"], "pdq");
  EXPECT_EQ(a["view"], "trimmed");
  EXPECT_EQ(a["view_quality"], 88);
  EXPECT_EQ(a["ref_quality"], 64);
  EXPECT_FALSE(a.contains("verification"));  // not geometrically verified
  // The distance of a blurred view is between Kagami's blurred hashes.
  EXPECT_EQ(nlohmann::json::parse(lines[2])["hash"], "blurred_pdq");
  nlohmann::json b = nlohmann::json::parse(lines[1]);
  EXPECT_TRUE(b["distance"].is_null());
  EXPECT_FALSE(b.contains("view_quality"));
  ASSERT_TRUE(b.contains("verification"));
  const nlohmann::json& v = b["verification"];
  EXPECT_EQ(v["matches"], 120);
  EXPECT_EQ(v["inliers"], 57);
  EXPECT_DOUBLE_EQ(v["coverage"].get<double>(), 0.4123);
  EXPECT_DOUBLE_EQ(v["overlap_coverage"].get<double>(), 0.45);
  EXPECT_EQ(v["grid_cells"], 12);
  EXPECT_DOUBLE_EQ(v["scale"].get<double>(), 1.25);
  EXPECT_DOUBLE_EQ(v["anisotropy"].get<double>(), 1.01);
  EXPECT_DOUBLE_EQ(v["rotation_deg"].get<double>(), -4.0);
  EXPECT_DOUBLE_EQ(v["perspective"].get<double>(), 0.002);
  EXPECT_EQ(v["coverage_of"], "page");  // measured against the whole registered page
  EXPECT_EQ(v["model"], "similarity");
  EXPECT_DOUBLE_EQ(v["projective_gain"].get<double>(), 3.1416);
  EXPECT_EQ(v["distinct_inliers"], 41);
  EXPECT_EQ(v["layout_keypoints"], 120);
  EXPECT_EQ(v["accepted_by"], "geometry");
  EXPECT_EQ(v["appearance"], -2);  // not measured
}

TEST(ScanReportWriterTest, JsonlMarksALayoutCheckThatDidNotRunWithMinusOne) {
  pipeline::VolumeReport r = MatchedReport();
  pipeline::PageMatchRecord& m = r.matches[0];
  m.method = "local";
  m.hit.distance = -1;
  m.inliers = 30;
  m.verification.inliers = 30;
  nlohmann::json j = nlohmann::json::parse(ScanReportWriter::ToJsonLines(r)[0]);
  ASSERT_TRUE(j.contains("verification"));
  EXPECT_EQ(j["verification"]["distinct_inliers"], -1);
  EXPECT_EQ(j["verification"]["layout_keypoints"], -1);
  EXPECT_EQ(j["verification"]["model"], "homography");
}

TEST(ScanReportWriterTest, TextShowsInliersAndCoverageOfLocalMatches) {
  pipeline::VolumeReport r = MatchedReport();
  r.matches[0].method = "local";
  r.matches[0].hit.distance = -1;
  r.matches[0].inliers = 57;
  r.matches[0].coverage = 0.414;
  std::ostringstream out;
  ScanReportWriter writer(ReportFormat::kText, out);
  writer.Write(r);
  EXPECT_NE(out.str().find("57 inliers, coverage 41%"), std::string::npos) << out.str();
}

TEST(ScanReportWriterTest, TextNamesVerdictWorkAndErrors) {
  std::ostringstream out;
  ScanReportWriter writer(ReportFormat::kText, out);
  writer.Write(MatchedReport());
  writer.Finish();
  std::string text = out.str();
  EXPECT_NE(text.find("MATCH"), std::string::npos);
  EXPECT_NE(text.find("w1"), std::string::npos);
  EXPECT_NE(text.find("truncated JPEG"), std::string::npos);
  EXPECT_NE(text.find("1 inputs scanned: 1 matched"), std::string::npos);
}

TEST(ScanReportWriterTest, SimilarityFallsWithDistance) {
  EXPECT_DOUBLE_EQ(PdqSimilarity(0), 1.0);
  EXPECT_GT(PdqSimilarity(10), PdqSimilarity(31));
}

TEST(ScanReportWriterTest, UnknownFormatIsRejected) {
  EXPECT_FALSE(ParseReportFormat("xml").ok());
  EXPECT_TRUE(ParseReportFormat("jsonl").ok());
}

}  // namespace
}  // namespace kagami::reports
