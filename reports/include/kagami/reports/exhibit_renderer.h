#pragma once

// Side-by-side exhibit images: the registered page (left) next to the found
// page (right), the matched region outlined from the verified homography, and
// a header with the URL or path, UTC times and scores, printed with a
// CJK-capable font (Noto Sans CJK from Debian's fonts-noto-cjk, through
// OpenCV's FreeType/HarfBuzz module).

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "kagami/base/status.h"
#include "kagami/reports/findings_ledger.h"

namespace cv::freetype {
class FreeType2;
}

namespace kagami::reports {

// Where things are on an exhibit, in exhibit pixels.
struct ExhibitLayout {
  cv::Size size;
  cv::Rect registered_box;  // the registered page as drawn
  cv::Rect found_box;       // the found page as drawn
  bool outlined = false;    // a matched region was drawn
};

struct ExhibitInput {
  cv::Mat registered;  // 8-bit, 1 or 3 channels (RGB order)
  cv::Mat found;
  const MatchedUnit* unit = nullptr;  // for the outline; may be null
  std::vector<std::string> header;    // lines printed above the pages (UTF-8)
  std::string registered_caption;
  std::string found_caption;
};

// Reads one page of a file through ingest: `member` when non-empty, else the
// `index`-th page (a single-page file gives its page). 8-bit RGB or gray,
// full resolution. kNotFound when the file has no such page.
Result<cv::Mat> LoadPage(const std::string& path, const std::string& member, int index);

// The frame of a video nearest `t_s` seconds (FFmpeg through ingest's
// DecodeVideo: luminance, at most 640 pixels a side, sampled 4 per second and
// decoded only up to t_s + 1 s). kNotFound when the video ends before t_s.
Result<cv::Mat> LoadVideoFrame(const std::string& path, double t_s);

// Not thread-safe (the FreeType face is stateful): one per thread.
class ExhibitRenderer {
 public:
  static constexpr int kPanelWidth = 640;
  static constexpr int kPanelHeight = 900;
  static constexpr int kMargin = 24;

  // $KAGAMI_FONT, else the Noto Sans CJK installed by fonts-noto-cjk.
  static std::string DefaultFontPath();
  // kNotFound naming the package when the font is missing.
  static Result<std::unique_ptr<ExhibitRenderer>> Create(const std::string& font_path);
  ~ExhibitRenderer();

  // Renders a BGR exhibit. Layout: header band (dark blue, white text), then
  // the registered page centred in the left panel and the found page in the
  // right one, captions above them.
  Result<cv::Mat> Render(const ExhibitInput& input, ExhibitLayout* layout);

 private:
  explicit ExhibitRenderer(cv::Ptr<cv::freetype::FreeType2> ft);
  cv::Ptr<cv::freetype::FreeType2> ft_;
};

// Polygons of the matched region: suspect view corners mapped onto the
// registered page, and registered page corners mapped back onto the found page,
// both in page pixels. Empty when there is no homography or the view is
// "trimmed" (its crop box is not recorded).
// PNG bytes of an 8-bit BGR image (libpng; no OpenCV imgcodecs at start-up).
Result<std::string> EncodePng(const cv::Mat& bgr);
// An 8-bit gray image from PNG bytes (libpng; converted to gray if in colour).
// kCorrupt when the bytes are not a PNG or larger than 16384 pixels a side.
Result<cv::Mat> DecodePngGray(const std::string& png);

struct MatchOutline {
  std::vector<cv::Point2d> on_registered;
  std::vector<cv::Point2d> on_found;
};
MatchOutline ComputeOutline(const MatchedUnit& unit, cv::Size registered, cv::Size found);

}  // namespace kagami::reports
