#pragma once

#include <cstdint>

namespace kagami::ingest {

// Safety bounds for hostile input. Every reader checks them before allocating;
// exceeding one yields a kResourceExhausted Status for that file or member and
// the batch goes on.
struct IngestLimits {
  uint64_t max_file_bytes = 8ull << 30;     // one input file on disk (bytes)
  uint64_t max_entry_bytes = 256ull << 20;  // one member's uncompressed size (bytes)
  uint64_t max_total_bytes = 4ull << 30;    // all members of one archive, uncompressed
  uint32_t max_entries = 20000;             // members listed in one archive
  double max_compression_ratio = 200.0;     // uncompressed / compressed, per member
  uint64_t max_pixels = 150'000'000;        // width * height of one decoded image
  uint32_t max_dimension = 65535;           // either side of an image (pixels)
  int max_nesting = 1;                      // archives inside archives, levels
  uint32_t max_pages = 5000;                // pages of one PDF or EPUB
  uint32_t max_folder_files = 100000;       // files enumerated under one folder input
  int max_folder_depth = 16;                // directory recursion depth
  double pdf_render_dpi = 100.0;            // PDF pages are rendered at this resolution
  uint32_t pdf_max_side = 4096;             // a PDF page larger than this (pixels, longer side) at
                                            // pdf_render_dpi is rendered at the DPI that fits it
  double pdf_page_deadline_s = 20.0;        // rendering one PDF page (seconds, wall clock)
};

}  // namespace kagami::ingest
