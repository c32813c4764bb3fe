#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ingest_test_util.h"
#include "kagami/ingest/page_source.h"
#include "kagami/ingest/volume.h"
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

Bytes Text(const std::string& s) { return Bytes(s.begin(), s.end()); }

constexpr char kContainer[] = R"(<?xml version="1.0"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles>
    <rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>
  </rootfiles>
</container>)";

// Spine: c2 (SVG-wrapped image), c1 (XHTML <img>, URL-escaped and relative),
// an image item directly, then c3 which repeats c1's image.
constexpr char kPackage[] = R"(<?xml version="1.0" encoding="UTF-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>T</dc:title></metadata>
  <manifest>
    <item id="c1" href="text/c1.xhtml" media-type="application/xhtml+xml"/>
    <item id="c2" href="text/c2.xhtml" media-type="application/xhtml+xml"/>
    <item id="c3" href="text/c3.xhtml" media-type="application/xhtml+xml"/>
    <item id="z" href="images/z.jpg" media-type="image/jpeg"/>
    <item id="unused" href="images/unused.png" media-type="image/png"/>
    <item id="a" href="images/a.png" media-type="image/png"/>
    <item id="pb" href="images/p%20b.jpg" media-type="image/jpeg"/>
  </manifest>
  <spine>
    <itemref idref="c2"/>
    <itemref idref="c1"/>
    <itemref idref="z"/>
    <itemref idref="c3"/>
  </spine>
</package>)";

constexpr char kChapter1[] = R"(<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<html xmlns="http://www.w3.org/1999/xhtml"><head><title>&xxe;</title></head>
<body><div><img src="../images/p%20b.jpg#frag" alt="p"/></div>
<img src="http://example.com/remote.jpg"/></body></html>)";

constexpr char kChapter2[] = R"(<?xml version="1.0" encoding="UTF-8"?>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:xlink="http://www.w3.org/1999/xlink">
<body><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 96 128">
<image width="96" height="128" xlink:href="../images/a.png"/></svg></body></html>)";

constexpr char kChapter3[] = R"(<html><body><p>again <img src="../images/p%20b.jpg"></p>
<img src="../images/missing.jpg"></body></html>)";

std::vector<Member> BookMembers() {
  return {
      {"mimetype", Text("application/epub+zip")},
      {"META-INF/container.xml", Text(kContainer)},
      {"OEBPS/images/z.jpg", testing::PageJpeg("z")},
      {"OEBPS/images/unused.png", testing::PagePng("unused")},
      {"OEBPS/images/p b.jpg", testing::PageJpeg("pb")},
      {"OEBPS/images/a.png", testing::PagePng("a")},
      {"OEBPS/content.opf", Text(kPackage)},
      {"OEBPS/text/c1.xhtml", Text(kChapter1)},
      {"OEBPS/text/c2.xhtml", Text(kChapter2)},
      {"OEBPS/text/c3.xhtml", Text(kChapter3)},
  };
}

TEST(EpubPageSourceTest, PagesFollowTheSpine) {
  TempDir dir;
  ASSERT_TRUE(testing::WriteArchive(dir / "book.epub", ArchiveKind::kZipStored, BookMembers()));
  std::vector<Volume> volumes = ExpandInputs({(dir / "book.epub").string()}, IngestLimits{});
  ASSERT_EQ(volumes.size(), 1u);
  ASSERT_EQ(volumes[0].assets.size(), 1u);
  ASSERT_EQ(volumes[0].assets[0].kind, MediaKind::kEpub);

  std::vector<EncodedPage> pages = ReadAllPages(dir / "book.epub");
  EXPECT_THAT(MemberNames(pages), ElementsAre("OEBPS/images/a.png", "OEBPS/images/p b.jpg",
                                              "OEBPS/images/z.jpg", "OEBPS/images/missing.jpg"));
  ASSERT_EQ(pages.size(), 4u);
  EXPECT_EQ(pages[0].bytes, testing::PagePng("a"));
  EXPECT_EQ(pages[1].bytes, testing::PageJpeg("pb"));
  EXPECT_EQ(pages[2].bytes, testing::PageJpeg("z"));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(pages[i].status.ok()) << pages[i].status.ToString();
  EXPECT_EQ(pages[3].status.code(), StatusCode::kCorrupt);
  EXPECT_THAT(pages[3].status.message(), HasSubstr("not in the archive"));
}

TEST(EpubPageSourceTest, WithoutUsableSpineImagesComeInNaturalOrder) {
  TempDir dir;
  ASSERT_TRUE(testing::WriteArchive(dir / "bare.epub", ArchiveKind::kZipStored,
                                    {{"mimetype", Text("application/epub+zip")},
                                     {"img/p10.png", testing::PagePng("10")},
                                     {"img/p9.png", testing::PagePng("9")},
                                     {"META-INF/container.xml", Text("<container><oops")}}));
  std::vector<EncodedPage> pages = ReadAllPages(dir / "bare.epub");
  EXPECT_THAT(MemberNames(pages), ElementsAre("img/p9.png", "img/p10.png"));
}

TEST(EpubPageSourceTest, PageLimitIsEnforcedAtOpen) {
  TempDir dir;
  ASSERT_TRUE(testing::WriteArchive(dir / "book.epub", ArchiveKind::kZipStored, BookMembers()));
  IngestLimits limits;
  limits.max_pages = 2;
  Result<std::unique_ptr<PageSource>> source = OpenAsset(testing::Asset(dir / "book.epub"), limits);
  EXPECT_EQ(source.status().code(), StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace kagami::ingest
