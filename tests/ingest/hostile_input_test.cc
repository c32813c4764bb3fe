// Damaged inputs of every kind must give statuses, never crashes or hangs.
// Deterministic mutations (fixed seeds); run under ASan/UBSan to be meaningful.

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "ingest_test_util.h"
#include "kagami/ingest/image_decoder.h"
#include "kagami/ingest/page_source.h"
#include "temp_dir.h"

namespace kagami::ingest {
namespace {

using ::kagami::testing::TempDir;
using testing::ArchiveKind;
using testing::Bytes;

constexpr int kMutationsPerFixture = 60;

Bytes Mutate(Bytes bytes, std::mt19937* rng) {
  if (bytes.empty()) return bytes;
  std::uniform_int_distribution<size_t> pos(0, bytes.size() - 1);
  switch ((*rng)() % 3) {
    case 0:  // flip a few bytes
      for (int i = 0; i < 4; ++i) bytes[pos(*rng)] = static_cast<unsigned char>((*rng)());
      break;
    case 1:  // truncate
      bytes.resize(pos(*rng));
      break;
    case 2: {  // overwrite a run with 0xFF (big sizes in headers)
      size_t at = pos(*rng);
      for (size_t i = at; i < std::min(bytes.size(), at + 8); ++i) bytes[i] = 0xFF;
      break;
    }
  }
  return bytes;
}

// Opens and drains `path`, decoding each page both ways. Returns pages seen.
int Drain(const std::filesystem::path& path, const IngestLimits& limits) {
  Result<std::unique_ptr<PageSource>> source = OpenAsset(testing::Asset(path), limits);
  if (!source.ok()) {
    EXPECT_FALSE(source.status().message().empty());
    return 0;
  }
  int pages = 0;
  while (std::optional<EncodedPage> page = (*source)->Next()) {
    ++pages;
    if (pages > 1000) {
      ADD_FAILURE() << "page source does not end";
      break;
    }
    if (!page->status.ok()) {
      EXPECT_FALSE(page->status.message().empty());
      continue;
    }
    for (DecodeMode mode : {DecodeMode::kFast, DecodeMode::kExact}) {
      DecodeOptions options;
      options.mode = mode;
      Result<DecodedImage> decoded =
          DecodeImage(page->bytes.data(), page->bytes.size(), options, limits);
      if (decoded.ok()) {
        EXPECT_FALSE(decoded->pixels.empty());
      } else {
        EXPECT_FALSE(decoded.status().message().empty());
      }
    }
  }
  return pages;
}

TEST(HostileInputTest, MutatedContainersAndImagesNeverCrash) {
  TempDir dir;
  std::vector<testing::Member> members = {{"p2.jpg", testing::PageJpeg("p2")},
                                          {"p1.png", testing::PagePng("p1")},
                                          {"p3.jpg", testing::PageJpeg("p3")}};
  std::vector<std::filesystem::path> fixtures;
  for (auto [kind, name] :
       {std::pair{ArchiveKind::kZip, "a.cbz"}, std::pair{ArchiveKind::kSevenZip, "a.cb7"},
        std::pair{ArchiveKind::kTarGz, "a.tgz"}, std::pair{ArchiveKind::kTar, "a.tar"}}) {
    ASSERT_TRUE(testing::WriteArchive(dir / name, kind, members));
    fixtures.push_back(dir / name);
  }
  ::kagami::testing::WriteFile(dir / "p.jpg", testing::PageJpeg("solo"));
  ::kagami::testing::WriteFile(dir / "p.png", testing::PagePng("solo"));
  fixtures.push_back(dir / "p.jpg");
  fixtures.push_back(dir / "p.png");
  std::string epub_mime = "application/epub+zip";
  std::string container =
      "<container><rootfiles><rootfile full-path=\"c.opf\"/></rootfiles></container>";
  std::string opf =
      "<package><manifest><item id=\"i\" href=\"p1.png\" media-type=\"image/png\"/>"
      "</manifest><spine><itemref idref=\"i\"/></spine></package>";
  ASSERT_TRUE(
      testing::WriteArchive(dir / "b.epub", ArchiveKind::kZipStored,
                            {{"mimetype", Bytes(epub_mime.begin(), epub_mime.end())},
                             {"META-INF/container.xml", Bytes(container.begin(), container.end())},
                             {"c.opf", Bytes(opf.begin(), opf.end())},
                             {"p1.png", testing::PagePng("e")}}));
  fixtures.push_back(dir / "b.epub");

  IngestLimits limits;
  limits.max_pixels = 4'000'000;  // keep pathological decodes cheap
  std::mt19937 rng(12345);
  for (const std::filesystem::path& fixture : fixtures) {
    EXPECT_GT(Drain(fixture, limits), 0) << fixture;
    Bytes original = testing::ReadAll(fixture);
    std::filesystem::path mutated = dir / ("m-" + fixture.filename().string());
    for (int i = 0; i < kMutationsPerFixture; ++i) {
      ::kagami::testing::WriteFile(mutated, Mutate(original, &rng));
      Drain(mutated, limits);
    }
  }
}

}  // namespace
}  // namespace kagami::ingest
