#include "kagami/pipeline/scanner.h"

#include <any>
#include <map>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "kagami/pipeline/video_pipeline.h"

namespace kagami::pipeline {

using namespace kagami::index;  // NOLINT: this module orchestrates index/

std::string_view VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kMatch:
      return "match";
    case Verdict::kNoMatch:
      return "no_match";
    case Verdict::kError:
      return "error";
  }
  return "error";
}

namespace {

PageMatchRecord MakeRecord(const fingerprint::PageFingerprint& page, const RobustHit& hit,
                           UnitRef ref) {
  PageMatchRecord record;
  record.member = page.member;
  record.page_index = page.page_index;
  record.quality = page.pdq.quality;
  record.pdq = page.pdq.hash;
  record.hit = PageHit{hit.unit_id, hit.distance, hit.variant};
  record.ref = std::move(ref);
  record.method = hit.method;
  record.view = hit.view;
  record.view_quality = hit.view_quality;
  record.inliers = hit.inliers;
  record.coverage = hit.coverage;
  record.mirrored = hit.mirrored;
  record.homography = hit.homography;
  record.verification = hit.verification;
  record.content_frame = hit.content_frame;
  return record;
}

// Collects page outcomes (computed in the pipeline's parallel stage) into
// volume reports, in input order.
class ScanSink : public ExtractSink {
 public:
  ScanSink(Store& store, std::mutex& catalog_mutex, const std::vector<ingest::Volume>& volumes,
           const ScanOptions& options, const std::function<void(const VolumeReport&)>& on_volume,
           const ProgressFn& progress)
      : store_(store),
        catalog_mutex_(catalog_mutex),
        volumes_(volumes),
        options_(options),
        on_volume_(on_volume),
        progress_(progress) {
    progress_state_.volumes_total = volumes.size();
  }

  void BeginAsset(size_t, size_t, const std::string&, bool) override {}

  void OnPage(fingerprint::PageFingerprint page) override {
    VolumeReport& report = Current(page.volume);
    ++report.pages;
    ++progress_state_.pages_done;
    if (!page.status.ok()) {
      report.errors.push_back({report.source, page.member, page.status});
      return;
    }
    ++report.pages_hashed;
    if (page.pdq.quality < options_.match.min_quality) ++report.pages_low_quality;
    const PageOutcome* outcome = std::any_cast<PageOutcome>(&page.annotation);
    if (outcome == nullptr) return;
    if (!outcome->local_status.ok()) {
      report.errors.push_back(
          {report.source, page.member, outcome->local_status.WithContext("local-feature stage")});
    }
    for (const RobustHit& hit : outcome->hits) {
      Result<UnitRef> ref = LookUp(hit.unit_id);
      if (!ref.ok()) {
        report.errors.push_back({report.source, page.member, ref.status()});
        continue;
      }
      PageMatchRecord record = MakeRecord(page, hit, *ref);
      units_by_work_[record.ref.work_id].push_back(record.hit.unit_id);
      report.matches.push_back(std::move(record));
    }
  }

  void EndAsset(size_t volume, size_t asset, const Status& status) override {
    if (!status.ok()) {
      VolumeReport& report = Current(volume);
      report.errors.push_back({volumes_[volume].assets[asset].path.string(), "", status});
    }
    if (progress_) progress_(progress_state_);
  }

  void EndVolume(size_t volume) override {
    VolumeReport& report = Current(volume);
    const ingest::Volume& v = volumes_[volume];
    if (!v.status.ok()) report.status = v.status;
    int eligible = report.pages_hashed - report.pages_low_quality;
    for (WorkTally& tally : DecideVolume(units_by_work_, eligible, options_.match)) {
      WorkResult work;
      work.tally = std::move(tally);
      {
        std::lock_guard<std::mutex> lock(catalog_mutex_);
        Result<std::optional<Work>> w = store_.catalog().GetWork(work.tally.work_id);
        if (w.ok() && w->has_value()) {
          work.title = (*w)->title;
          work.rights_holder = (*w)->rights_holder;
        }
      }
      if (work.tally.matched) report.verdict = Verdict::kMatch;
      report.works.push_back(std::move(work));
    }
    if (report.verdict != Verdict::kMatch && report.pages_hashed == 0) {
      report.verdict = Verdict::kError;
      if (report.status.ok()) {
        report.status = report.errors.empty() ? Status::NotFound("no readable pages in " + v.source)
                                              : report.errors.front().status;
      }
    }
    ++progress_state_.volumes_done;
    if (progress_) progress_(progress_state_);
    if (on_volume_) on_volume_(report);
    current_.reset();
    units_by_work_.clear();
  }

 private:
  VolumeReport& Current(size_t volume) {
    if (!current_ || current_volume_ != volume) {
      current_ = std::make_unique<VolumeReport>();
      current_->source = volumes_[volume].source;
      current_volume_ = volume;
    }
    return *current_;
  }

  Result<UnitRef> LookUp(int64_t unit_id) {
    auto it = ref_cache_.find(unit_id);
    if (it != ref_cache_.end()) return it->second;
    std::lock_guard<std::mutex> lock(catalog_mutex_);
    KAGAMI_ASSIGN_OR_RETURN(UnitRef ref, store_.catalog().GetUnitRef(unit_id));
    ref_cache_.emplace(unit_id, ref);
    return ref;
  }

  Store& store_;
  std::mutex& catalog_mutex_;
  const std::vector<ingest::Volume>& volumes_;
  const ScanOptions& options_;
  const std::function<void(const VolumeReport&)>& on_volume_;
  const ProgressFn& progress_;
  Progress progress_state_;
  std::unique_ptr<VolumeReport> current_;
  size_t current_volume_ = 0;
  std::map<std::string, std::vector<int64_t>> units_by_work_;
  std::unordered_map<int64_t, UnitRef> ref_cache_;
};

}  // namespace

Scanner::Scanner(Store& store, const ScanOptions& options) : store_(store), options_(options) {
  options_.extract.sha256 = false;
  options_.extract.dihedral = options.match.dihedral;
  matcher_ = std::make_unique<RobustMatcher>(store_, options_.match, options_.robust,
                                             options_.extract.limits);
  RobustMatcher* matcher = matcher_.get();
  options_.extract.analyze = [matcher](const cv::Mat& pixels, const ingest::EncodedPage& encoded,
                                       fingerprint::PdqHasher& hasher,
                                       fingerprint::PageFingerprint& page) {
    PageOutcome outcome = matcher->Match(pixels, encoded, hasher, page);
    if (!outcome.status.ok()) page.status = outcome.status;  // reported as a page error
    page.annotation = std::move(outcome);
  };
}

Scanner::~Scanner() = default;

std::mutex& Scanner::catalog_mutex() { return matcher_->catalog_mutex(); }

Result<index::IndexRefresh> Scanner::Refresh() {
  if (!store_.shared()) return index::IndexRefresh{};
  std::unique_lock<std::mutex> lock(gate_mutex_);
  gate_cv_.wait(lock, [&] { return !refreshing_; });
  refreshing_ = true;
  gate_cv_.wait(lock, [&] { return active_scans_ == 0; });
  lock.unlock();
  Result<index::IndexRefresh> refresh = [&] {
    // Other catalog users (a crawler recording findings) hold this mutex too.
    std::lock_guard<std::mutex> catalog_lock(matcher_->catalog_mutex());
    return store_.Refresh();
  }();
  // Store::Refresh has added the new pages to the local index too.
  lock.lock();
  last_check_ = std::chrono::steady_clock::now();
  if (refresh.ok() && refresh->units_read > 0) ++refreshes_with_new_units_;
  refreshing_ = false;
  lock.unlock();
  gate_cv_.notify_all();
  return refresh;
}

int64_t Scanner::refreshes_with_new_units() const {
  std::lock_guard<std::mutex> lock(gate_mutex_);
  return refreshes_with_new_units_;
}

void Scanner::ScanVolumes(const std::vector<ingest::Volume>& volumes, const VolumeFn& on_volume,
                          const ProgressFn& progress) {
  if (store_.shared()) {
    bool due = false;
    {
      std::lock_guard<std::mutex> lock(gate_mutex_);
      // A registration announced by the catalog (LISTEN/NOTIFY) wakes the
      // refresh at once; the interval's high-water poll is the fallback.
      due = !refreshing_ &&
            (std::chrono::steady_clock::now() - last_check_ >= options_.refresh_interval ||
             store_.CatalogChanged());
    }
    // A failed refresh leaves the index as it was: scanning goes on against
    // what is loaded, and the next batch tries again.
    if (due) (void)Refresh();
    std::unique_lock<std::mutex> lock(gate_mutex_);
    gate_cv_.wait(lock, [&] { return !refreshing_; });
    ++active_scans_;
  }
  struct Leave {
    Scanner* self;
    ~Leave() {
      if (!self->store_.shared()) return;
      {
        std::lock_guard<std::mutex> lock(self->gate_mutex_);
        --self->active_scans_;
      }
      self->gate_cv_.notify_all();
    }
  } leave{this};
  ScanSink sink(store_, matcher_->catalog_mutex(), volumes, options_, on_volume, progress);
  ExtractVolumes(volumes, options_.extract, sink);
}

void Scanner::ScanPaths(const std::vector<std::string>& paths, const VolumeFn& on_volume,
                        const ProgressFn& progress) {
  ScanVolumes(ingest::ExpandInputs(paths, options_.extract.limits), on_volume, progress);
}

void Scanner::ScanMemory(const std::vector<ingest::MemoryAsset>& assets, const VolumeFn& on_volume,
                         const ProgressFn& progress) {
  std::vector<ingest::Volume> volumes;
  volumes.reserve(assets.size());
  for (const ingest::MemoryAsset& asset : assets) {
    ingest::Volume volume;
    volume.source = asset.provenance.url;
    volume.assets.push_back(ingest::MemoryAssetFile(asset));
    volumes.push_back(std::move(volume));
  }
  ScanVolumes(volumes, on_volume, progress);
}

Status Scan(Store& store, const std::vector<std::string>& paths, const ScanOptions& options,
            const std::function<void(const VolumeReport&)>& on_volume, const ProgressFn& progress) {
  // Videos go to video_pipeline; runs of other inputs to the page pipeline, in input order.
  std::unique_ptr<Scanner> page_scanner;
  std::vector<std::string> run;
  bool run_is_video = false;
  auto flush = [&]() -> Status {
    if (run.empty()) return Status::Ok();
    Status s = Status::Ok();
    if (run_is_video) {
      VideoOptions video = VideoOptionsFor(options.extract);
      video.fetcher = options.fetcher;
      video.live.max_media_seconds = options.live_seconds;
      video.live.max_wall_seconds = options.live_seconds * 1.1 + 60;
      s = ScanVideos(store, run, video, options.extract.limits, on_volume);
    } else {
      // The page matchers load once, on the first run of page inputs.
      if (!page_scanner) page_scanner = std::make_unique<Scanner>(store, options);
      page_scanner->ScanPaths(run, on_volume, progress);
    }
    run.clear();
    return s;
  };
  for (const std::string& path : WithFolderVideos(paths, options.extract.limits)) {
    bool video = IsVideoInput(path);
    if (video != run_is_video) KAGAMI_RETURN_IF_ERROR(flush());
    run_is_video = video;
    run.push_back(path);
  }
  return flush();
}

}  // namespace kagami::pipeline
