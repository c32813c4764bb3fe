#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "ingest_test_util.h"
#include "kagami/ingest/page_source.h"
#include "temp_dir.h"

namespace kagami::ingest {
namespace {

using ::kagami::testing::TempDir;
using testing::ArchiveKind;
using testing::Bytes;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::Member;
using testing::MemberNames;
using testing::ReadAllPages;

// Pages stored out of natural order, with the junk real CBZs carry.
std::vector<Member> ComicMembers(std::map<std::string, Bytes>* expected) {
  std::vector<Member> members = {
      {"p10.jpg", testing::PageJpeg("p10")},
      {"p2.jpg", testing::PageJpeg("p2")},
      {"ch2/", {}, true},
      {"ch2/p1.png", testing::PagePng("ch2p1")},
      {"p1.jpg", testing::PageJpeg("p1")},
      {"__MACOSX/._p1.jpg", testing::PageJpeg("resource fork")},
      {".DS_Store", Bytes{'B', 'u', 'd', '1'}},
      {"Thumbs.db", Bytes(64, 0xD0)},
      {"credits.txt", Bytes{'h', 'i'}},
      {"cover.JPG", testing::PageJpeg("cover")},
  };
  for (const Member& m : members) {
    if (!m.directory) (*expected)[m.name] = m.data;
  }
  return members;
}

class ArchiveOrderTest : public ::testing::TestWithParam<ArchiveKind> {};

TEST_P(ArchiveOrderTest, PagesComeInNaturalOrderWithJunkSkipped) {
  TempDir dir;
  std::map<std::string, Bytes> expected;
  std::filesystem::path path = dir / "vol.cbz";
  ASSERT_TRUE(testing::WriteArchive(path, GetParam(), ComicMembers(&expected)));
  std::vector<EncodedPage> pages = ReadAllPages(path);
  EXPECT_THAT(MemberNames(pages),
              ElementsAre("ch2/p1.png", "cover.JPG", "p1.jpg", "p2.jpg", "p10.jpg"));
  for (const EncodedPage& page : pages) {
    EXPECT_TRUE(page.status.ok()) << page.status.ToString();
    EXPECT_EQ(page.bytes, expected[page.member]) << page.member;
    EXPECT_TRUE(page.rendered.empty());
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, ArchiveOrderTest,
                         ::testing::Values(ArchiveKind::kZip, ArchiveKind::kZipStored,
                                           ArchiveKind::kSevenZip, ArchiveKind::kTar,
                                           ArchiveKind::kTarGz),
                         [](const ::testing::TestParamInfo<ArchiveKind>& info) {
                           switch (info.param) {
                             case ArchiveKind::kZip:
                               return "Zip";
                             case ArchiveKind::kZipStored:
                               return "ZipStored";
                             case ArchiveKind::kSevenZip:
                               return "SevenZip";
                             case ArchiveKind::kTar:
                               return "Tar";
                             case ArchiveKind::kTarGz:
                               return "TarGz";
                           }
                           return "Unknown";
                         });

TEST(ArchivePageSourceTest, NestedArchiveIsExpandedInPlace) {
  TempDir dir;
  ASSERT_TRUE(testing::WriteArchive(dir / "inner.cbz", ArchiveKind::kZip,
                                    {{"b10.png", testing::PagePng("b10")},
                                     {"b2.png", testing::PagePng("b2")},
                                     {"b1.png", testing::PagePng("b1")}}));
  ASSERT_TRUE(testing::WriteArchive(dir / "outer.zip", ArchiveKind::kZip,
                                    {{"p3.jpg", testing::PageJpeg("p3")},
                                     {"p2.cbz", testing::ReadAll(dir / "inner.cbz")},
                                     {"p1.jpg", testing::PageJpeg("p1")}}));
  std::vector<EncodedPage> pages = ReadAllPages(dir / "outer.zip");
  EXPECT_THAT(MemberNames(pages),
              ElementsAre("p1.jpg", "p2.cbz/b1.png", "p2.cbz/b2.png", "p2.cbz/b10.png", "p3.jpg"));
  for (const EncodedPage& page : pages) EXPECT_TRUE(page.status.ok()) << page.status.ToString();
  ASSERT_EQ(pages.size(), 5u);
  EXPECT_EQ(pages[1].bytes, testing::PagePng("b1"));
}

TEST(ArchivePageSourceTest, SecondLevelOfNestingIsRefusedOthersStillRead) {
  TempDir dir;
  ASSERT_TRUE(testing::WriteArchive(dir / "deepest.zip", ArchiveKind::kZip,
                                    {{"x.png", testing::PagePng("x")}}));
  ASSERT_TRUE(testing::WriteArchive(
      dir / "middle.cbz", ArchiveKind::kZip,
      {{"a.png", testing::PagePng("a")}, {"deeper.zip", testing::ReadAll(dir / "deepest.zip")}}));
  ASSERT_TRUE(testing::WriteArchive(
      dir / "outer.cb7", ArchiveKind::kSevenZip,
      {{"m.cbz", testing::ReadAll(dir / "middle.cbz")}, {"z.png", testing::PagePng("z")}}));
  std::vector<EncodedPage> pages = ReadAllPages(dir / "outer.cb7");
  EXPECT_THAT(MemberNames(pages), ElementsAre("m.cbz/a.png", "m.cbz/deeper.zip", "z.png"));
  ASSERT_EQ(pages.size(), 3u);
  EXPECT_TRUE(pages[0].status.ok());
  EXPECT_EQ(pages[1].status.code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(pages[1].status.message(), HasSubstr("max_nesting"));
  EXPECT_TRUE(pages[1].bytes.empty());
  EXPECT_TRUE(pages[2].status.ok());
}

TEST(ArchivePageSourceTest, NestingZeroRefusesAnyInnerArchive) {
  TempDir dir;
  ASSERT_TRUE(testing::WriteArchive(dir / "inner.zip", ArchiveKind::kZip,
                                    {{"a.png", testing::PagePng("a")}}));
  ASSERT_TRUE(testing::WriteArchive(dir / "outer.zip", ArchiveKind::kZip,
                                    {{"inner.zip", testing::ReadAll(dir / "inner.zip")}}));
  IngestLimits limits;
  limits.max_nesting = 0;
  std::vector<EncodedPage> pages = ReadAllPages(dir / "outer.zip", limits);
  ASSERT_EQ(pages.size(), 1u);
  EXPECT_EQ(pages[0].status.code(), StatusCode::kResourceExhausted);
}

class ZipBombTest : public ::testing::TestWithParam<ArchiveKind> {};

TEST_P(ZipBombTest, HighlyCompressedMemberIsRefusedAndOtherPagesStillComeOut) {
  TempDir dir;
  // 48 MiB of zeros deflate to ~50 KiB, a ratio near 1000:1 (limit 200:1).
  std::filesystem::path path = dir / "bomb.cbz";
  ASSERT_TRUE(testing::WriteArchive(path, GetParam(),
                                    {{"p1.jpg", testing::PageJpeg("p1")},
                                     {"p2.jpg", {}, false, 48ull << 20},
                                     {"p3.jpg", testing::PageJpeg("p3")}}));
  ASSERT_LT(std::filesystem::file_size(path), 1u << 20);
  std::vector<EncodedPage> pages = ReadAllPages(path);
  ASSERT_THAT(MemberNames(pages), ElementsAre("p1.jpg", "p2.jpg", "p3.jpg"));
  EXPECT_TRUE(pages[0].status.ok());
  EXPECT_EQ(pages[1].status.code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(pages[1].status.message(), HasSubstr("max_compression_ratio"));
  EXPECT_THAT(pages[1].status.message(), HasSubstr("p2.jpg"));
  EXPECT_TRUE(pages[2].status.ok());
  EXPECT_EQ(pages[2].bytes, testing::PageJpeg("p3"));
}

INSTANTIATE_TEST_SUITE_P(Formats, ZipBombTest,
                         ::testing::Values(ArchiveKind::kZip, ArchiveKind::kTarGz));

TEST(ArchivePageSourceTest, DeclaredSizeOverEntryLimitIsRefusedUnread) {
  TempDir dir;
  ASSERT_TRUE(
      testing::WriteArchive(dir / "a.cbz", ArchiveKind::kZipStored,
                            {{"p1.png", testing::PagePng("p1")}, {"p2.png", Bytes(300000, 0x89)}}));
  IngestLimits limits;
  limits.max_entry_bytes = 200000;
  std::vector<EncodedPage> pages = ReadAllPages(dir / "a.cbz", limits);
  ASSERT_EQ(pages.size(), 2u);
  EXPECT_TRUE(pages[0].status.ok());
  EXPECT_EQ(pages[1].status.code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(pages[1].status.message(), HasSubstr("max_entry_bytes"));
}

// Rewrites every uncompressed-size field of a one-member ZIP (local header and
// central directory) to `claimed`.
void LieAboutSize(Bytes* zip, uint32_t claimed) {
  auto put32 = [&](size_t at) {
    for (int i = 0; i < 4; ++i) (*zip)[at + i] = static_cast<unsigned char>(claimed >> (8 * i));
  };
  for (size_t i = 0; i + 46 <= zip->size(); ++i) {
    if ((*zip)[i] != 'P' || (*zip)[i + 1] != 'K') continue;
    if ((*zip)[i + 2] == 3 && (*zip)[i + 3] == 4) put32(i + 22);
    if ((*zip)[i + 2] == 1 && (*zip)[i + 3] == 2) put32(i + 24);
  }
}

TEST(ArchivePageSourceTest, ReadingStopsAtEntryLimitWhatEverTheHeaderClaims) {
  TempDir dir;
  // Incompressible data so only the size bound can trip, not the ratio.
  Bytes noise(3 << 20);
  cv::RNG rng(7);
  rng.fill(cv::Mat(1, static_cast<int>(noise.size()), CV_8UC1, noise.data()), cv::RNG::UNIFORM, 0,
           256);
  noise[0] = 0xFF;
  noise[1] = 0xD8;
  noise[2] = 0xFF;
  std::filesystem::path path = dir / "liar.cbz";
  ASSERT_TRUE(testing::WriteArchive(path, ArchiveKind::kZip, {{"p1.jpg", noise}}));
  Bytes zip = testing::ReadAll(path);
  LieAboutSize(&zip, 1000);
  ::kagami::testing::WriteFile(path, zip);
  IngestLimits limits;
  limits.max_entry_bytes = 1 << 20;
  std::vector<EncodedPage> pages = ReadAllPages(path, limits);
  ASSERT_FALSE(pages.empty());
  EXPECT_EQ(pages[0].member, "p1.jpg");
  EXPECT_EQ(pages[0].status.code(), StatusCode::kResourceExhausted) << pages[0].status.ToString();
  EXPECT_THAT(pages[0].status.message(), HasSubstr("max_entry_bytes"));
  EXPECT_TRUE(pages[0].bytes.empty());
}

TEST(ArchivePageSourceTest, TotalBytesLimitStopsLaterPages) {
  TempDir dir;
  ASSERT_TRUE(testing::WriteArchive(dir / "a.cbz", ArchiveKind::kZip,
                                    {{"p1.png", Bytes(60000, 0x89)},
                                     {"p2.png", Bytes(60000, 0x89)},
                                     {"p3.png", Bytes(60000, 0x89)}}));
  IngestLimits limits;
  limits.max_total_bytes = 130000;
  std::vector<EncodedPage> pages = ReadAllPages(dir / "a.cbz", limits);
  ASSERT_EQ(pages.size(), 3u);
  EXPECT_EQ(pages[2].status.code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(pages[2].status.message(), HasSubstr("max_total_bytes"));
}

TEST(ArchivePageSourceTest, TooManyMembersFailsToOpen) {
  TempDir dir;
  std::vector<Member> members;
  for (int i = 0; i < 12; ++i) members.push_back({"p" + std::to_string(i) + ".png", Bytes{1}});
  ASSERT_TRUE(testing::WriteArchive(dir / "many.cbz", ArchiveKind::kZip, members));
  IngestLimits limits;
  limits.max_entries = 10;
  Result<std::unique_ptr<PageSource>> source = OpenAsset(testing::Asset(dir / "many.cbz"), limits);
  EXPECT_EQ(source.status().code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(source.status().message(), HasSubstr("many.cbz"));
}

TEST(ArchivePageSourceTest, EncryptedMemberGivesAnErrorPage) {
  TempDir dir;
  if (!testing::WriteArchive(
          dir / "locked.cbz", ArchiveKind::kZip,
          {{"p1.png", testing::PagePng("p1")}, {"p2.png", testing::PagePng("p2")}}, "secret")) {
    GTEST_SKIP() << "this libarchive cannot write encrypted ZIPs";
  }
  std::vector<EncodedPage> pages = ReadAllPages(dir / "locked.cbz");
  ASSERT_EQ(pages.size(), 2u);
  for (const EncodedPage& page : pages) {
    EXPECT_EQ(page.status.code(), StatusCode::kUnsupported) << page.status.ToString();
    EXPECT_THAT(page.status.message(), HasSubstr("encrypted"));
  }
}

class TruncatedArchiveTest : public ::testing::TestWithParam<ArchiveKind> {};

TEST_P(TruncatedArchiveTest, PagesBeforeTheDamageThenOneErrorThenEnd) {
  TempDir dir;
  std::vector<Member> members;
  for (int i = 1; i <= 6; ++i) {
    // Random pixels: incompressible, so file offsets track member order. Large
    // enough that libarchive's read-ahead when opening a .tar.gz stays clear of
    // the cut (a tiny truncated .tar.gz fails to open at all).
    cv::Mat noise(160, 160, CV_8UC3);
    cv::randu(noise, 0, 256);
    members.push_back({"p" + std::to_string(i) + ".png", testing::Encode(noise, ".png")});
  }
  std::filesystem::path path = dir / "cut.cbz";
  ASSERT_TRUE(testing::WriteArchive(path, GetParam(), members));
  Bytes bytes = testing::ReadAll(path);
  bytes.resize(bytes.size() * 55 / 100);
  ::kagami::testing::WriteFile(path, bytes);

  Result<std::unique_ptr<PageSource>> source = OpenAsset(testing::Asset(path), IngestLimits{});
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  std::vector<EncodedPage> pages;
  while (std::optional<EncodedPage> page = (*source)->Next()) pages.push_back(std::move(*page));
  ASSERT_GE(pages.size(), 2u);
  size_t good = 0;
  while (good < pages.size() && pages[good].status.ok()) ++good;
  EXPECT_GE(good, 2u);
  EXPECT_LE(good, 4u);
  ASSERT_LT(good, pages.size()) << "no error page for the truncated archive";
  for (size_t i = 0; i < good; ++i) {
    EXPECT_EQ(pages[i].member, members[i].name);
    EXPECT_EQ(pages[i].bytes, members[i].data);
  }
  EXPECT_EQ(pages[good].status.code(), StatusCode::kCorrupt) << pages[good].status.ToString();
  EXPECT_THAT(pages[good].status.message(), HasSubstr("cut.cbz"));
  EXPECT_EQ(pages.size(), good + 1) << "only one error page expected";
  EXPECT_FALSE((*source)->Next().has_value());
}

INSTANTIATE_TEST_SUITE_P(Formats, TruncatedArchiveTest,
                         ::testing::Values(ArchiveKind::kZip, ArchiveKind::kTar,
                                           ArchiveKind::kTarGz));

TEST(ArchivePageSourceTest, NonImageBehindImageNameGivesCorruptPage) {
  TempDir dir;
  ASSERT_TRUE(testing::WriteArchive(
      dir / "a.cbz", ArchiveKind::kZip,
      {{"p1.jpg", Bytes{'n', 'o', 'p', 'e'}}, {"p2.jpg", testing::PageJpeg("p2")}}));
  std::vector<EncodedPage> pages = ReadAllPages(dir / "a.cbz");
  ASSERT_EQ(pages.size(), 2u);
  EXPECT_EQ(pages[0].status.code(), StatusCode::kCorrupt);
  EXPECT_TRUE(pages[1].status.ok());
}

TEST(ArchivePageSourceTest, GarbageWithArchiveMagicFailsToOpen) {
  TempDir dir;
  Bytes junk = {'P', 'K', 3, 4, 'j', 'u', 'n', 'k'};
  ::kagami::testing::WriteFile(dir / "junk.cbz", junk);
  Result<std::unique_ptr<PageSource>> source =
      OpenAsset(testing::Asset(dir / "junk.cbz"), IngestLimits{});
  if (source.ok()) {
    // libarchive may accept the bytes as an archive with a broken first header.
    std::optional<EncodedPage> page = (*source)->Next();
    ASSERT_TRUE(page.has_value());
    EXPECT_FALSE(page->status.ok());
  } else {
    EXPECT_THAT(source.status().message(), HasSubstr("junk.cbz"));
  }
}

TEST(PageSourceTest, PlainImageIsOnePageWithEmptyMember) {
  TempDir dir;
  Bytes png = testing::PagePng("solo");
  ::kagami::testing::WriteFile(dir / "solo.png", png);
  std::vector<EncodedPage> pages = ReadAllPages(dir / "solo.png");
  ASSERT_EQ(pages.size(), 1u);
  EXPECT_EQ(pages[0].member, "");
  EXPECT_EQ(pages[0].bytes, png);
  EXPECT_TRUE(pages[0].status.ok());
}

TEST(PageSourceTest, OversizedFileIsRefusedAtOpen) {
  TempDir dir;
  ::kagami::testing::WriteFile(dir / "solo.png", testing::PagePng("solo"));
  IngestLimits limits;
  limits.max_file_bytes = 10;
  Result<std::unique_ptr<PageSource>> source = OpenAsset(testing::Asset(dir / "solo.png"), limits);
  EXPECT_EQ(source.status().code(), StatusCode::kResourceExhausted);
  Result<std::unique_ptr<PageSource>> missing =
      OpenAsset(testing::Asset(dir / "gone.png"), IngestLimits{});
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace kagami::ingest
