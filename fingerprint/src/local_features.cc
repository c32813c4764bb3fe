#include "kagami/fingerprint/local_features.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <opencv2/features2d.hpp>
#include <opencv2/imgproc.hpp>
#include <string>

namespace kagami::fingerprint {
namespace {

constexpr uint8_t kMagic[3] = {'K', 'L', 'F'};
constexpr uint8_t kVersion = 1;
constexpr size_t kHeaderBytes = 3 + 1 + 1 + 1 + 2 + 4 + 4 + 4;  // 20
constexpr uint8_t kFlagMirrored = 1;

void PutU16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v));
  out.push_back(static_cast<uint8_t>(v >> 8));
}
void PutU32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void PutF32(std::vector<uint8_t>& out, float f) {
  uint32_t v;
  std::memcpy(&v, &f, 4);
  PutU32(out, v);
}
uint16_t GetU16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t GetU32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
float GetF32(const uint8_t* p) {
  const uint32_t v = GetU32(p);
  float f;
  std::memcpy(&f, &v, 4);
  return f;
}

uint16_t Quantise(float v, float extent) {
  const double q = std::round(std::clamp(v / extent, 0.0f, 1.0f) * 65535.0);
  return static_cast<uint16_t>(q);
}

// Keeps at most `max_keypoints`, spread over a grid: each cell first gets an
// equal share of its strongest points, then the leftovers go by response.
std::vector<cv::KeyPoint> Bucket(std::vector<cv::KeyPoint> kps, cv::Size size, int grid,
                                 int max_keypoints) {
  if (static_cast<int>(kps.size()) <= max_keypoints) return kps;
  std::stable_sort(kps.begin(), kps.end(), [](const cv::KeyPoint& a, const cv::KeyPoint& b) {
    return a.response > b.response;
  });
  grid = std::max(1, grid);
  const int cells = grid * grid;
  const int quota = std::max(1, max_keypoints / cells);
  std::vector<int> per_cell(cells, 0);
  std::vector<bool> taken(kps.size(), false);
  std::vector<cv::KeyPoint> kept;
  kept.reserve(max_keypoints);
  for (size_t i = 0; i < kps.size() && static_cast<int>(kept.size()) < max_keypoints; ++i) {
    const int cx = std::clamp(static_cast<int>(kps[i].pt.x * grid / size.width), 0, grid - 1);
    const int cy = std::clamp(static_cast<int>(kps[i].pt.y * grid / size.height), 0, grid - 1);
    if (per_cell[cy * grid + cx] < quota) {
      ++per_cell[cy * grid + cx];
      taken[i] = true;
      kept.push_back(kps[i]);
    }
  }
  for (size_t i = 0; i < kps.size() && static_cast<int>(kept.size()) < max_keypoints; ++i) {
    if (!taken[i]) kept.push_back(kps[i]);
  }
  return kept;
}

cv::Ptr<cv::Feature2D> MakeDetector(FeatureKind kind, int max_keypoints, int pyramid_levels,
                                    int fast_threshold) {
  switch (kind) {
    case FeatureKind::kOrb:
      // Over-detect, then bucket: ORB's own retention clusters on dense ink.
      return cv::ORB::create(std::min(kMaxLocalKeypoints, 4 * max_keypoints), 1.2f, pyramid_levels,
                             31, 0, 2, cv::ORB::HARRIS_SCORE, 31, fast_threshold);
    case FeatureKind::kAkaze:
      return cv::AKAZE::create(cv::AKAZE::DESCRIPTOR_MLDB, 0, 3, 0.001f, 4, 4,
                               cv::KAZE::DIFF_PM_G2);
    case FeatureKind::kSift:
      return cv::SIFT::create(std::min(kMaxLocalKeypoints, 4 * max_keypoints));
  }
  return nullptr;
}

}  // namespace

int DescriptorBytes(FeatureKind kind) {
  switch (kind) {
    case FeatureKind::kOrb:
      return 32;
    case FeatureKind::kAkaze:
      return 61;
    case FeatureKind::kSift:
      return 128;
  }
  return 0;
}

bool IsBinary(FeatureKind kind) { return kind == FeatureKind::kOrb || kind == FeatureKind::kAkaze; }

std::vector<uint8_t> LocalFeatures::Serialize() const {
  const int bytes = DescriptorBytes(kind);
  assert(descriptors.rows == size() && (size() == 0 || descriptors.cols == bytes));
  std::vector<uint8_t> out;
  out.reserve(kHeaderBytes + points.size() * (4 + bytes));
  out.insert(out.end(), kMagic, kMagic + 3);
  out.push_back(kVersion);
  out.push_back(static_cast<uint8_t>(kind));
  out.push_back(mirrored ? kFlagMirrored : 0);
  PutU16(out, static_cast<uint16_t>(bytes));
  PutU32(out, static_cast<uint32_t>(points.size()));
  PutF32(out, page_width);
  PutF32(out, page_height);
  for (const cv::Point2f& p : points) {
    PutU16(out, Quantise(p.x, page_width));
    PutU16(out, Quantise(p.y, page_height));
  }
  for (int r = 0; r < descriptors.rows; ++r) {
    const uint8_t* row = descriptors.ptr<uint8_t>(r);
    out.insert(out.end(), row, row + bytes);
  }
  return out;
}

Result<LocalFeatures> LocalFeatures::Deserialize(std::span<const uint8_t> blob) {
  if (blob.size() < kHeaderBytes || std::memcmp(blob.data(), kMagic, 3) != 0) {
    return Status::Corrupt("local features blob: missing 'KLF' header (" +
                           std::to_string(blob.size()) + " bytes)");
  }
  const uint8_t* p = blob.data();
  if (p[3] != kVersion) {
    return Status::Corrupt("local features blob: unsupported version " + std::to_string(p[3]));
  }
  LocalFeatures f;
  const uint8_t kind = p[4];
  if (kind < 1 || kind > 3)
    return Status::Corrupt("local features blob: unknown kind " + std::to_string(kind));
  f.kind = static_cast<FeatureKind>(kind);
  if ((p[5] & ~kFlagMirrored) != 0) return Status::Corrupt("local features blob: unknown flags");
  f.mirrored = (p[5] & kFlagMirrored) != 0;
  const int bytes = GetU16(p + 6);
  if (bytes != DescriptorBytes(f.kind)) {
    return Status::Corrupt("local features blob: descriptor size " + std::to_string(bytes) +
                           " does not match its kind");
  }
  const uint32_t count = GetU32(p + 8);
  if (count > static_cast<uint32_t>(kMaxLocalKeypoints)) {
    return Status::Corrupt("local features blob: " + std::to_string(count) +
                           " keypoints exceeds the limit of " + std::to_string(kMaxLocalKeypoints));
  }
  f.page_width = GetF32(p + 12);
  f.page_height = GetF32(p + 16);
  const auto valid_extent = [](float v) { return std::isfinite(v) && v > 0.0f && v <= 1.0f; };
  if (!valid_extent(f.page_width) || !valid_extent(f.page_height)) {
    return Status::Corrupt("local features blob: page size out of range (0, 1]");
  }
  const size_t expected =
      kHeaderBytes + static_cast<size_t>(count) * (4 + static_cast<size_t>(bytes));
  if (blob.size() != expected) {
    return Status::Corrupt("local features blob: " + std::to_string(blob.size()) +
                           " bytes, expected " + std::to_string(expected) + " for " +
                           std::to_string(count) + " keypoints");
  }
  const uint8_t* q = p + kHeaderBytes;
  f.points.resize(count);
  for (uint32_t i = 0; i < count; ++i, q += 4) {
    f.points[i] = cv::Point2f(static_cast<float>(GetU16(q) / 65535.0 * f.page_width),
                              static_cast<float>(GetU16(q + 2) / 65535.0 * f.page_height));
  }
  f.descriptors = cv::Mat(static_cast<int>(count), bytes, CV_8UC1);
  if (count > 0) std::memcpy(f.descriptors.data, q, static_cast<size_t>(count) * bytes);
  return f;
}

Result<LocalFeatures> ExtractLocalFeatures(const cv::Mat& gray, bool mirrored,
                                           const LocalFeatureOptions& options) {
  if (gray.type() != CV_8UC1 || gray.cols < 16 || gray.rows < 16) {
    return Status::InvalidArgument(
        "local features need an 8-bit gray image of at least 16x16, got " +
        std::to_string(gray.cols) + "x" + std::to_string(gray.rows));
  }
  if (options.max_keypoints < 1 || options.max_keypoints > kMaxLocalKeypoints ||
      options.working_long_side < 64 || options.working_long_side > 8192 ||
      options.pyramid_levels < 1 || options.pyramid_levels > 8 || options.fast_threshold < 1 ||
      options.fast_threshold > 255 || options.min_fast_threshold < 1 ||
      options.min_fast_threshold > options.fast_threshold) {
    return Status::InvalidArgument(
        "local features: max_keypoints must be 1..8192, working_long_side 64..8192, "
        "pyramid_levels 1..8 and 1 <= min_fast_threshold <= fast_threshold <= 255");
  }
  try {
    const int long_side = std::max(gray.cols, gray.rows);
    const double scale = static_cast<double>(options.working_long_side) / long_side;
    const cv::Size work_size(std::max(1, static_cast<int>(std::lround(gray.cols * scale))),
                             std::max(1, static_cast<int>(std::lround(gray.rows * scale))));
    cv::Mat work;
    cv::resize(gray, work, work_size, 0, 0, scale < 1.0 ? cv::INTER_AREA : cv::INTER_LINEAR);
    if (mirrored) cv::flip(work, work, 1);

    int threshold = options.fast_threshold;
    cv::Ptr<cv::Feature2D> detector =
        MakeDetector(options.kind, options.max_keypoints, options.pyramid_levels, threshold);
    std::vector<cv::KeyPoint> keypoints;
    detector->detect(work, keypoints);
    // Adaptive FAST threshold: a low-contrast page retries with half the
    // threshold while it has fewer candidates than it keeps.
    while (options.kind == FeatureKind::kOrb &&
           static_cast<int>(keypoints.size()) < options.max_keypoints &&
           threshold > options.min_fast_threshold) {
      threshold = std::max(options.min_fast_threshold, threshold / 2);
      detector =
          MakeDetector(options.kind, options.max_keypoints, options.pyramid_levels, threshold);
      keypoints.clear();
      detector->detect(work, keypoints);
    }
    keypoints = Bucket(std::move(keypoints), work.size(), options.grid, options.max_keypoints);
    cv::Mat descriptors;
    detector->compute(work, keypoints, descriptors);

    LocalFeatures f;
    f.kind = options.kind;
    f.mirrored = mirrored;
    f.fast_threshold = options.kind == FeatureKind::kOrb ? threshold : 0;
    const double work_long = std::max(work.cols, work.rows);
    f.page_width = static_cast<float>(work.cols / work_long);
    f.page_height = static_cast<float>(work.rows / work_long);
    f.points.reserve(keypoints.size());
    for (const cv::KeyPoint& k : keypoints) {
      f.points.emplace_back(
          static_cast<float>(std::clamp(k.pt.x / work_long, 0.0, double(f.page_width))),
          static_cast<float>(std::clamp(k.pt.y / work_long, 0.0, double(f.page_height))));
    }
    const int bytes = DescriptorBytes(options.kind);
    if (keypoints.empty()) {
      f.descriptors = cv::Mat(0, bytes, CV_8UC1);
    } else if (options.kind == FeatureKind::kSift) {
      // SIFT components are already scaled to 0..255 (OpenCV clamps at 0.2 * 512).
      descriptors.convertTo(f.descriptors, CV_8U);
    } else {
      f.descriptors = descriptors;
    }
    assert(f.descriptors.rows == f.size() && f.descriptors.cols == bytes);
    return f;
  } catch (const cv::Exception& e) {
    return Status::Internal(std::string("local feature extraction failed: ") + e.what());
  }
}

}  // namespace kagami::fingerprint
