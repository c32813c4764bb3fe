#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "kagami/ingest/page_source.h"

class GlobalParamsIniter;
class PDFDoc;

namespace kagami::ingest::internal {

// Pages of a PDF, rendered by poppler (its core API: PDFDoc and the Splash
// output device, anti-aliased, as pdftoppm and poppler-cpp render) at
// limits.pdf_render_dpi into EncodedPage::rendered as CV_8UC3 R,G,B; the page's
// /Rotate is applied. Members are "page-0001", "page-0002", ...
// The DPI is bounded: a page whose longer side would exceed pdf_max_side
// pixels is rendered at the DPI that fits it (a poster-sized page box cannot
// ask for a gigapixel raster), and one that would still exceed max_pixels or
// max_dimension gives a kResourceExhausted page (checked from its box before
// rendering).
//
// Deadline, per page: rendering is interrupted once it has run for
// pdf_page_deadline_s (wall clock; poppler polls the abort check between
// content-stream operators), and that page is a kResourceExhausted page error;
// the next page is rendered normally. So a hostile page costs about the
// deadline, not the document. Limit: one operator that runs long by itself (a
// huge image or shading) is only stopped after it returns.
//
// Poppler reports syntax errors through one process-wide callback, installed
// silent by the GlobalParamsIniter each source holds (poppler sets it when the
// first initer is created), so poppler never writes to stderr. That is global
// state: another poppler user in the process that is started first keeps its
// own callback.
class PdfPageSource : public PageSource {
 public:
  // Fails when the file is not a PDF poppler can load (kCorrupt), is
  // password-protected (kUnsupported) or has more than max_pages pages.
  static Result<std::unique_ptr<PdfPageSource>> Open(const std::filesystem::path& path,
                                                     const IngestLimits& limits);
  ~PdfPageSource() override;

  std::optional<EncodedPage> Next() override;

 private:
  PdfPageSource() = default;
  EncodedPage RenderPage(int index);

  std::string label_;
  IngestLimits limits_;
  std::unique_ptr<GlobalParamsIniter> poppler_;  // poppler's globals, while we need them
  std::unique_ptr<PDFDoc> document_;
  int page_count_ = 0;
  int next_ = 0;
};

}  // namespace kagami::ingest::internal
