#include "kagami/pipeline/scanner.h"

#include <algorithm>
#include <any>
#include <atomic>
#include <bit>
#include <cmath>
#include <map>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <oneapi/tbb/parallel_for.h>

#include "kagami/ingest/image_decoder.h"
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
  record.ref_quality = hit.ref_quality;
  record.blurred = hit.blurred;
  record.inliers = hit.inliers;
  record.coverage = hit.coverage;
  record.mirrored = hit.mirrored;
  record.homography = hit.homography;
  record.verification = hit.verification;
  record.content_frame = hit.content_frame;
  record.boilerplate_keypoints = hit.boilerplate_keypoints;
  record.distinct_inliers = hit.distinct_inliers;
  record.twin_of = hit.twin_of;
  record.twin_bits = hit.twin_bits;
  record.colour_disagreement = hit.colour_disagreement;
  return record;
}

}  // namespace

namespace {

// The crop zoom for pages at `scale` (scanned -> registered; 0.8 for a page
// cropped 10% per side): the nearest of 1 (no look, kNoCropZoom) and `zooms`
// in log scale.
int ZoomForScale(double scale, const std::vector<double>& zooms) {
  int best = RobustMatcher::kNoCropZoom;
  double best_distance = std::abs(std::log(scale));
  for (size_t i = 0; i < zooms.size(); ++i) {
    if (!(zooms[i] > 0)) continue;
    const double distance = std::abs(std::log(scale / zooms[i]));
    if (distance < best_distance) {
      best = static_cast<int>(i);
      best_distance = distance;
    }
  }
  return best;
}

}  // namespace

// Thread-safe: the pipeline's parallel stage reads and marks volumes, the
// sink (its serial stage) releases them.
struct LocalDeferral {
  std::mutex mutex;
  std::unordered_set<size_t> with_evidence;  // volumes where a page matched
  // The crop zoom its latest local match calls for (VolumeZoom), per volume.
  std::unordered_map<size_t, int> matched_zoom;
  std::atomic<size_t> bytes{0};  // DeferredLocal::bytes() held

  bool HasEvidence(size_t volume) {
    std::lock_guard<std::mutex> lock(mutex);
    return with_evidence.count(volume) > 0;
  }
  // `crop_zoom`: what the match calls for (VolumeZoom), or kEveryCropZoom
  // when it measured no scale (a PDQ match).
  void MarkEvidence(size_t volume, int crop_zoom) {
    std::lock_guard<std::mutex> lock(mutex);
    with_evidence.insert(volume);
    if (crop_zoom != RobustMatcher::kEveryCropZoom) matched_zoom[volume] = crop_zoom;
  }
  // The crop zoom `page` tries under volume sampling (every `sample`th, gaps
  // doubling): the caller's scale hint's; else what its volume's latest local
  // match called for; none after a PDQ match alone (an unscaled copy); one in
  // turn by sample number while the volume has no evidence.
  int CropZoom(const fingerprint::PageFingerprint& page, int sample,
               const std::vector<double>& zooms) {
    if (page.scale_hint > 0) return ZoomForScale(page.scale_hint, zooms);
    std::lock_guard<std::mutex> lock(mutex);
    auto it = matched_zoom.find(page.volume);
    if (it != matched_zoom.end()) return it->second;
    if (with_evidence.count(page.volume) > 0) return RobustMatcher::kNoCropZoom;
    return SampleNumber(page.sample_index, sample);
  }
  void EndVolume(size_t volume) {
    std::lock_guard<std::mutex> lock(mutex);
    with_evidence.erase(volume);
    matched_zoom.erase(volume);
  }
};

namespace {

// The crop zoom a volume's other pages need, from a page's local match (its
// scale is the volume's crop); kEveryCropZoom when no hit measured one.
int VolumeZoom(const PageOutcome& outcome, const std::vector<double>& zooms) {
  for (const RobustHit& hit : outcome.hits) {
    if (hit.inliers > 0 && hit.verification.scale > 0) {
      return ZoomForScale(hit.verification.scale, zooms);
    }
  }
  return RobustMatcher::kEveryCropZoom;
}

// A page whose local stage waits for its volume's evidence.
struct DeferredPage {
  fingerprint::PageFingerprint page;  // without its annotation
  std::shared_ptr<const DeferredLocal> deferred;
};

// Collects page outcomes (computed in the pipeline's parallel stage) into
// volume reports, in input order.
class ScanSink : public ExtractSink {
 public:
  ScanSink(Store& store, RobustMatcher& matcher, LocalDeferral& deferral,
           const std::vector<ingest::Volume>& volumes, const ScanOptions& options,
           const std::function<void(const VolumeReport&)>& on_volume, const ProgressFn& progress)
      : store_(store),
        matcher_(matcher),
        catalog_mutex_(matcher.catalog_mutex()),
        deferral_(deferral),
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
    if (outcome->deferred) {
      std::shared_ptr<const DeferredLocal> deferred = outcome->deferred;
      page.annotation.reset();
      deferred_.push_back({std::move(page), std::move(deferred)});
      return;
    }
    AddOutcome(report, page, *outcome);
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
    FinishDeferred(report);
    deferral_.EndVolume(volume);
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

  void AddOutcome(VolumeReport& report, const fingerprint::PageFingerprint& page,
                  const PageOutcome& outcome) {
    if (!outcome.local_status.ok()) {
      report.errors.push_back(
          {report.source, page.member, outcome.local_status.WithContext("local-feature stage")});
    }
    auto add = [&](const RobustHit& hit) {
      Result<UnitRef> ref = LookUp(hit.unit_id);
      if (!ref.ok()) {
        report.errors.push_back({report.source, page.member, ref.status()});
        return;
      }
      PageMatchRecord record = MakeRecord(page, hit, *ref);
      units_by_work_[record.ref.work_id].push_back(record.hit.unit_id);
      report.matches.push_back(std::move(record));
    };
    for (const RobustHit& hit : outcome.hits) {
      add(hit);
      for (const RobustHit& twin : hit.twins) add(twin);
    }
  }

  // The volume's deferred pages: described now if a page of the volume
  // matched, else counted as skipped. Their bytes are released either way.
  void FinishDeferred(VolumeReport& report) {
    if (deferred_.empty()) return;
    std::vector<DeferredPage> pages = std::move(deferred_);
    deferred_.clear();
    size_t bytes = 0;
    for (const DeferredPage& p : pages) bytes += p.deferred->bytes();
    if (report.matches.empty()) {
      report.pages_local_skipped += static_cast<int>(pages.size());
      deferral_.bytes -= bytes;
      return;
    }
    std::vector<PageOutcome> outcomes(pages.size());
    tbb::parallel_for(size_t{0}, pages.size(), [&](size_t i) {
      const int crop_zoom = deferral_.CropZoom(pages[i].page, std::max(1, options_.local_sample),
                                               options_.robust.crop_zooms);
      outcomes[i] = RunDeferredGuarded(pages[i], crop_zoom);
    });
    deferral_.bytes -= bytes;
    for (size_t i = 0; i < pages.size(); ++i) {
      if (!outcomes[i].status.ok()) {
        report.errors.push_back({report.source, pages[i].page.member, outcomes[i].status});
        continue;
      }
      AddOutcome(report, pages[i].page, outcomes[i]);
    }
    std::stable_sort(report.matches.begin(), report.matches.end(),
                     [](const PageMatchRecord& a, const PageMatchRecord& b) {
                       return a.page_index < b.page_index;
                     });
  }

  // The page decoded as the pipeline decoded it, then its local stage; what
  // either throws becomes the page's error (the batch goes on).
  PageOutcome RunDeferredGuarded(const DeferredPage& p, int crop_zoom) {
    PageOutcome outcome;
    try {
      cv::Mat pixels = p.deferred->encoded.rendered;
      if (pixels.empty()) {
        const std::vector<unsigned char>& bytes = p.deferred->encoded.bytes;
        Result<ingest::DecodedImage> decoded = ingest::DecodeImage(
            bytes.data(), bytes.size(), options_.extract.decode, options_.extract.limits);
        if (!decoded.ok()) {
          outcome.status = decoded.status();
          return outcome;
        }
        pixels = std::move(decoded->pixels);
      }
      return matcher_.RunDeferred(pixels, *p.deferred, crop_zoom);
    } catch (const std::bad_alloc&) {
      outcome.status = Status::ResourceExhausted("out of memory in the local-feature stage");
    } catch (const std::exception& e) {
      outcome.status = Status::Internal(std::string("local-feature stage failed: ") + e.what());
    }
    return outcome;
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
  RobustMatcher& matcher_;
  std::mutex& catalog_mutex_;
  LocalDeferral& deferral_;
  const std::vector<ingest::Volume>& volumes_;
  const ScanOptions& options_;
  const std::function<void(const VolumeReport&)>& on_volume_;
  const ProgressFn& progress_;
  Progress progress_state_;
  std::unique_ptr<VolumeReport> current_;
  size_t current_volume_ = 0;
  std::map<std::string, std::vector<int64_t>> units_by_work_;
  std::unordered_map<int64_t, UnitRef> ref_cache_;
  std::vector<DeferredPage> deferred_;  // the current volume's, page order
};

}  // namespace

const PageMatchRecord* TwinnedMatch(const VolumeReport& report, const PageMatchRecord& twin) {
  if (twin.twin_of == 0) return nullptr;
  for (const PageMatchRecord& m : report.matches) {
    if (m.twin_of == 0 && m.hit.unit_id == twin.twin_of && m.page_index == twin.page_index &&
        m.member == twin.member)
      return &m;
  }
  return nullptr;
}

bool IsSampledPosition(int64_t position, int n) {
  if (n <= 1) return true;
  if (position < 0 || position % n != 0) return false;
  const uint64_t q = static_cast<uint64_t>(position / n) + 1;
  return (q & (q - 1)) == 0;
}

int SampleNumber(int64_t position, int n) {
  if (position <= 0) return 0;
  const uint64_t q = static_cast<uint64_t>(position / std::max(1, n)) + 1;
  return static_cast<int>(std::bit_width(q)) - 1;
}

Scanner::Scanner(Store& store, const ScanOptions& options) : store_(store), options_(options) {
  options_.extract.sha256 = false;
  options_.extract.dihedral = options.match.dihedral;
  matcher_ = std::make_unique<RobustMatcher>(store_, options_.match, options_.robust,
                                             options_.extract.limits);
  deferral_ = std::make_unique<LocalDeferral>();
  RobustMatcher* matcher = matcher_.get();
  LocalDeferral* deferral = deferral_.get();
  const bool sampling = options_.robust.local == LocalStage::kAuto && options_.local_sample > 1;
  const int sample = std::max(1, options_.local_sample);
  const size_t max_bytes = options_.max_deferred_bytes;
  const std::vector<double> zooms = options_.robust.crop_zooms;
  options_.extract.analyze = [=](const cv::Mat& pixels, const ingest::EncodedPage& encoded,
                                 fingerprint::PdqHasher& hasher,
                                 fingerprint::PageFingerprint& page) {
    const size_t page_bytes = DeferredLocal::HeldBytes(encoded);
    const bool undecided = sampling && !deferral->HasEvidence(page.volume);
    const bool may_defer = undecided && !IsSampledPosition(page.sample_index, sample) &&
                           deferral->bytes.load() + page_bytes <= max_bytes;
    // Under sampling a page tries one crop zoom (LocalDeferral::CropZoom).
    const int crop_zoom =
        sampling ? deferral->CropZoom(page, sample, zooms) : RobustMatcher::kEveryCropZoom;
    PageOutcome outcome = matcher->Match(pixels, encoded, hasher, page, may_defer, crop_zoom);
    if (!outcome.status.ok()) page.status = outcome.status;  // reported as a page error
    if (outcome.deferred) deferral->bytes += outcome.deferred->bytes();
    if (!outcome.hits.empty() && sampling) {
      deferral->MarkEvidence(page.volume, VolumeZoom(outcome, zooms));
    }
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
  ScanSink sink(store_, *matcher_, *deferral_, volumes, options_, on_volume, progress);
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
    volume.sample_offset = asset.sample_offset;
    volume.scale_hint = asset.scale_hint;
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
