// A video unit's kept query frame (HLS findings) in the ledger's canonical JSON.

#include <gtest/gtest.h>

#include "kagami/reports/findings_ledger.h"

namespace kagami::reports {
namespace {

Finding StreamFinding() {
  Finding f;
  f.source = "http://cdn.example/live/ep1.m3u8";
  f.source_is_url = true;
  f.media_url = f.source;
  f.work = "anime1";
  f.captured_at = "2026-11-30T06:00:00Z";
  MatchedUnit u;
  u.time = TimeRange{0, 24};
  u.ref_time = TimeRange{0, 24};
  VideoQueryFrame q;
  q.file = "evidence/ab/abcdef";
  q.t = 9;
  q.ref_t = 9.02;
  q.segment_url = "http://cdn.example/live/ep1-004.ts";
  q.segment_sha256 = std::string(64, 'e');
  q.segment_sequence = 4;
  u.query_frame = q;
  f.units.push_back(u);
  return f;
}

TEST(VideoQueryFrameTest, RoundTripsThroughTheCanonicalBody) {
  Finding f = StreamFinding();
  std::string body = FindingToJson(f);
  auto back = FindingFromJson(body);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(FindingToJson(*back), body);
  ASSERT_TRUE(back->units.at(0).query_frame.has_value());
  const VideoQueryFrame& q = *back->units[0].query_frame;
  EXPECT_EQ(q.segment_url, "http://cdn.example/live/ep1-004.ts");
  EXPECT_EQ(q.segment_sequence, 4);
  EXPECT_DOUBLE_EQ(q.ref_t, 9.02);
}

TEST(VideoQueryFrameTest, UnitsWithoutOneSerialiseAsBefore) {
  // Entries written before query frames existed must keep their bytes (and so
  // their chained hashes): no "query_frame" key unless there is one.
  Finding f = StreamFinding();
  f.units[0].query_frame.reset();
  std::string body = FindingToJson(f);
  EXPECT_EQ(body.find("query_frame"), std::string::npos);
  auto back = FindingFromJson(body);
  ASSERT_TRUE(back.ok());
  EXPECT_FALSE(back->units.at(0).query_frame.has_value());
}

TEST(VideoQueryFrameTest, AMalformedQueryFrameIsCorrupt) {
  std::string body = FindingToJson(StreamFinding());
  size_t at = body.find("\"segment_sequence\":4");
  ASSERT_NE(at, std::string::npos);
  body.replace(at, 20, "\"segment_sequence\":\"x\"");
  EXPECT_EQ(FindingFromJson(body).status().code(), StatusCode::kCorrupt);
}

}  // namespace
}  // namespace kagami::reports
