#pragma once

// Validation and conversion shared by the video catalog backends
// (video_store.cc, pg_video_store.cc), private to kagami_index.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kagami/base/status.h"
#include "kagami/index/video_store.h"

namespace kagami::index::internal {

// The checks of VideoCatalog::AddVideoAsset before anything is written
// (frame count, SHA-256, text sizes, frame times and qualities); returns the
// asset's SHA-256 in lower case.
Result<std::string> CheckVideoAsset(const VideoAssetRecord& record, std::string_view what);

// Chromaprint values as stored: 4 bytes each, little-endian.
std::vector<uint8_t> AudioToBlob(const std::vector<uint32_t>& values);
std::vector<uint32_t> AudioFromBlob(const std::vector<uint8_t>& blob);

constexpr std::string_view kAudioAlgorithm = "chromaprint-raw-1";

}  // namespace kagami::index::internal
