// Temporal voting of frame and audio hits into aligned segments.

#include "kagami/index/segment_matcher.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

namespace kagami::index {
namespace {

// Query sampled at 1/s over [0, n).
std::vector<double> QueryTimes(int n) {
  std::vector<double> t;
  for (int i = 0; i < n; ++i) t.push_back(i);
  return t;
}

// Hits for query [q0, q1) on asset at t_ref = speed * t + offset, every `every` frames.
void AddLine(std::vector<FrameMatch>& m, int64_t asset, int q0, int q1, double speed, double offset,
             int every = 1, int distance = 20) {
  for (int t = q0; t < q1; t += every)
    m.push_back({asset, double(t), speed * t + offset, distance, false});
}

TEST(SegmentMatcherTest, ExcerptGivesOneAlignedSegment) {
  std::vector<FrameMatch> m;
  AddLine(m, 7, 20, 50, 1.0, 283.0);
  auto segments = FindVideoSegments(m, QueryTimes(70));
  ASSERT_EQ(segments.size(), 1u);
  EXPECT_EQ(segments[0].asset_id, 7);
  EXPECT_NEAR(segments[0].start, 20, 1e-9);
  EXPECT_NEAR(segments[0].end, 49, 1e-9);
  EXPECT_NEAR(segments[0].ref_start, 303, 0.5);
  EXPECT_NEAR(segments[0].ref_end, 332, 0.5);
  EXPECT_EQ(segments[0].matched_frames, 30);
}

TEST(SegmentMatcherTest, SpeedChangeIsFollowed) {
  std::vector<FrameMatch> m;
  AddLine(m, 1, 0, 60, 25.0 / 23.976, 10.0);  // played 4% slower
  auto segments = FindVideoSegments(m, QueryTimes(60));
  ASSERT_EQ(segments.size(), 1u);
  EXPECT_NEAR(segments[0].speed, 25.0 / 23.976, 0.005);
  EXPECT_NEAR(segments[0].ref_end, 59 * 25.0 / 23.976 + 10, 1.0);
}

TEST(SegmentMatcherTest, TwoWorksAndARepeatGiveSeparateSegments) {
  std::vector<FrameMatch> m;
  AddLine(m, 1, 0, 20, 1.0, 5.0);
  AddLine(m, 2, 20, 40, 1.0, -10.0);
  AddLine(m, 1, 50, 70, 1.0, -50.0);  // asset 1 again, 0..20 of it
  auto segments = FindVideoSegments(m, QueryTimes(70));
  ASSERT_EQ(segments.size(), 3u);
  EXPECT_EQ(segments[0].asset_id, 1);
  EXPECT_EQ(segments[1].asset_id, 2);
  EXPECT_EQ(segments[2].asset_id, 1);
  EXPECT_NEAR(segments[2].ref_start, 0, 0.5);
}

TEST(SegmentMatcherTest, ScatteredChanceHitsMakeNoSegment) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> ref(0, 3600);
  std::vector<FrameMatch> m;
  for (int t = 0; t < 600; t += 3) m.push_back({1, double(t), ref(rng), 30, false});
  EXPECT_TRUE(FindVideoSegments(m, QueryTimes(600)).empty());
}

TEST(SegmentMatcherTest, SparseAlignedHitsBelowDensityMakeNoSegment) {
  std::vector<FrameMatch> m;
  AddLine(m, 1, 0, 60, 1.0, 0.0, /*every=*/4);  // 15 of 60 frames: density 0.25
  EXPECT_TRUE(FindVideoSegments(m, QueryTimes(60)).empty());
}

TEST(SegmentMatcherTest, AFewCoincidentFramesAreNotASegment) {
  std::vector<FrameMatch> m;
  AddLine(m, 1, 10, 14, 1.0, 100.0);  // 4 frames (black frames, a title card)
  EXPECT_TRUE(FindVideoSegments(m, QueryTimes(60)).empty());
}

TEST(AudioIndexTest, AlignedCopyWithBitErrorsIsFoundAndNoiseIsNot) {
  std::mt19937 rng(11);
  std::vector<uint32_t> ref(2000);
  for (uint32_t& v : ref) v = rng();
  AudioIndex index;
  index.Add(5, 0.1238, 0.0, ref);
  // Query: 30 s of silence-free noise, then ref[400, 700) with 3 random bit flips per value.
  std::vector<uint32_t> query;
  for (int i = 0; i < 100; ++i) query.push_back(rng());
  for (int i = 400; i < 700; ++i) {
    uint32_t v = ref[i];
    if (i % 3 != 0) {  // a third of the values survive exactly
      for (int k = 0; k < 3; ++k) v ^= 1u << (rng() % 32);
    }
    query.push_back(v);
  }
  auto segments = index.Match(query, 0.1238, 0.0);
  ASSERT_EQ(segments.size(), 1u);
  EXPECT_EQ(segments[0].modality, "audio");
  EXPECT_NEAR(segments[0].start, 100 * 0.1238, 1.0);
  EXPECT_NEAR(segments[0].ref_start, 400 * 0.1238, 1.0);
  EXPECT_NEAR(segments[0].end - segments[0].start, 300 * 0.1238, 1.5);

  std::vector<uint32_t> noise(1000);
  for (uint32_t& v : noise) v = rng();
  EXPECT_TRUE(index.Match(noise, 0.1238, 0.0).empty());
}

TEST(MergeModalitiesTest, AudioConfirmingVideoMakesBoth) {
  Segment v;
  v.asset_id = 1;
  v.start = 10;
  v.end = 40;
  v.ref_start = 110;
  v.ref_end = 140;
  v.score = 0.8;
  Segment a = v;
  a.modality = "audio";
  a.start = 12;
  a.ref_start = 112.5;
  a.audio_s = 25;
  Segment elsewhere = a;
  elsewhere.asset_id = 2;
  auto merged = MergeModalities({v}, {a, elsewhere});
  ASSERT_EQ(merged.size(), 2u);
  EXPECT_EQ(merged[0].modality, "both");
  EXPECT_EQ(merged[1].modality, "audio");
  EXPECT_EQ(merged[1].asset_id, 2);
}

}  // namespace
}  // namespace kagami::index
