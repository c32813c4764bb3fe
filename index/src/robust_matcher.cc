#include "kagami/index/robust_matcher.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

#include <opencv2/imgproc.hpp>

#include "kagami/fingerprint/blurred_pdq.h"
#include "kagami/fingerprint/colour_signature.h"
#include "kagami/fingerprint/hash256.h"
#include "kagami/fingerprint/visual_vocabulary.h"

namespace kagami::index {
namespace {

// A "body" view is hashed besides its own size at these fractions of it,
// each where its short side is at least kMinScaledBody (px).
constexpr double kBodyScales[] = {0.70710678, 0.5};
constexpr int kMinScaledBody = 128;

// Gray pixels at least `min_short_side` on the short side where the source
// allows: the decoded pixels when large enough, else a re-decode of the bytes.
Result<cv::Mat> DecodeForLocal(const cv::Mat& pixels, const ingest::EncodedPage& encoded,
                               const ingest::IngestLimits& limits, int min_short_side) {
  if (!encoded.rendered.empty()) return ToGray(encoded.rendered);
  if (std::min(pixels.rows, pixels.cols) * 10 >= min_short_side * 9 || encoded.bytes.empty()) {
    return ToGray(pixels);
  }
  ingest::DecodeOptions decode;
  decode.mode = ingest::DecodeMode::kFast;
  decode.min_short_side = min_short_side;
  KAGAMI_ASSIGN_OR_RETURN(
      ingest::DecodedImage image,
      ingest::DecodeImage(encoded.bytes.data(), encoded.bytes.size(), decode, limits));
  return ToGray(image.pixels);
}

// The page in colour for the colour check: the rendered PDF page or the
// pixels when they are in colour, else the file decoded again in colour (scan
// and registration decode luminance only), a JPEG at the reduced scale that
// keeps its short side at half the signature's long side. Empty on a decode
// failure; gray for a gray file.
cv::Mat ColourPixels(const cv::Mat& pixels, const ingest::EncodedPage& encoded,
                     const ingest::IngestLimits& limits) {
  if (!encoded.rendered.empty()) return encoded.rendered;
  if (pixels.channels() == 3 || encoded.bytes.empty()) return pixels;
  ingest::DecodeOptions decode;
  decode.mode = ingest::DecodeMode::kFastColour;
  decode.min_short_side = fingerprint::kColourLongSide / 2;
  Result<ingest::DecodedImage> image =
      ingest::DecodeImage(encoded.bytes.data(), encoded.bytes.size(), decode, limits);
  return image.ok() ? image->pixels : cv::Mat();
}

// A registered page's quantised blob, or nullopt when it has none (an older
// raw-descriptor blob, or the catalog cannot read it).
std::optional<fingerprint::QuantisedFeatures> StoredQuantised(Catalog& catalog, int64_t unit_id) {
  Result<std::vector<uint8_t>> blob = catalog.GetLocalFeatures(unit_id);
  if (!blob.ok() || !fingerprint::QuantisedFeatures::IsQuantisedBlob(*blob)) return std::nullopt;
  Result<fingerprint::QuantisedFeatures> f = fingerprint::QuantisedFeatures::Deserialize(*blob);
  if (!f.ok()) return std::nullopt;
  return std::move(*f);
}

// The short side (px) to decode an image whose short side is `image_short`
// at, for a view `view_short` px across in it to reach `min_short`; at most
// 4 times the image's.
int ShortSideFor(int image_short, int view_short, int min_short) {
  return std::min(4 * image_short, (min_short * image_short + view_short - 1) / view_short);
}

// `r`, a rect of an image of size `from`, in the same image at size `to`: at
// least 1 px each way, clipped to `to`.
cv::Rect Rescaled(const cv::Rect& r, const cv::Size& from, const cv::Size& to) {
  const double sx = static_cast<double>(to.width) / from.width;
  const double sy = static_cast<double>(to.height) / from.height;
  return cv::Rect(static_cast<int>(std::lround(r.x * sx)), static_cast<int>(std::lround(r.y * sy)),
                  std::max(1, static_cast<int>(std::lround(r.width * sx))),
                  std::max(1, static_cast<int>(std::lround(r.height * sy)))) &
         cv::Rect(cv::Point(), to);
}

// Query features (RobustOptions::features), plus for a landscape query a
// second extraction at the size where a page of the query's full height is at
// its registered scale (RobustOptions::wide_query_*), appended: both are in
// the query's normalised frame.
Result<fingerprint::LocalFeatures> ExtractQueryFeatures(const cv::Mat& gray, bool mirrored,
                                                        const RobustOptions& options) {
  KAGAMI_ASSIGN_OR_RETURN(fingerprint::LocalFeatures f,
                          fingerprint::ExtractLocalFeatures(gray, mirrored, options.features));
  if (gray.cols < gray.rows * options.wide_query_aspect || options.wide_query_keypoints < 1) {
    return f;
  }
  fingerprint::LocalFeatureOptions wide = options.features;
  wide.max_keypoints = options.wide_query_keypoints;
  const double by_height =
      static_cast<double>(options.features.working_long_side) * gray.cols / gray.rows;
  wide.working_long_side = static_cast<int>(
      std::lround(std::min({by_height, static_cast<double>(options.wide_query_max_long_side),
                            static_cast<double>(gray.cols)})));
  // Not worth a second pass below a 5% larger scale. (At 15%, two pages of
  // dense CJK text side by side, decoded 900 px wide, got no second pass,
  // 250 keypoints per page, and neither page was found: spreads 34 -> 37 of
  // 48 pages on the real-image bench, every other edit and the unrelated
  // images unchanged, bench/RESULTS.md section 11.)
  if (wide.working_long_side * 20 < options.features.working_long_side * 21) return f;
  KAGAMI_ASSIGN_OR_RETURN(fingerprint::LocalFeatures w,
                          fingerprint::ExtractLocalFeatures(gray, mirrored, wide));
  if (w.size() == 0) return f;
  f.points.insert(f.points.end(), w.points.begin(), w.points.end());
  if (f.descriptors.empty()) {
    f.descriptors = w.descriptors;
  } else {
    cv::vconcat(f.descriptors, w.descriptors, f.descriptors);
  }
  return f;
}

// A page box cut from pixels where its long side reaches `want_long_side`
// (or as near as a re-decode at up to 4x the local decode's scale gets),
// with its place in the whole image at that scale.
struct PageBoxPixels {
  cv::Mat pixels;       // the box, gray
  cv::Rect rect;        // the box within the whole image, in `image_size` pixels
  cv::Size image_size;  // the whole image at the box's scale
};

Result<PageBoxPixels> CutPageBox(const cv::Mat& pixels, const ingest::EncodedPage& encoded,
                                 const ingest::IngestLimits& limits, const cv::Mat& gray,
                                 const cv::Rect2d& box, int want_long_side) {
  cv::Mat source = gray;
  const double gray_long = std::max(gray.cols, gray.rows);
  const double box_long = std::max(box.width, box.height) * gray_long;
  if (box_long < want_long_side * 0.9) {
    const int gray_short = std::min(gray.cols, gray.rows);
    const double factor = std::min(4.0, want_long_side / std::max(1.0, box_long));
    Result<cv::Mat> larger =
        DecodeForLocal(pixels, encoded, limits, static_cast<int>(std::ceil(gray_short * factor)));
    if (larger.ok() && larger->cols > gray.cols) source = *larger;
  }
  const double long_side = std::max(source.cols, source.rows);
  const cv::Rect rect = cv::Rect(static_cast<int>(std::lround(box.x * long_side)),
                                 static_cast<int>(std::lround(box.y * long_side)),
                                 static_cast<int>(std::lround(box.width * long_side)),
                                 static_cast<int>(std::lround(box.height * long_side))) &
                        cv::Rect(0, 0, source.cols, source.rows);
  if (rect.width < 16 || rect.height < 16) {
    return Status::InvalidArgument("page box under 16 pixels");
  }
  return PageBoxPixels{source(rect), rect, source.size()};
}

// Describes the page box as a page (`features`) and appends its keypoints to
// `f`, the whole query's features (mirrored or not), mapped into its
// normalised frame. Nothing is appended when the description fails.
void AddPageBoxFeatures(const PageBoxPixels& box, bool mirrored,
                        const fingerprint::LocalFeatureOptions& features,
                        fingerprint::LocalFeatures& f) {
  Result<fingerprint::LocalFeatures> b =
      fingerprint::ExtractLocalFeatures(box.pixels, mirrored, features);
  if (!b.ok() || b->size() == 0 ||
      (!f.descriptors.empty() && b->descriptors.cols != f.descriptors.cols)) {
    return;
  }
  const double image_long = std::max(box.image_size.width, box.image_size.height);
  const double box_long = std::max(box.rect.width, box.rect.height);
  // Box-normalised -> box pixels -> image pixels -> image-normalised. A
  // mirrored description flips both the box and the image.
  const double x0 = mirrored ? box.image_size.width - box.rect.x - box.rect.width : box.rect.x;
  for (const cv::Point2f& p : b->points) {
    f.points.emplace_back(static_cast<float>((p.x * box_long + x0) / image_long),
                          static_cast<float>((p.y * box_long + box.rect.y) / image_long));
  }
  if (f.descriptors.empty()) {
    f.descriptors = b->descriptors;
  } else {
    cv::vconcat(f.descriptors, b->descriptors, f.descriptors);
  }
}

// No keypoints yet, in the frame (kind, page size, mirroring) of `f`.
fingerprint::LocalFeatures EmptyFrameOf(const fingerprint::LocalFeatures& f) {
  fingerprint::LocalFeatures e;
  e.kind = f.kind;
  e.mirrored = f.mirrored;
  e.page_width = f.page_width;
  e.page_height = f.page_height;
  return e;
}

// The cascade's description (LocalCascadeOptions): the page at `height` pixels
// high (long side capped), keypoints scaled with a landscape page's width.
Result<fingerprint::LocalFeatures> ExtractCascadeFeatures(const cv::Mat& gray,
                                                          const LocalCascadeOptions& cascade) {
  if (gray.rows < 16 || gray.cols < 16) return fingerprint::LocalFeatures{};
  const double aspect = static_cast<double>(gray.cols) / gray.rows;
  fingerprint::LocalFeatureOptions o;
  o.pyramid_levels = cascade.pyramid_levels;
  o.working_long_side = static_cast<int>(std::lround(
      std::min({cascade.height * std::max(1.0, aspect), static_cast<double>(cascade.max_long_side),
                static_cast<double>(std::max(gray.cols, gray.rows))})));
  o.working_long_side = std::max(64, o.working_long_side);
  o.max_keypoints = static_cast<int>(std::lround(cascade.keypoints * std::clamp(aspect, 1.0, 2.5)));
  return fingerprint::ExtractLocalFeatures(gray, false, o);
}

// FNV-1a of a query's bytes: names the query in the local-stage trace.
uint64_t TraceId(const ingest::EncodedPage& encoded) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : encoded.bytes) h = (h ^ c) * 1099511628211ull;
  return h;
}

double MsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

bool IsHalf(const std::string& view) { return view == "left" || view == "right"; }

// Rows [start, end) in pixels of an image `limit` rows tall, widened to
// whole rows and kept non-empty inside it.
cv::Range WholeRows(double start, double end, int limit) {
  const int first = std::clamp(static_cast<int>(std::floor(start)), 0, limit - 1);
  return cv::Range(first, std::clamp(static_cast<int>(std::ceil(end)), first + 1, limit));
}

bool IsReflection(fingerprint::Dihedral variant) {
  return variant == fingerprint::kFlipX || variant == fingerprint::kFlipY ||
         variant == fingerprint::kFlipPlus1 || variant == fingerprint::kFlipMinus1;
}

// A pixel rectangle of a w x h page in normalised units (long side 1).
cv::Rect2d Normalised(const cv::Rect& r, int w, int h) {
  const double long_side = std::max(1, std::max(w, h));
  return cv::Rect2d(r.x / long_side, r.y / long_side, r.width / long_side, r.height / long_side);
}

// Keeps hits (best first) whose regions do not overlap a kept one, at most two.
// The keypoints of `q` outside every region (query's normalised frame).
fingerprint::QuantisedQuery KeypointsOutside(const fingerprint::QuantisedQuery& q,
                                             const std::vector<cv::Rect2d>& regions) {
  fingerprint::QuantisedQuery out = q;
  out.words.clear();
  out.top_words.clear();
  out.signatures.clear();
  out.points.clear();
  if (q.words.size() != static_cast<size_t>(q.size()) * q.assignment ||
      q.top_words.size() != static_cast<size_t>(q.size()) * q.top_assignment ||
      q.signatures.size() != static_cast<size_t>(q.size())) {
    return out;
  }
  for (int i = 0; i < q.size(); ++i) {
    const cv::Point2d pt(q.points[i].x, q.points[i].y);
    bool inside = false;
    for (const cv::Rect2d& r : regions) inside |= r.contains(pt);
    if (inside) continue;
    out.points.push_back(q.points[i]);
    out.signatures.push_back(q.signatures[i]);
    out.words.insert(out.words.end(), q.words.begin() + static_cast<size_t>(i) * q.assignment,
                     q.words.begin() + static_cast<size_t>(i + 1) * q.assignment);
    out.top_words.insert(out.top_words.end(),
                         q.top_words.begin() + static_cast<size_t>(i) * q.top_assignment,
                         q.top_words.begin() + static_cast<size_t>(i + 1) * q.top_assignment);
  }
  return out;
}

// Drops the hits (with their twins) and the twins for which `drop` holds.
template <typename Pred>
void EraseHits(std::vector<RobustHit>& hits, Pred drop) {
  std::erase_if(hits, drop);
  for (RobustHit& hit : hits) std::erase_if(hit.twins, drop);
}

// Names the scanned view of the local stage's hits and their twins.
void NameLocalView(std::vector<RobustHit>& hits, const std::string& view) {
  for (RobustHit& hit : hits) {
    if (hit.method == "local") hit.view = view;
    for (RobustHit& twin : hit.twins) {
      if (twin.method == "local") twin.view = view;
    }
  }
}

// PDQ hits of one group explain the same part of the scanned page: the page
// as a whole (full, trimmed, box, ... views) or one half of a spread.
std::string ViewGroup(const std::string& view) { return IsHalf(view) ? view : "page"; }

// A PDQ hit's distance for ranking hits of one view group: a hit in the
// page's own orientation goes ahead of a turned or mirrored one up to this
// many bits nearer. Two registered drawings that are turns of each other
// (one arrow pointing four ways) are both within PDQ's noise of a copy of
// either, and the noise chose the turn (false-match sweep: an arrow in a
// screenshot, its own page at 10 bits, the arrow turned 270 degrees at 8;
// bench/RESULTS.md section 11, "Screenshots no threshold was chosen on").
constexpr int kTurnedVariantBits = 6;
// Nearer first by that distance; at a tie, the own orientation, then the
// lower unit id.
bool RanksBefore(const RobustHit& a, const RobustHit& b) {
  const auto key = [](const RobustHit& h) {
    const bool turned = h.variant != fingerprint::kOriginal;
    return std::make_tuple(h.distance + (turned ? kTurnedVariantBits : 0), turned, h.unit_id);
  };
  return key(a) < key(b);
}

std::vector<RobustHit> NonOverlapping(const std::vector<RobustHit>& ranked) {
  std::vector<RobustHit> kept;
  for (const RobustHit& hit : ranked) {
    if (kept.size() >= 2) break;
    bool clash = false;
    for (const RobustHit& k : kept) {
      clash |=
          k.unit_id == hit.unit_id || fingerprint::RegionsOverlap(k.query_region, hit.query_region);
    }
    if (!clash) kept.push_back(hit);
  }
  return kept;
}

// The part of a registered page its keypoints occupy (bounding box plus
// `margin`, clipped to the page), normalised units; the whole page when that
// is more than half of it.
cv::Rect2f ContentBox(const fingerprint::QuantisedFeatures& ref, float margin = 0.02f) {
  const cv::Rect2f page(0, 0, ref.page_width, ref.page_height);
  if (ref.points.empty()) return page;
  float x0 = ref.page_width, y0 = ref.page_height, x1 = 0, y1 = 0;
  for (const cv::Point2f& p : ref.points) {
    x0 = std::min(x0, p.x);
    y0 = std::min(y0, p.y);
    x1 = std::max(x1, p.x);
    y1 = std::max(y1, p.y);
  }
  const cv::Rect2f box =
      cv::Rect2f(x0 - margin, y0 - margin, x1 - x0 + 2 * margin, y1 - y0 + 2 * margin) & page;
  return box.area() * 2 > page.area() ? page : box;
}

// The photometric check's thresholds (RobustOptions::appearance_min_inliers).
bool AppearancePasses(const fingerprint::Appearance& a, const RobustOptions& options) {
  return a.measured && a.correlation >= options.min_appearance_correlation &&
         a.worst_cell <= options.max_appearance_worst_cell &&
         a.compared >= options.min_appearance_compared &&
         a.contrast >= options.min_appearance_contrast;
}

bool FailedOnlyCoverage(const fingerprint::Verification& v) {
  return v.sane && (v.rejected_by == "coverage" || v.rejected_by == "overlap coverage" ||
                    v.rejected_by == "inlier spread");
}

}  // namespace

cv::Mat ToGray(const cv::Mat& pixels) {
  if (pixels.type() == CV_8UC1) return pixels;
  cv::Mat gray;
  if (pixels.type() == CV_8UC3) {
    cv::cvtColor(pixels, gray, cv::COLOR_RGB2GRAY);
  } else if (pixels.type() == CV_8UC4) {
    cv::cvtColor(pixels, gray, cv::COLOR_RGBA2GRAY);
  } else {
    pixels.convertTo(gray, CV_8U);
    if (gray.channels() != 1) cv::extractChannel(gray, gray, 0);
  }
  return gray;
}

RegisteredHashes HashForRegistration(const cv::Mat& pixels, fingerprint::PdqHasher& hasher) {
  RegisteredHashes hashes;
  const cv::Mat gray = ToGray(pixels);
  const cv::Rect content = fingerprint::TrimUniformBorders(gray);
  if (content != cv::Rect(0, 0, gray.cols, gray.rows) && content.width >= 16 &&
      content.height >= 16) {
    hashes.trimmed = hasher.Hash(gray(content));
    hashes.blurred = fingerprint::BlurredPdq(hasher, gray(content));
  } else {
    hashes.blurred = fingerprint::BlurredPdq(hasher, gray);
  }
  return hashes;
}

RegisteredPageExtras AnalyzeForRegistration(const cv::Mat& pixels,
                                            const ingest::EncodedPage& encoded,
                                            const ingest::IngestLimits& limits,
                                            fingerprint::PdqHasher& hasher,
                                            const RobustOptions& options, bool with_local) {
  RegisteredPageExtras extras;
  RegisteredHashes hashes = HashForRegistration(pixels, hasher);
  extras.trimmed = hashes.trimmed;
  extras.blurred = hashes.blurred;
  if (!with_local) return extras;
  Result<cv::Mat> local_gray =
      DecodeForLocal(pixels, encoded, limits, options.local_min_short_side);
  if (!local_gray.ok()) {
    extras.local_status = local_gray.status();
    return extras;
  }
  // As many keypoints as a 4 KB quantised blob holds, spread by extraction
  // (better than a subset of more: 20-48 vs 14-38 inliers on typeset pages).
  // The page's thumbnail (page_thumbnail.h) takes the room of up to 64 of them.
  fingerprint::PageThumbnail thumbnail = fingerprint::MakePageThumbnail(*local_gray);
  // Its colours (colour_signature.h), for the colour check of later scans;
  // stored with the thumbnail only.
  fingerprint::ColourSignature colour;
  if (!thumbnail.empty()) colour = RegisteredColour(pixels, encoded, limits);
  fingerprint::LocalFeatureOptions registered = options.registered_features;
  const int max_keypoints = fingerprint::MaxQuantisedKeypoints(thumbnail, colour.measured);
  registered.max_keypoints = std::min(registered.max_keypoints, max_keypoints);
  Result<fingerprint::LocalFeatures> features =
      fingerprint::ExtractLocalFeatures(*local_gray, false, registered);
  if (!features.ok()) {
    extras.local_status = features.status();
    return extras;
  }
  // 4 KB per page: visual words, signatures, positions and the thumbnail
  // (quantised_features.h).
  fingerprint::QuantisedFeatures quantised =
      fingerprint::Quantise(*features, fingerprint::VisualVocabulary::BuiltIn(), max_keypoints);
  quantised.thumbnail = std::move(thumbnail);
  quantised.colour = colour;
  extras.local_features = quantised.Serialize();
  return extras;
}

fingerprint::ColourSignature RegisteredColour(const cv::Mat& pixels,
                                              const ingest::EncodedPage& encoded,
                                              const ingest::IngestLimits& limits) {
  return fingerprint::MakeColourSignature(ColourPixels(pixels, encoded, limits));
}

RobustMatcher::RobustMatcher(Store& store, const MatchOptions& match, const RobustOptions& options,
                             const ingest::IngestLimits& limits)
    : store_(store), match_(match), options_(options), limits_(limits) {
  if (options_.local_trace_path.empty()) {
    const char* trace = std::getenv("KAGAMI_LOCAL_TRACE");
    if (trace != nullptr) options_.local_trace_path = trace;
  }
}

RobustMatcher::~RobustMatcher() = default;

Status RobustMatcher::EnsureLocalIndex() {
  std::call_once(local_once_, [this] {
    std::lock_guard<std::mutex> lock(catalog_mutex_);
    Result<const InvertedFile*> index = store_.LocalIndex();
    if (!index.ok()) {
      local_index_status_ = index.status().WithContext("loading the local index");
      return;
    }
    local_index_ = *index;
  });
  return local_index_status_;
}

PageOutcome RobustMatcher::Match(const cv::Mat& pixels, const ingest::EncodedPage& encoded,
                                 fingerprint::PdqHasher& hasher,
                                 const fingerprint::PageFingerprint& page, bool may_defer,
                                 int crop_zoom) {
  PageOutcome outcome;
  cv::Mat gray = ToGray(pixels);

  // Global stage: PDQ of every normalised view, best hit per registered unit.
  std::map<int64_t, RobustHit> pdq_best;
  std::vector<RobustHit> pdq_candidates;                  // every hit of every view
  std::map<int64_t, int> ref_keypoints;                   // unit -> RegisteredKeypoints
  std::map<int64_t, std::optional<UnitRef>> unit_hashes;  // SameKindDistance's cache
  std::vector<fingerprint::View> views;
  if (options_.normalized_views) {
    fingerprint::ViewOptions which;
    which.bodies = options_.body_views;
    views = fingerprint::NormalizedViews(gray, {}, which);
  } else {
    views.push_back({gray, "full", cv::Rect(0, 0, gray.cols, gray.rows)});
  }
  // A page box is a fraction of the image: at the decoded scale (short side
  // >= 256 for the whole image) a screenshot's page can be under 200 px, too
  // few for PDQ on a typeset page. Such a box is hashed from a re-decode
  // where its short side reaches options_.min_box_short_side (one JPEG
  // decode at a larger scale, only for images with a box). The same holds
  // for an "unbanded" view, a small drawing trimmed out of its paper: its
  // strip is filled and the page trimmed again in the larger decode, and
  // that is hashed besides the view at the decoded scale (registration
  // hashed the page's trimmed view at the scale its own file decoded to: a
  // JPEG at the same reduced scale as this one, a PNG at full size; so few
  // pixels move PDQ by tens of bits between the two).
  cv::Mat box_pixels;
  std::vector<fingerprint::View> larger_unbanded;
  for (const fingerprint::View& view : views) {
    const int view_short = std::min(view.rect_in_original.width, view.rect_in_original.height);
    if ((view.name != "box" && view.name != "unbanded") ||
        view_short >= options_.min_box_short_side)
      continue;
    Result<cv::Mat> larger = DecodeForLocal(
        pixels, encoded, limits_,
        ShortSideFor(std::min(gray.cols, gray.rows), view_short, options_.min_box_short_side));
    if (!larger.ok() || larger->cols <= gray.cols) continue;  // the view at the decoded scale
    if (view.name == "unbanded") {
      const double sy = static_cast<double>(larger->rows) / gray.rows;
      const cv::Mat filled = fingerprint::FillOverlayBand(
          *larger, WholeRows(view.strip_rows.start * sy, view.strip_rows.end * sy, larger->rows));
      const cv::Rect inner = fingerprint::TrimUniformBorders(filled);
      if (inner.width >= 16 && inner.height >= 16)
        larger_unbanded.push_back(
            {filled(inner), view.name, view.rect_in_original, view.strip_rows});
      continue;
    }
    const cv::Rect scaled = Rescaled(view.rect_in_original, gray.size(), larger->size());
    if (scaled.width >= 16 && scaled.height >= 16) box_pixels = (*larger)(scaled);
  }
  for (fingerprint::View& view : larger_unbanded) views.push_back(std::move(view));
  // "body" views (a page posted on a plain card, its header and footer cut
  // off) are found again on a decode where the smallest reaches
  // min_box_short_side: at the decoded scale a post's page can be 130 px tall,
  // its lines of type merged and its edges a pixel (4 px of the file) off.
  int body_short = std::numeric_limits<int>::max();
  for (const fingerprint::View& view : views) {
    if (view.name == "body")
      body_short =
          std::min({body_short, view.rect_in_original.width, view.rect_in_original.height});
  }
  // The bodies at the decoded scale stay for their blurred hashes alone
  // (RobustOptions::decoded_scale_bodies).
  std::vector<fingerprint::View> decoded_bodies;
  if (body_short < options_.min_box_short_side) {
    Result<cv::Mat> larger = DecodeForLocal(
        pixels, encoded, limits_,
        ShortSideFor(std::min(gray.cols, gray.rows), body_short, options_.min_box_short_side));
    if (larger.ok() && larger->cols > gray.cols) {
      if (options_.blurred_views && options_.decoded_scale_bodies) {
        for (const fingerprint::View& v : views)
          if (v.name == "body") decoded_bodies.push_back(v);
      }
      std::erase_if(views, [](const fingerprint::View& v) { return v.name == "body"; });
      const cv::Mat larger_gray = *larger;
      for (const cv::Rect& r :
           fingerprint::BodyRects(larger_gray, fingerprint::TrimUniformBorders(larger_gray))) {
        views.push_back({larger_gray(r), "body", Rescaled(r, larger_gray.size(), gray.size())});
      }
    }
  }
  // Each body is also hashed at 1/sqrt(2) and 1/2 of its size: registration
  // hashed a page at the scale its own file decoded to (short side 256-511 px
  // for a JPEG, full size for a PNG), and PDQ of a page of type moves by tens
  // of bits between scales a factor 2 apart (the default split's social
  // posts, bench/RESULTS.md: 55 of 95 pages within the radius at one scale,
  // 41 at the other, 60 at either); a step of sqrt(2) leaves every registered
  // scale within 2^(1/4) of one the body is hashed at.
  const size_t before_scaled = views.size();
  for (size_t i = 0; i < before_scaled; ++i) {
    if (views[i].name != "body") continue;
    for (const double factor : kBodyScales) {
      const cv::Mat image = views[i].image;
      const cv::Size size(static_cast<int>(std::lround(image.cols * factor)),
                          static_cast<int>(std::lround(image.rows * factor)));
      if (std::min(size.width, size.height) < kMinScaledBody) continue;
      cv::Mat scaled;
      cv::resize(image, scaled, size, 0, 0, cv::INTER_AREA);
      views.push_back({scaled, "body", views[i].rect_in_original});
    }
  }
  // Blurred hashes (fingerprint/blurred_pdq.h) of the views that may show a
  // whole registered page, at one scale: a blurred hash moves little between
  // scales, so the bodies' scaled copies need none. The decoded-scale bodies,
  // last, are hashed blurred only.
  const size_t blurred_only_from = views.size();
  for (fingerprint::View& v : decoded_bodies) views.push_back(std::move(v));
  if (options_.normalized_views && options_.blurred_views && options_.trim_variants) {
    cv::Rect trimmed(0, 0, gray.cols, gray.rows);
    for (size_t i = 0; i < blurred_only_from; ++i) {
      if (views[i].name == "trimmed") {
        trimmed = views[i].rect_in_original;
        break;
      }
    }
    for (const cv::Rect& r : fingerprint::TrimVariantRects(gray, trimmed))
      views.push_back({gray(r), "trimmed", r});
  }
  auto wants_blurred = [&](size_t i) {
    const std::string& name = views[i].name;
    return options_.blurred_views && (i < before_scaled || i >= blurred_only_from) &&
           (name == "full" || name == "trimmed" || name == "box" || name == "body" ||
            name == "unbanded" || name == "deskewed" || name == "levelled");
  };
  for (size_t view_index = 0; view_index < views.size(); ++view_index) {
    const fingerprint::View& view = views[view_index];
    const bool blurred_only = view_index >= blurred_only_from;
    fingerprint::PdqHash hash;
    std::optional<fingerprint::PdqDihedralHashes> dihedral;
    const cv::Mat& view_image = view.name == "box" && !box_pixels.empty() ? box_pixels : view.image;
    if (view.name == "full") {
      hash = page.pdq;
      dihedral = page.dihedral;
    } else if (blurred_only) {
      // No PDQ hash: the body was found again on the larger decode.
    } else if (match_.dihedral) {
      dihedral = hasher.HashDihedral(view_image);
      hash = {dihedral->hashes[fingerprint::kOriginal], dihedral->quality};
    } else {
      hash = hasher.Hash(view_image);
    }
    // The mirror, the commonest reflection of a pirated page, from the
    // mirrored pixels (PdqHasher::HashMirrored: the DCT's variant can be tens
    // of bits off on line art and text). Not for the "body" views: up to 8
    // cuts of an unrelated page of type at 3 scales each, ~1.2 ms a page
    // (bench/RESULTS.md), for a mirrored page posted on a card, which keeps
    // the DCT's variant and the local stage.
    if (dihedral && view.name != "body")
      dihedral->hashes[fingerprint::kFlipY] = hasher.HashMirrored(view_image).hash;
    Result<std::vector<PageHit>> matched =
        blurred_only ? std::vector<PageHit>{}
                     : MatchPage(store_.pdq_index(), hash, dihedral ? &*dihedral : nullptr, match_);
    if (!matched.ok()) {
      outcome.status = matched.status();
      return outcome;
    }
    // The blurred hash's hits, in the original orientation only.
    fingerprint::PdqHash blurred_hash;
    size_t plain_hits = matched->size();
    if (wants_blurred(view_index)) {
      blurred_hash = fingerprint::BlurredPdq(hasher, view_image);
      Result<std::vector<PageHit>> blurred =
          MatchPage(store_.pdq_index(), blurred_hash, nullptr, match_);
      if (!blurred.ok()) {
        outcome.status = blurred.status();
        return outcome;
      }
      matched->insert(matched->end(), blurred->begin(), blurred->end());
    }
    for (size_t h = 0; h < matched->size(); ++h) {
      const PageHit& hit = (*matched)[h];
      const bool is_blurred = h >= plain_hits;
      // The index holds each unit's hashes of every kind: a hit counts only
      // between hashes of one kind (PDQ's with the page's and trimmed view's,
      // blurred with blurred), so that its distance is what the evidence says.
      const RegisteredDistance registered = SameKindDistance(
          hit.unit_id,
          is_blurred ? blurred_hash.hash : (dihedral ? dihedral->hashes[hit.variant] : hash.hash),
          is_blurred, unit_hashes);
      const int distance = registered.bits;
      if (distance > match_.radius) continue;
      RobustHit candidate;
      candidate.unit_id = hit.unit_id;
      candidate.method = "pdq";
      candidate.view = view.name;
      candidate.distance = distance;
      candidate.blurred = is_blurred;
      candidate.variant = hit.variant;
      candidate.view_quality = is_blurred ? blurred_hash.quality : hash.quality;
      candidate.query_region = Normalised(view.rect_in_original, gray.cols, gray.rows);
      auto [keypoints, first] = ref_keypoints.try_emplace(hit.unit_id, -1);
      if (first) keypoints->second = RegisteredKeypoints(hit.unit_id);
      candidate.ref_quality = registered.quality;
      candidate.ref_keypoints = keypoints->second;
      pdq_candidates.push_back(candidate);
      auto [it, inserted] = pdq_best.try_emplace(hit.unit_id, candidate);
      if (!inserted && distance < it->second.distance) it->second = candidate;
    }
  }
  std::vector<RobustHit> pdq_hits;
  for (const auto& [unit, hit] : pdq_best) pdq_hits.push_back(hit);
  std::sort(pdq_hits.begin(), pdq_hits.end(),
            [](const RobustHit& a, const RobustHit& b) { return a.distance < b.distance; });
  // Conclusive: a strong hit for the page, and for a spread one for each half,
  // of qualities that may be reported unverified. A hit of lower quality is a
  // candidate that only the local stage can confirm.
  bool has_halves = false;
  for (const fingerprint::View& view : views) has_halves |= IsHalf(view.name);
  std::set<int64_t> strong_units, reportable_units;
  for (const RobustHit& hit : pdq_candidates) {
    if (!ReportableUnverified(hit)) continue;
    reportable_units.insert(hit.unit_id);
    if (hit.distance <= options_.strong_radius) strong_units.insert(hit.unit_id);
  }
  const bool needs_verification = reportable_units.size() < pdq_best.size();
  // A page found inside a larger image (the "box" view of a screenshot) that
  // is not itself wide explains the image: its halves are the viewer's, not
  // pages, and need no hit of their own.
  bool box_explains = false;
  for (const RobustHit& hit : pdq_candidates) {
    if (hit.view != "box" || hit.distance > options_.strong_radius || !ReportableUnverified(hit))
      continue;
    for (const fingerprint::View& view : views) {
      if (view.name == "box")
        box_explains |= view.rect_in_original.width <=
                        fingerprint::kSpreadMinAspect * view.rect_in_original.height;
    }
  }
  bool strong = box_explains || strong_units.size() >= (has_halves ? 2u : 1u);

  // A conclusive page whose registered page is the same picture as another
  // work's that PDQ did not find within the radius (a twin 30 bits from one
  // registered page can be 33 from the other): the local stage runs, so that
  // the other work's page can be verified on its own evidence.
  const bool unverified_twin = options_.local == LocalStage::kAuto && strong &&
                               !needs_verification && HasUnreportedTwin(reportable_units);
  bool run_local =
      options_.local == LocalStage::kAlways ||
      (options_.local == LocalStage::kAuto && (!strong || needs_verification || unverified_twin));
  if (run_local) {
    LocalHints hints;
    hints.low_quality = page.pdq.quality < match_.min_quality;
    // The page box, else a portrait trimmed view of a landscape image: a
    // page padded to 16:9 is its trimmed view (a box equal to the trim is not
    // reported as a box). A portrait page's trimmed margins are not a page.
    const bool landscape = gray.cols >= gray.rows * options_.wide_query_aspect;
    // The blurred-only views (a decoded-scale body, a trim variant) are not
    // the page's box or content.
    for (size_t i = 0; i < blurred_only_from; ++i) {
      const fingerprint::View& view = views[i];
      const cv::Rect& r = view.rect_in_original;
      if (view.name == "box" ||
          (view.name == "trimmed" && landscape && r.width < r.height && !hints.page_box)) {
        hints.page_box = Normalised(r, gray.cols, gray.rows);
      }
    }
    for (size_t i = 0; i < blurred_only_from; ++i) {
      const fingerprint::View& view = views[i];
      if (view.name == "trimmed")
        hints.content = Normalised(view.rect_in_original, gray.cols, gray.rows);
      if (view.name == "unbanded" && !view.strip_rows.empty()) {
        hints.strip = std::make_pair(static_cast<double>(view.strip_rows.start) / gray.rows,
                                     static_cast<double>(view.strip_rows.end) / gray.rows);
      }
    }
    if (may_defer && pdq_candidates.empty()) {
      auto deferred = std::make_shared<DeferredLocal>();
      deferred->encoded.member = encoded.member;
      deferred->encoded.bytes = encoded.bytes;
      deferred->encoded.rendered = encoded.rendered;
      deferred->hints = hints;
      outcome.deferred = std::move(deferred);
      return outcome;
    }
    RunLocalStage(pixels, encoded, pdq_hits, hints, crop_zoom, outcome);
    CheckColour(pixels, encoded, outcome.hits);
  }
  if (!outcome.hits.empty()) return outcome;

  // PDQ alone: the best reportable hit for the page as a whole or, when they
  // are separate pages, for each half of a spread; of the hits whose colours
  // agree with their registered page's.
  std::vector<RobustHit> reportable;
  for (const RobustHit& hit : pdq_candidates) {
    if (ReportableUnverified(hit)) reportable.push_back(hit);
  }
  CheckColour(pixels, encoded, reportable);
  std::sort(reportable.begin(), reportable.end(), RanksBefore);
  std::map<std::string, RobustHit> reportable_per_view;
  for (const RobustHit& hit : reportable) {
    auto [it, inserted] = reportable_per_view.try_emplace(ViewGroup(hit.view), hit);
    if (!inserted && RanksBefore(hit, it->second)) it->second = hit;
  }
  std::vector<RobustHit> chosen;
  for (const auto& [group, hit] : reportable_per_view) chosen.push_back(hit);
  std::sort(chosen.begin(), chosen.end(), RanksBefore);
  outcome.hits = NonOverlapping(chosen);
  AttachTwins(outcome.hits, reportable, [](const RobustHit& a, const RobustHit& b) {
    return ViewGroup(a.view) == ViewGroup(b.view);
  });
  return outcome;
}

PageOutcome RobustMatcher::RunDeferred(const cv::Mat& pixels, const DeferredLocal& deferred,
                                       int crop_zoom) {
  // Match deferred only pages without PDQ candidates: no PDQ hit to verify,
  // and nothing for PDQ alone to report when the local stage finds nothing.
  PageOutcome outcome;
  RunLocalStage(pixels, deferred.encoded, {}, deferred.hints, crop_zoom, outcome);
  CheckColour(pixels, deferred.encoded, outcome.hits);
  return outcome;
}

RobustMatcher::RegisteredDistance RobustMatcher::SameKindDistance(
    int64_t unit_id, const fingerprint::Hash256& hash, bool blurred,
    std::map<int64_t, std::optional<UnitRef>>& cache) {
  auto [it, inserted] = cache.try_emplace(unit_id);
  if (inserted) {
    std::lock_guard<std::mutex> lock(catalog_mutex_);
    Result<UnitRef> ref = store_.catalog().GetUnitRef(unit_id);
    if (ref.ok()) it->second = std::move(*ref);
  }
  RegisteredDistance best;
  if (!it->second) return best;
  const UnitRef& ref = *it->second;
  auto consider = [&](const std::optional<fingerprint::Hash256>& registered, int quality) {
    if (!registered || quality < Store::kMinIndexQuality) return;
    const int bits = fingerprint::HammingDistance(hash, *registered);
    if (bits < best.bits || (bits == best.bits && quality > best.quality)) best = {bits, quality};
  };
  if (blurred) {
    consider(ref.pdq_blurred, ref.blurred_quality);
  } else {
    consider(ref.pdq, ref.quality);
    consider(ref.pdq_trimmed, ref.trimmed_quality);
  }
  return best;
}

int RobustMatcher::RegisteredKeypoints(int64_t unit_id) {
  if (options_.min_unverified_keypoints <= 0 || !EnsureLocalIndex().ok()) return -1;
  std::unique_ptr<fingerprint::QuantisedFeatures> features = local_index_->Features(unit_id);
  return features ? features->size() : -1;
}

bool RobustMatcher::HasUnreportedTwin(const std::set<int64_t>& reported) {
  if (options_.twin_radius <= 0 || reported.empty()) return false;
  auto ref_of = [&](int64_t unit) -> std::optional<UnitRef> {
    std::lock_guard<std::mutex> lock(catalog_mutex_);
    Result<UnitRef> ref = store_.catalog().GetUnitRef(unit);
    if (!ref.ok() || ref->quality < match_.min_quality) return std::nullopt;
    return std::move(*ref);
  };
  std::vector<fingerprint::Hash256> hashes;
  std::set<std::string> works;
  for (int64_t unit : reported) {
    if (std::optional<UnitRef> ref = ref_of(unit)) {
      hashes.push_back(ref->pdq);
      works.insert(ref->work_id);
    }
  }
  if (hashes.empty()) return false;
  Result<std::vector<std::vector<IndexHit>>> hits =
      store_.pdq_index().RangeSearch(hashes, options_.twin_radius);
  if (!hits.ok()) return false;
  for (const std::vector<IndexHit>& page : *hits) {
    for (const IndexHit& hit : page) {
      if (reported.count(hit.unit_id) > 0) continue;
      std::optional<UnitRef> other = ref_of(hit.unit_id);
      if (other && works.count(other->work_id) == 0) return true;
    }
  }
  return false;
}

void RobustMatcher::AttachTwins(
    std::vector<RobustHit>& kept, const std::vector<RobustHit>& pool,
    const std::function<bool(const RobustHit&, const RobustHit&)>& same_region) {
  if (options_.twin_radius <= 0 || kept.empty() || pool.size() <= kept.size()) return;
  std::map<int64_t, std::optional<UnitRef>> refs;
  auto ref_of = [&](int64_t unit) -> const UnitRef* {
    auto [it, inserted] = refs.try_emplace(unit);
    if (inserted) {
      std::lock_guard<std::mutex> lock(catalog_mutex_);
      Result<UnitRef> ref = store_.catalog().GetUnitRef(unit);
      if (ref.ok()) it->second = std::move(*ref);
    }
    return it->second ? &*it->second : nullptr;
  };
  // Works and units already reported for this page: a twin adds a work.
  std::set<std::string> works;
  std::set<int64_t> units;
  for (const RobustHit& hit : kept) {
    units.insert(hit.unit_id);
    if (const UnitRef* ref = ref_of(hit.unit_id)) works.insert(ref->work_id);
  }
  for (RobustHit& hit : kept) {
    const UnitRef* a = ref_of(hit.unit_id);
    if (a == nullptr || a->quality < match_.min_quality) continue;
    for (const RobustHit& candidate : pool) {
      if (static_cast<int>(hit.twins.size()) >= options_.max_twins) break;
      if (units.count(candidate.unit_id) > 0 || !same_region(hit, candidate)) continue;
      const UnitRef* b = ref_of(candidate.unit_id);
      if (b == nullptr || b->quality < match_.min_quality || works.count(b->work_id) > 0) continue;
      const int bits = fingerprint::HammingDistance(a->pdq, b->pdq);
      if (bits > options_.twin_radius) continue;
      RobustHit twin = candidate;
      twin.twins.clear();
      twin.twin_of = hit.unit_id;
      twin.twin_bits = bits;
      works.insert(b->work_id);
      units.insert(candidate.unit_id);
      hit.twins.push_back(std::move(twin));
    }
  }
}

bool RobustMatcher::ReportableUnverified(const RobustHit& hit) const {
  const int min_quality =
      IsHalf(hit.view) ? options_.min_unverified_half_quality : match_.min_quality;
  const bool low_detail =
      hit.ref_keypoints >= 0 && hit.ref_keypoints < options_.min_unverified_keypoints;
  return hit.distance >= 0 &&
         hit.distance <=
             (low_detail ? std::min(match_.radius, options_.low_detail_radius) : match_.radius) &&
         std::min(hit.view_quality, hit.ref_quality) >= min_quality;
}

void RobustMatcher::RunLocalStage(const cv::Mat& pixels, const ingest::EncodedPage& encoded,
                                  const std::vector<RobustHit>& pdq_hits, const LocalHints& hints,
                                  int crop_zoom, PageOutcome& outcome) {
  outcome.local_ran = true;
  Status ready = EnsureLocalIndex();
  if (!ready.ok()) {
    outcome.local_status = ready;
    return;
  }
  const fingerprint::VisualVocabulary& vocabulary = fingerprint::VisualVocabulary::BuiltIn();
  // The cascade verifies with a tenth of the RANSAC iterations, as
  // GateAndVerify first does.
  fingerprint::VerifyOptions cheap = options_.verify;
  cheap.ransac_iterations = std::max(1, options_.verify.ransac_iterations / 10);

  const auto t_start = std::chrono::steady_clock::now();
  // A landscape query's pages are at their full height: decoded at least at
  // the registered pages' long side there, so that the wide description
  // (ExtractQueryFeatures) sees them at their registered scale.
  const bool landscape = pixels.cols >= pixels.rows * options_.wide_query_aspect;
  const int min_short_side =
      landscape && options_.wide_query_keypoints > 0
          ? std::max(options_.local_min_short_side, options_.wide_query_min_short_side)
          : options_.local_min_short_side;
  Result<cv::Mat> gray = DecodeForLocal(pixels, encoded, limits_, min_short_side);
  if (!gray.ok()) {
    outcome.local_status = gray.status();
    return;
  }
  const double ms_decode = MsSince(t_start);

  // The cascade: a cheap description of the same pixels, gated and checked;
  // the full stage runs only when it finds a consensus. (The pixels PDQ
  // decoded are too small: JPEGs are decoded at 1/2-1/8 scale for PDQ, and
  // typeset pages described from them lose their glyph-scale keypoints.)
  std::string cascade_trace;
  if (options_.cascade.enabled && pdq_hits.empty() && !options_.local_mirrored) {
    const auto t_cascade = std::chrono::steady_clock::now();
    outcome.cascade_ran = true;
    outcome.cascade_inliers = 0;
    Result<fingerprint::LocalFeatures> small = ExtractCascadeFeatures(*gray, options_.cascade);
    std::string units;
    int keypoints = 0;
    if (small.ok() && small->size() > 0) {
      keypoints = small->size();
      const fingerprint::QuantisedQuery sq = fingerprint::QuantiseQuery(
          *small, vocabulary, options_.gate_assignment, options_.top_assignment);
      InvertedFile::GateOptions gate_options;
      gate_options.assignment = options_.gate_assignment;
      gate_options.max_word_fraction = options_.max_word_fraction;
      for (const InvertedFile::Candidate& c :
           local_index_->Score(sq, options_.cascade.candidates, 0.0f, gate_options)) {
        std::unique_ptr<fingerprint::QuantisedFeatures> ref = local_index_->Features(c.unit_id);
        if (!ref || ref->size() == 0) continue;
        const fingerprint::Verification v =
            fingerprint::VerifyQuantised(sq, *ref, options_.quantised_match, cheap);
        outcome.cascade_inliers = std::max(outcome.cascade_inliers, v.inliers);
        if (!options_.local_trace_path.empty()) {
          units += (units.empty() ? "" : ",") + std::string("{\"unit\":") +
                   std::to_string(c.unit_id) + ",\"score\":" + std::to_string(c.score) +
                   ",\"inliers\":" + std::to_string(v.inliers) + "}";
        }
        // Once the threshold is met, the rest cannot change the decision.
        if (options_.cascade.min_inliers > 0 &&
            outcome.cascade_inliers >= options_.cascade.min_inliers) {
          break;
        }
      }
    }
    // A failed cheap extraction decides nothing: the full stage runs.
    outcome.cascade_stopped = small.ok() && outcome.cascade_inliers < options_.cascade.min_inliers;
    cascade_trace = ",\"cascade\":{\"ms\":" + std::to_string(MsSince(t_cascade)) +
                    ",\"keypoints\":" + std::to_string(keypoints) +
                    ",\"inliers\":" + std::to_string(outcome.cascade_inliers) +
                    ",\"stopped\":" + (outcome.cascade_stopped ? "true" : "false") +
                    ",\"candidates\":[" + units + "]}";
    if (outcome.cascade_stopped) {
      WriteTrace(encoded, 0, ms_decode, 0, 0, 0, "", cascade_trace);
      return;
    }
  }

  auto t_stage = std::chrono::steady_clock::now();
  Result<fingerprint::LocalFeatures> query = ExtractQueryFeatures(*gray, false, options_);
  if (!query.ok()) {
    outcome.local_status = query.status();
    return;
  }
  // Mirrored features for every query under RobustOptions::local_mirrored,
  // else only where PDQ cannot stand for the mirror (ORB is not
  // mirror-invariant): a page whose PDQ candidates include a reflection (its
  // verification needs them), and under mirror_low_quality a page whose PDQ
  // quality is too low for any PDQ candidate. Unrelated pages rarely pay.
  bool describe_mirrored =
      options_.local_mirrored || (options_.mirror_low_quality && hints.low_quality);
  for (const RobustHit& hit : pdq_hits) describe_mirrored |= IsReflection(hit.variant);
  std::optional<fingerprint::LocalFeatures> mirrored;
  if (describe_mirrored) {
    Result<fingerprint::LocalFeatures> m = ExtractQueryFeatures(*gray, true, options_);
    if (m.ok()) mirrored = std::move(m).value();
  }
  bool box_described = false;
  if (hints.page_box && options_.box_query_max_fraction > 0 &&
      std::max(hints.page_box->width, hints.page_box->height) <=
          options_.box_query_max_fraction * std::max(query->page_width, query->page_height)) {
    // A failure here (a re-decode refused by the limits) leaves the query as
    // it was: the whole image is still described.
    Result<PageBoxPixels> box = CutPageBox(pixels, encoded, limits_, *gray, *hints.page_box,
                                           options_.features.working_long_side);
    if (box.ok()) {
      AddPageBoxFeatures(*box, false, options_.features, *query);
      if (mirrored) AddPageBoxFeatures(*box, true, options_.features, *mirrored);
      box_described = true;
    }
  }
  const double ms_extract = MsSince(t_stage);

  LocalTimes times;
  std::string trace;
  outcome.hits =
      GateAndVerify(*query, mirrored ? &*mirrored : nullptr, *gray, pdq_hits, times, trace);

  // The second chance (RobustOptions::content_query_max_fraction): nothing
  // accepted, and the page's content, padded, is materially smaller than the
  // image. The content is described alone at the registered pages' scale and
  // verified afresh; its keypoints lie in the whole query's normalised frame,
  // so every homography, query region and coverage is the whole query's.
  std::string second_trace;
  if (outcome.hits.empty() && !box_described && hints.content &&
      options_.content_query_max_fraction > 0) {
    const auto t_second = std::chrono::steady_clock::now();
    const cv::Rect2d& c = *hints.content;
    const double pad = options_.content_query_pad * std::max(c.width, c.height);
    const cv::Rect2d padded =
        cv::Rect2d(c.x - pad, c.y - pad, c.width + 2 * pad, c.height + 2 * pad) &
        cv::Rect2d(0, 0, query->page_width, query->page_height);
    if (std::max(padded.width, padded.height) <=
        options_.content_query_max_fraction * std::max(query->page_width, query->page_height)) {
      Result<PageBoxPixels> box =
          CutPageBox(pixels, encoded, limits_, *gray, padded, options_.features.working_long_side);
      if (box.ok()) {
        fingerprint::LocalFeatures content = EmptyFrameOf(*query);
        AddPageBoxFeatures(*box, false, options_.features, content);
        std::optional<fingerprint::LocalFeatures> content_mirrored;
        if (mirrored) {
          content_mirrored = EmptyFrameOf(*mirrored);
          AddPageBoxFeatures(*box, true, options_.features, *content_mirrored);
        }
        const double ms_describe = MsSince(t_second);
        std::string candidates;
        if (content.size() > 0) {
          outcome.hits = GateAndVerify(content, content_mirrored ? &*content_mirrored : nullptr,
                                       *gray, pdq_hits, times, candidates);
          NameLocalView(outcome.hits, "trimmed");
        }
        if (!options_.local_trace_path.empty()) {
          second_trace = ",\"second_chance\":{\"ms\":" + std::to_string(MsSince(t_second)) +
                         ",\"ms_describe\":" + std::to_string(ms_describe) +
                         ",\"keypoints\":" + std::to_string(content.size()) + ",\"scale\":" +
                         std::to_string(std::max(query->page_width, query->page_height) /
                                        std::max(padded.width, padded.height)) +
                         ",\"candidates\":[" + candidates + "]}";
        }
      }
    }
  }
  // The zoomed-out looks (RobustOptions::crop_zooms): nothing accepted yet.
  // Their keypoints lie in the whole query's normalised frame, as the first
  // pass's do.
  std::string zoom_trace;
  // The looks' evidence bar (RobustOptions::crop_zoom_min_grid_cells, and
  // crop_zoom_min_inliers where `by_inliers`): a match under it is dropped
  // unless the photometric check passes it (crop_zoom_appearance), which then
  // is what accepted it (Verification::by_appearance, in its evidence).
  auto hold_to_look_bar = [&](std::vector<RobustHit>& hits, bool by_inliers) {
    auto under = [&](const RobustHit& hit) {
      return hit.inliers > 0 && hit.verification.grid_cells < options_.crop_zoom_min_grid_cells &&
             (!by_inliers || hit.inliers < options_.crop_zoom_min_inliers);
    };
    auto looks_like_its_page = [&](const RobustHit& hit) {
      return options_.crop_zoom_appearance &&
             AppearancePasses(hit.verification.appearance, options_);
    };
    EraseHits(hits, [&](const RobustHit& hit) { return under(hit) && !looks_like_its_page(hit); });
    auto mark = [&](RobustHit& hit) {
      if (under(hit)) hit.verification.by_appearance = true;
    };
    for (RobustHit& hit : hits) {
      mark(hit);
      for (RobustHit& twin : hit.twins) mark(twin);
    }
  };
  const int zooms = static_cast<int>(options_.crop_zooms.size());
  const int looks = zooms + (options_.low_contrast_look_threshold > 0 ? 1 : 0);
  for (int i = 0; i < looks && outcome.hits.empty(); ++i) {
    if (crop_zoom == kNoCropZoom || (crop_zoom != kEveryCropZoom && i != crop_zoom % looks))
      continue;
    RobustOptions zoomed = options_;
    double zoom = i < zooms ? options_.crop_zooms[i] : 1.0;
    const bool enlarged = i < zooms && zoom > 1;
    const cv::Mat* look_gray = &*gray;
    cv::Mat larger;
    if (enlarged) {
      // An enlarged look (a page shown small): the query at up to `zoom`
      // times the working size, as far as its pixels reach (re-decoded
      // larger where the local decode is smaller), with keypoints in
      // proportion to the area; the wide description's pass is not repeated.
      const int want_long =
          static_cast<int>(std::lround(options_.features.working_long_side * zoom));
      const int long_side = std::max(gray->cols, gray->rows);
      if (long_side < want_long) {
        const int want_short = static_cast<int>(std::ceil(
            static_cast<double>(want_long) * std::min(gray->cols, gray->rows) / long_side));
        Result<cv::Mat> decoded = DecodeForLocal(pixels, encoded, limits_, want_short);
        if (decoded.ok() && std::max(decoded->cols, decoded->rows) > long_side) {
          larger = std::move(decoded).value();
          look_gray = &larger;
        }
      }
      zoom = std::min(zoom, static_cast<double>(std::max(look_gray->cols, look_gray->rows)) /
                                options_.features.working_long_side);
      if (zoom < options_.enlarged_look_min_zoom) continue;
      zoomed.features.working_long_side =
          static_cast<int>(std::lround(options_.features.working_long_side * zoom));
      zoomed.features.max_keypoints =
          static_cast<int>(std::lround(options_.features.max_keypoints * zoom * zoom));
      zoomed.wide_query_keypoints = 0;
    } else if (i < zooms) {
      zoomed.features.working_long_side =
          static_cast<int>(std::lround(options_.features.working_long_side * zoom));
      if (!(zoom > 0 && zoom < 1) || zoomed.features.working_long_side < 64) continue;
    } else {
      zoomed.features.fast_threshold = std::clamp(options_.low_contrast_look_threshold, 1, 255);
      zoomed.features.min_fast_threshold = zoomed.features.fast_threshold;
    }
    const auto t_zoom = std::chrono::steady_clock::now();
    Result<fingerprint::LocalFeatures> look = ExtractQueryFeatures(*look_gray, false, zoomed);
    if (!look.ok() || look->size() == 0) continue;
    const double ms_describe = MsSince(t_zoom);
    std::string candidates;
    outcome.hits = GateAndVerify(*look, nullptr, *gray, pdq_hits, times, candidates, true);
    const size_t accepted = outcome.hits.size();
    hold_to_look_bar(outcome.hits, i < zooms && !enlarged);
    if (!options_.local_trace_path.empty()) {
      zoom_trace += std::string(zoom_trace.empty() ? "" : ",") +
                    "{\"zoom\":" + std::to_string(zoom) +
                    ",\"fast_threshold\":" + std::to_string(zoomed.features.fast_threshold) +
                    ",\"ms\":" + std::to_string(MsSince(t_zoom)) +
                    ",\"ms_describe\":" + std::to_string(ms_describe) +
                    ",\"keypoints\":" + std::to_string(look->size()) +
                    ",\"dropped\":" + std::to_string(accepted - outcome.hits.size()) +
                    ",\"candidates\":[" + candidates + "]}";
    }
  }
  if (!zoom_trace.empty()) second_trace += ",\"zoomed\":[" + zoom_trace + "]";

  // The unbanded look (RobustOptions::unbanded_look): nothing accepted, and a
  // strip lies across the page's paper (fingerprint::DetectOverlayBand). Its
  // type took the description's keypoints; the page without it is described
  // afresh, in the same frame, and held to the looks' evidence bar.
  if (outcome.hits.empty() && options_.unbanded_look && hints.strip) {
    const auto t_unbanded = std::chrono::steady_clock::now();
    const cv::Mat filled = fingerprint::FillOverlayBand(
        *gray,
        WholeRows(hints.strip->first * gray->rows, hints.strip->second * gray->rows, gray->rows));
    Result<fingerprint::LocalFeatures> look = ExtractQueryFeatures(filled, false, options_);
    if (look.ok() && look->size() > 0) {
      const double ms_describe = MsSince(t_unbanded);
      std::string candidates;
      outcome.hits = GateAndVerify(*look, nullptr, filled, pdq_hits, times, candidates, true);
      hold_to_look_bar(outcome.hits, true);
      NameLocalView(outcome.hits, "unbanded");
      if (!options_.local_trace_path.empty()) {
        second_trace += ",\"unbanded\":{\"ms\":" + std::to_string(MsSince(t_unbanded)) +
                        ",\"ms_describe\":" + std::to_string(ms_describe) +
                        ",\"keypoints\":" + std::to_string(look->size()) + ",\"candidates\":[" +
                        candidates + "]}";
      }
    }
  }

  // The other page of a spread (RobustOptions::other_page_min_width): one page
  // accepted, and beside it room for another.
  if (outcome.hits.size() == 1 && options_.other_page_min_width > 0) {
    const cv::Rect2d& explained = outcome.hits[0].query_region;
    const double width = query->page_width, height = query->page_height;
    const double left = explained.x, right = width - (explained.x + explained.width);
    const bool on_left = left >= right;  // the side with more room
    if (std::max(left, right) >= options_.other_page_min_width * height) {
      const auto t_other = std::chrono::steady_clock::now();
      const double overlap = options_.other_page_overlap * width;
      const cv::Rect2d rest = on_left ? cv::Rect2d(0, 0, std::min(width, left + overlap), height)
                                      : cv::Rect2d(std::max(0.0, width - right - overlap), 0,
                                                   std::min(width, right + overlap), height);
      Result<PageBoxPixels> box =
          CutPageBox(pixels, encoded, limits_, *gray, rest, options_.features.working_long_side);
      if (box.ok()) {
        fingerprint::LocalFeatures other = EmptyFrameOf(*query);
        AddPageBoxFeatures(*box, false, options_.features, other);
        const double ms_describe = MsSince(t_other);
        std::string candidates;
        if (other.size() > 0) {
          std::vector<RobustHit> hits = outcome.hits;
          std::vector<RobustHit> found =
              GateAndVerify(other, nullptr, *gray, pdq_hits, times, candidates);
          NameLocalView(found, on_left ? "left" : "right");
          for (RobustHit& hit : found) hits.push_back(std::move(hit));
          outcome.hits = NonOverlapping(hits);
        }
        if (!options_.local_trace_path.empty()) {
          second_trace += ",\"other_page\":{\"ms\":" + std::to_string(MsSince(t_other)) +
                          ",\"ms_describe\":" + std::to_string(ms_describe) +
                          ",\"keypoints\":" + std::to_string(other.size()) + ",\"side\":\"" +
                          (on_left ? "left" : "right") + "\",\"candidates\":[" + candidates + "]}";
        }
      }
    }
  }
  WriteTrace(encoded, query->size(), ms_decode, ms_extract, times.gate, times.verify, trace,
             cascade_trace + second_trace);
}

fingerprint::PageThumbnail RobustMatcher::ThumbnailOf(int64_t unit_id) {
  std::lock_guard<std::mutex> lock(catalog_mutex_);
  std::optional<fingerprint::QuantisedFeatures> f = StoredQuantised(store_.catalog(), unit_id);
  return f ? std::move(f->thumbnail) : fingerprint::PageThumbnail{};
}

fingerprint::ColourSignature RobustMatcher::ColourOf(int64_t unit_id) {
  std::lock_guard<std::mutex> lock(catalog_mutex_);
  std::optional<fingerprint::QuantisedFeatures> f = StoredQuantised(store_.catalog(), unit_id);
  return f ? f->colour : fingerprint::ColourSignature{};
}

void RobustMatcher::CheckColour(const cv::Mat& pixels, const ingest::EncodedPage& encoded,
                                std::vector<RobustHit>& hits) {
  if (!options_.colour_check || hits.empty()) return;
  std::map<int64_t, fingerprint::ColourSignature> registered;
  auto registered_of = [&](int64_t unit) -> const fingerprint::ColourSignature& {
    auto [it, inserted] = registered.try_emplace(unit);
    if (inserted) it->second = ColourOf(unit);
    return it->second;
  };
  // The query in colour, decoded on the first hit whose registered page has
  // colour; a gray or undecodable query is not checked.
  std::optional<cv::Mat> rgb;
  // Returns false when the hit is to be dropped.
  auto check = [&](RobustHit& hit) {
    const fingerprint::ColourSignature& ref = registered_of(hit.unit_id);
    if (!ref.measured || ref.chromatic < options_.colour_min_chromatic) return true;
    if (!rgb) rgb = ColourPixels(pixels, encoded, limits_);
    if (rgb->empty() || rgb->channels() != 3) return true;
    const double long_side = std::max(rgb->cols, rgb->rows);
    const cv::Rect2d& r = hit.query_region;
    const cv::Rect region(static_cast<int>(std::floor(r.x * long_side)),
                          static_cast<int>(std::floor(r.y * long_side)),
                          static_cast<int>(std::ceil(r.width * long_side)),
                          static_cast<int>(std::ceil(r.height * long_side)));
    const fingerprint::ColourComparison c = fingerprint::CompareColour(
        fingerprint::MakeColourSignature(*rgb, region), ref, options_.colour_min_chromatic);
    if (!c.measured) return true;
    hit.colour_disagreement = c.disagreement;
    if (c.disagreement <= options_.colour_max_disagreement) return true;
    // A second look where the suspect's paper is tinted (a colour cast, a
    // yellowed scan): its colours white-balanced on that paper. It can only
    // keep a hit; where balancing leaves too little colour to compare, the
    // first comparison stands.
    std::optional<cv::Mat> balanced = fingerprint::BalancedOnPaper(*rgb, region);
    if (!balanced) return false;
    const fingerprint::ColourComparison b = fingerprint::CompareColour(
        fingerprint::MakeColourSignature(*balanced), ref, options_.colour_min_chromatic);
    if (!b.measured || b.disagreement > options_.colour_max_disagreement) return false;
    hit.colour_disagreement = b.disagreement;
    return true;
  };
  for (RobustHit& hit : hits) std::erase_if(hit.twins, [&](RobustHit& t) { return !check(t); });
  // A dropped hit's twins (the same picture in other works) stand on their
  // own check.
  std::vector<RobustHit> kept;
  for (RobustHit& hit : hits) {
    if (check(hit)) {
      kept.push_back(std::move(hit));
      continue;
    }
    for (RobustHit& twin : hit.twins) {
      twin.twin_of = 0;
      twin.twin_bits = -1;
      kept.push_back(std::move(twin));
    }
  }
  hits = std::move(kept);
}

std::vector<RobustHit> RobustMatcher::GateAndVerify(const fingerprint::LocalFeatures& query,
                                                    const fingerprint::LocalFeatures* mirrored,
                                                    const cv::Mat& query_gray,
                                                    const std::vector<RobustHit>& pdq_hits,
                                                    LocalTimes& times, std::string& trace,
                                                    bool look) {
  // Every candidate is first verified with a tenth of the RANSAC iterations
  // (see the verification loop below).
  fingerprint::VerifyOptions cheap = options_.verify;
  cheap.ransac_iterations = std::max(1, options_.verify.ransac_iterations / 10);
  // Candidates: the pages the inverted file lets through, and every PDQ hit
  // within the radius.
  const auto t_stage = std::chrono::steady_clock::now();
  const fingerprint::VisualVocabulary& vocabulary = fingerprint::VisualVocabulary::BuiltIn();
  const fingerprint::QuantisedQuery q = fingerprint::QuantiseQuery(
      query, vocabulary, options_.multiple_assignment, options_.top_assignment);
  std::optional<fingerprint::QuantisedQuery> qm;
  if (mirrored) {
    qm = fingerprint::QuantiseQuery(*mirrored, vocabulary, options_.multiple_assignment,
                                    options_.top_assignment);
  }
  std::vector<int64_t> candidates;
  std::map<int64_t, InvertedFile::Candidate> gate;
  std::set<int64_t> seen;
  auto add = [&](int64_t unit) {
    if (seen.insert(unit).second) candidates.push_back(unit);
  };
  for (const RobustHit& hit : pdq_hits) add(hit.unit_id);
  const fingerprint::QuantisedQuery* mirrored_words = qm ? &*qm : nullptr;
  for (const fingerprint::QuantisedQuery* query_words : {&q, mirrored_words}) {
    if (query_words == nullptr) continue;
    InvertedFile::GateOptions gate_options;
    gate_options.assignment = options_.gate_assignment;
    gate_options.max_word_fraction = options_.max_word_fraction;
    for (const InvertedFile::Candidate& c : local_index_->Score(
             *query_words, options_.max_local_candidates, options_.min_gate_score, gate_options)) {
      auto [it, inserted] = gate.try_emplace(c.unit_id, c);
      if (!inserted && c.score > it->second.score) it->second = c;
      add(c.unit_id);
    }
  }

  times.gate += MsSince(t_stage);
  const auto t_verify = std::chrono::steady_clock::now();

  std::vector<RobustHit> verified;
  std::vector<int64_t> rejected;                      // candidates verified, not accepted
  std::vector<cv::Point2f> query_points, ref_points;  // reused across candidates
  // Registered pages' features fetched for this query: candidates and the
  // siblings compared for boilerplate.
  std::map<int64_t, std::unique_ptr<fingerprint::QuantisedFeatures>> fetched;
  auto features_of = [&](int64_t unit) -> const fingerprint::QuantisedFeatures* {
    auto [it, inserted] = fetched.try_emplace(unit);
    if (inserted) it->second = local_index_->Features(unit);
    return it->second.get();
  };
  std::map<int64_t, fingerprint::PageThumbnail> thumbnails;
  auto thumbnail_of = [&](int64_t unit) -> const fingerprint::PageThumbnail& {
    auto [it, inserted] = thumbnails.try_emplace(unit);
    if (inserted) it->second = ThumbnailOf(unit);
    return it->second;
  };
  // Positional stop words (RobustOptions::boilerplate): the verification of
  // an accepted candidate on its keypoints that are not layout shared with
  // its siblings, in the same frame as the acceptance (the content frame when
  // that was used).
  struct Distinct {
    bool accepted = true;
    int marked = 0;
    int inliers = -1;
    std::string trace;  // a JSON member for the candidate's trace entry
  };
  auto check_distinct = [&](int64_t unit, const fingerprint::QuantisedFeatures& ref,
                            const fingerprint::QuantisedQuery& words, bool content_frame) {
    Distinct d;
    if (!options_.boilerplate.enabled) return d;
    std::vector<const fingerprint::QuantisedFeatures*> siblings;
    for (int64_t s : SiblingUnits(*local_index_, unit, candidates, options_.boilerplate)) {
      if (const fingerprint::QuantisedFeatures* f = features_of(s)) siblings.push_back(f);
    }
    const BoilerplateMask mask = MarkBoilerplate(ref, siblings, options_.boilerplate);
    d.marked = mask.count;
    fingerprint::Verification v;
    if (mask.count > 0) {  // else nothing to drop: the acceptance stands
      const cv::Rect2f box = ContentBox(ref);
      v = VerifyWithoutBoilerplate(words, ref, mask, options_.quantised_match, options_.verify,
                                   content_frame ? &box : nullptr);
      d.accepted = HoldsWithoutBoilerplate(v, options_.verify);
      d.inliers = v.inliers;
    }
    if (!options_.local_trace_path.empty()) {
      d.trace = ",\"boilerplate\":{\"siblings\":" + std::to_string(mask.siblings_compared) +
                ",\"duplicates\":" + std::to_string(mask.duplicates) +
                ",\"marked\":" + std::to_string(mask.count) +
                ",\"keypoints\":" + std::to_string(ref.size()) +
                ",\"inliers\":" + std::to_string(d.inliers) +
                ",\"coverage\":" + std::to_string(v.coverage) +
                ",\"cells\":" + std::to_string(v.grid_cells) + ",\"rejected_by\":\"" +
                v.rejected_by + "\",\"accepted\":" + (d.accepted ? "true" : "false") + "}";
    }
    return d;
  };
  auto accept = [&](int64_t unit, const fingerprint::Verification& v, bool content_frame,
                    const Distinct& distinct) {
    RobustHit hit;
    hit.unit_id = unit;
    hit.boilerplate_keypoints = options_.boilerplate.enabled ? distinct.marked : -1;
    hit.distinct_inliers = distinct.inliers >= 0 ? distinct.inliers : v.inliers;
    hit.method = "local";
    hit.view = "full";
    hit.inliers = v.inliers;
    hit.coverage = v.coverage;
    hit.mirrored = v.mirrored;
    hit.homography = v.homography;
    hit.verification = v;
    hit.content_frame = content_frame;
    hit.query_region = v.query_region;
    for (const RobustHit& p : pdq_hits) {
      if (p.unit_id == unit) {
        hit.method = "both";
        hit.view = p.view;
        hit.distance = p.distance;
        hit.variant = p.variant;
        hit.blurred = p.blurred;
        hit.view_quality = p.view_quality;
        hit.ref_quality = p.ref_quality;
      }
    }
    verified.push_back(hit);
  };
  for (int64_t unit : candidates) {
    const fingerprint::QuantisedFeatures* ref = features_of(unit);
    if (ref == nullptr || ref->size() == 0) continue;
    // Cheap geometric check first: RANSAC with a tenth of the iterations. A
    // copy's consensus (inlier ratio >= 10%) is found in 200 two-point
    // samples with probability >= 87%; OpenCV stops early on it anyway, while
    // an unrelated page would use every iteration.
    // The correspondences are built once for both RANSACs.
    // `content`: the verification in the registered page's content frame
    // (RobustOptions::content_frame_min_inliers), when it was measured.
    struct Outcome {
      fingerprint::Verification v;
      bool content_frame = false;  // v is the content-frame verification
      std::optional<fingerprint::Verification> content;
    };
    const bool tracing = !options_.local_trace_path.empty();
    auto verify = [&](const fingerprint::QuantisedQuery& words) {
      Outcome o;
      fingerprint::MatchQuantised(words, *ref, options_.quantised_match, &query_points,
                                  &ref_points);
      const cv::Size2f query_page(words.page_width, words.page_height);
      const cv::Size2f ref_page(ref->page_width, ref->page_height);
      fingerprint::Verification& v = o.v;
      v = fingerprint::VerifyCorrespondences(query_points, ref_points, query_page, ref_page, cheap);
      if (!v.accepted && v.inliers >= options_.escalate_inliers) {
        v = fingerprint::VerifyCorrespondences(query_points, ref_points, query_page, ref_page,
                                               options_.verify);
      }
      // A small content on a large blank registered page: the same
      // correspondences, measured against the content. Measured for every
      // sane candidate when tracing (calibration), used only under
      // RobustOptions::content_frame_min_inliers. The homography reported
      // stays query -> registered page.
      const bool eligible = !v.accepted && options_.content_frame_min_inliers > 0 &&
                            v.inliers >= options_.content_frame_min_inliers &&
                            FailedOnlyCoverage(v);
      if (eligible || (tracing && !v.accepted && v.sane)) {
        const cv::Rect2f box = ContentBox(*ref);
        if (box.area() < ref_page.area()) {
          std::vector<cv::Point2f> in_box(ref_points.size());
          for (size_t i = 0; i < ref_points.size(); ++i) in_box[i] = ref_points[i] - box.tl();
          o.content = fingerprint::VerifyCorrespondences(query_points, in_box, query_page,
                                                         box.size(), options_.verify);
          if (eligible && o.content->accepted) {
            fingerprint::Verification c = *o.content;
            const cv::Matx33d shift(1, 0, box.x, 0, 1, box.y, 0, 0, 1);
            c.homography = shift * c.homography;
            v = c;
            o.content_frame = true;
          }
        }
      }
      v.mirrored = words.mirrored;
      // The photometric check (RobustOptions::appearance_min_inliers):
      // measured for every sane candidate with a few inliers when tracing.
      const bool appearance_eligible = !v.accepted && options_.appearance_min_inliers > 0 &&
                                       v.inliers >= options_.appearance_min_inliers &&
                                       FailedOnlyCoverage(v);
      // A look's accepted match under the looks' evidence bar is measured
      // too, for RobustOptions::crop_zoom_appearance.
      const bool under_look_bar = look && v.accepted && options_.crop_zoom_appearance &&
                                  v.grid_cells < options_.crop_zoom_min_grid_cells;
      if (appearance_eligible || under_look_bar || (tracing && v.sane && v.inliers >= 8)) {
        const fingerprint::PageThumbnail& t = thumbnail_of(unit);
        if (!t.empty()) {
          v.appearance =
              fingerprint::CompareAppearance(query_gray, v.homography, v.mirrored, t, ref_page);
        }
        if (appearance_eligible && AppearancePasses(v.appearance, options_)) {
          v.accepted = true;
          v.by_appearance = true;
          v.rejected_by.clear();
        }
      }
      return o;
    };
    Outcome best = verify(q);
    if (qm) {
      Outcome m = verify(*qm);
      if (std::make_pair(m.v.accepted, m.v.inliers) >
          std::make_pair(best.v.accepted, best.v.inliers))
        best = m;
    }
    const fingerprint::Verification& v = best.v;
    const Distinct distinct =
        v.accepted ? check_distinct(unit, *ref, v.mirrored ? *qm : q, best.content_frame)
                   : Distinct{};
    const bool accepted = v.accepted && distinct.accepted;
    if (!options_.local_trace_path.empty()) {
      auto g = gate.find(unit);
      trace +=
          (trace.empty() ? "" : ",") + std::string("{\"unit\":") + std::to_string(unit) +
          ",\"score\":" + std::to_string(g == gate.end() ? -1.0f : g->second.score) +
          ",\"matches\":" + std::to_string(g == gate.end() ? -1 : g->second.matches) +
          ",\"correspondences\":" + std::to_string(v.matches) +
          ",\"inliers\":" + std::to_string(v.inliers) + ",\"sane\":" + (v.sane ? "true" : "false") +
          ",\"coverage\":" + std::to_string(v.coverage) +
          ",\"overlap_coverage\":" + std::to_string(v.overlap_coverage) +
          ",\"cells\":" + std::to_string(v.grid_cells) + ",\"scale\":" + std::to_string(v.scale) +
          ",\"anisotropy\":" + std::to_string(v.anisotropy) +
          ",\"rotation\":" + std::to_string(v.rotation_deg) +
          ",\"perspective\":" + std::to_string(v.perspective) +
          ",\"projective_gain\":" + std::to_string(v.projective_gain) + ",\"model\":\"" + v.model +
          "\"" + ",\"rejected_by\":\"" +
          (v.accepted && !accepted ? std::string("boilerplate") : v.rejected_by) + "\"" +
          ",\"accepted\":" + (accepted ? "true" : "false") +
          ",\"content_frame\":" + (best.content_frame ? "true" : "false") +
          ",\"by_appearance\":" + (v.by_appearance ? "true" : "false") + distinct.trace;
      if (v.appearance.compared > 0) {
        trace += ",\"appearance\":{\"measured\":" +
                 std::string(v.appearance.measured ? "true" : "false") +
                 ",\"correlation\":" + std::to_string(v.appearance.correlation) +
                 ",\"compared\":" + std::to_string(v.appearance.compared) +
                 ",\"contrast\":" + std::to_string(v.appearance.contrast) +
                 ",\"worst_cell\":" + std::to_string(v.appearance.worst_cell) + "}";
      }
      if (best.content) {
        const fingerprint::Verification& c = *best.content;
        trace += ",\"content\":{\"inliers\":" + std::to_string(c.inliers) +
                 ",\"sane\":" + (c.sane ? "true" : "false") +
                 ",\"coverage\":" + std::to_string(c.coverage) +
                 ",\"overlap_coverage\":" + std::to_string(c.overlap_coverage) +
                 ",\"cells\":" + std::to_string(c.grid_cells) + ",\"rejected_by\":\"" +
                 c.rejected_by + "\",\"accepted\":" + (c.accepted ? "true" : "false") + "}";
      }
      trace += "}";
    }
    if (!accepted) {
      rejected.push_back(unit);
      continue;
    }
    accept(unit, v, best.content_frame, distinct);
  }
  // A spread's second page of the same style as the first (dense text in one
  // font): half its correspondences come from the first page's identical
  // glyphs, which keeps its consensus under the cheap RANSAC's escalation.
  // Once a page is accepted, each rejected candidate is verified once more on
  // its correspondences outside the accepted regions, with the full RANSAC
  // and the same acceptance. Only after an acceptance: an unrelated page
  // never pays for it.
  if (!verified.empty() && options_.verify_beside_accepted) {
    std::vector<cv::Rect2d> explained;
    for (const RobustHit& hit : verified) explained.push_back(hit.query_region);
    // The query's keypoints outside the accepted regions, matched afresh: a
    // registered keypoint's one correspondence would otherwise often go to
    // the accepted page's copy of the same glyph.
    const fingerprint::QuantisedQuery beside = KeypointsOutside(q, explained);
    if (beside.size() >= options_.verify.min_inliers) {
      for (int64_t unit : rejected) {
        const fingerprint::QuantisedFeatures* ref = features_of(unit);
        if (ref == nullptr || ref->size() == 0) continue;
        fingerprint::MatchQuantised(beside, *ref, options_.quantised_match, &query_points,
                                    &ref_points);
        if (static_cast<int>(query_points.size()) < options_.verify.min_inliers) continue;
        fingerprint::Verification v = fingerprint::VerifyCorrespondences(
            query_points, ref_points, cv::Size2f(q.page_width, q.page_height),
            cv::Size2f(ref->page_width, ref->page_height), options_.verify);
        const Distinct distinct =
            v.accepted ? check_distinct(unit, *ref, beside, /*content_frame=*/false) : Distinct{};
        const bool accepted = v.accepted && distinct.accepted;
        if (!options_.local_trace_path.empty()) {
          trace += (trace.empty() ? "" : ",") + std::string("{\"unit\":") + std::to_string(unit) +
                   ",\"beside_accepted\":true,\"correspondences\":" +
                   std::to_string(query_points.size()) +
                   ",\"inliers\":" + std::to_string(v.inliers) +
                   ",\"coverage\":" + std::to_string(v.coverage) + ",\"rejected_by\":\"" +
                   (v.accepted && !accepted ? std::string("boilerplate") : v.rejected_by) +
                   "\",\"accepted\":" + (accepted ? "true" : "false") + distinct.trace + "}";
        }
        if (accepted) accept(unit, v, /*content_frame=*/false, distinct);
      }
    }
  }
  times.verify += MsSince(t_verify);
  std::sort(verified.begin(), verified.end(), [](const RobustHit& a, const RobustHit& b) {
    return a.inliers != b.inliers ? a.inliers > b.inliers : a.unit_id < b.unit_id;
  });
  // A page matches one registered page, or two when each explains its own
  // region (a spread of both); and the same picture in other works, each
  // verified on its own.
  std::vector<RobustHit> kept = NonOverlapping(verified);
  AttachTwins(kept, verified, [](const RobustHit& a, const RobustHit& b) {
    return fingerprint::RegionsOverlap(a.query_region, b.query_region);
  });
  return kept;
}

void RobustMatcher::WriteTrace(const ingest::EncodedPage& encoded, int keypoints, double ms_decode,
                               double ms_extract, double ms_gate, double ms_verify,
                               const std::string& candidates, const std::string& cascade) {
  if (options_.local_trace_path.empty()) return;
  std::lock_guard<std::mutex> lock(trace_mutex_);
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(
      std::fopen(options_.local_trace_path.c_str(), "a"), &std::fclose);
  if (f) {
    std::fprintf(f.get(),
                 "{\"query\":\"%016llx\",\"keypoints\":%d,\"ms_decode\":%.2f,"
                 "\"ms_extract\":%.2f,\"ms_gate\":%.2f,\"ms_verify\":%.2f,"
                 "\"candidates\":[%s]%s}\n",
                 static_cast<unsigned long long>(TraceId(encoded)), keypoints, ms_decode,
                 ms_extract, ms_gate, ms_verify, candidates.c_str(), cascade.c_str());
  }
}

}  // namespace kagami::index
