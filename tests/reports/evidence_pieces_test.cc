// Exhibit outline geometry and takedown notice assembly.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kagami/reports/exhibit_renderer.h"
#include "kagami/reports/takedown_notices.h"

namespace kagami::reports {
namespace {

MatchedUnit Unit(MatchView view, bool mirrored, std::array<double, 9> h) {
  MatchedUnit u;
  u.view = view;
  u.mirrored = mirrored;
  u.homography = h;
  return u;
}

constexpr std::array<double, 9> kIdentity = {1, 0, 0, 0, 1, 0, 0, 0, 1};

TEST(ExhibitOutlineTest, IdentityOutlinesTheWholePageOnBothSides) {
  MatchOutline o = ComputeOutline(Unit(MatchView::kFull, false, kIdentity), {100, 200}, {100, 200});
  ASSERT_EQ(o.on_registered.size(), 4u);
  EXPECT_NEAR(o.on_registered[2].x, 100, 1e-9);
  EXPECT_NEAR(o.on_registered[2].y, 200, 1e-9);
  ASSERT_EQ(o.on_found.size(), 4u);
  EXPECT_NEAR(o.on_found[2].x, 100, 1e-9);
  EXPECT_NEAR(o.on_found[2].y, 200, 1e-9);
}

TEST(ExhibitOutlineTest, HalfViewsLandOnTheirHalfOfASpread) {
  // A 200x100 spread whose right half is the registered 100x100 page.
  MatchOutline right =
      ComputeOutline(Unit(MatchView::kRight, false, kIdentity), {100, 100}, {200, 100});
  ASSERT_EQ(right.on_found.size(), 4u);
  EXPECT_NEAR(right.on_found[0].x, 100, 1e-9);
  EXPECT_NEAR(right.on_found[2].x, 200, 1e-9);
  MatchOutline left =
      ComputeOutline(Unit(MatchView::kLeft, false, kIdentity), {100, 100}, {200, 100});
  EXPECT_NEAR(left.on_found[0].x, 0, 1e-9);
  EXPECT_NEAR(left.on_found[2].x, 100, 1e-9);
}

TEST(ExhibitOutlineTest, ScaledHomographyOutlinesTheCroppedRegion) {
  // Suspect = central 80% of the registered page: x_reg = 0.1 + 0.8 x_sus (units of long side).
  MatchOutline o = ComputeOutline(
      Unit(MatchView::kFull, false, {0.8, 0, 0.1, 0, 0.8, 0.1, 0, 0, 1}), {1000, 1000}, {800, 800});
  EXPECT_NEAR(o.on_registered[0].x, 100, 1e-6);
  EXPECT_NEAR(o.on_registered[2].x, 900, 1e-6);
  // The registered page maps outside the found page on every side.
  EXPECT_LT(o.on_found[0].x, 0);
  EXPECT_GT(o.on_found[2].x, 800);
}

TEST(ExhibitOutlineTest, MirroredMatchesAreUnmirroredOnTheFoundPage) {
  // Verified against the mirror image: x_reg = 0.5 * x_mirror.
  MatchOutline o = ComputeOutline(Unit(MatchView::kFull, true, {0.5, 0, 0, 0, 1, 0, 0, 0, 1}),
                                  {100, 100}, {100, 100});
  double min_x = 1e9, max_x = -1e9;
  for (const auto& p : o.on_found) {
    min_x = std::min(min_x, p.x);
    max_x = std::max(max_x, p.x);
  }
  // Registered x in [0, 100] is mirror x in [0, 200], i.e. found x in [-100, 100].
  EXPECT_NEAR(min_x, -100, 1e-6);
  EXPECT_NEAR(max_x, 100, 1e-6);
}

TEST(ExhibitOutlineTest, NoOutlineWithoutAHomographyOrForTrimmedViews) {
  MatchedUnit none;
  EXPECT_TRUE(ComputeOutline(none, {10, 10}, {10, 10}).on_registered.empty());
  EXPECT_TRUE(ComputeOutline(Unit(MatchView::kTrimmed, false, kIdentity), {10, 10}, {10, 10})
                  .on_found.empty());
}

FindingRecord Record(int64_t id, ReviewState status, std::string page_url) {
  FindingRecord r;
  r.id = id;
  r.status = status;
  r.finding.work = "w1";
  r.finding.source = page_url.empty() ? "/local/file.cbz" : page_url;
  r.finding.source_is_url = !page_url.empty();
  r.finding.page_url = page_url;
  r.finding.captured_at = "2026-11-30T00:00:00Z";
  return r;
}

TEST(TakedownNoticesTest, OnlyConfirmedUrlFindingsAndMissingFieldsAreMarked) {
  std::vector<FindingRecord> findings = {
      Record(1, ReviewState::kConfirmed, "https://a.example/x/1"),
      Record(2, ReviewState::kNew, "https://a.example/x/2"),
      Record(3, ReviewState::kRejected, "https://b.example/y"),
      Record(4, ReviewState::kConfirmed, ""),
      Record(5, ReviewState::kNoticeSent, "https://Reader.B.example:8443/z"),
  };
  std::map<std::string, index::Work> works;
  works["w1"] = {"w1", "Title 一", "Holder", index::WorkKind::kManga, {{"isbn", "978"}}};
  nlohmann::json config = {{"name", "Holder Inc."}, {"email", "legal@holder.example"}};
  std::vector<HostNotices> notices = BuildNotices(findings, works, config, "2026-11-30");
  ASSERT_EQ(notices.size(), 2u);
  EXPECT_EQ(notices[0].host, "a.example");
  EXPECT_EQ(notices[0].findings, std::vector<int64_t>{1});
  EXPECT_EQ(notices[1].host, "reader.b.example");
  EXPECT_THAT(notices[0].dmca, ::testing::HasSubstr("https://a.example/x/1"));
  EXPECT_THAT(notices[0].dmca, ::testing::Not(::testing::HasSubstr("https://a.example/x/2")));
  EXPECT_THAT(notices[0].dmca, ::testing::HasSubstr("\"Title 一\", isbn 978"));
  EXPECT_THAT(notices[0].dmca, ::testing::HasSubstr("Holder Inc."));
  for (const char* field : {"agent", "address", "phone", "signature", "name_ja", "address_ja",
                            "hosts.a.example.recipient"}) {
    EXPECT_THAT(notices[0].missing, ::testing::Contains(std::string(field)));
    EXPECT_THAT(notices[0].dmca + notices[0].japanese,
                ::testing::HasSubstr("[missing: " + std::string(field) + "]"));
  }
  EXPECT_THAT(notices[0].missing, ::testing::Not(::testing::Contains(std::string("email"))));
  EXPECT_EQ(notices[0].lumen["notice"]["works"][0]["infringing_urls"].size(), 1u);
}

}  // namespace
}  // namespace kagami::reports
