#include "kagami/pipeline/registrar.h"

#include <algorithm>
#include <any>
#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <utility>

#include "kagami/pipeline/video_pipeline.h"

namespace kagami::pipeline {

using namespace kagami::index;  // NOLINT: this module orchestrates index/
namespace {

// What the input can cause: a record over the catalog's limits (a ZIP member
// name over 16 KiB, too many pages). Checked here, before the store is
// touched, so that every AddAsset failure after it is the store's own (I/O,
// disk full, corruption) and not mistaken for bad input.
Status CheckAgainstCatalogLimits(const AssetRecord& asset, const std::vector<UnitRecord>& units) {
  auto too_long = [](const std::string& text, const char* what) {
    return Status::ResourceExhausted(std::string(what) + " is " + std::to_string(text.size()) +
                                     " bytes; the catalog's limit is " +
                                     std::to_string(Catalog::kMaxTextBytes));
  };
  if (asset.path.size() > Catalog::kMaxTextBytes) return too_long(asset.path, "the file path");
  if (units.size() > Catalog::kMaxUnitsPerAsset) {
    return Status::ResourceExhausted(std::to_string(units.size()) +
                                     " pages; the catalog's limit per file is " +
                                     std::to_string(Catalog::kMaxUnitsPerAsset));
  }
  for (const UnitRecord& unit : units) {
    if (unit.member.size() > Catalog::kMaxTextBytes) {
      return too_long(unit.member, "a member name").WithContext(unit.member.substr(0, 64) + "...");
    }
    if (unit.local_features.size() > Catalog::kMaxLocalFeaturesBytes) {
      return Status::ResourceExhausted(unit.member + ": local features over the catalog's limit");
    }
  }
  return Status::Ok();
}

class RegisterSink : public ExtractSink {
 public:
  RegisterSink(Store& store, const Work& work, const std::vector<ingest::Volume>& volumes,
               std::mutex& store_mutex, RegisterSummary& summary, const ProgressFn& progress,
               std::atomic<bool>& stop, int twin_radius)
      : store_(store),
        work_(work),
        twin_radius_(twin_radius),
        volumes_(volumes),
        store_mutex_(store_mutex),
        summary_(summary),
        progress_(progress),
        stop_(stop) {
    progress_state_.volumes_total = volumes.size();
  }

  void BeginAsset(size_t, size_t, const std::string& sha256_hex, bool skipped) override {
    sha256_ = sha256_hex;
    skipped_ = skipped;
    units_.clear();
    failed_pages_ = 0;
  }

  void OnPage(fingerprint::PageFingerprint page) override {
    ++progress_state_.pages_done;
    if (!page.status.ok()) {
      ++failed_pages_;
      summary_.errors.push_back({volumes_[page.volume].source, page.member, page.status});
      return;
    }
    UnitRecord unit;
    unit.page_index = page.page_index;
    unit.member = page.member;
    unit.pdq = page.pdq.hash;
    unit.quality = page.pdq.quality;
    if (auto* extras = std::any_cast<RegisteredPageExtras>(&page.annotation)) {
      if (extras->trimmed) {
        unit.pdq_trimmed = extras->trimmed->hash;
        unit.trimmed_quality = extras->trimmed->quality;
      }
      if (extras->blurred) {
        unit.pdq_blurred = extras->blurred->hash;
        unit.blurred_quality = extras->blurred->quality;
      }
      unit.local_features = std::move(extras->local_features);
      unit.colour = extras->colour;
      if (!extras->local_status.ok()) {
        summary_.errors.push_back({volumes_[page.volume].source, page.member,
                                   extras->local_status.WithContext("local features (page kept)")});
      }
    }
    units_.push_back(std::move(unit));
  }

  void EndAsset(size_t volume, size_t asset, const Status& status) override {
    const ingest::AssetFile& file = volumes_[volume].assets[asset];
    if (!skipped_ && IsBackfill(volume, asset)) {
      if (status.ok() && failed_pages_ == 0) {
        AddMissing(file, BackfillOf(volume, asset));
      } else {
        summary_.errors.push_back(
            {file.path.string(), "",
             (status.ok() ? Status::InvalidArgument("some pages failed (listed above)") : status)
                 .WithContext("registered before the blurred hash or the colour signature; not "
                              "given them this run")});
      }
      NoteOtherWork(file);
    } else if (skipped_) {
      ++summary_.assets_skipped;
      NoteOtherWork(file);
    } else if (!status.ok()) {
      // The file failed part-way (or could not be opened): nothing of it is
      // stored, so the next run reads it again.
      summary_.errors.push_back({file.path.string(), "", status.WithContext("not registered")});
      if (!units_.empty()) ++summary_.assets_incomplete;
    } else if (failed_pages_ > 0) {
      summary_.errors.push_back(
          {file.path.string(), "",
           Status::InvalidArgument(std::to_string(failed_pages_) + " of " +
                                   std::to_string(failed_pages_ + units_.size()) +
                                   " pages failed (listed above); the file is not registered, so "
                                   "a later run retries it")});
      ++summary_.assets_incomplete;
    } else if (!units_.empty()) {
      AddAsset(file);
    }
    units_.clear();
    if (progress_) progress_(progress_state_);
  }

  void EndVolume(size_t volume) override {
    const ingest::Volume& v = volumes_[volume];
    if (!v.status.ok()) summary_.errors.push_back({v.source, "", v.status});
    ++progress_state_.volumes_done;
    if (progress_) progress_(progress_state_);
  }

  const Status& store_status() const { return store_status_; }

  // The asset's pages that are the same picture as a registered page of
  // another work (RobustOptions::twin_radius; both of quality >=
  // Store::kMinIndexQuality), counted per work in the summary. Only where the
  // index is loaded (an embedded store: a shared catalog's writer has none).
  // Caller holds store_mutex_.
  void CountTwins() {
    if (twin_radius_ <= 0 || store_.pdq_index().size() == 0) return;
    std::vector<fingerprint::Hash256> hashes;
    for (const UnitRecord& u : units_) {
      if (u.quality >= Store::kMinIndexQuality) hashes.push_back(u.pdq);
    }
    if (hashes.empty()) return;
    Result<std::vector<std::vector<IndexHit>>> hits =
        store_.pdq_index().RangeSearch(hashes, twin_radius_);
    if (!hits.ok()) return;  // a count for the summary only
    for (const std::vector<IndexHit>& page : *hits) {
      std::set<std::string> works;
      for (const IndexHit& hit : page) {
        auto [it, inserted] = work_of_.try_emplace(hit.unit_id);
        if (inserted) {
          Result<UnitRef> ref = store_.catalog().GetUnitRef(hit.unit_id);
          if (ref.ok() && ref->quality >= Store::kMinIndexQuality) it->second = ref->work_id;
        }
        if (!it->second.empty() && it->second != work_.id) works.insert(it->second);
      }
      for (const std::string& w : works) ++summary_.twin_pages[w];
    }
  }

  // A skipped file held by another work (the catalog holds each file once):
  // named in the summary, so that the caller can say where its pages went.
  void NoteOtherWork(const ingest::AssetFile& file) {
    std::lock_guard<std::mutex> lock(store_mutex_);
    Result<std::optional<std::string>> held = store_.catalog().FindAssetWork(sha256_);
    if (held.ok() && held->has_value() && **held != work_.id)
      summary_.in_other_works.push_back({file.path.string(), **held});
  }

  // What a registered file's pages lack, to be read again and given it
  // instead of added.
  struct Backfill {
    bool blurred = false;  // some pages have no blurred hash
    bool colour = false;   // some pages' local features have no colour signature
  };
  // Called from ExtractOptions::skip_asset, before the asset's pages are
  // read; caller holds store_mutex_.
  void MarkBackfill(size_t volume, size_t asset, Backfill what) {
    backfill_[{volume, asset}] = what;
  }
  // Whether MarkBackfill named the asset, and for what; take store_mutex_
  // (any thread).
  bool IsBackfill(size_t volume, size_t asset) {
    std::lock_guard<std::mutex> lock(store_mutex_);
    return backfill_.count({volume, asset}) > 0;
  }
  Backfill BackfillOf(size_t volume, size_t asset) {
    std::lock_guard<std::mutex> lock(store_mutex_);
    auto it = backfill_.find({volume, asset});
    return it == backfill_.end() ? Backfill{} : it->second;
  }

  // Records a store failure and stops the extraction; guarded by the caller's
  // store mutex or called from the sink's (serial) thread.
  void Fail(const Status& status) {
    std::lock_guard<std::mutex> lock(status_mutex_);
    if (store_status_.ok()) store_status_ = status;
    stop_.store(true);
  }

 private:
  void AddAsset(const ingest::AssetFile& file) {
    AssetRecord record;
    record.work_id = work_.id;
    std::error_code ec;
    std::filesystem::path absolute = std::filesystem::absolute(file.path, ec);
    record.path = ec ? file.path.string() : absolute.lexically_normal().string();
    record.sha256_hex = sha256_;
    record.size_bytes = file.size_bytes;
    record.media_type = file.media_type;
    Status valid = CheckAgainstCatalogLimits(record, units_);
    if (!valid.ok()) {
      summary_.errors.push_back({record.path, "", valid.WithContext("not registered")});
      return;
    }
    std::lock_guard<std::mutex> lock(store_mutex_);
    CountTwins();
    Result<int64_t> added = store_.AddAsset(record, units_);
    if (!added.ok()) {
      // The store itself failing (disk full, I/O, corruption) ends the run;
      // the asset's transaction was rolled back.
      Fail(added.status().WithContext(record.path));
      return;
    }
    ++summary_.assets_added;
    for (const UnitRecord& u : units_) {
      ++summary_.units_added;
      if (u.quality < Store::kMinIndexQuality) ++summary_.units_low_quality;
    }
  }

  // Gives the file's registered pages what they lack (`what`): blurred hashes
  // (Store::AddMissingBlurredHashes), colour signatures
  // (Catalog::AddMissingColour), each in its own transaction.
  void AddMissing(const ingest::AssetFile& file, Backfill what) {
    std::lock_guard<std::mutex> lock(store_mutex_);
    int64_t mismatched = 0;
    if (what.blurred) {
      Result<Catalog::BlurredBackfill> filled = store_.AddMissingBlurredHashes(sha256_, units_);
      if (!filled.ok()) {
        Fail(filled.status().WithContext(file.path.string()));
        return;
      }
      summary_.units_backfilled += static_cast<int>(filled->filled.size());
      mismatched = std::max(mismatched, filled->mismatched);
    }
    if (what.colour) {
      Result<Catalog::ColourBackfill> filled = store_.catalog().AddMissingColour(sha256_, units_);
      if (!filled.ok()) {
        Fail(filled.status().WithContext(file.path.string()));
        return;
      }
      summary_.units_colour_backfilled += static_cast<int>(filled->filled.size());
      mismatched = std::max(mismatched, filled->mismatched);
      if (filled->damaged > 0) {
        summary_.errors.push_back(
            {file.path.string(), "",
             Status::Corrupt(std::to_string(filled->damaged) +
                             " pages' stored local features cannot be read and got no colour "
                             "signature; register the file into a new store to describe it "
                             "afresh")});
      }
    }
    ++summary_.assets_backfilled;
    summary_.units_backfill_mismatched += static_cast<int>(mismatched);
    if (mismatched > 0) {
      summary_.errors.push_back(
          {file.path.string(), "",
           Status::InvalidArgument(std::to_string(mismatched) +
                                   " pages decode to another PDQ hash than they were registered "
                                   "with (another decoder version?) and got no blurred hash or "
                                   "colour signature; register the file into a new store to hash "
                                   "it afresh")});
    }
  }

  Store& store_;
  const Work& work_;
  std::map<std::pair<size_t, size_t>, Backfill> backfill_;  // (volume, asset); store_mutex_
  const int twin_radius_;
  std::map<int64_t, std::string> work_of_;  // registered unit -> its work ("": not a twin)
  const std::vector<ingest::Volume>& volumes_;
  std::mutex& store_mutex_;
  RegisterSummary& summary_;
  const ProgressFn& progress_;
  Progress progress_state_;
  std::string sha256_;
  bool skipped_ = false;
  std::atomic<bool>& stop_;
  std::vector<UnitRecord> units_;
  size_t failed_pages_ = 0;
  std::mutex status_mutex_;
  Status store_status_;
};

}  // namespace

Result<RegisterSummary> RegisterWork(Store& store, const Work& work,
                                     const std::vector<std::string>& paths,
                                     const RegisterOptions& options, const ProgressFn& progress) {
  if (work.id.empty()) return Status::InvalidArgument("a work needs an id (--work)");
  KAGAMI_RETURN_IF_ERROR(store.catalog().UpsertWork(work));

  std::vector<std::string> page_paths, video_paths;
  for (const std::string& p : WithFolderVideos(paths, options.extract.limits)) {
    (IsVideoInput(p) ? video_paths : page_paths).push_back(p);
  }
  std::vector<ingest::Volume> volumes = ingest::ExpandInputs(page_paths, options.extract.limits);
  RegisterSummary summary;
  summary.volumes = static_cast<int>(volumes.size());
  KAGAMI_RETURN_IF_ERROR(RegisterVideos(store, work, video_paths, VideoOptionsFor(options.extract),
                                        options.extract.limits, summary));
  if (page_paths.empty()) return summary;

  std::mutex store_mutex;
  std::atomic<bool> stop{false};
  RegisterSink sink(store, work, volumes, store_mutex, summary, progress, stop,
                    options.robust_options.twin_radius);
  std::set<std::string> seen_this_run;  // guarded by store_mutex
  ExtractOptions extract = options.extract;
  extract.sha256 = true;
  extract.stop = &stop;
  extract.skip_asset = [&](size_t volume, size_t asset, const std::string& sha) {
    std::lock_guard<std::mutex> lock(store_mutex);
    if (!seen_this_run.insert(sha).second) return true;
    Result<std::optional<int64_t>> existing = store.catalog().FindAssetBySha256(sha);
    if (!existing.ok()) {
      sink.Fail(existing.status().WithContext("looking up an asset"));
      return true;
    }
    if (!existing->has_value()) return false;
    if (!options.robust) return true;  // only the robust analysis hashes blurred
    Result<Catalog::LackingUnits> lacking = store.catalog().CountUnitsLacking(sha);
    if (!lacking.ok()) {
      sink.Fail(lacking.status().WithContext("looking up an asset"));
      return true;
    }
    if (lacking->blurred == 0 && lacking->colour == 0) return true;
    sink.MarkBackfill(volume, asset, {lacking->blurred > 0, lacking->colour > 0});
    return false;
  };

  if (options.robust) {
    const RobustOptions& robust = options.robust_options;
    const ingest::IngestLimits& limits = options.extract.limits;
    extract.analyze = [&](const cv::Mat& pixels, const ingest::EncodedPage& encoded,
                          fingerprint::PdqHasher& hasher, fingerprint::PageFingerprint& page) {
      // A file read again for its blurred hashes (Catalog::AddMissingBlurredHashes)
      // or colour signatures (Catalog::AddMissingColour) does not store its
      // local features again.
      if (!sink.IsBackfill(page.volume, page.asset)) {
        page.annotation = AnalyzeForRegistration(pixels, encoded, limits, hasher, robust);
        return;
      }
      const RegisterSink::Backfill lacking = sink.BackfillOf(page.volume, page.asset);
      RegisteredPageExtras extras;
      if (lacking.blurred)
        extras = AnalyzeForRegistration(pixels, encoded, limits, hasher, robust, false);
      if (lacking.colour) extras.colour = RegisteredColour(pixels, encoded, limits);
      page.annotation = std::move(extras);
    };
  }
  ExtractVolumes(volumes, extract, sink);
  Status save = store.SaveIndex();
  if (!sink.store_status().ok()) return sink.store_status();
  KAGAMI_RETURN_IF_ERROR(save);
  return summary;
}

}  // namespace kagami::pipeline
