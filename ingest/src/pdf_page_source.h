#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "kagami/ingest/page_source.h"

namespace poppler {
class document;
}

namespace kagami::ingest::internal {

// Pages of a PDF, rendered by poppler-cpp (Splash backend, anti-aliased) at
// limits.pdf_render_dpi into EncodedPage::rendered as CV_8UC3 R,G,B; the page's
// /Rotate is applied. Members are "page-0001", "page-0002", ...
// The DPI is bounded: a page whose longer side would exceed pdf_max_side
// pixels is rendered at the DPI that fits it (a poster-sized page box cannot
// ask for a gigapixel raster), and one that would still exceed max_pixels or
// max_dimension gives a kResourceExhausted page (checked from its box before
// rendering).
//
// Deadline: a page that takes longer than pdf_page_deadline_s to render gives
// a kResourceExhausted page error, and the rest of the document is not
// rendered (each remaining page reports that), so a hostile PDF costs at most
// one overrun. poppler-cpp offers no way to interrupt a render in progress, so
// the overrunning page itself is not cut short: the bound is on the document,
// not on that one page.
//
// Poppler reports syntax errors through one process-wide callback; the first
// Open installs a silent one (std::call_once), so poppler never writes to
// stderr. That is global state: any other poppler-cpp user in the process is
// silenced too.
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
  std::unique_ptr<poppler::document> document_;
  int page_count_ = 0;
  int next_ = 0;
  Status overrun_;  // set once a page exceeded the deadline
};

}  // namespace kagami::ingest::internal
