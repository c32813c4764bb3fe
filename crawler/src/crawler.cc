#include "kagami/crawler/crawler.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <thread>
#include <unordered_map>

#include <tbb/flow_graph.h>
#include <tbb/global_control.h>
#include <tbb/task_arena.h>
#include <nlohmann/json.hpp>

#include "kagami/base/sha256.h"
#include "kagami/crawler/frontier.h"
#include "kagami/crawler/html_extractor.h"
#include "kagami/crawler/http_client.h"
#include "kagami/crawler/robots.h"
#include "kagami/crawler/safe_fetcher.h"
#include "kagami/crawler/url.h"
#include "kagami/crawler/warc_writer.h"
#include "kagami/ingest/memory_source.h"
#include "kagami/pipeline/video_pipeline.h"
#include "kagami/reports/finding_records.h"

namespace kagami::crawler {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kPrioritySeed = 25;
constexpr int kPriorityMedia = 30;
constexpr int kPriorityChapter = 20;
constexpr int kPriorityNavigation = 10;
constexpr uint64_t kRobotsTokenBit = 1ull << 62;
constexpr uint64_t kMaxRobotsBytes = 512 * 1024;
constexpr int kMaxRobotsRedirects = 5;              // RFC 9309 2.3.1.2: at least five
constexpr int64_t kRobotsCacheSeconds = 24 * 3600;  // RFC 9309 2.4: at most 24 hours
// On a stop (SIGTERM) exchanges in flight may finish for this long; the rest
// are abandoned and their URLs released to the frontier.
constexpr auto kStopGrace = std::chrono::seconds(5);
// ... and media already fetched may be fingerprinted and recorded for this
// long; what is still queued then is dropped unarchived and its URLs released
// (fetched again later, by this or another worker; nothing is lost).
constexpr auto kStopMediaDrain = std::chrono::seconds(20);
// Without a response or a media completion since the last look, the frontier
// is asked again only after this long (politeness timers, other workers'
// progress on a shared frontier), not on every turn of the event loop.
constexpr auto kIdleFill = std::chrono::milliseconds(50);
// Waiting images (Impl::PageEvidence) with nothing left to fetch here: the
// ledger and the frontier are read again at most this often, and while other
// entries of the run are still queued or leased (another worker matching an
// image of the same page, a host's delay) the images wait at most
// kEvidenceWait before they are completed unchecked.
constexpr auto kEvidenceCheck = std::chrono::seconds(1);
constexpr auto kEvidenceWait = std::chrono::seconds(60);
// Reader pages whose images share volume-level evidence at once (Impl::pages);
// images of further pages are each described on their own.
constexpr size_t kMaxEvidencePages = 100000;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool HostIn(const std::string& host, const std::vector<std::string>& hosts) {
  for (const std::string& h : hosts) {
    if (host == h) return true;
    if (host.size() > h.size() && host.compare(host.size() - h.size(), h.size(), h) == 0 &&
        host[host.size() - h.size() - 1] == '.')
      return true;
  }
  return false;
}

int PagePriority(const std::string& url) {
  static const std::regex kChapter(R"((chapter|chap|/ch[-_]?\d|episode|/ep[-_]?\d|/read/|/viewer))",
                                   std::regex::icase);
  return std::regex_search(url, kChapter) ? kPriorityChapter : kPriorityNavigation;
}

bool LooksLikeHtml(const std::string& content_type, const std::string& body) {
  std::string ct = content_type;
  for (char& c : ct) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ct.find("html") != std::string::npos) return true;
  if (!ct.empty() && ct.find("text/plain") == std::string::npos) return false;
  size_t i = body.find_first_not_of(" \t\r\n\xef\xbb\xbf");
  return i != std::string::npos && body[i] == '<' &&
         body.substr(i, 512).find("html") != std::string::npos;
}

struct HostState {
  int active = 0;
  Clock::time_point next_start{};
  int consecutive_failures = 0;
  enum { kUnknown, kFetching, kReady } robots_state = kUnknown;
  RobotsRules robots;
  bool robots_override = false;
  int robots_failures = 0;              // consecutive 5xx/unreachable robots.txt answers
  bool robots_unreachable = false;      // retries exhausted: complete disallow for this run
  Clock::time_point robots_retry_at{};  // after a failure robots.txt is not asked before
  std::vector<FrontierEntry> parked;    // claimed while robots.txt was being fetched
};

struct InFlight {
  FrontierEntry entry;
  bool robots_overridden = false;
  std::string authority;  // for robots fetches: the host the rules are for
  int robots_hops = 0;    // redirects followed so far for that robots.txt
};

// A fetched media response waiting for the media stage.
struct MediaItem {
  FrontierEntry entry;
  bool stream = false;          // an HLS playlist: fetched by the media stage itself
  RobotsRules robots;           // stream: the playlist host's rules, for its segments
  HttpResponse response;        // body decoded; archived to WARC by the media stage
  std::string robots_override;  // why robots.txt was not obeyed for this media ("" = it was)
};

// Header fields of a raw response head, in order (status line skipped).
std::vector<std::pair<std::string, std::string>> HeaderPairs(const std::string& head) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t pos = head.find('\n');
  while (pos != std::string::npos && pos + 1 < head.size()) {
    size_t end = head.find('\n', pos + 1);
    std::string line =
        head.substr(pos + 1, end == std::string::npos ? std::string::npos : end - pos - 1);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    size_t colon = line.find(':');
    if (colon != std::string::npos && out.size() < 200) {
      size_t v = line.find_first_not_of(' ', colon + 1);
      out.emplace_back(line.substr(0, colon), v == std::string::npos ? "" : line.substr(v));
    }
    pos = end;
  }
  return out;
}

std::string ToUtcSeconds(int64_t unix_ms) {
  std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

struct MediaDone {
  int64_t id = 0;
  // A stop dropped the media before it was archived: its URL is released to
  // the frontier (fetched again later), not completed.
  bool dropped = false;
  // Completed without the local-feature stage: no image of its reader page
  // matched (ScanOptions::local_sample across a page's images).
  bool local_skipped = false;
  Status status;
  bool fatal = false;  // the findings store failed: stop rather than lose accusations
  int new_findings = 0;
};

// One media item on its way through the media graph.
struct MediaJob {
  MediaItem item;
  uint64_t bytes = 0;  // counted in media_pending_bytes until recorded
  ingest::MemoryAsset asset;
  WarcRef warc_ref;
  std::vector<reports::Finding> findings;  // matched, to be recorded
  bool finished = false;                   // nothing left to do but record `done`
  // The scan left its only page undescribed for want of evidence from its
  // reader page: it waits (Impl::PageEvidence) instead of completing.
  bool local_skipped = false;
  MediaDone done;
};
using MediaJobPtr = std::shared_ptr<MediaJob>;
using MediaNode = tbb::flow::function_node<MediaJobPtr, MediaJobPtr>;
using RecordNode = tbb::flow::function_node<MediaJobPtr, tbb::flow::continue_msg>;
using StreamNode = tbb::flow::async_node<MediaJobPtr, MediaJobPtr>;

}  // namespace

struct Crawler::Impl {
  CrawlJob job;
  std::filesystem::path dir;
  pipeline::Scanner& scanner;
  FindingsSink& findings;
  reports::EvidenceStore evidence;
  std::function<void(const reports::Finding&)> on_finding;

  std::unique_ptr<Frontier> frontier;
  std::unique_ptr<HttpClient> client;
  HttpClientOptions http_options;  // also for the media stage's own fetchers
  std::unique_ptr<WarcWriter> warc;
  std::vector<std::string> follow_hosts;
  std::map<std::string, HostState> hosts;
  std::map<uint64_t, InFlight> in_flight;
  std::map<int64_t, int> retries;
  nlohmann::json robots_cache = nlohmann::json::object();
  std::set<std::string> overridden_pages;  // pages fetched only because of a robots override
  uint64_t next_token = 1;
  CrawlProgress progress;
  int64_t pages_started = 0, media_started = 0;
  bool stopping = false;  // no new fetches; in-flight exchanges may finish
  // Set by Fill when it asked the frontier: whether any authority had work.
  std::optional<bool> frontier_had_work;
  bool activity = true;  // a response or media completion since the last Fill
  Clock::time_point last_fill{};

  // Media stage: a TBB flow graph (StartMediaGraph), fed by the fetch loop
  // (SubmitMedia); completions come back through media_done. `mu` guards
  // media_done and the two counters.
  std::mutex mu;
  std::deque<MediaDone> media_done;
  uint64_t media_pending_bytes = 0;
  int media_outstanding = 0;  // submitted, not yet drained
  // Set on a stop or an error: media not yet archived, or archived and not yet
  // matched, is dropped (its URL released, fetched again later).
  std::atomic<bool> drop_unstarted{false};
  // Volume-level evidence across the images of one reader page (the media's
  // referrer; pipeline::ScanOptions::local_sample): a chapter's images are one
  // copy or none. Until an image of a page matches, its images are sampled at
  // positions 0, N, 3N, 7N, ... in arrival order (pipeline::IsSampledPosition); an unsampled image
  // without a PDQ candidate is left undescribed by the scan and waits here, its bytes held (at most
  // ScanOptions::max_deferred_bytes in all) and its URL not completed. When an image of its page
  // matches, the waiting ones go through the match node again with every page described; when the
  // crawl has nothing else left they complete as not checked (CrawlProgress:: media_local_skipped),
  // and after a stop or an error they are released (a killed process leaves their leases to expire:
  // fetched again, never lost). Guarded by `mu`.
  struct PageEvidence {
    int64_t seen = 0;  // images given a sample position
    bool matched = false;
    double scale = 0;  // the first match's scale (ingest::Volume::scale_hint); 1 for PDQ
    std::vector<MediaJobPtr> waiting;
  };
  std::unordered_map<std::string, PageEvidence> pages;
  uint64_t waiting_bytes = 0;
  int waiting_jobs = 0;
  std::unique_ptr<tbb::global_control> parallelism;
  std::unique_ptr<tbb::task_arena> arena;
  std::unique_ptr<tbb::flow::graph> graph;
  std::unique_ptr<MediaNode> archive_node;
  std::unique_ptr<MediaNode> match_node;
  std::unique_ptr<RecordNode> record_node;
  std::unique_ptr<StreamNode> stream_node;
  // HLS streams block on the network for up to the live limits: they run on
  // their own threads, outside TBB's workers, and rejoin the graph through the
  // async node's gateway. Guarded by stream_mu.
  std::mutex stream_mu;
  std::condition_variable stream_cv;
  std::deque<std::pair<MediaJobPtr, StreamNode::gateway_type*>> stream_queue;
  bool stream_closing = false;
  std::vector<std::thread> stream_threads;
  std::mutex record_mu;  // serialises evidence, findings and on_finding

  Impl(CrawlJob j, std::filesystem::path d, pipeline::Scanner& s, FindingsSink& f,
       std::filesystem::path data_dir, std::function<void(const reports::Finding&)> notify)
      : job(std::move(j)),
        dir(std::move(d)),
        scanner(s),
        findings(f),
        evidence(std::move(data_dir)),
        on_finding(std::move(notify)) {}

  // Appends `f` to the findings store; the caller holds record_mu. A store error is fatal to
  // the crawl (d.fatal: stop rather than lose accusations); a new finding is counted in `d` and
  // passed to on_finding.
  void RecordFinding(const reports::Finding& f, MediaDone& d) {
    Result<bool> added = findings.Record(f);
    if (!added.ok()) {
      d.status = added.status();
      d.fatal = true;
    } else if (*added) {
      ++d.new_findings;
      if (on_finding) on_finding(f);
    }
  }

  std::vector<const SiteRule*> RulesFor(const std::string& host) const {
    std::vector<const SiteRule*> out;
    for (const SiteRule& r : job.sites)
      if (r.host.empty() || HostIn(host, {r.host})) out.push_back(&r);
    return out;
  }

  double HostDelay(const HostState& h) const {
    double d = std::max(job.politeness.min_delay_s, h.robots.crawl_delay_s());
    return std::min(d, job.politeness.max_backoff_s);
  }

  // The media graph, `threads` = the Scanner's extraction threads:
  //   archive (WARC record, SHA-256; `threads` at once)
  //     -> match (ingest -> fingerprint -> match on the long-lived Scanner, one
  //        single-asset volume per item, so an image is matched as soon as it
  //        arrives and an archive's pages spread over the Scanner's pipeline;
  //        `threads` at once)
  //     -> record (serial: evidence kept, findings recorded, the item handed
  //        back to the fetch loop, which completes its URL).
  //   stream (async: HLS on the stream threads) -> record.
  // The graph runs in its own arena of `threads` workers; the fetch loop's
  // thread only submits. TBB's worker limit is raised to threads + 1 for the
  // crawl (a tbb::global_control held as long as the graph).
  void StartMediaGraph() {
    int threads = scanner.options().extract.threads;
    if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    const size_t limit = std::max<size_t>(
        tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism),
        static_cast<size_t>(threads) + 1);
    parallelism =
        std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism, limit);
    arena = std::make_unique<tbb::task_arena>(threads, 0);
    arena->execute([&] { graph = std::make_unique<tbb::flow::graph>(); });
    archive_node = std::make_unique<MediaNode>(*graph, threads, [this](MediaJobPtr j) {
      ArchiveMedia(*j);
      return j;
    });
    match_node = std::make_unique<MediaNode>(*graph, threads, [this](MediaJobPtr j) {
      MatchMedia(*j);
      return j;
    });
    record_node = std::make_unique<RecordNode>(*graph, tbb::flow::serial, [this](MediaJobPtr j) {
      RecordMedia(j);
      return tbb::flow::continue_msg();
    });
    stream_node = std::make_unique<StreamNode>(
        *graph, tbb::flow::unlimited,
        [this](const MediaJobPtr& j, StreamNode::gateway_type& gateway) {
          gateway.reserve_wait();  // released when the stream thread hands it back
          {
            std::lock_guard<std::mutex> lock(stream_mu);
            stream_queue.emplace_back(j, &gateway);
          }
          stream_cv.notify_one();
        });
    tbb::flow::make_edge(*archive_node, *match_node);
    tbb::flow::make_edge(*match_node, *record_node);
    tbb::flow::make_edge(*stream_node, *record_node);
    for (int i = 0; i < threads; ++i) stream_threads.emplace_back([this] { StreamThread(); });
  }

  // Waits for every submitted item to be recorded, then tears the graph down.
  void StopMediaGraph() {
    if (graph) arena->execute([&] { graph->wait_for_all(); });
    {
      std::lock_guard<std::mutex> lock(stream_mu);
      stream_closing = true;
    }
    stream_cv.notify_all();
    for (std::thread& t : stream_threads)
      if (t.joinable()) t.join();
    stream_threads.clear();
    stream_node.reset();
    record_node.reset();
    match_node.reset();
    archive_node.reset();
    graph.reset();
    arena.reset();
    parallelism.reset();
  }

  // Called by the fetch loop's thread; `bytes` counts against
  // limits.max_pending_media_bytes until the item is recorded.
  void SubmitMedia(MediaItem item, uint64_t bytes) {
    auto j = std::make_shared<MediaJob>();
    j->bytes = bytes;
    j->done.id = item.entry.id;
    const bool stream = item.stream;
    j->item = std::move(item);
    {
      std::lock_guard<std::mutex> lock(mu);
      media_pending_bytes += bytes;
      ++media_outstanding;
    }
    if (stream)
      stream_node->try_put(j);
    else
      archive_node->try_put(j);
  }

  void StreamThread() {
    while (true) {
      std::pair<MediaJobPtr, StreamNode::gateway_type*> next;
      {
        std::unique_lock<std::mutex> lock(stream_mu);
        stream_cv.wait(lock, [&] { return stream_closing || !stream_queue.empty(); });
        if (stream_queue.empty()) return;
        next = std::move(stream_queue.front());
        stream_queue.pop_front();
      }
      MediaJob& j = *next.first;
      if (drop_unstarted.load()) {
        j.done.dropped = true;
      } else {
        j.done = ProcessStream(j.item);
      }
      j.finished = true;
      next.second->try_put(next.first);
      next.second->release_wait();
    }
  }

  // archive node: the response's WARC record and the asset's SHA-256.
  void ArchiveMedia(MediaJob& j) {
    if (drop_unstarted.load()) {
      j.done.dropped = true;
      j.finished = true;
      return;
    }
    HttpResponse& r = j.item.response;
    std::vector<unsigned char> bytes(r.body.begin(), r.body.end());
    r.body.clear();
    r.body.shrink_to_fit();
    ingest::MemoryAsset& asset = j.asset;
    asset.provenance.sha256_hex = Sha256Hex(bytes.data(), bytes.size());
    asset.provenance.url = j.item.entry.url;
    asset.provenance.fetched_unix_ms = r.done_unix_ms;
    asset.bytes = std::make_shared<const std::vector<unsigned char>>(std::move(bytes));
    // Without a Content-Encoding the payload is the body as received: its digest is the asset's.
    bool identity = !r.headers.count("content-encoding");
    Result<WarcRef> warc_ref = Archive(r, identity ? asset.provenance.sha256_hex : "");
    if (!warc_ref.ok()) {
      j.done.status = warc_ref.status().WithContext("writing the WARC record (evidence)");
      j.done.fatal = true;
      j.finished = true;
      return;
    }
    r.raw_body.clear();
    r.raw_body.shrink_to_fit();
    j.warc_ref = *warc_ref;
    asset.provenance.warc_file = warc_ref->file;
    asset.provenance.warc_record_id = warc_ref->record_id;
    if (job.fetch_only) j.finished = true;
  }

  // match node: ingest -> fingerprint -> match; the findings are drafted here
  // and recorded by the record node.
  void MatchMedia(MediaJob& j) {
    if (j.finished) return;
    if (drop_unstarted.load()) {  // archived, not matched: fetched and archived again later
      j.done.dropped = true;
      j.finished = true;
      return;
    }
    const std::string& page = j.item.entry.referrer;
    const PageSample sample = SampleOf(page, j.bytes);
    j.asset.sample_offset = sample.position;
    j.asset.scale_hint = sample.scale;
    j.local_skipped = false;
    const ingest::MemoryAsset& asset = j.asset;
    const HttpResponse& r = j.item.response;
    bool reported = false;
    scanner.ScanMemory({asset}, [&](const pipeline::VolumeReport& report) {
      if (reported) return;
      reported = true;
      if (!report.status.ok() && report.matches.empty()) j.done.status = report.status;
      if (!report.matches.empty()) {
        const pipeline::PageMatchRecord& m = report.matches.front();
        PageMatched(page, m.inliers > 0 && m.verification.scale > 0 ? m.verification.scale : 1.0);
      } else {
        j.local_skipped = report.pages == 1 && report.pages_local_skipped == 1;
      }
      if (report.verdict != pipeline::Verdict::kMatch) return;
      for (reports::ScanFindingDraft& draft :
           reports::FindingsFromScan(report, ToUtcSeconds(asset.provenance.fetched_unix_ms),
                                     "kagami crawl " + job.name)) {
        reports::Finding& f = draft.finding;
        if (!job.works.empty() &&
            std::find(job.works.begin(), job.works.end(), f.work) == job.works.end())
          continue;
        f.source = j.item.entry.url;
        f.source_is_url = true;
        f.page_url = j.item.entry.referrer;
        f.media_url = j.item.entry.url;
        f.server_ip = r.ip;
        f.http_status = static_cast<int>(r.code);
        f.http_headers = HeaderPairs(r.response_head);
        f.content_sha256 = asset.provenance.sha256_hex;
        f.warc_file = j.warc_ref.file;
        f.warc_record_id = j.warc_ref.record_id;
        if (!j.item.robots_override.empty()) f.robots_override = j.item.robots_override;
        j.findings.push_back(std::move(f));
      }
    });
    if (!reported) j.done.status = Status::Internal("scanner returned no report");
  }

  // The next image of reader page `page`: its sample position (0: described
  // whatever happens) -- 0 without sampling, without a page, once the page has
  // matched, or past the bounds on pages and waiting bytes -- and the scale an
  // image of the page matched at (0: none matched yet), for the other images'
  // zoomed-out look (ingest::Volume::scale_hint).
  struct PageSample {
    int position = 0;
    double scale = 0;
  };
  PageSample SampleOf(const std::string& page, uint64_t bytes) {
    if (page.empty()) return {};
    const pipeline::ScanOptions& o = scanner.options();
    const bool sampling = o.robust.local == index::LocalStage::kAuto && o.local_sample > 1;
    std::lock_guard<std::mutex> lock(mu);
    auto it = pages.find(page);
    if (it == pages.end()) {
      if (!sampling || pages.size() >= kMaxEvidencePages) return {};
      it = pages.emplace(page, PageEvidence{}).first;
      // Findings on this page already (an earlier crawl, another worker).
      it->second.matched = findings.PageHasFindings(page);
    }
    PageEvidence& e = it->second;
    PageSample sample;
    sample.scale = e.scale;
    if (!sampling || e.matched || waiting_bytes + bytes > o.max_deferred_bytes) return sample;
    const int64_t position = e.seen++;
    sample.position =
        static_cast<int>(std::min<int64_t>(position, std::numeric_limits<int>::max()));
    return sample;
  }

  // An image of `page` matched: its waiting images are matched again, every
  // page described.
  // `scale`: the match's (scanned -> registered), 1 for a PDQ match.
  void PageMatched(const std::string& page, double scale) {
    if (page.empty()) return;
    std::vector<MediaJobPtr> again;
    {
      std::lock_guard<std::mutex> lock(mu);
      auto it = pages.find(page);
      if (it == pages.end()) return;
      it->second.matched = true;
      if (it->second.scale == 0) it->second.scale = scale;
      again.swap(it->second.waiting);
      for (const MediaJobPtr& w : again) Unwait(*w);
    }
    for (MediaJobPtr& w : again) match_node->try_put(std::move(w));
  }

  // Before waiting images are completed unchecked: the pages of those that
  // have findings recorded meanwhile by another worker sharing the ledger are
  // matched again (PageMatched). Returns whether any page was; an error when
  // the ledger cannot be read.
  Result<bool> ReopenPagesWithFindings() {
    KAGAMI_RETURN_IF_ERROR(
        findings.RefreshPages().WithContext("reading the findings ledger's reader pages"));
    std::vector<std::string> reopen;
    {
      std::lock_guard<std::mutex> lock(mu);
      for (const auto& [page, e] : pages) {
        if (!e.waiting.empty() && findings.PageHasFindings(page)) reopen.push_back(page);
      }
    }
    for (const std::string& page : reopen) PageMatched(page, 0);
    return !reopen.empty();
  }

  // Moves a waiting job's bytes back under media_pending_bytes; `mu` held.
  void Unwait(MediaJob& w) {
    waiting_bytes -= w.bytes;
    media_pending_bytes += w.bytes;
    --waiting_jobs;
  }

  // Ends every waiting image: completed as not checked, or released (dropped)
  // to be fetched again. Their completions go to media_done.
  void EndWaiting(bool release) {
    std::lock_guard<std::mutex> lock(mu);
    for (auto& [page, e] : pages) {
      for (const MediaJobPtr& w : e.waiting) {
        Unwait(*w);
        media_pending_bytes -= w->bytes;
        w->asset.bytes.reset();
        w->done.dropped = release;
        w->done.local_skipped = !release;
        media_done.push_back(std::move(w->done));
      }
      e.waiting.clear();
    }
  }

  // record node (serial): the matched bytes kept as evidence, findings
  // recorded, and the item handed back to the fetch loop -- or, an image its
  // scan left undescribed, held for its reader page's evidence.
  void RecordMedia(const MediaJobPtr& jp) {
    MediaJob& j = *jp;
    if (j.local_skipped && drop_unstarted.load()) {
      j.done.dropped = true;  // a stop: released unchecked, fetched and matched again later
    } else if (j.local_skipped && !j.finished) {
      std::unique_lock<std::mutex> lock(mu);
      PageEvidence& e = pages[j.item.entry.referrer];
      media_pending_bytes -= j.bytes;
      waiting_bytes += j.bytes;
      ++waiting_jobs;
      j.local_skipped = false;
      if (!e.matched) {
        e.waiting.push_back(jp);
        return;
      }
      Unwait(j);  // its page matched meanwhile: matched again at once
      lock.unlock();
      match_node->try_put(jp);
      return;
    }
    if (!j.findings.empty()) {
      std::lock_guard<std::mutex> lock(record_mu);  // streams record from their own threads
      for (reports::Finding& f : j.findings) {
        Result<std::pair<std::string, std::string>> kept = evidence.KeepBytes(std::string_view(
            reinterpret_cast<const char*>(j.asset.bytes->data()), j.asset.bytes->size()));
        if (kept.ok()) f.evidence_file = kept->second;
        RecordFinding(f, j.done);
      }
    }
    j.asset.bytes.reset();
    {
      std::lock_guard<std::mutex> lock(mu);
      media_pending_bytes -= j.bytes;
      media_done.push_back(std::move(j.done));
    }
    client->Wakeup();  // the fetch loop completes the entry and may fetch more
  }

  // An HLS playlist: every playlist and segment fetched through a SafeFetcher
  // (the job's address policy, pins, caps, politeness and WARC; robots.txt of
  // the playlist's host applies to same-host segments), decoded through
  // ingest's custom AVIO, matched as video (pipeline::ScanVideos), and each
  // work's aligned segments recorded as one finding with their time ranges.
  MediaDone ProcessStream(MediaItem& item) {
    MediaDone d;
    d.id = item.entry.id;
    if (job.fetch_only) return d;
    Result<Url> playlist = ParseUrl(item.entry.url);
    SafeFetcher::Options fo;
    fo.http = http_options;
    fo.max_redirects = job.limits.max_redirects;
    fo.max_retries = job.politeness.max_retries;
    fo.min_delay_s = job.politeness.min_delay_s;
    fo.max_backoff_s = job.politeness.max_backoff_s;
    const std::string authority = playlist.ok() ? playlist->authority() : "";
    const bool obey = job.politeness.obey_robots && item.robots_override.empty();
    fo.allow = [&](const std::string& url) -> std::string {
      Result<Url> u = ParseUrl(url);
      if (!u.ok()) return u.status().message();
      if (obey && u->authority() == authority && !item.robots.Allowed(u->path_query))
        return "disallowed by robots.txt";
      return "";
    };
    WarcRef first_ref;
    fo.on_archived = [&](const std::string&, const WarcRef& ref) {
      if (first_ref.record_id.empty()) first_ref = ref;
    };
    Result<std::unique_ptr<SafeFetcher>> made = SafeFetcher::Create(fo, warc.get());
    if (!made.ok()) {
      d.status = made.status();
      return d;
    }
    // The stream's content digest: SHA-256 over the playlist and segment
    // bodies in fetch order.
    struct DigestingFetcher : ingest::ByteFetcher {
      ingest::ByteFetcher& inner;
      kagami::Sha256 digest;
      int64_t first_ms = 0;
      explicit DigestingFetcher(ingest::ByteFetcher& f) : inner(f) {}
      Result<ingest::FetchedBytes> Fetch(const std::string& url, uint64_t max) override {
        Result<ingest::FetchedBytes> got = inner.Fetch(url, max);
        if (got.ok()) {
          if (first_ms == 0) first_ms = NowMs();
          digest.Update(got->bytes.data(), got->bytes.size());
        }
        return got;
      }
      std::string Hex() { return digest.FinalHex(); }
    } digesting(**made);
    pipeline::VideoOptions vo = pipeline::VideoOptionsFor(scanner.options().extract);
    vo.fetcher = &digesting;
    vo.live.max_media_seconds = job.limits.live_max_media_s;
    vo.live.max_segments = static_cast<size_t>(job.limits.live_max_segments);
    vo.live.max_wall_seconds = job.limits.live_max_wall_s > 0
                                   ? job.limits.live_max_wall_s
                                   : job.limits.live_max_media_s * 1.1 + 60;
    vo.live.max_stall_seconds = job.limits.live_max_stall_s;
    pipeline::VolumeReport report;
    bool reported = false;
    Status scanned = pipeline::ScanVideos(scanner.store(), {item.entry.url}, vo,
                                          scanner.options().extract.limits,
                                          [&](const pipeline::VolumeReport& r) {
                                            report = r;
                                            reported = true;
                                          });
    if (!scanned.ok()) {
      d.status = scanned;
      return d;
    }
    if (!reported) {
      d.status = Status::Internal("video scan returned no report");
      return d;
    }
    if (!report.status.ok()) d.status = report.status;
    if (report.verdict != pipeline::Verdict::kMatch) return d;
    std::string sha = digesting.Hex();
    std::map<std::string, reports::Finding> by_work;
    for (const pipeline::VideoSegmentMatch& m : report.segments) {
      if (!job.works.empty() &&
          std::find(job.works.begin(), job.works.end(), m.ref.work_id) == job.works.end())
        continue;
      reports::Finding& f = by_work[m.ref.work_id];
      f.work = m.ref.work_id;
      reports::MatchedUnit u;
      u.index = static_cast<int>(f.units.size());
      u.time = reports::TimeRange{m.segment.start, m.segment.end};
      u.ref_time = reports::TimeRange{m.segment.ref_start, m.segment.ref_end};
      u.ref_asset = m.ref.path;
      u.ref_asset_sha256 = m.ref.sha256;
      u.distance = static_cast<int>(std::lround(m.segment.mean_distance));
      u.similarity = m.segment.score;
      u.coverage = m.coverage;
      u.mirrored = m.segment.mirrored;
      {
        std::lock_guard<std::mutex> keep_lock(record_mu);  // evidence writes, as in RecordMedia
        Status kept = reports::KeepQueryFrame(m, evidence, u);  // the exhibit's query frame
        if (!kept.ok()) d.status = kept;
      }
      f.units.push_back(std::move(u));
    }
    std::lock_guard<std::mutex> lock(record_mu);
    for (auto& [work, f] : by_work) {
      f.source = item.entry.url;
      f.source_is_url = true;
      f.page_url = item.entry.referrer;
      f.media_url = item.entry.url;
      f.captured_at = ToUtcSeconds(digesting.first_ms != 0 ? digesting.first_ms : NowMs());
      f.recorded_by = "kagami crawl " + job.name + " (HLS)";
      f.content_sha256 = sha;
      f.warc_file = first_ref.file.empty() ? "" : "crawl/" + job.name + "/warc/" + first_ref.file;
      f.warc_record_id = first_ref.record_id;
      f.robots_override = item.robots_override;
      RecordFinding(f, d);
    }
    return d;
  }

  Status DrainMediaDone() {
    std::deque<MediaDone> done;
    {
      std::lock_guard<std::mutex> lock(mu);
      done.swap(media_done);
      media_outstanding -= static_cast<int>(done.size());
    }
    if (!done.empty()) activity = true;
    for (const MediaDone& d : done) {
      if (d.dropped) continue;  // released with the rest of this process's leases
      progress.findings += d.new_findings;
      if (d.local_skipped) ++progress.media_local_skipped;
      if (d.fatal) return d.status.WithContext("recording findings");
      KAGAMI_RETURN_IF_ERROR(
          frontier->Complete(d.id, d.status.ok() ? FetchOutcome::kDone : FetchOutcome::kFailed,
                             d.status.ok() ? "" : d.status.ToString()));
    }
    return Status::Ok();
  }

  Status Enqueue(const std::vector<Link>& links, const FrontierEntry& from) {
    std::vector<FrontierEntry> add;
    for (const Link& link : links) {
      Result<Url> url = ParseUrl(link.url);
      if (!url.ok()) continue;
      FrontierEntry e;
      e.url = url->canonical;
      e.authority = url->authority();
      e.kind = link.kind;
      e.referrer = from.url;
      e.depth = from.depth + 1;
      if (link.kind == LinkKind::kPage) {
        if (e.depth > job.limits.max_depth) continue;
        if (!HostIn(url->host, follow_hosts)) continue;
        e.priority = PagePriority(e.url);
      } else {
        if (e.depth > job.limits.max_depth + 1) continue;
        if (!job.media_hosts.empty() && !HostIn(url->host, job.media_hosts) &&
            !HostIn(url->host, follow_hosts))
          continue;
        e.priority = kPriorityMedia;
      }
      add.push_back(std::move(e));
    }
    KAGAMI_ASSIGN_OR_RETURN(int added, frontier->Add(add));
    progress.queued += added;
    return Status::Ok();
  }

  Status StartEntry(FrontierEntry e, HostState& h) {
    bool is_page = e.kind == LinkKind::kPage;
    const bool shared_budgets = frontier->SharesBudgets();
    if (!shared_budgets && is_page && pages_started >= job.limits.max_pages) {
      ++progress.refused;
      return frontier->Complete(e.id, FetchOutcome::kRefused, "page budget reached");
    }
    if (!shared_budgets && !is_page && media_started >= job.limits.max_media) {
      ++progress.refused;
      return frontier->Complete(e.id, FetchOutcome::kRefused, "media budget reached");
    }
    bool overridden = false;
    Result<Url> url = ParseUrl(e.url);
    if (!url.ok()) {
      ++progress.refused;
      return frontier->Complete(e.id, FetchOutcome::kRefused, url.status().ToString());
    }
    if (job.politeness.obey_robots && !h.robots.Allowed(url->path_query)) {
      if (!h.robots_override) {
        ++progress.refused;
        return frontier->Complete(e.id, FetchOutcome::kRefused,
                                  h.robots_unreachable
                                      ? "robots.txt unreachable (5xx) after " +
                                            std::to_string(h.robots_failures) +
                                            " tries: complete disallow (RFC 9309 2.3.1.4)"
                                      : "disallowed by robots.txt");
      }
      overridden = true;
    }
    if (shared_budgets) {
      // Counted in the shared frontier for every worker of the run together.
      KAGAMI_ASSIGN_OR_RETURN(
          bool within, frontier->TakeBudget(e.id, is_page,
                                            is_page ? job.limits.max_pages : job.limits.max_media));
      if (!within) {
        ++progress.refused;
        return frontier->Complete(e.id, FetchOutcome::kRefused,
                                  is_page ? "page budget reached" : "media budget reached");
      }
    }
    if (!retries.count(e.id)) (is_page ? pages_started : media_started)++;
    if (e.kind == LinkKind::kStream) {  // the media stage fetches playlists and segments
      ++progress.media;
      MediaItem item;
      item.entry = std::move(e);
      item.stream = true;
      item.robots = h.robots;
      if (overridden) {
        item.robots_override = "robots.txt disallows " + item.entry.url + "; job '" + job.name +
                               "' overrides robots.txt for this host (ignore_robots_hosts)";
      }
      SubmitMedia(std::move(item), 0);
      return Status::Ok();
    }
    HttpRequest req;
    req.token = next_token++;
    req.url = e.url;
    req.max_body_bytes = is_page ? job.limits.max_page_bytes : job.limits.max_media_bytes;
    InFlight f;
    f.entry = std::move(e);
    f.robots_overridden = overridden;
    in_flight.emplace(req.token, std::move(f));
    ++h.active;
    h.next_start =
        Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(HostDelay(h) * 1000));
    client->Start(req);
    return Status::Ok();
  }

  void StartRobots(const std::string& authority, const std::string& url, int hops, HostState& h) {
    HttpRequest req;
    req.token = kRobotsTokenBit | next_token++;
    req.url = url;
    req.max_body_bytes = kMaxRobotsBytes;
    InFlight f;
    f.authority = authority;
    f.robots_hops = hops;
    in_flight.emplace(req.token, std::move(f));
    h.robots_state = HostState::kFetching;
    ++h.active;
    client->Start(req);
  }

  // robots.txt answers of earlier runs (<job dir>/robots-cache.json): RFC 9309
  // lets a crawler reuse one for up to 24 hours. Entries: authority ->
  // {"t": unix seconds, "kind": "rules"|"allow", "body": text}. Unreachable
  // hosts (disallow all) are not cached: they are asked again next run.
  void LoadRobotsCache() {
    std::ifstream in(dir / "robots-cache.json");
    nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_object()) robots_cache = std::move(j);
  }

  // The cached answer for `authority` applied to `h`, as a shared-frontier
  // verdict ("allow" or "rules\n" + body); "" when there is none fresh.
  std::string RobotsFromCache(const std::string& authority, HostState& h) {
    auto it = robots_cache.find(authority);
    if (it == robots_cache.end() || !it->is_object()) return "";
    int64_t t = it->value("t", int64_t{0});
    if (NowMs() / 1000 - t > kRobotsCacheSeconds || t > NowMs() / 1000 + 60) return "";
    std::string kind = it->value("kind", "");
    if (kind == "rules") {
      std::string body = it->value("body", "");
      h.robots = RobotsRules::Parse(body, job.RobotsToken());
      return "rules\n" + body;
    }
    if (kind == "allow") {
      h.robots = RobotsRules::AllowAll();
      return "allow";
    }
    return "";
  }

  void CacheRobots(const std::string& authority, const std::string& kind, const std::string& body) {
    robots_cache[authority] = {{"t", NowMs() / 1000}, {"kind", kind}, {"body", body}};
    std::filesystem::path path = dir / "robots-cache.json";
    std::filesystem::path tmp = dir / "robots-cache.json.tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << robots_cache.dump();
      if (!out) return;  // a cache: failing to keep it costs a refetch, nothing else
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
  }

  Status Fill() {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (media_pending_bytes > job.limits.max_pending_media_bytes) return Status::Ok();
    }
    if (client->in_flight() >= job.limits.max_connections) return Status::Ok();
    KAGAMI_ASSIGN_OR_RETURN(std::vector<std::string> authorities, frontier->ReadyAuthorities());
    frontier_had_work = !authorities.empty();
    Clock::time_point now = Clock::now();
    for (const std::string& authority : authorities) {
      if (client->in_flight() >= job.limits.max_connections) break;
      HostState& h = hosts[authority];
      if (h.robots_state == HostState::kFetching) continue;
      if (h.robots_state == HostState::kUnknown && now < h.robots_retry_at) continue;
      if (h.robots_state == HostState::kUnknown && job.politeness.obey_robots) {
        // Shared frontiers fetch each robots.txt once for all workers.
        KAGAMI_ASSIGN_OR_RETURN(Frontier::SharedRobots shared, frontier->LeaseRobots(authority));
        if (shared.lease == Frontier::RobotsLease::kWait) continue;
        h.robots_failures = std::max(h.robots_failures, shared.failures);
        if (shared.lease == Frontier::RobotsLease::kKnown) {
          h.robots_unreachable = shared.verdict == "disallow";
          h.robots = shared.verdict == "allow" ? RobotsRules::AllowAll()
                     : shared.verdict == "disallow"
                         ? RobotsRules::DisallowAll()
                         : RobotsRules::Parse(std::string_view(shared.verdict).substr(6),
                                              job.RobotsToken());
          h.robots_override =
              HostIn(authority.substr(0, authority.rfind(':')), job.politeness.ignore_robots_hosts);
          h.robots_state = HostState::kReady;
        }
      }
      if (h.active >= job.politeness.per_host_connections || now < h.next_start) continue;
      int n = HostDelay(h) > 0 ? 1 : job.politeness.per_host_connections - h.active;
      n = std::min(n, job.limits.max_connections - client->in_flight());
      KAGAMI_ASSIGN_OR_RETURN(std::vector<FrontierEntry> claimed, frontier->Claim(authority, n));
      if (claimed.empty()) continue;
      if (h.robots_state == HostState::kUnknown) {
        h.robots_override = HostIn(claimed[0].authority.substr(0, claimed[0].authority.rfind(':')),
                                   job.politeness.ignore_robots_hosts);
        bool cached = false;
        if (job.politeness.obey_robots) {
          std::string verdict = RobotsFromCache(authority, h);
          cached = !verdict.empty();
          // A shared frontier leased this robots.txt to us: publish the cached answer.
          if (cached) KAGAMI_RETURN_IF_ERROR(frontier->StoreRobots(authority, verdict));
        }
        if (job.politeness.obey_robots && !cached) {
          Result<Url> u = ParseUrl(claimed[0].url);
          h.parked = std::move(claimed);
          StartRobots(authority, (u.ok() ? u->scheme : "http") + "://" + authority + "/robots.txt",
                      0, h);
          continue;
        }
        h.robots_state = HostState::kReady;
      }
      for (FrontierEntry& e : claimed) KAGAMI_RETURN_IF_ERROR(StartEntry(std::move(e), h));
    }
    return Status::Ok();
  }

  // Thread-safe (WarcWriter serialises). `payload_sha256_hex`: the digest of
  // r.raw_body when already known ("" computes it).
  Result<WarcRef> Archive(const HttpResponse& r, const std::string& payload_sha256_hex = "") {
    Result<WarcRef> ref = ArchiveRaw(r, payload_sha256_hex);
    if (ref.ok()) ref->file = "crawl/" + job.name + "/warc/" + ref->file;
    return ref;
  }

  Result<WarcRef> ArchiveRaw(const HttpResponse& r, const std::string& payload_sha256_hex) {
    return warc->Write(ToExchange(r, payload_sha256_hex));
  }

  Status RetryOrFail(const FrontierEntry& e, HostState& h, double retry_after_s,
                     const std::string& why) {
    int& n = retries[e.id];
    ++h.consecutive_failures;
    double backoff = std::max(0.25, job.politeness.min_delay_s) *
                     std::pow(2.0, std::min(h.consecutive_failures - 1, 20));
    double wait = std::min(job.politeness.max_backoff_s, std::max(backoff, retry_after_s));
    h.next_start = std::max(
        h.next_start, Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(wait * 1000)));
    KAGAMI_RETURN_IF_ERROR(frontier->Defer(e.authority, wait));
    if (n < job.politeness.max_retries) {
      ++n;
      return frontier->Release(e.id);
    }
    ++progress.failed;
    return frontier->Complete(e.id, FetchOutcome::kFailed, why);
  }

  // RFC 9309 2.3.1: 2xx -> the rules; redirects followed (up to five hops,
  // across hosts, each checked by the address policy and archived); other
  // 3xx and 4xx -> unavailable, allow all; 5xx or unreachable -> disallow all.
  Status HandleRobots(const InFlight& f, HttpResponse& r) {
    HostState& h = hosts[f.authority];
    --h.active;
    if (r.code != 0) (void)Archive(r);
    progress.bytes += static_cast<int64_t>(r.raw_body.size());
    std::string verdict = "allow";
    if (r.status.ok() && r.code >= 200 && r.code < 300) {
      h.robots = RobotsRules::Parse(r.body, job.RobotsToken());
      verdict = "rules\n" + r.body;
      CacheRobots(f.authority, "rules", r.body.substr(0, kMaxRobotsBytes));
    } else if (r.status.ok() && r.code >= 300 && r.code < 400 && r.headers.count("location") &&
               f.robots_hops < kMaxRobotsRedirects) {
      Result<Url> target = ParseUrl(r.headers.at("location"), r.url);
      if (target.ok()) {
        StartRobots(f.authority, target->canonical, f.robots_hops + 1, h);
        return Status::Ok();
      }
      h.robots = RobotsRules::AllowAll();  // a redirect to nowhere fetchable: unavailable
    } else if (r.status.ok() && r.code >= 300 && r.code < 500) {
      h.robots = RobotsRules::AllowAll();  // 2.3.1.3: unavailable -> allowed
      CacheRobots(f.authority, "allow", "");
    } else if (r.refused_address && f.robots_hops == 0) {
      h.robots = RobotsRules::AllowAll();  // the pages will be refused by the policy anyway
    } else {
      // 2.3.1.4: unreachable -> complete disallow. Nothing is fetched from
      // the host meanwhile; robots.txt is asked again after a doubling
      // back-off (shared by all workers of a shared frontier), a bounded
      // number of times, and only then are the host's URLs refused.
      ++h.robots_failures;
      if (h.robots_failures <= job.politeness.robots_retries) {
        double wait =
            std::min(job.politeness.max_backoff_s,
                     job.politeness.robots_retry_s * std::pow(2.0, h.robots_failures - 1));
        h.robots_state = HostState::kUnknown;
        h.robots_retry_at =
            Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(wait * 1000));
        h.next_start = std::max(h.next_start, h.robots_retry_at);
        KAGAMI_RETURN_IF_ERROR(frontier->StoreRobots(f.authority, "retry"));
        KAGAMI_RETURN_IF_ERROR(frontier->Defer(f.authority, wait));
        std::vector<FrontierEntry> parked = std::move(h.parked);
        h.parked.clear();
        for (const FrontierEntry& e : parked) KAGAMI_RETURN_IF_ERROR(frontier->Release(e.id));
        return Status::Ok();
      }
      h.robots = RobotsRules::DisallowAll();
      h.robots_unreachable = true;
      verdict = "disallow";
    }
    if (verdict != "disallow") h.robots_failures = 0;
    KAGAMI_RETURN_IF_ERROR(
        frontier->StoreRobots(f.authority, verdict, job.politeness.max_backoff_s));
    h.robots_state = HostState::kReady;
    if (stopping) return Status::Ok();  // parked entries are released by the stop
    std::vector<FrontierEntry> parked = std::move(h.parked);
    h.parked.clear();
    for (FrontierEntry& e : parked) KAGAMI_RETURN_IF_ERROR(StartEntry(std::move(e), h));
    return Status::Ok();
  }

  Status Handle(HttpResponse& r) {
    auto it = in_flight.find(r.token);
    if (it == in_flight.end()) return Status::Ok();
    InFlight f = std::move(it->second);
    in_flight.erase(it);
    if (r.token & kRobotsTokenBit) return HandleRobots(f, r);
    FrontierEntry& e = f.entry;
    HostState& h = hosts[e.authority];
    --h.active;
    progress.bytes += static_cast<int64_t>(r.raw_body.size());
    if (r.refused_address) {
      ++progress.refused;
      return frontier->Complete(e.id, FetchOutcome::kRefused, r.status.message());
    }
    auto ct_it = r.headers.find("content-type");
    std::string ct = ct_it == r.headers.end() ? "" : ct_it->second;
    bool html = r.status.ok() && LooksLikeHtml(ct, r.body);
    // A fetched media body is archived by the media stage, off this loop.
    bool media = r.status.ok() && r.code >= 200 && r.code < 300 && !html;
    if (r.code != 0 && !media) {
      Result<WarcRef> written = Archive(r);
      if (!written.ok()) return written.status();  // evidence cannot be kept: stop
    }
    if (!r.status.ok()) {
      if (r.status.code() == StatusCode::kResourceExhausted ||
          r.status.code() == StatusCode::kCorrupt || r.status.code() == StatusCode::kUnsupported) {
        ++progress.refused;
        return frontier->Complete(e.id, FetchOutcome::kRefused, r.status.message());
      }
      return RetryOrFail(e, h, -1, r.status.message());
    }
    if (r.code == 429 || r.code == 503) {
      auto ra = r.headers.find("retry-after");
      return RetryOrFail(e, h,
                         ra == r.headers.end()
                             ? -1
                             : ParseRetryAfter(ra->second, static_cast<double>(std::time(nullptr))),
                         "HTTP " + std::to_string(r.code));
    }
    if (r.code >= 500) return RetryOrFail(e, h, -1, "HTTP " + std::to_string(r.code));
    h.consecutive_failures = 0;
    if (r.code >= 300 && r.code < 400) {
      auto loc = r.headers.find("location");
      if (loc == r.headers.end()) {
        ++progress.failed;
        return frontier->Complete(e.id, FetchOutcome::kFailed, "redirect without Location");
      }
      if (e.redirects + 1 > job.limits.max_redirects) {
        ++progress.refused;
        return frontier->Complete(e.id, FetchOutcome::kRefused, "redirect hop limit");
      }
      Result<Url> target = ParseUrl(loc->second, e.url);
      if (!target.ok()) {
        ++progress.refused;
        return frontier->Complete(e.id, FetchOutcome::kRefused,
                                  "bad redirect: " + target.status().message());
      }
      FrontierEntry next = e;
      next.id = 0;
      next.url = target->canonical;
      next.authority = target->authority();
      next.redirects = e.redirects + 1;
      KAGAMI_ASSIGN_OR_RETURN(int added, frontier->Add({next}));
      progress.queued += added;
      return frontier->Complete(e.id, FetchOutcome::kDone, "redirect to " + next.url);
    }
    if (r.code >= 400) {
      ++progress.failed;
      return frontier->Complete(e.id, FetchOutcome::kFailed, "HTTP " + std::to_string(r.code));
    }
    if (html) {
      Result<Url> u = ParseUrl(e.url);
      bool followable = u.ok() && HostIn(u->host, follow_hosts);
      if (e.kind == LinkKind::kPage || followable) {
        ++progress.pages;
        if (f.robots_overridden) overridden_pages.insert(e.url);
        std::vector<Link> links = ExtractLinks(r.body, e.url, RulesFor(u.ok() ? u->host : ""));
        KAGAMI_RETURN_IF_ERROR(Enqueue(links, e));
        return frontier->Complete(e.id, FetchOutcome::kDone, "");
      }
      return frontier->Complete(e.id, FetchOutcome::kDone, "HTML at a media URL, not followed");
    }
    ++progress.media;
    KAGAMI_RETURN_IF_ERROR(frontier->MarkFetched(e.id));  // off the wire, still leased
    MediaItem item;
    item.entry = e;
    if (f.robots_overridden) {
      item.robots_override = "robots.txt disallows " + e.url + "; job '" + job.name +
                             "' overrides robots.txt for this host (ignore_robots_hosts)";
    } else if (overridden_pages.count(e.referrer)) {
      item.robots_override = "found on " + e.referrer + ", which robots.txt disallows; job '" +
                             job.name +
                             "' overrides robots.txt for that host (ignore_robots_hosts)";
    }
    uint64_t bytes = r.body.size();
    item.response = std::move(r);
    SubmitMedia(std::move(item), bytes);
    return Status::Ok();
  }

  Status Setup(bool resume, CrawlSummary& summary) {
    std::error_code ec;
    std::filesystem::create_directories(dir / "warc", ec);
    if (ec) return ErrnoStatus(ec.value(), "create " + (dir / "warc").string());
    if (!frontier) {
      KAGAMI_ASSIGN_OR_RETURN(frontier, OpenSqliteFrontier(dir / "frontier.sqlite"));
    }
    KAGAMI_ASSIGN_OR_RETURN(summary.resumed, frontier->BeginRun(resume));
    LoadRobotsCache();
    for (const std::string& seed : job.seeds) {
      Result<Url> u = ParseUrl(seed);
      if (u.ok()) follow_hosts.push_back(u->host);
    }
    for (const std::string& h : job.follow_hosts) follow_hosts.push_back(h);
    if (!summary.resumed) {
      std::vector<FrontierEntry> seeds;
      for (const std::string& seed : job.seeds) {
        KAGAMI_ASSIGN_OR_RETURN(Url u, ParseUrl(seed));
        FrontierEntry e;
        e.url = u.canonical;
        e.authority = u.authority();
        e.priority = kPrioritySeed;
        e.kind = KindFromExtension(u.canonical) == LinkKind::kPage ? LinkKind::kPage
                                                                   : KindFromExtension(u.canonical);
        seeds.push_back(std::move(e));
      }
      KAGAMI_RETURN_IF_ERROR(frontier->Add(seeds).status());
    }
    KAGAMI_ASSIGN_OR_RETURN(FrontierCounts counts, frontier->Counts());
    pages_started = counts.done_pages;
    media_started = counts.done_media;
    progress.queued = counts.queued;

    KAGAMI_ASSIGN_OR_RETURN(AddressPolicy policy, AddressPolicy::Make(job.allow_addresses));
    HttpClientOptions o;
    o.user_agent = job.EffectiveUserAgent();
    o.connect_timeout_ms = job.limits.connect_timeout_ms;
    o.total_timeout_ms = job.limits.total_timeout_ms;
    o.low_speed_bytes_per_s = job.limits.low_speed_bytes_per_s;
    o.low_speed_time_s = job.limits.low_speed_time_s;
    o.max_connections = job.limits.max_connections;
    o.max_host_connections = job.politeness.per_host_connections;
    o.max_decompression_ratio = job.limits.max_decompression_ratio;
    o.resolve = job.resolve;
    o.policy = policy;
    http_options = o;
    KAGAMI_ASSIGN_OR_RETURN(client, HttpClient::Create(o));

    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    std::string name = job.name + "-" + stamp + "-" + std::to_string(getpid()) + ".warc.gz";
    std::string info = "software: Kagami/0.1\r\nformat: WARC File Format 1.1\r\njob: " + job.name +
                       "\r\nhttp-header-user-agent: " + o.user_agent + "\r\n";
    if (!job.operator_contact.empty()) info += "operator: " + job.operator_contact + "\r\n";
    KAGAMI_ASSIGN_OR_RETURN(warc, WarcWriter::Create(dir / "warc" / name, info));
    summary.warc_files.push_back((dir / "warc" / name).string());
    return Status::Ok();
  }
};

Crawler::Crawler(CrawlJob job, std::filesystem::path data_dir, pipeline::Scanner& scanner,
                 FindingsSink& findings, std::function<void(const reports::Finding&)> on_finding)
    : impl_(std::make_unique<Impl>(job, data_dir / "crawl" / job.name, scanner, findings, data_dir,
                                   std::move(on_finding))) {}

void Crawler::UseFrontier(std::unique_ptr<Frontier> frontier) {
  impl_->frontier = std::move(frontier);
}

Crawler::~Crawler() {
  if (impl_) impl_->StopMediaGraph();
}

Result<CrawlSummary> Crawler::Run(bool resume, const std::atomic<bool>* stop,
                                  const std::function<void(const CrawlProgress&)>& progress) {
  Impl& m = *impl_;
  CrawlSummary summary;
  auto started = Clock::now();
  KAGAMI_RETURN_IF_ERROR(m.Setup(resume, summary));
  m.StartMediaGraph();
  Status status;
  auto last_progress = Clock::now();
  Clock::time_point stop_deadline{};
  Clock::time_point last_evidence_check{};
  std::optional<Clock::time_point> evidence_wait_since;
  while (true) {
    if (!m.stopping && stop != nullptr && stop->load()) {
      // A clean stop: nothing new starts; exchanges in flight may finish for
      // kStopGrace; below, fetched media is recorded and every URL still
      // claimed goes back to the frontier.
      m.stopping = true;
      summary.stopped = true;
      stop_deadline = Clock::now() + kStopGrace;
    }
    if (m.stopping && (m.client->in_flight() == 0 || Clock::now() >= stop_deadline)) break;
    bool only_waiting = false;  // nothing in flight, only waiting images outstanding
    status = m.DrainMediaDone();
    if (!status.ok()) break;
    if (!m.stopping && (m.activity || Clock::now() - m.last_fill >= kIdleFill)) {
      m.activity = false;
      m.last_fill = Clock::now();
      status = m.Fill();
      if (!status.ok()) break;
    }
    int outstanding;
    {
      std::lock_guard<std::mutex> lock(m.mu);
      outstanding = m.media_outstanding;
    }
    if (!m.stopping && m.client->in_flight() == 0) {
      if (!m.frontier_had_work.has_value()) {
        Result<std::vector<std::string>> ready = m.frontier->ReadyAuthorities();
        if (!ready.ok()) {
          status = ready.status();
          break;
        }
        m.frontier_had_work = !ready->empty();
      }
      int waiting;
      {
        std::lock_guard<std::mutex> lock(m.mu);
        waiting = m.waiting_jobs;
      }
      if (!*m.frontier_had_work && outstanding == 0) break;  // nothing left anywhere
      // Only waiting images outstanding (a shared frontier keeps reporting
      // work while any URL of the run is leased, these images' own included).
      only_waiting = waiting > 0 && outstanding == waiting;
      if (only_waiting && Clock::now() - last_evidence_check >= kEvidenceCheck) {
        last_evidence_check = Clock::now();
        Result<bool> reopened = m.ReopenPagesWithFindings();
        if (!reopened.ok()) {
          status = reopened.status();
          break;
        }
        if (*reopened) {  // another worker's evidence came
          evidence_wait_since.reset();
          continue;
        }
        Result<FrontierCounts> counts = m.frontier->Counts();
        if (!counts.ok()) {
          status = counts.status();
          break;
        }
        // The waiting images' own entries are among the queued (not completed).
        if (counts->queued > waiting) {
          if (!evidence_wait_since) evidence_wait_since = last_evidence_check;
          if (last_evidence_check - *evidence_wait_since < kEvidenceWait) continue;
        }
        evidence_wait_since.reset();
        m.EndWaiting(/*release=*/false);  // no evidence is coming: complete them unchecked
        continue;
      }
    }
    // kEvidenceWait counts from the start of the current idle spell.
    if (!only_waiting) evidence_wait_since.reset();
    std::vector<HttpResponse> responses = m.client->Poll(20);
    if (!responses.empty()) m.activity = true;
    for (HttpResponse& r : responses) {
      status = m.Handle(r);
      if (!status.ok()) break;
    }
    if (!status.ok()) break;
    m.progress.in_flight = m.client->in_flight();
    if (progress && Clock::now() - last_progress > std::chrono::milliseconds(250)) {
      progress(m.progress);
      last_progress = Clock::now();
    }
  }
  if (summary.stopped) {
    auto drain_deadline = Clock::now() + kStopMediaDrain;
    while (status.ok() && Clock::now() < drain_deadline) {
      status = m.DrainMediaDone();
      {
        std::lock_guard<std::mutex> lock(m.mu);
        // Waiting images (Impl::PageEvidence) are released below, not drained.
        if (m.media_outstanding == m.waiting_jobs) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  // Media being matched is finished and recorded before returning; after a
  // stop or an error, media not yet matched is dropped (its URL released).
  if (summary.stopped || !status.ok()) m.drop_unstarted = true;
  m.StopMediaGraph();
  m.EndWaiting(/*release=*/summary.stopped || !status.ok());
  Status drained = m.DrainMediaDone();
  if (status.ok()) status = drained;
  if (summary.stopped || !status.ok()) {
    // Exchanges still in flight are abandoned (no WARC record: nothing was
    // kept), and every URL this process still holds is released at once.
    m.client.reset();
    m.in_flight.clear();
    Status released = m.frontier->ReleaseAll();
    if (status.ok()) status = released;
  }
  if (!status.ok()) return status;
  if (!summary.stopped) {
    Result<FrontierCounts> counts = m.frontier->Counts();
    if (counts.ok() && counts->queued == 0) KAGAMI_RETURN_IF_ERROR(m.frontier->FinishRun());
  }
  Result<FrontierCounts> counts = m.frontier->Counts();
  if (counts.ok()) m.progress.queued = counts->queued;
  m.progress.in_flight = 0;
  if (progress) progress(m.progress);
  summary.totals = m.progress;
  summary.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  return summary;
}

}  // namespace kagami::crawler
