// Writes the seed corpora for the fuzzers (scripts/sanitize): small valid
// JPEGs, archives of each format, an EPUB and a PDF, built with the same
// fixture helpers as the ingest tests. Usage: kagami_fuzz_seeds OUT_DIR

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>

#include "ingest_test_util.h"
#include "pdf_fixture.h"
#include "temp_dir.h"

namespace {

using kagami::ingest::testing::ArchiveKind;
using kagami::ingest::testing::Bytes;
using kagami::ingest::testing::Encode;
using kagami::ingest::testing::LabelledPage;
using kagami::ingest::testing::Member;
using kagami::ingest::testing::PageJpeg;
using kagami::ingest::testing::PagePng;
using kagami::ingest::testing::WriteArchive;
using kagami::testing::WriteFile;

Bytes Text(const std::string& s) { return Bytes(s.begin(), s.end()); }

std::string Pdf(const std::string& content) {
  std::vector<std::string> objects = {
      "<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [ 3 0 R ] /Count 1 >>",
      "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 400] /Contents 4 0 R "
      "/Resources << /Font << /F1 5 0 R >> >> >>",
      "<< /Length " + std::to_string(content.size()) + " >>\nstream\n" + content + "\nendstream",
      "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"};
  return kagami::testing::AssemblePdf(objects);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 1;
  }
  const std::filesystem::path out = argv[1];
  for (const char* dir : {"jpeg", "archive", "epub", "pdf"}) {
    std::filesystem::create_directories(out / dir);
  }
  // JPEG: baseline colour and gray, progressive, restart intervals, small and odd sizes.
  cv::Mat page = LabelledPage("seed", 64, 80);
  cv::Mat gray;
  cv::cvtColor(page, gray, cv::COLOR_BGR2GRAY);
  Bytes jpeg;
  cv::imencode(".jpg", page, jpeg, {cv::IMWRITE_JPEG_QUALITY, 75});
  WriteFile(out / "jpeg/colour.jpg", jpeg);
  cv::imencode(".jpg", gray, jpeg, {cv::IMWRITE_JPEG_QUALITY, 90});
  WriteFile(out / "jpeg/gray.jpg", jpeg);
  cv::imencode(".jpg", page, jpeg, {cv::IMWRITE_JPEG_PROGRESSIVE, 1});
  WriteFile(out / "jpeg/progressive.jpg", jpeg);
  cv::imencode(".jpg", page, jpeg, {cv::IMWRITE_JPEG_RST_INTERVAL, 2});
  WriteFile(out / "jpeg/restart.jpg", jpeg);
  cv::imencode(".jpg", LabelledPage("odd", 37, 23), jpeg, {cv::IMWRITE_JPEG_QUALITY, 60});
  WriteFile(out / "jpeg/odd.jpg", jpeg);
  cv::imencode(".jpg", LabelledPage("big", 700, 900), jpeg, {cv::IMWRITE_JPEG_QUALITY, 40});
  WriteFile(out / "jpeg/scaled.jpg", jpeg);  // large enough for the reduced-scale decoder

  // Archives: two pages and a non-page member in each format.
  std::vector<Member> members = {
      {"p2.jpg", PageJpeg("2")}, {"notes.txt", Text("not a page")}, {"dir/p1.png", PagePng("1")}};
  for (auto [kind, name] :
       {std::pair{ArchiveKind::kZip, "a.cbz"}, std::pair{ArchiveKind::kZipStored, "stored.cbz"},
        std::pair{ArchiveKind::kSevenZip, "a.cb7"}, std::pair{ArchiveKind::kTar, "a.tar"},
        std::pair{ArchiveKind::kTarGz, "a.tgz"}}) {
    if (!WriteArchive(out / "archive" / name, kind, members)) return 2;
  }

  // EPUB: spine through XHTML and SVG wrappers and a direct image item.
  std::string container =
      "<container><rootfiles><rootfile full-path=\"OEBPS/c.opf\"/></rootfiles></container>";
  std::string opf =
      "<package><manifest><item id=\"x\" href=\"t/c1.xhtml\" media-type=\"application/xhtml+xml\"/>"
      "<item id=\"i\" href=\"i/p2.jpg\" media-type=\"image/jpeg\"/></manifest>"
      "<spine><itemref idref=\"x\"/><itemref idref=\"i\"/></spine></package>";
  std::string xhtml =
      "<html xmlns=\"http://www.w3.org/1999/xhtml\"><body><img src=\"../i/p1.png\"/>"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\">"
      "<image xlink:href=\"../i/P2.JPG\"/></svg></body></html>";
  if (!WriteArchive(out / "epub/book.epub", ArchiveKind::kZipStored,
                    {{"mimetype", Text("application/epub+zip")},
                     {"META-INF/container.xml", Text(container)},
                     {"OEBPS/c.opf", Text(opf)},
                     {"OEBPS/t/c1.xhtml", Text(xhtml)},
                     {"OEBPS/i/p1.png", PagePng("1")},
                     {"OEBPS/i/p2.jpg", PageJpeg("2")}})) {
    return 2;
  }

  // PDF: vector drawing and text.
  WriteFile(out / "pdf/drawing.pdf",
            Pdf("0.2 0.4 0.6 rg 20 20 200 300 re f 0 0 0 RG 4 w 10 10 m 290 390 l S"));
  WriteFile(out / "pdf/text.pdf", Pdf("BT /F1 24 Tf 30 300 Td (Kagami seed) Tj ET"));
  return 0;
}
