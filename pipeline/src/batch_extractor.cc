#include "kagami/pipeline/batch_extractor.h"

#include <oneapi/tbb/enumerable_thread_specific.h>
#include <oneapi/tbb/parallel_pipeline.h>
#include <oneapi/tbb/task_arena.h>

#include <exception>
#include <filesystem>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <utility>

#include "kagami/base/sha256.h"
#include "kagami/ingest/memory_source.h"
#include "kagami/ingest/page_source.h"

namespace kagami::pipeline {

using namespace kagami::fingerprint;  // NOLINT: the pipeline drives fingerprint/
namespace {

// Runs `fn` and turns any exception it throws into a Status.
template <typename Fn>
Status Guarded(const char* what, Fn&& fn) {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted(std::string("out of memory ") + what);
  } catch (const std::exception& e) {
    return Status::Internal(std::string(what) + " failed: " + e.what());
  } catch (...) {
    return Status::Internal(std::string(what) + " failed with an unknown exception");
  }
}

// An ordering event delivered to the sink before the page it travels with.
struct Event {
  enum Kind { kBeginAsset, kEndAsset, kEndVolume } kind = kBeginAsset;
  size_t volume = 0;
  size_t asset = 0;
  std::string sha256;
  bool skipped = false;
  Status status;
};

// One token travelling through the pipeline: at most one page, preceded by the
// events that come before it in input order. Events ride along with pages
// rather than taking tokens of their own, so that every token in flight can
// carry a page for the parallel stage (with one image per volume, events
// outnumber pages three to one).
struct Item {
  std::vector<Event> events_before;
  bool has_page = false;
  ingest::EncodedPage encoded;
  PageFingerprint result;
};
using ItemPtr = std::shared_ptr<Item>;

// A page's name within its volume: the member inside a container, prefixed by
// the file's path relative to the folder for a folder volume.
std::string MemberName(const ingest::Volume& volume, size_t asset, const std::string& member) {
  if (!volume.is_folder) return member;
  std::string name =
      volume.assets[asset].path.lexically_relative(std::filesystem::path(volume.source)).string();
  if (name.empty() || name.rfind("..", 0) == 0)
    name = volume.assets[asset].path.filename().string();
  return member.empty() ? name : name + "/" + member;
}

// Produces the item sequence for all volumes; driven by the serial input stage.
class ItemProducer {
 public:
  ItemProducer(const std::vector<ingest::Volume>& volumes, const ExtractOptions& options)
      : volumes_(volumes), options_(options) {}

  // The next page with the events before it, a final item holding only the
  // trailing events, or nullptr when everything has been produced.
  ItemPtr Next() {
    auto item = std::make_shared<Item>();
    while (volume_ < volumes_.size()) {
      if (options_.stop != nullptr && options_.stop->load(std::memory_order_relaxed)) break;
      const ingest::Volume& volume = volumes_[volume_];
      if (!volume.status.ok() || asset_ >= volume.assets.size()) {
        item->events_before.push_back(MakeEvent(Event::kEndVolume));
        ++volume_;
        asset_ = 0;
        page_in_volume_ = 0;
        continue;
      }
      if (!source_ && !asset_open_) {
        Event begin;
        Status opened = Guarded("opening the file", [&] {
          begin = OpenCurrentAsset();
          return Status::Ok();
        });
        if (!opened.ok()) {
          begin = MakeEvent(Event::kBeginAsset);
          asset_open_ = true;
          source_.reset();
          asset_status_ = opened;
        }
        item->events_before.push_back(std::move(begin));
        continue;
      }
      if (source_) {
        std::optional<ingest::EncodedPage> page;
        Status read = Guarded("reading the next page", [&] {
          page = source_->Next();
          return Status::Ok();
        });
        if (!read.ok() && asset_status_.ok()) asset_status_ = read;
        if (page) {
          item->has_page = true;
          item->result.volume = volume_;
          item->result.asset = asset_;
          item->result.member = MemberName(volume, asset_, page->member);
          item->result.page_index = volume.is_folder ? static_cast<int>(asset_) : page_in_volume_;
          item->result.sample_index = volume.sample_offset + item->result.page_index;
          item->result.scale_hint = volume.scale_hint;
          item->encoded = std::move(*page);
          ++page_in_volume_;
          return item;
        }
        source_.reset();
      }
      Event end = MakeEvent(Event::kEndAsset);
      end.status = std::move(asset_status_);
      asset_status_ = Status::Ok();
      item->events_before.push_back(std::move(end));
      asset_open_ = false;
      ++asset_;
    }
    return item->events_before.empty() ? nullptr : item;
  }

 private:
  Event MakeEvent(Event::Kind kind) const {
    Event event;
    event.kind = kind;
    event.volume = volume_;
    event.asset = asset_;
    return event;
  }

  Event OpenCurrentAsset() {
    const ingest::AssetFile& asset = volumes_[volume_].assets[asset_];
    Event begin = MakeEvent(Event::kBeginAsset);
    asset_open_ = true;
    if (options_.sha256) {
      Result<std::string> sha =
          asset.memory
              ? Result<std::string>(kagami::Sha256Hex(asset.memory->data(), asset.memory->size()))
              : kagami::Sha256HexFile(asset.path);
      if (!sha.ok()) {
        asset_status_ = sha.status();
        return begin;
      }
      begin.sha256 = *sha;
      if (options_.skip_asset && options_.skip_asset(volume_, asset_, begin.sha256)) {
        begin.skipped = true;
        return begin;
      }
    }
    Result<std::unique_ptr<ingest::PageSource>> source =
        asset.memory ? ingest::OpenBytes(asset.memory, asset.path.string(), options_.limits)
                     : ingest::OpenAsset(asset, options_.limits);
    if (source.ok()) {
      source_ = std::move(source).value();
    } else {
      asset_status_ = source.status();
    }
    return begin;
  }

  const std::vector<ingest::Volume>& volumes_;
  const ExtractOptions& options_;
  size_t volume_ = 0;
  size_t asset_ = 0;
  int page_in_volume_ = 0;
  bool asset_open_ = false;
  std::unique_ptr<ingest::PageSource> source_;
  Status asset_status_;
};

void HashDecoded(const cv::Mat& pixels, const ExtractOptions& options, PdqHasher& hasher,
                 PageFingerprint& out) {
  out.decoded_width = pixels.cols;
  out.decoded_height = pixels.rows;
  if (options.dihedral) {
    PdqDihedralHashes all = hasher.HashDihedral(pixels);
    out.pdq.hash = all.hashes[kOriginal];
    out.pdq.quality = all.quality;
    out.dihedral = all;
  } else {
    out.pdq = hasher.Hash(pixels);
  }
}

void ProcessPageUnguarded(Item& item, const ExtractOptions& options, PdqHasher& hasher) {
  PageFingerprint& out = item.result;
  if (!item.encoded.status.ok()) {
    out.status = item.encoded.status;
    return;
  }
  cv::Mat pixels = item.encoded.rendered;
  if (pixels.empty()) {
    Result<ingest::DecodedImage> decoded = ingest::DecodeImage(
        item.encoded.bytes.data(), item.encoded.bytes.size(), options.decode, options.limits);
    if (!decoded.ok()) {
      out.status = out.member.empty() ? decoded.status() : decoded.status().WithContext(out.member);
      item.encoded.bytes = {};
      return;
    }
    pixels = std::move(decoded->pixels);
  }
  HashDecoded(pixels, options, hasher, out);
  if (options.analyze) options.analyze(pixels, item.encoded, hasher, out);
  item.encoded.bytes = {};
  item.encoded.rendered.release();
}

// The exception barrier: whatever decoding, hashing or the analyze hook
// (OpenCV, SQLite, FAISS) throws becomes this page's error; the batch goes on.
void ProcessPage(Item& item, const ExtractOptions& options, PdqHasher& hasher) {
  PageFingerprint& out = item.result;
  Status failure;
  try {
    ProcessPageUnguarded(item, options, hasher);
    return;
  } catch (const std::bad_alloc&) {
    failure = Status::ResourceExhausted("out of memory processing the page");
  } catch (const std::exception& e) {
    failure = Status::Internal(std::string("processing the page failed: ") + e.what());
  } catch (...) {
    failure = Status::Internal("processing the page failed with an unknown exception");
  }
  out.status = out.member.empty() ? failure : failure.WithContext(out.member);
  out.annotation.reset();
  item.encoded.bytes = {};
  item.encoded.rendered.release();
}

}  // namespace

void ExtractVolumes(const std::vector<ingest::Volume>& volumes, const ExtractOptions& options,
                    ExtractSink& sink) {
  int threads = options.threads > 0
                    ? options.threads
                    : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  size_t tokens = options.max_tokens > 0 ? options.max_tokens : static_cast<size_t>(2 * threads);

  ItemProducer producer(volumes, options);
  tbb::enumerable_thread_specific<PdqHasher> hashers;
  tbb::task_arena arena(threads);
  arena.execute([&] {
    tbb::parallel_pipeline(
        tokens,
        tbb::make_filter<void, ItemPtr>(tbb::filter_mode::serial_in_order,
                                        [&](tbb::flow_control& fc) -> ItemPtr {
                                          ItemPtr item = producer.Next();
                                          if (!item) fc.stop();
                                          return item;
                                        }) &
            tbb::make_filter<ItemPtr, ItemPtr>(tbb::filter_mode::parallel,
                                               [&](ItemPtr item) -> ItemPtr {
                                                 if (item && item->has_page) {
                                                   ProcessPage(*item, options, hashers.local());
                                                 }
                                                 return item;
                                               }) &
            tbb::make_filter<ItemPtr, void>(tbb::filter_mode::serial_in_order, [&](ItemPtr item) {
              if (!item) return;
              for (Event& event : item->events_before) {
                switch (event.kind) {
                  case Event::kBeginAsset:
                    sink.BeginAsset(event.volume, event.asset, event.sha256, event.skipped);
                    break;
                  case Event::kEndAsset:
                    sink.EndAsset(event.volume, event.asset, event.status);
                    break;
                  case Event::kEndVolume:
                    sink.EndVolume(event.volume);
                    break;
                }
              }
              if (item->has_page) sink.OnPage(std::move(item->result));
            }));
  });
}

}  // namespace kagami::pipeline
