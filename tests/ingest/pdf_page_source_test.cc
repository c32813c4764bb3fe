#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ingest_test_util.h"
#include "kagami/ingest/page_source.h"
#include "pdf_fixture.h"
#include "temp_dir.h"

namespace kagami::ingest {
namespace {

using ::kagami::testing::TempDir;
using ::kagami::testing::WriteFile;
using ::testing::ElementsAre;
using testing::MemberNames;
using testing::ReadAllPages;

// A minimal PDF 1.4 (ISO 32000-1 section 7.5): one 612x792 pt page per content
// stream, xref offsets computed as the file is built.
std::string MinimalPdf(const std::vector<std::string>& page_contents) {
  std::vector<std::string> objects;
  const size_t pages = page_contents.size();
  std::string kids;
  for (size_t i = 0; i < pages; ++i) kids += std::to_string(3 + 2 * i) + " 0 R ";
  objects.push_back("<< /Type /Catalog /Pages 2 0 R >>");
  objects.push_back("<< /Type /Pages /Kids [ " + kids + "] /Count " + std::to_string(pages) +
                    " >>");
  for (size_t i = 0; i < pages; ++i) {
    objects.push_back("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents " +
                      std::to_string(4 + 2 * i) + " 0 R /Resources << >> >>");
    objects.push_back("<< /Length " + std::to_string(page_contents[i].size()) + " >>\nstream\n" +
                      page_contents[i] + "\nendstream");
  }
  return kagami::testing::AssemblePdf(objects, "%PDF-1.4\n%\xE2\xE3\xCF\xD3\n");
}

TEST(PdfPageSourceTest, RendersEachPageWithItsRectangle) {
  TempDir dir;
  // Page 1: black rectangle x 100..300, y 100..400 (PDF origin bottom left).
  // Page 2: pure red rectangle x 400..500, y 600..700.
  WriteFile(dir / "doc.pdf",
            MinimalPdf({"0 0 0 rg 100 100 200 300 re f", "1 0 0 rg 400 600 100 100 re f"}));
  IngestLimits limits;
  limits.pdf_render_dpi = 72.0;  // One pixel per point.
  std::vector<EncodedPage> pages = ReadAllPages(dir / "doc.pdf", limits);
  ASSERT_THAT(MemberNames(pages), ElementsAre("page-0001", "page-0002"));
  for (const EncodedPage& page : pages) {
    ASSERT_TRUE(page.status.ok()) << page.status.ToString();
    EXPECT_TRUE(page.bytes.empty());
    ASSERT_EQ(page.rendered.type(), CV_8UC3);
    EXPECT_EQ(page.rendered.cols, 612);
    EXPECT_EQ(page.rendered.rows, 792);
  }
  auto rgb = [](const cv::Mat& m, int x, int y_from_bottom) {
    return m.at<cv::Vec3b>(791 - y_from_bottom, x);
  };
  EXPECT_EQ(rgb(pages[0].rendered, 200, 250), cv::Vec3b(0, 0, 0));
  EXPECT_EQ(rgb(pages[0].rendered, 50, 50), cv::Vec3b(255, 255, 255));
  EXPECT_EQ(rgb(pages[0].rendered, 350, 250), cv::Vec3b(255, 255, 255));
  cv::Mat gray;
  cv::cvtColor(pages[0].rendered, gray, cv::COLOR_RGB2GRAY);
  EXPECT_NEAR(cv::countNonZero(gray < 128), 200 * 300, 2 * (200 + 300));
  EXPECT_EQ(rgb(pages[1].rendered, 450, 650), cv::Vec3b(255, 0, 0));  // R, G, B order
  EXPECT_EQ(rgb(pages[1].rendered, 200, 250), cv::Vec3b(255, 255, 255));
}

TEST(PdfPageSourceTest, RenderSizeFollowsDpi) {
  TempDir dir;
  WriteFile(dir / "doc.pdf", MinimalPdf({"0 0 0 rg 100 100 200 300 re f"}));
  IngestLimits limits;
  limits.pdf_render_dpi = 36.0;
  std::vector<EncodedPage> pages = ReadAllPages(dir / "doc.pdf", limits);
  ASSERT_EQ(pages.size(), 1u);
  EXPECT_EQ(pages[0].rendered.cols, 306);
  EXPECT_EQ(pages[0].rendered.rows, 396);
}

TEST(PdfPageSourceTest, PageOverPixelLimitIsRefusedBeforeRendering) {
  TempDir dir;
  WriteFile(dir / "doc.pdf", MinimalPdf({"0 0 0 rg 100 100 200 300 re f"}));
  IngestLimits limits;
  limits.pdf_render_dpi = 7200.0;  // 61200 x 79200 pixels
  limits.pdf_max_side = 0;         // no DPI bound: the pixel limit alone
  std::vector<EncodedPage> pages = ReadAllPages(dir / "doc.pdf", limits);
  ASSERT_EQ(pages.size(), 1u);
  EXPECT_EQ(pages[0].status.code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(pages[0].rendered.empty());
}

TEST(PdfPageSourceTest, TooManyPagesFailsToOpen) {
  TempDir dir;
  WriteFile(dir / "doc.pdf", MinimalPdf({"", "", ""}));
  IngestLimits limits;
  limits.max_pages = 2;
  Result<std::unique_ptr<PageSource>> source = OpenAsset(testing::Asset(dir / "doc.pdf"), limits);
  EXPECT_EQ(source.status().code(), StatusCode::kResourceExhausted);
}

TEST(PdfPageSourceTest, GarbageAfterHeaderGivesNoPages) {
  TempDir dir;
  WriteFile(dir / "bad.pdf", std::string("%PDF-1.4\nthis is not a pdf body at all\n"));
  Result<std::unique_ptr<PageSource>> source =
      OpenAsset(testing::Asset(dir / "bad.pdf"), IngestLimits{});
  if (!source.ok()) {
    EXPECT_EQ(source.status().code(), StatusCode::kCorrupt);
    EXPECT_THAT(source.status().message(), ::testing::HasSubstr("bad.pdf"));
    return;
  }
  while (std::optional<EncodedPage> page = (*source)->Next()) {
    EXPECT_FALSE(page->status.ok());
  }
}

}  // namespace
}  // namespace kagami::ingest
