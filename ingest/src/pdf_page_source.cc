#include "pdf_page_source.h"

#include <poppler/cpp/poppler-document.h>
#include <poppler/cpp/poppler-global.h>
#include <poppler/cpp/poppler-image.h>
#include <poppler/cpp/poppler-page-renderer.h>
#include <poppler/cpp/poppler-page.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <mutex>
#include <new>
#include <opencv2/imgproc.hpp>

namespace kagami::ingest::internal {
namespace {

void SilencePoppler() {
  static std::once_flag once;
  std::call_once(
      once, [] { poppler::set_debug_error_function([](const std::string&, void*) {}, nullptr); });
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
  SilencePoppler();
  std::unique_ptr<PdfPageSource> source(new PdfPageSource());
  source->label_ = path.string();
  source->limits_ = limits;
  source->document_.reset(poppler::document::load_from_file(path.string()));
  if (!source->document_) {
    return Status::Corrupt(source->label_ + ": not a PDF that can be read (damaged or not a PDF)");
  }
  if (source->document_->is_locked()) {
    return Status::Unsupported(source->label_ + ": PDF is password-protected");
  }
  if (!poppler::page_renderer::can_render()) {
    return Status::Internal("poppler was built without a renderer; PDFs cannot be read");
  }
  source->page_count_ = source->document_->pages();
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
  if (!overrun_.ok()) {
    EncodedPage page;
    page.member = PageName(index);
    page.status = Status::ResourceExhausted(label_ + ": " + page.member +
                                            ": not rendered: an earlier page exceeded the "
                                            "per-page deadline (pdf_page_deadline_s)");
    return page;
  }
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
  std::unique_ptr<poppler::page> pdf_page(document_->create_page(index));
  if (!pdf_page) {
    page.status = Status::Corrupt(where + ": page cannot be read");
    return page;
  }
  poppler::rectf box = pdf_page->page_rect(poppler::crop_box);
  double dpi = limits_.pdf_render_dpi;
  const double longer_pt = std::max(box.width(), box.height());  // 1 pt = 1/72 inch
  if (!std::isfinite(longer_pt) || longer_pt <= 0) {
    page.status = Status::Corrupt(where + ": page has an empty or invalid size");
    return page;
  }
  if (limits_.pdf_max_side > 0 && longer_pt * dpi / 72.0 > limits_.pdf_max_side) {
    dpi = std::floor(limits_.pdf_max_side * 72.0 / longer_pt * 1000.0) / 1000.0;
  }
  const double scale = dpi / 72.0;  // PDF user space unit = 1/72 inch
  double width = std::ceil(box.width() * scale);
  double height = std::ceil(box.height() * scale);
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
  poppler::page_renderer renderer;
  renderer.set_render_hint(poppler::page_renderer::antialiasing, true);
  renderer.set_render_hint(poppler::page_renderer::text_antialiasing, true);
  renderer.set_image_format(poppler::image::format_bgr24);
  const auto started = std::chrono::steady_clock::now();
  poppler::image image = renderer.render_page(pdf_page.get(), dpi, dpi);
  const double elapsed_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (elapsed_s > limits_.pdf_page_deadline_s) {
    char message[160];
    std::snprintf(message, sizeof(message),
                  ": rendering took %.1f s, over the %.1f s per-page deadline "
                  "(pdf_page_deadline_s); the rest of the document is skipped",
                  elapsed_s, limits_.pdf_page_deadline_s);
    overrun_ = Status::ResourceExhausted(where + message);
    page.status = overrun_;
    return page;
  }
  if (!image.is_valid() || image.format() != poppler::image::format_bgr24 || image.width() <= 0 ||
      image.height() <= 0) {
    page.status = Status::Corrupt(where + ": page could not be rendered");
    return page;
  }
  cv::Mat bgr(image.height(), image.width(), CV_8UC3, const_cast<char*>(image.const_data()),
              static_cast<size_t>(image.bytes_per_row()));
  cv::cvtColor(bgr, page.rendered, cv::COLOR_BGR2RGB);  // Copies out of poppler's buffer.
  return page;
}

}  // namespace kagami::ingest::internal
