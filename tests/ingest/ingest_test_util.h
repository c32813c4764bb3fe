#pragma once

// Fixture builders for the ingest tests: small encoded images and archives
// written with libarchive's write API.

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "kagami/ingest/page_source.h"

namespace kagami::ingest::testing {

using Bytes = std::vector<unsigned char>;

// A small page whose pixels depend on `label`: gray paper, a dark block and the label text.
inline cv::Mat LabelledPage(const std::string& label, int width = 96, int height = 128) {
  cv::Mat page(height, width, CV_8UC3, cv::Scalar(235, 235, 235));
  int h = static_cast<int>(std::hash<std::string>{}(label) % 40);
  cv::rectangle(page, cv::Rect(8 + h % 20, 8 + h, width / 3, height / 4), cv::Scalar(20, 20, 20),
                cv::FILLED);
  cv::putText(page, label, cv::Point(4, height - 10), cv::FONT_HERSHEY_SIMPLEX, 0.4,
              cv::Scalar(0, 0, 0), 1);
  return page;
}

inline Bytes Encode(const cv::Mat& image, const std::string& ext, int jpeg_quality = 90) {
  Bytes out;
  std::vector<int> params;
  if (ext == ".jpg") params = {cv::IMWRITE_JPEG_QUALITY, jpeg_quality};
  cv::imencode(ext, image, out, params);
  return out;
}

inline Bytes PagePng(const std::string& label) { return Encode(LabelledPage(label), ".png"); }
inline Bytes PageJpeg(const std::string& label) { return Encode(LabelledPage(label), ".jpg"); }

enum class ArchiveKind { kZip, kZipStored, kSevenZip, kTar, kTarGz };

struct Member {
  std::string name;
  Bytes data;
  bool directory = false;
  uint64_t zeros = 0;  // when non-zero, `data` is ignored and this many zero bytes are streamed
};

struct ArchiveWriteFree {
  void operator()(archive* a) const { archive_write_free(a); }
};

// Writes `members` in the given order. `passphrase` non-empty: ZIP traditional
// encryption (returns false when libarchive lacks it).
inline bool WriteArchive(const std::filesystem::path& path, ArchiveKind kind,
                         const std::vector<Member>& members, const std::string& passphrase = "") {
  std::unique_ptr<archive, ArchiveWriteFree> a(archive_write_new());
  switch (kind) {
    case ArchiveKind::kZip:
    case ArchiveKind::kZipStored:
      archive_write_set_format_zip(a.get());
      if (kind == ArchiveKind::kZipStored) archive_write_zip_set_compression_store(a.get());
      break;
    case ArchiveKind::kSevenZip:
      archive_write_set_format_7zip(a.get());
      break;
    case ArchiveKind::kTar:
      archive_write_set_format_pax_restricted(a.get());
      break;
    case ArchiveKind::kTarGz:
      archive_write_set_format_pax_restricted(a.get());
      archive_write_add_filter_gzip(a.get());
      break;
  }
  if (!passphrase.empty()) {
    if (archive_write_set_options(a.get(), "zip:encryption=zipcrypt") != ARCHIVE_OK) return false;
    if (archive_write_set_passphrase(a.get(), passphrase.c_str()) != ARCHIVE_OK) return false;
  }
  if (archive_write_open_filename(a.get(), path.c_str()) != ARCHIVE_OK) return false;
  for (const Member& m : members) {
    std::unique_ptr<archive_entry, void (*)(archive_entry*)> entry(archive_entry_new(),
                                                                   archive_entry_free);
    archive_entry_set_pathname(entry.get(), m.name.c_str());
    archive_entry_set_mtime(entry.get(), 1700000000, 0);
    if (m.directory) {
      archive_entry_set_filetype(entry.get(), AE_IFDIR);
      archive_entry_set_perm(entry.get(), 0755);
      archive_entry_set_size(entry.get(), 0);
    } else {
      archive_entry_set_filetype(entry.get(), AE_IFREG);
      archive_entry_set_perm(entry.get(), 0644);
      archive_entry_set_size(entry.get(), m.zeros ? static_cast<int64_t>(m.zeros)
                                                  : static_cast<int64_t>(m.data.size()));
    }
    if (archive_write_header(a.get(), entry.get()) != ARCHIVE_OK) return false;
    if (m.zeros) {
      std::vector<unsigned char> chunk(1 << 20, 0);
      for (uint64_t left = m.zeros; left > 0;) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(left, chunk.size()));
        if (archive_write_data(a.get(), chunk.data(), n) != static_cast<la_ssize_t>(n)) {
          return false;
        }
        left -= n;
      }
    } else if (!m.data.empty()) {
      if (archive_write_data(a.get(), m.data.data(), m.data.size()) !=
          static_cast<la_ssize_t>(m.data.size())) {
        return false;
      }
    }
  }
  return archive_write_close(a.get()) == ARCHIVE_OK;
}

inline Bytes ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline AssetFile Asset(const std::filesystem::path& path, MediaKind kind = MediaKind::kUnknown) {
  AssetFile asset;
  asset.path = path;
  asset.kind = kind;
  std::error_code ec;
  asset.size_bytes = std::filesystem::file_size(path, ec);
  return asset;
}

// Every page of an asset (OpenAsset must succeed).
inline std::vector<EncodedPage> ReadAllPages(const std::filesystem::path& path,
                                             const IngestLimits& limits = {}) {
  Result<std::unique_ptr<PageSource>> source = OpenAsset(Asset(path), limits);
  EXPECT_TRUE(source.ok()) << source.status().ToString();
  std::vector<EncodedPage> pages;
  if (!source.ok()) return pages;
  for (int guard = 0; guard < 100000; ++guard) {
    std::optional<EncodedPage> page = (*source)->Next();
    if (!page) break;
    pages.push_back(std::move(*page));
  }
  return pages;
}

inline std::vector<std::string> MemberNames(const std::vector<EncodedPage>& pages) {
  std::vector<std::string> names;
  for (const EncodedPage& page : pages) names.push_back(page.member);
  return names;
}

}  // namespace kagami::ingest::testing
