#include "pdf_page_source.h"

#include <Error.h>
#include <GlobalParams.h>
#include <PDFDoc.h>
#include <Page.h>
#include <SplashOutputDev.h>
#include <goo/GooString.h>
#include <splash/SplashBitmap.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <opencv2/core.hpp>

namespace kagami::ingest::internal {
namespace {

void SilentError(ErrorCategory, Goffset, const char*) {}

// displayPageSlice's abort check: true once the page's deadline has passed.
bool PastDeadline(void* deadline) {
  return std::chrono::steady_clock::now() >=
         *static_cast<const std::chrono::steady_clock::time_point*>(deadline);
}

std::string PageName(int index) {
  char name[32];
  std::snprintf(name, sizeof(name), "page-%04d", index + 1);
  return name;
}

}  // namespace

PdfPageSource::~PdfPageSource() = default;

Result<std::unique_ptr<PdfPageSource>> PdfPageSource::Open(const std::filesystem::path& path,
                                                           const IngestLimits& limits) {
  std::unique_ptr<PdfPageSource> source(new PdfPageSource());
  source->poppler_ = std::make_unique<GlobalParamsIniter>(SilentError);
  source->label_ = path.string();
  source->limits_ = limits;
  source->document_ = std::make_unique<PDFDoc>(std::make_unique<GooString>(path.string()));
  if (!source->document_->isOk()) {
    if (source->document_->getErrorCode() == errEncrypted) {
      return Status::Unsupported(source->label_ + ": PDF is password-protected");
    }
    return Status::Corrupt(source->label_ + ": not a PDF that can be read (damaged or not a PDF)");
  }
  source->page_count_ = source->document_->getNumPages();
  if (source->page_count_ < 0 || static_cast<uint64_t>(source->page_count_) > limits.max_pages) {
    return Status::ResourceExhausted(
        source->label_ + ": PDF has " + std::to_string(source->page_count_) +
        " pages, more than max_pages=" + std::to_string(limits.max_pages));
  }
  return source;
}

std::optional<EncodedPage> PdfPageSource::Next() {
  if (next_ >= page_count_) return std::nullopt;
  int index = next_++;
  try {
    return RenderPage(index);
  } catch (const std::bad_alloc&) {
    EncodedPage page;
    page.member = PageName(index);
    page.status = Status::ResourceExhausted(label_ + ": " + page.member + ": out of memory");
    return page;
  } catch (const std::exception& e) {
    EncodedPage page;
    page.member = PageName(index);
    page.status = Status::Internal(label_ + ": " + page.member + ": " + e.what());
    return page;
  }
}

EncodedPage PdfPageSource::RenderPage(int index) {
  EncodedPage page;
  page.member = PageName(index);
  std::string where = label_ + ": " + page.member;
  Page* pdf_page = document_->getPage(index + 1);  // owned by the document
  if (pdf_page == nullptr || pdf_page->getCropBox() == nullptr) {
    page.status = Status::Corrupt(where + ": page cannot be read");
    return page;
  }
  const PDFRectangle& crop = *pdf_page->getCropBox();
  const double box_width = crop.x2 - crop.x1, box_height = crop.y2 - crop.y1;
  double dpi = limits_.pdf_render_dpi;
  const double longer_pt = std::max(std::fabs(box_width), std::fabs(box_height));  // 1/72 inch
  if (!std::isfinite(longer_pt) || longer_pt <= 0) {
    page.status = Status::Corrupt(where + ": page has an empty or invalid size");
    return page;
  }
  if (limits_.pdf_max_side > 0 && longer_pt * dpi / 72.0 > limits_.pdf_max_side) {
    dpi = std::floor(limits_.pdf_max_side * 72.0 / longer_pt * 1000.0) / 1000.0;
  }
  const double scale = dpi / 72.0;  // PDF user space unit = 1/72 inch
  double width = std::ceil(std::fabs(box_width) * scale);
  double height = std::ceil(std::fabs(box_height) * scale);
  if (!std::isfinite(width) || !std::isfinite(height) || width < 1 || height < 1) {
    page.status = Status::Corrupt(where + ": page has an empty or invalid size");
    return page;
  }
  if (width > limits_.max_dimension || height > limits_.max_dimension ||
      width * height > static_cast<double>(limits_.max_pixels)) {
    page.status = Status::ResourceExhausted(
        where + ": page would render at " + std::to_string(static_cast<uint64_t>(width)) + "x" +
        std::to_string(static_cast<uint64_t>(height)) +
        " pixels, over max_pixels/max_dimension; lower pdf_render_dpi");
    return page;
  }
  SplashColor paper = {255, 255, 255};
  SplashOutputDev splash(splashModeRGB8, 4, false, paper);
  splash.setFontAntialias(true);
  splash.setVectorAntialias(true);
  splash.startDoc(document_.get());
  const auto started = std::chrono::steady_clock::now();
  const auto deadline =
      started + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                    std::chrono::duration<double>(std::max(0.0, limits_.pdf_page_deadline_s)));
  // As poppler-cpp's renderer: no rotation beyond the page's own, crop box,
  // not printing, whole page, annotations drawn, a private copy of the xref.
  document_->displayPageSlice(&splash, index + 1, dpi, dpi, 0, false, true, false, -1, -1, -1, -1,
                              PastDeadline, const_cast<void*>(static_cast<const void*>(&deadline)),
                              nullptr, nullptr, true);
  if (std::chrono::steady_clock::now() >= deadline) {
    const double elapsed_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    char message[160];
    std::snprintf(message, sizeof(message),
                  ": rendering stopped after %.1f s at the %.1f s per-page deadline "
                  "(pdf_page_deadline_s)",
                  elapsed_s, limits_.pdf_page_deadline_s);
    page.status = Status::ResourceExhausted(where + message);
    return page;
  }
  SplashBitmap* bitmap = splash.getBitmap();
  if (bitmap == nullptr || bitmap->getMode() != splashModeRGB8 || bitmap->getWidth() <= 0 ||
      bitmap->getHeight() <= 0 || bitmap->getDataPtr() == nullptr) {
    page.status = Status::Corrupt(where + ": page could not be rendered");
    return page;
  }
  page.rendered.create(bitmap->getHeight(), bitmap->getWidth(), CV_8UC3);
  for (int y = 0; y < bitmap->getHeight(); ++y) {  // copies out of Splash's buffer
    std::memcpy(page.rendered.ptr(y),
                bitmap->getDataPtr() + static_cast<ptrdiff_t>(y) * bitmap->getRowSize(),
                static_cast<size_t>(bitmap->getWidth()) * 3);
  }
  return page;
}

}  // namespace kagami::ingest::internal
