#include "kagami/reports/exhibit_renderer.h"

#include <dlfcn.h>
#include <png.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include <opencv2/calib3d.hpp>
#include <opencv2/freetype.hpp>
#include <opencv2/imgproc.hpp>

#include "kagami/ingest/image_decoder.h"
#include "kagami/ingest/limits.h"
#include "kagami/ingest/page_source.h"
#include "kagami/ingest/video_decoder.h"
#include "kagami/ingest/volume.h"

namespace kagami::reports {
namespace {

constexpr int kHeaderLine = 26;  // pixels per header line
constexpr int kFontHeight = 18;  // header text
constexpr int kCaptionHeight = 30;
const cv::Scalar kHeaderColor(126, 35, 26);  // BGR of #1a237e
const cv::Scalar kOutlineColor(0, 0, 230);   // red
const cv::Scalar kBackground(255, 255, 255);

cv::Mat ToBgr(const cv::Mat& m) {
  cv::Mat out;
  if (m.channels() == 1) {
    cv::cvtColor(m, out, cv::COLOR_GRAY2BGR);
  } else if (m.channels() == 3) {
    cv::cvtColor(m, out, cv::COLOR_RGB2BGR);
  } else {
    cv::cvtColor(m, out, cv::COLOR_RGBA2BGR);
  }
  return out;
}

// Fits `size` into the panel; returns the drawn rectangle relative to the panel.
cv::Rect FitInPanel(cv::Size size, int panel_w, int panel_h) {
  double s = std::min(static_cast<double>(panel_w) / size.width,
                      static_cast<double>(panel_h) / size.height);
  int w = std::max(1, static_cast<int>(size.width * s + 0.5));
  int h = std::max(1, static_cast<int>(size.height * s + 0.5));
  return {(panel_w - w) / 2, 0, w, h};
}

std::vector<cv::Point2d> Apply(const cv::Matx33d& h, const std::vector<cv::Point2d>& pts) {
  std::vector<cv::Point2d> out;
  for (const auto& p : pts) {
    cv::Vec3d v = h * cv::Vec3d(p.x, p.y, 1.0);
    if (std::abs(v[2]) < 1e-12) return {};
    out.emplace_back(v[0] / v[2], v[1] / v[2]);
  }
  return out;
}

}  // namespace

namespace {

Result<cv::Mat> DecodePage(const std::string& path, const ingest::EncodedPage& page,
                           const ingest::IngestLimits& limits) {
  if (!page.status.ok()) return page.status;
  if (!page.rendered.empty()) return page.rendered;
  ingest::DecodeOptions options;
  options.mode = ingest::DecodeMode::kExact;
  auto decoded = ingest::DecodeImage(page.bytes.data(), page.bytes.size(), options, limits);
  if (!decoded.ok()) return decoded.status().WithContext(path + " " + page.member);
  return decoded->pixels;
}

bool EndsWithPath(const std::filesystem::path& path, const std::string& member) {
  std::string p = path.generic_string();
  return p == member || (p.size() > member.size() &&
                         p.compare(p.size() - member.size(), member.size(), member) == 0 &&
                         p[p.size() - member.size() - 1] == '/');
}

}  // namespace

Result<cv::Mat> LoadPage(const std::string& path, const std::string& member, int index) {
  ingest::IngestLimits limits;
  std::vector<ingest::Volume> volumes = ingest::ExpandInputs({path}, limits);
  if (volumes.empty()) return Status::NotFound(path + ": nothing to read");
  if (!volumes[0].status.ok()) return volumes[0].status;
  bool single_asset = volumes[0].assets.size() == 1;
  int seen = 0;
  for (const ingest::AssetFile& asset : volumes[0].assets) {
    auto source = ingest::OpenAsset(asset, limits);
    if (!source.ok()) return source.status();
    std::optional<ingest::EncodedPage> first;
    int in_asset = 0;
    while (auto page = (*source)->Next()) {
      // A registered folder's image is its own asset; the catalog names it by its
      // path relative to the folder, while the page itself has no member name.
      bool hit = member.empty() ? seen == index
                                : page->member == member ||
                                      (page->member.empty() && EndsWithPath(asset.path, member));
      ++seen;
      ++in_asset;
      if (hit) return DecodePage(path, *page, limits);
      if (member.empty() && single_asset && in_asset == 1) first = std::move(*page);
    }
    // A single-page file answers for its one page whatever the index.
    if (first && in_asset == 1) return DecodePage(path, *first, limits);
  }
  return Status::NotFound(path + ": no page " +
                          (member.empty() ? std::to_string(index + 1) : "\"" + member + "\""));
}

Result<cv::Mat> LoadVideoFrame(const std::string& path, double t_s) {
  struct Nearest : ingest::VideoSink {
    double target = 0;
    double best = -1;  // |t - target| of `frame`
    cv::Mat frame;
    void OnFrame(ingest::VideoFrame f) override {
      double d = std::abs(f.t - target);
      if (best < 0 || d < best) {
        best = d;
        frame = std::move(f.gray);
      }
    }
    void OnAudio(const int16_t*, size_t) override {}
  } sink;
  sink.target = t_s;
  ingest::VideoDecodeOptions options;
  options.frame_rate = 4.0;
  options.scene_cuts = false;
  options.max_side = 640;
  options.audio = false;
  options.skip_nonref = false;
  options.threads = 1;
  options.max_media_seconds = std::max(0.0, t_s) + 1.0;
  options.max_decode_seconds = 120.0;
  KAGAMI_RETURN_IF_ERROR(ingest::DecodeVideo(path, options, ingest::IngestLimits{}, sink).status());
  if (sink.frame.empty() || sink.best > 1.0) {
    return Status::NotFound(path + ": no frame near " + std::to_string(t_s) + " s");
  }
  return sink.frame;
}

MatchOutline ComputeOutline(const MatchedUnit& unit, cv::Size registered, cv::Size found) {
  MatchOutline out;
  if (!unit.homography || unit.view == MatchView::kTrimmed || unit.view == MatchView::kBox)
    return out;
  cv::Matx33d h;
  for (int i = 0; i < 9; ++i) h.val[i] = (*unit.homography)[i];
  // The suspect view inside the found page, in found-page pixels.
  double vx = 0, vw = found.width, vh = found.height;
  if (unit.view == MatchView::kLeft) vw = found.width / 2.0;
  if (unit.view == MatchView::kRight) {
    vx = found.width / 2.0;
    vw = found.width / 2.0;
  }
  double lv = std::max(vw, vh);
  double lr = std::max(registered.width, registered.height);
  std::vector<cv::Point2d> view_corners = {{0, 0}, {vw / lv, 0}, {vw / lv, vh / lv}, {0, vh / lv}};
  // When verified against the mirror image, the view coordinates are mirrored.
  auto mirror = [&](std::vector<cv::Point2d> pts) {
    if (unit.mirrored) {
      for (auto& p : pts) p.x = vw / lv - p.x;
    }
    return pts;
  };
  for (const auto& p : Apply(h, mirror(view_corners))) out.on_registered.emplace_back(p * lr);
  std::vector<cv::Point2d> reg_corners = {{0, 0},
                                          {registered.width / lr, 0},
                                          {registered.width / lr, registered.height / lr},
                                          {0, registered.height / lr}};
  for (const auto& p : mirror(Apply(h.inv(), reg_corners))) {
    out.on_found.emplace_back(vx + p.x * lv, p.y * lv);
  }
  return out;
}

std::string ExhibitRenderer::DefaultFontPath() {
  const char* env = std::getenv("KAGAMI_FONT");
  if (env && *env) return env;
  return "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc";
}

ExhibitRenderer::ExhibitRenderer(cv::Ptr<cv::freetype::FreeType2> ft) : ft_(std::move(ft)) {}
ExhibitRenderer::~ExhibitRenderer() = default;

Result<std::unique_ptr<ExhibitRenderer>> ExhibitRenderer::Create(const std::string& font_path) {
  std::error_code ec;
  if (!std::filesystem::exists(font_path, ec)) {
    return Status::NotFound("font " + font_path +
                            " not found (install Debian's fonts-noto-cjk or set KAGAMI_FONT)");
  }
  // OpenCV's freetype module (and FreeType/HarfBuzz behind it) is loaded on
  // first use, like imgcodecs in ingest, so commands that draw nothing do not
  // pay for it at start-up.
  void* handle = ::dlopen(KAGAMI_OPENCV_FREETYPE_SONAME, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (!handle) {
    return Status::Unsupported(std::string("loading ") + KAGAMI_OPENCV_FREETYPE_SONAME + ": " +
                               ::dlerror() + " (install libopencv-contrib-dev)");
  }
  using CreateFn = cv::Ptr<cv::freetype::FreeType2> (*)();
  auto create = reinterpret_cast<CreateFn>(::dlsym(handle, "_ZN2cv8freetype15createFreeType2Ev"));
  if (!create) return Status::Unsupported("cv::freetype::createFreeType2 not found");
  try {
    cv::Ptr<cv::freetype::FreeType2> ft = create();
    ft->loadFontData(font_path, 0);
    return std::unique_ptr<ExhibitRenderer>(new ExhibitRenderer(std::move(ft)));
  } catch (const cv::Exception& e) {
    return Status::Internal("loading font " + font_path + ": " + e.what());
  }
}

Result<cv::Mat> ExhibitRenderer::Render(const ExhibitInput& input, ExhibitLayout* layout) {
  if (input.registered.empty() || input.found.empty()) {
    return Status::InvalidArgument("exhibit needs both pages");
  }
  try {
    cv::Mat reg = ToBgr(input.registered);
    cv::Mat found = ToBgr(input.found);
    int header_h = kMargin + kHeaderLine * static_cast<int>(input.header.size()) + kMargin / 2;
    int width = 2 * kPanelWidth + 3 * kMargin;
    cv::Rect reg_fit = FitInPanel(reg.size(), kPanelWidth, kPanelHeight);
    cv::Rect found_fit = FitInPanel(found.size(), kPanelWidth, kPanelHeight);
    int panels_top = header_h + kMargin + kCaptionHeight;
    int height = panels_top + std::max(reg_fit.height, found_fit.height) + kMargin;
    cv::Mat canvas(height, width, CV_8UC3, kBackground);
    cv::rectangle(canvas, cv::Rect(0, 0, width, header_h), kHeaderColor, cv::FILLED);
    int y = kMargin / 2;
    for (const std::string& line : input.header) {
      ft_->putText(canvas, line, cv::Point(kMargin, y + 4), kFontHeight, cv::Scalar(255, 255, 255),
                   -1, cv::LINE_AA, false);
      y += kHeaderLine;
    }
    cv::Rect reg_box(kMargin + reg_fit.x, panels_top, reg_fit.width, reg_fit.height);
    cv::Rect found_box(2 * kMargin + kPanelWidth + found_fit.x, panels_top, found_fit.width,
                       found_fit.height);
    ft_->putText(canvas, input.registered_caption, cv::Point(kMargin, header_h + kMargin / 2), 20,
                 cv::Scalar(40, 40, 40), -1, cv::LINE_AA, false);
    ft_->putText(canvas, input.found_caption,
                 cv::Point(2 * kMargin + kPanelWidth, header_h + kMargin / 2), 20,
                 cv::Scalar(40, 40, 40), -1, cv::LINE_AA, false);
    cv::Mat reg_scaled, found_scaled;
    cv::resize(reg, reg_scaled, reg_box.size(), 0, 0, cv::INTER_AREA);
    cv::resize(found, found_scaled, found_box.size(), 0, 0, cv::INTER_AREA);
    reg_scaled.copyTo(canvas(reg_box));
    found_scaled.copyTo(canvas(found_box));
    cv::rectangle(canvas, reg_box, cv::Scalar(160, 160, 160), 1);
    cv::rectangle(canvas, found_box, cv::Scalar(160, 160, 160), 1);
    bool outlined = false;
    if (input.unit) {
      MatchOutline outline = ComputeOutline(*input.unit, reg.size(), found.size());
      auto draw = [&](const std::vector<cv::Point2d>& pts, cv::Rect box, cv::Size page) {
        if (pts.size() != 4) return;
        double sx = static_cast<double>(box.width) / page.width;
        double sy = static_cast<double>(box.height) / page.height;
        std::vector<cv::Point> poly;
        for (const auto& p : pts) {
          poly.emplace_back(static_cast<int>(box.x + p.x * sx), static_cast<int>(box.y + p.y * sy));
        }
        // Clip to the panel so a wild homography cannot scribble over the other page.
        cv::Mat roi = canvas(box);
        for (auto& p : poly) p -= box.tl();
        cv::polylines(roi, std::vector<std::vector<cv::Point>>{poly}, true, kOutlineColor, 3,
                      cv::LINE_AA);
        outlined = true;
      };
      draw(outline.on_registered, reg_box, reg.size());
      draw(outline.on_found, found_box, found.size());
    }
    if (layout) {
      layout->size = canvas.size();
      layout->registered_box = reg_box;
      layout->found_box = found_box;
      layout->outlined = outlined;
    }
    return canvas;
  } catch (const cv::Exception& e) {
    return Status::Internal(std::string("rendering exhibit: ") + e.what());
  }
}

}  // namespace kagami::reports

namespace kagami::reports {

Result<std::string> EncodePng(const cv::Mat& bgr) {
  if (bgr.empty() || bgr.type() != CV_8UC3)
    return Status::InvalidArgument("EncodePng needs 8-bit BGR");
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(bgr.cols);
  image.height = static_cast<png_uint_32>(bgr.rows);
  image.format = PNG_FORMAT_BGR;
  png_alloc_size_t size = 0;
  // Row stride in components; one byte per component here.
  auto stride = static_cast<png_int_32>(bgr.step[0]);
  if (!png_image_write_to_memory(&image, nullptr, &size, 0, bgr.data, stride, nullptr)) {
    return Status::Internal(std::string("PNG encoding: ") + image.message);
  }
  std::string out(size, '\0');
  if (!png_image_write_to_memory(&image, out.data(), &size, 0, bgr.data, stride, nullptr)) {
    return Status::Internal(std::string("PNG encoding: ") + image.message);
  }
  out.resize(size);
  return out;
}

Result<cv::Mat> DecodePngGray(const std::string& png) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, png.data(), png.size())) {
    return Status::Corrupt(std::string("PNG decoding: ") + image.message);
  }
  if (image.width == 0 || image.height == 0 || image.width > 16384 || image.height > 16384) {
    png_image_free(&image);
    return Status::Corrupt("PNG decoding: bad dimensions");
  }
  image.format = PNG_FORMAT_GRAY;
  cv::Mat gray(static_cast<int>(image.height), static_cast<int>(image.width), CV_8UC1);
  if (!png_image_finish_read(&image, nullptr, gray.data, static_cast<png_int_32>(gray.step[0]),
                             nullptr)) {
    return Status::Corrupt(std::string("PNG decoding: ") + image.message);
  }
  return gray;
}

}  // namespace kagami::reports
