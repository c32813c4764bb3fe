#include "kagami/ingest/volume.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "ingest_test_util.h"
#include "temp_dir.h"

namespace kagami::ingest {
namespace {

using ::kagami::testing::TempDir;
using ::kagami::testing::WriteFile;
using testing::ArchiveKind;
using testing::Bytes;
using ::testing::ElementsAre;

std::vector<std::string> NaturalSorted(std::vector<std::string> names) {
  std::sort(names.begin(), names.end(),
            [](const std::string& a, const std::string& b) { return NaturalLess(a, b); });
  return names;
}

TEST(NaturalLessTest, ComparesDigitRunsByValue) {
  EXPECT_TRUE(NaturalLess("p2", "p10"));
  EXPECT_FALSE(NaturalLess("p10", "p2"));
  EXPECT_THAT(NaturalSorted({"p10.jpg", "p1.jpg", "p2.jpg", "p100.jpg", "p20.jpg"}),
              ElementsAre("p1.jpg", "p2.jpg", "p10.jpg", "p20.jpg", "p100.jpg"));
}

TEST(NaturalLessTest, IgnoresCase) {
  EXPECT_THAT(NaturalSorted({"b.jpg", "A.jpg", "C.jpg", "a2.jpg"}),
              ElementsAre("A.jpg", "a2.jpg", "b.jpg", "C.jpg"));
}

TEST(NaturalLessTest, LeadingZerosDoNotChangeOrder) {
  EXPECT_THAT(NaturalSorted({"p010", "p9", "p0002", "p1"}),
              ElementsAre("p1", "p0002", "p9", "p010"));
  // Equal by value and case: a strict total order still separates them.
  EXPECT_NE(NaturalLess("p01", "p1"), NaturalLess("p1", "p01"));
  EXPECT_NE(NaturalLess("A", "a"), NaturalLess("a", "A"));
}

TEST(NaturalLessTest, HugeNumbersDoNotOverflow) {
  EXPECT_TRUE(NaturalLess("p99999999999999999999999", "p100000000000000000000000"));
}

TEST(NaturalLessTest, FolderContentsSortBeforeLongerSiblings) {
  EXPECT_THAT(NaturalSorted({"ch1.5/p1.jpg", "ch2/p1.jpg", "ch1/p10.jpg", "ch1/p2.jpg"}),
              ElementsAre("ch1/p2.jpg", "ch1/p10.jpg", "ch1.5/p1.jpg", "ch2/p1.jpg"));
}

MediaKind Sniff(const std::string& bytes, std::string* type = nullptr) {
  return SniffMediaKind(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), type);
}

TEST(SniffMediaKindTest, RecognisesImageMagic) {
  std::string type;
  EXPECT_EQ(Sniff("\xFF\xD8\xFF\xE0rest", &type), MediaKind::kImage);
  EXPECT_EQ(type, "image/jpeg");
  EXPECT_EQ(Sniff(std::string("\x89PNG\r\n\x1A\n\0\0", 10), &type), MediaKind::kImage);
  EXPECT_EQ(type, "image/png");
  EXPECT_EQ(Sniff("GIF89a....", &type), MediaKind::kImage);
  EXPECT_EQ(type, "image/gif");
  EXPECT_EQ(Sniff(std::string("RIFF\x10\0\0\0WEBPVP8 ", 16), &type), MediaKind::kImage);
  EXPECT_EQ(type, "image/webp");
  EXPECT_EQ(Sniff(std::string("II*\0\x08\0\0\0", 8), &type), MediaKind::kImage);
  EXPECT_EQ(type, "image/tiff");
  EXPECT_EQ(Sniff(std::string("MM\0*\0\0\0\x08", 8), &type), MediaKind::kImage);
  std::string bmp("BM\0\0\0\0\0\0\0\0\x36\0\0\0\x28\0\0\0", 18);
  EXPECT_EQ(Sniff(bmp, &type), MediaKind::kImage);
  EXPECT_EQ(type, "image/bmp");
}

TEST(SniffMediaKindTest, BmpNeedsAPlausibleInfoHeader) {
  // "BM" alone is too weak: a text file may start with it.
  EXPECT_EQ(Sniff("BMW owners manual, chapter 1"), MediaKind::kUnknown);
}

TEST(SniffMediaKindTest, RecognisesArchivesAndDocuments) {
  std::string type;
  EXPECT_EQ(Sniff("PK\x03\x04\x14\0", &type), MediaKind::kArchive);
  EXPECT_EQ(type, "application/zip");
  EXPECT_EQ(Sniff(std::string("PK\x05\x06\0\0", 6)), MediaKind::kArchive);
  EXPECT_EQ(Sniff(std::string("Rar!\x1A\x07\x00\xCF", 8), &type), MediaKind::kArchive);
  EXPECT_EQ(type, "application/vnd.rar");
  EXPECT_EQ(Sniff(std::string("Rar!\x1A\x07\x01\x00", 8)), MediaKind::kArchive);
  EXPECT_EQ(Sniff("7z\xBC\xAF\x27\x1C\0\x04", &type), MediaKind::kArchive);
  EXPECT_EQ(type, "application/x-7z-compressed");
  std::string tar(512, '\0');
  tar.replace(0, 6, "p1.jpg");
  tar.replace(257, 6, std::string("ustar\0", 6));
  EXPECT_EQ(Sniff(tar, &type), MediaKind::kArchive);
  EXPECT_EQ(type, "application/x-tar");
  EXPECT_EQ(Sniff("\x1F\x8B\x08\0", &type), MediaKind::kArchive);
  EXPECT_EQ(type, "application/gzip");
  EXPECT_EQ(Sniff("BZh91AY&SY"), MediaKind::kArchive);
  EXPECT_EQ(Sniff(std::string("\xFD"
                              "7zXZ\0\0",
                              7)),
            MediaKind::kArchive);
  EXPECT_EQ(Sniff("%PDF-1.7\n", &type), MediaKind::kPdf);
  EXPECT_EQ(type, "application/pdf");
  EXPECT_EQ(Sniff("\xEF\xBB\xBF junk %PDF-1.4\n"), MediaKind::kPdf);
  EXPECT_EQ(Sniff("hello, world", &type), MediaKind::kUnknown);
  EXPECT_EQ(Sniff(""), MediaKind::kUnknown);
}

TEST(SniffMediaKindTest, EpubIsAZipWhoseFirstMemberIsItsMimetype) {
  TempDir dir;
  std::string mimetype = "application/epub+zip";
  ASSERT_TRUE(testing::WriteArchive(dir / "book.epub", ArchiveKind::kZipStored,
                                    {{"mimetype", Bytes(mimetype.begin(), mimetype.end())},
                                     {"OEBPS/p1.png", testing::PagePng("1")}}));
  Bytes head = testing::ReadAll(dir / "book.epub");
  head.resize(std::min<size_t>(head.size(), 4096));
  std::string type;
  EXPECT_EQ(SniffMediaKind(head.data(), head.size(), &type), MediaKind::kEpub);
  EXPECT_EQ(type, "application/epub+zip");

  ASSERT_TRUE(testing::WriteArchive(
      dir / "plain.zip", ArchiveKind::kZipStored,
      {{"p1.png", testing::PagePng("1")}, {"mimetype", Bytes(mimetype.begin(), mimetype.end())}}));
  head = testing::ReadAll(dir / "plain.zip");
  EXPECT_EQ(SniffMediaKind(head.data(), head.size(), nullptr), MediaKind::kArchive);
}

std::vector<std::string> AssetNames(const Volume& volume, const std::filesystem::path& root) {
  std::vector<std::string> names;
  for (const AssetFile& asset : volume.assets) {
    names.push_back(asset.path.lexically_relative(root).generic_string());
  }
  return names;
}

class ExpandInputsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = dir_ / "series";
    WriteFile(root_ / "p10.png", testing::PagePng("10"));
    WriteFile(root_ / "p2.png", testing::PagePng("2"));
    WriteFile(root_ / "P1.jpg", testing::PageJpeg("1"));
    WriteFile(root_ / "sub" / "p3.png", testing::PagePng("3"));
    WriteFile(root_ / "sub" / "deeper" / "p4.png", testing::PagePng("4"));
    WriteFile(root_ / ".DS_Store", std::string("Bud1 junk"));
    WriteFile(root_ / "__MACOSX" / "._p2.png", testing::PagePng("x"));
    WriteFile(root_ / ".hidden" / "p0.png", testing::PagePng("0"));
    WriteFile(root_ / "notes.txt", std::string("scanlated by nobody"));
    WriteFile(root_ / "named-like-an-image.jpg", std::string("not really"));
    WriteFile(root_ / "doc.pdf", std::string("%PDF-1.4\n%%EOF\n"));
    ASSERT_TRUE(testing::WriteArchive(root_ / "vol2.cbz", ArchiveKind::kZip,
                                      {{"p1.png", testing::PagePng("v2")}}));
    std::filesystem::create_directory_symlink(root_, root_ / "loop");
  }

  TempDir dir_;
  std::filesystem::path root_;
};

TEST_F(ExpandInputsTest, FolderGivesLooseImagesInNaturalOrderThenContainers) {
  std::vector<Volume> volumes = ExpandInputs({root_.string()}, IngestLimits{});
  ASSERT_EQ(volumes.size(), 3u);
  EXPECT_TRUE(volumes[0].status.ok()) << volumes[0].status.ToString();
  EXPECT_TRUE(volumes[0].is_folder);
  EXPECT_EQ(volumes[0].source, root_.string());
  EXPECT_THAT(AssetNames(volumes[0], root_),
              ElementsAre("P1.jpg", "p2.png", "p10.png", "sub/deeper/p4.png", "sub/p3.png"));
  EXPECT_EQ(volumes[0].assets[0].kind, MediaKind::kImage);
  EXPECT_EQ(volumes[0].assets[0].media_type, "image/jpeg");
  EXPECT_EQ(volumes[0].assets[1].media_type, "image/png");
  EXPECT_GT(volumes[0].assets[1].size_bytes, 0u);

  EXPECT_FALSE(volumes[1].is_folder);
  ASSERT_EQ(volumes[1].assets.size(), 1u);
  EXPECT_EQ(volumes[1].assets[0].kind, MediaKind::kPdf);
  EXPECT_EQ(volumes[1].source, (root_ / "doc.pdf").string());
  ASSERT_EQ(volumes[2].assets.size(), 1u);
  EXPECT_EQ(volumes[2].assets[0].kind, MediaKind::kArchive);
  EXPECT_EQ(volumes[2].assets[0].media_type, "application/zip");
}

TEST_F(ExpandInputsTest, DepthLimitStopsDescending) {
  IngestLimits limits;
  limits.max_folder_depth = 1;
  std::vector<Volume> volumes = ExpandInputs({root_.string()}, limits);
  ASSERT_FALSE(volumes.empty());
  EXPECT_THAT(AssetNames(volumes[0], root_),
              ElementsAre("P1.jpg", "p2.png", "p10.png", "sub/p3.png"));
}

TEST_F(ExpandInputsTest, TooManyFilesIsRefused) {
  IngestLimits limits;
  limits.max_folder_files = 3;
  std::vector<Volume> volumes = ExpandInputs({root_.string()}, limits);
  ASSERT_EQ(volumes.size(), 1u);
  EXPECT_EQ(volumes[0].status.code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(volumes[0].status.message(), ::testing::HasSubstr("max_folder_files"));
}

TEST_F(ExpandInputsTest, FilesKeepArgumentOrderAndBadPathsGetAStatus) {
  std::vector<Volume> volumes =
      ExpandInputs({(root_ / "vol2.cbz").string(), (dir_ / "missing.cbz").string(),
                    (root_ / "notes.txt").string(), (root_ / "p2.png").string()},
                   IngestLimits{});
  ASSERT_EQ(volumes.size(), 4u);
  EXPECT_TRUE(volumes[0].status.ok());
  EXPECT_EQ(volumes[0].assets.at(0).kind, MediaKind::kArchive);
  EXPECT_EQ(volumes[1].status.code(), StatusCode::kNotFound);
  EXPECT_THAT(volumes[1].status.message(), ::testing::HasSubstr("missing.cbz"));
  EXPECT_EQ(volumes[2].status.code(), StatusCode::kUnsupported);
  EXPECT_TRUE(volumes[3].status.ok());
  EXPECT_FALSE(volumes[3].is_folder);
  EXPECT_EQ(volumes[3].assets.at(0).kind, MediaKind::kImage);
}

TEST(ExpandInputsEmptyTest, FolderWithoutPagesIsReported) {
  TempDir dir;
  WriteFile(dir / "empty" / "readme.txt", std::string("nothing here"));
  std::vector<Volume> volumes = ExpandInputs({(dir / "empty").string()}, IngestLimits{});
  ASSERT_EQ(volumes.size(), 1u);
  EXPECT_EQ(volumes[0].status.code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace kagami::ingest
