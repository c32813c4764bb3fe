// `kagami export`: writes an evidence bundle (evidence_bundle.h).

#include "kagami/reports/evidence_bundle.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include <sodium.h>
#include <nlohmann/json.hpp>

#include "bundle_util.h"
#include "kagami/index/robust_matcher.h"
#include "kagami/reports/exhibit_renderer.h"
#include "kagami/reports/finding_records.h"
#include "kagami/reports/takedown_notices.h"
#include "video_report.h"

namespace kagami::reports {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr size_t kMaxExhibitsPerFinding = 24;

std::string SafeName(const std::string& name) {
  std::string out;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_';
    out += ok ? c : '_';
  }
  while (!out.empty() && out[0] == '.') out.erase(0, 1);
  if (out.size() > 100) out = out.substr(out.size() - 100);
  return out.empty() ? "captured.bin" : out;
}

std::string BaseName(const Finding& f) {
  std::string s = f.source_is_url ? (!f.media_url.empty() ? f.media_url : f.source) : f.source;
  size_t q = s.find_first_of("?#");
  if (f.source_is_url && q != std::string::npos) s = s.substr(0, q);
  size_t slash = s.find_last_of('/');
  return SafeName(slash == std::string::npos ? s : s.substr(slash + 1));
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string Html(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string Base64(const std::string& bytes) {
  size_t n = sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  std::string out(n, '\0');
  sodium_bin2base64(out.data(), n, reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(n - 1);  // drop the terminating NUL
  return out;
}

std::string Fixed(double v, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string Describe(const MatchedUnit& u) {
  if (u.time && u.ref_time) {
    std::string s = "video segment";
    if (u.distance >= 0)
      s += ", mean PDQ distance of matched frames " + std::to_string(u.distance) + "/256";
    s += ", score " + Fixed(u.similarity, 3);
    if (u.mirrored) s += ", mirrored";
    return s;
  }
  std::string s = "method " + std::string(MatchMethodName(u.method)) + ", view " +
                  std::string(MatchViewName(u.view));
  // What a reader cannot guess from the view's name.
  if (u.view == MatchView::kUnbanded)
    s += " (a strip laid across the page's blank paper, filled from the paper around it)";
  if (u.view == MatchView::kDeskewed)
    s += " (a page lying askew on a plain canvas, turned upright by the angle of its edges)";
  if (u.view == MatchView::kLevelled)
    s += " (lines of type or staves lying askew on plain paper, turned level by the angle of "
         "the lines)";
  if (u.distance >= 0 && u.blurred) {
    s += ", distance " + std::to_string(u.distance) +
         "/256 between Kagami's blurred hashes (PDQ of each page blurred first: a page of type "
         "keeps it across scales)";
  } else if (u.distance >= 0) {
    s += ", PDQ distance " + std::to_string(u.distance) + "/256";
  }
  s += ", similarity " + Fixed(u.similarity, 3);
  if (u.inliers > 0) {
    s += ", " + std::to_string(u.inliers) + " inliers, coverage " +
         std::to_string(static_cast<int>(u.coverage * 100 + 0.5)) + "%";
  }
  if (u.geometry) {
    const GeometryEvidence& g = *u.geometry;
    s += " of the registered " + std::string(g.coverage_of == "content" ? "content box" : "page");
    if (g.distinct_inliers >= 0) {
      s += ", " + std::to_string(g.distinct_inliers) + " inliers off shared layout";
    }
    s += ", " + std::to_string(g.grid_cells) + "/16 grid cells, " + g.model + " scale " +
         Fixed(g.scale, 2) + " rotation " + Fixed(g.rotation_deg, 1) + " deg";
    if (g.accepted_by == "appearance") {
      s += "; accepted on appearance: the suspect page warped onto the registered one "
           "correlates " +
           Fixed(g.appearance, 3) + " with it over " +
           std::to_string(static_cast<int>(g.appearance_compared * 100 + 0.5)) + "% of its area";
    }
  }
  if (u.mirrored) s += ", mirrored";
  if (u.colour_disagreement >= 0) {
    s += "; colours compared: colour disagreement " +
         std::to_string(static_cast<int>(u.colour_disagreement * 100 + 0.5)) +
         "% (the smaller of the suspect region's and the registered page's share of colour in "
         "hues the other lacks; a recolouring, above " +
         std::to_string(
             static_cast<int>(index::RobustOptions{}.colour_max_disagreement * 100 + 0.5)) +
         "%, is not reported)";
  }
  if (u.same_picture_as) {
    const SamePicture& t = *u.same_picture_as;
    s += "; the same picture is registered in work " + t.work + " (" +
         (t.ref_member.empty() ? t.ref_asset : t.ref_member) + " #" + std::to_string(t.ref_index) +
         ", registered PDQ hashes " + std::to_string(t.registered_distance) +
         " bits apart), which this page also matched on its own evidence";
  }
  return s;
}

struct ExhibitInfo {
  std::string file;
  int unit = 0;
  ExhibitLayout layout;
  double query_t = -1;  // video: the frame pair's times (seconds)
  double ref_t = -1;
};

// A video unit's frame pair: the middle of the query range and the reference
// time the segment maps it to (linear over the aligned ranges).
std::pair<double, double> AlignedTimes(const TimeRange& query, const TimeRange& ref) {
  const double q = (query.start_s + query.end_s) / 2;
  const double span = query.end_s - query.start_s;
  const double r =
      span > 0 ? ref.start_s + (q - query.start_s) * (ref.end_s - ref.start_s) / span : ref.start_s;
  return {q, r};
}

std::string Range(const TimeRange& t) {
  return internal::FormatClock(t.start_s) + "-" + internal::FormatClock(t.end_s);
}

json RectJson(const cv::Rect& r) { return json::array({r.x, r.y, r.width, r.height}); }

class Exporter {
 public:
  Exporter(FindingsLedger& ledger, index::Catalog& catalog, const SigningKey& key,
           const fs::path& data_dir, const ExportOptions& options)
      : ledger_(ledger),
        catalog_(catalog),
        key_(key),
        data_dir_(data_dir),
        options_(options),
        evidence_(data_dir) {}

  Result<ExportResult> Run() {
    if (sodium_init() < 0) return Status::Internal("libsodium failed to initialise");
    const fs::path& out = options_.out_dir;
    std::error_code ec;
    if (fs::exists(out, ec) && !(fs::is_directory(out, ec) && fs::is_empty(out, ec))) {
      return Status::InvalidArgument(out.string() + " exists and is not empty; choose a new --out");
    }
    root_ = out;
    root_ += ".partial";
    fs::remove_all(root_, ec);
    fs::create_directories(root_, ec);
    if (ec) return Status::IoError("creating " + root_.string() + ": " + ec.message());
    Status s = Write();
    if (!s.ok()) {
      fs::remove_all(root_, ec);
      return s;
    }
    if (fs::exists(out, ec)) fs::remove(out, ec);
    fs::rename(root_, out, ec);
    if (ec)
      return Status::IoError("renaming " + root_.string() + " to " + out.string() + ": " +
                             ec.message());
    result_.bundle = out;
    if (options_.zip) {
      fs::path zip = out;
      zip += ".zip";
      KAGAMI_RETURN_IF_ERROR(ZipDirectory(out, zip));
      result_.zip = zip;
    }
    return result_;
  }

 private:
  void Warn(std::string w) {
    result_.warnings.push_back(w);
    manifest_warnings_.push_back(std::move(w));
  }

  Status Write() {
    KAGAMI_ASSIGN_OR_RETURN(std::vector<LedgerEntry> entries, ledger_.Entries());
    ChainCheck chain = VerifyEntries(entries);
    if (!chain.ok) {
      return Status::Corrupt("the findings ledger fails verification (" + chain.problem +
                             "); refusing to export from it");
    }
    KAGAMI_ASSIGN_OR_RETURN(records_, ledger_.List(options_.filter));
    KAGAMI_ASSIGN_OR_RETURN(auto works, catalog_.ListWorks());
    for (auto& w : works) works_[w.work.id] = w.work;
    KAGAMI_ASSIGN_OR_RETURN(
        renderer_,
        ExhibitRenderer::Create(options_.font_path.empty() ? ExhibitRenderer::DefaultFontPath()
                                                           : options_.font_path));
    for (const FindingRecord& r : records_) KAGAMI_RETURN_IF_ERROR(WriteFinding(r));
    KAGAMI_RETURN_IF_ERROR(WriteCsv());
    std::string ledger_text;
    for (const LedgerEntry& e : entries) ledger_text += EntryToJsonLine(e) + "\n";
    KAGAMI_RETURN_IF_ERROR(WriteBundleFile(root_ / "ledger.jsonl", ledger_text));
    KAGAMI_RETURN_IF_ERROR(WriteNotices());
    KAGAMI_RETURN_IF_ERROR(WriteHtml(chain.head));
    KAGAMI_RETURN_IF_ERROR(WriteBundleFile(root_ / "signing.pub", key_.PublicKeyFile()));
    return WriteManifest(chain);
  }

  Status WriteFinding(const FindingRecord& r) {
    const Finding& f = r.finding;
    std::string id = std::to_string(r.id);
    fs::path dir = root_ / "findings" / id;
    json record = {{"finding", FindingListJson(r)}};
    std::string captured_rel;
    fs::path captured_abs;
    if (f.evidence_file.empty()) {
      Warn("finding " + id + ": the captured bytes were not kept" +
           (f.warc_file.empty() ? "" : " (see WARC " + f.warc_file + " " + f.warc_record_id + ")"));
    } else {
      auto kept = evidence_.Resolve(f.evidence_file);
      if (!kept.ok()) {
        Warn("finding " + id + ": " + kept.status().message());
      } else if (!f.content_sha256.empty() && kept->filename().string() != f.content_sha256) {
        Warn("finding " + id + ": kept bytes do not match the recorded content SHA-256");
      } else {
        captured_rel = "findings/" + id + "/captured/" + BaseName(f);
        std::error_code ec;
        fs::create_directories((root_ / captured_rel).parent_path(), ec);
        fs::copy_file(*kept, root_ / captured_rel, ec);
        if (ec) return Status::IoError("copying " + kept->string() + ": " + ec.message());
        captured_abs = *kept;
      }
    }
    record["captured"] = captured_rel.empty()
                             ? json(nullptr)
                             : json({{"file", captured_rel}, {"sha256", f.content_sha256}});
    json exhibits = json::array();
    // A stream read over http(s) has no captured file, but its units carry the
    // query frames kept when it was scanned.
    const bool kept_frames = std::any_of(f.units.begin(), f.units.end(),
                                         [](const MatchedUnit& u) { return u.query_frame; });
    if (!captured_abs.empty() || kept_frames) {
      std::string title = works_.count(f.work) ? works_[f.work].title : f.work;
      for (size_t i = 0; i < f.units.size() && i < kMaxExhibitsPerFinding; ++i) {
        const MatchedUnit& u = f.units[i];
        auto info = RenderExhibit(r, u, title, captured_abs, i);
        if (!info.ok()) {
          Warn("finding " + id + " page " + std::to_string(u.index + 1) +
               ": no exhibit: " + info.status().message());
          continue;
        }
        json exhibit = {{"file", info->file},
                        {"unit", i},
                        {"size", json::array({info->layout.size.width, info->layout.size.height})},
                        {"registered_box", RectJson(info->layout.registered_box)},
                        {"found_box", RectJson(info->layout.found_box)},
                        {"outlined", info->layout.outlined}};
        if (info->query_t >= 0) {
          exhibit["frame_pair"] = {{"query_t", std::round(info->query_t * 1000) / 1000},
                                   {"ref_t", std::round(info->ref_t * 1000) / 1000}};
          if (u.query_frame) {
            exhibit["frame_pair"]["query_frame_file"] = u.query_frame->file;
            exhibit["frame_pair"]["segment_url"] = u.query_frame->segment_url;
            exhibit["frame_pair"]["segment_sha256"] = u.query_frame->segment_sha256;
            exhibit["frame_pair"]["segment_sequence"] = u.query_frame->segment_sequence;
          }
        }
        exhibits.push_back(std::move(exhibit));
        ++result_.exhibits;
      }
      if (f.units.size() > kMaxExhibitsPerFinding) {
        Warn("finding " + id + ": exhibits for the first " +
             std::to_string(kMaxExhibitsPerFinding) + " of " + std::to_string(f.units.size()) +
             " matched pages only");
      }
    }
    record["exhibits"] = exhibits;
    // The ledger entry this record comes from, so a reader can tie it to the chain.
    record["ledger_entry"] = {{"seq", r.id}, {"hash", r.entry_hash}};
    exhibits_[r.id] = exhibits;
    ++result_.findings;
    return WriteBundleFile(dir / "finding.json",
                           record.dump(2, ' ', false, json::error_handler_t::replace) + "\n");
  }

  Result<ExhibitInfo> RenderExhibit(const FindingRecord& r, const MatchedUnit& u,
                                    const std::string& title, const fs::path& captured, size_t n) {
    const Finding& f = r.finding;
    // The registered file must still be the one registered.
    auto checked = asset_ok_.find(u.ref_asset);
    if (checked == asset_ok_.end()) {
      auto sha = Sha256HexFile(u.ref_asset);
      Status st = !sha.ok() ? sha.status()
                  : (!u.ref_asset_sha256.empty() && *sha != u.ref_asset_sha256)
                      ? Status::Corrupt("registered file " + u.ref_asset +
                                        " changed since registration (SHA-256 differs)")
                      : Status::Ok();
      checked = asset_ok_.emplace(u.ref_asset, st).first;
    }
    if (!checked->second.ok()) return checked->second;
    ExhibitInfo info;
    cv::Mat reg, found;
    const bool video = u.time && u.ref_time;
    if (video && u.query_frame) {
      // The query frame as fingerprinted from the fetched bytes (the stream
      // itself was not kept).
      info.query_t = u.query_frame->t;
      info.ref_t = u.query_frame->ref_t;
      KAGAMI_ASSIGN_OR_RETURN(fs::path kept, evidence_.Resolve(u.query_frame->file));
      std::ifstream in(kept, std::ios::binary);
      std::string png((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      auto decoded = DecodePngGray(png);
      if (!decoded.ok()) return decoded.status().WithContext(kept.string());
      found = *decoded;
      KAGAMI_ASSIGN_OR_RETURN(reg, LoadVideoFrame(u.ref_asset, info.ref_t));
    } else if (video) {
      if (captured.empty()) return Status::NotFound("the captured video was not kept");
      std::tie(info.query_t, info.ref_t) = AlignedTimes(*u.time, *u.ref_time);
      KAGAMI_ASSIGN_OR_RETURN(reg, LoadVideoFrame(u.ref_asset, info.ref_t));
      KAGAMI_ASSIGN_OR_RETURN(found, LoadVideoFrame(captured.string(), info.query_t));
    } else {
      if (captured.empty()) return Status::NotFound("the captured file was not kept");
      KAGAMI_ASSIGN_OR_RETURN(reg, LoadPage(u.ref_asset, u.ref_member, u.ref_index));
      KAGAMI_ASSIGN_OR_RETURN(found, LoadPage(captured.string(), u.member, u.index));
    }
    ExhibitInput in;
    in.registered = reg;
    in.found = found;
    in.unit = &u;
    std::string where = f.source_is_url ? (!f.page_url.empty() ? f.page_url : f.source) : f.source;
    in.header = {
        "Kagami evidence exhibit · finding #" + std::to_string(r.id) + " · " + title + " (" +
            f.work + ")",
        std::string(f.source_is_url ? "URL: " : "File: ") + where +
            (u.member.empty() ? "" : " [" + u.member + "]"),
        f.media_url.empty() || f.media_url == where ? "SHA-256: " + f.content_sha256
                                                    : "Image: " + f.media_url,
        "Captured (UTC): " + f.captured_at + "   Recorded (UTC): " + r.recorded_at,
        "Match: " + Describe(u),
    };
    if (video) {
      in.header.push_back("Segment: query " + Range(*u.time) + " -> reference " +
                          Range(*u.ref_time) + "; frames shown at " +
                          internal::FormatClock(info.query_t) + " and " +
                          internal::FormatClock(info.ref_t));
      if (u.query_frame) {
        in.header.push_back("Found frame decoded from " +
                            (u.query_frame->segment_url.empty() ? std::string("the fetched stream")
                                                                : u.query_frame->segment_url) +
                            (u.query_frame->segment_sha256.empty()
                                 ? std::string()
                                 : " (SHA-256 " + u.query_frame->segment_sha256 + ")"));
      }
    }
    std::string reg_name = fs::path(u.ref_asset).filename().string();
    bool same_name = u.ref_member.empty() || fs::path(u.ref_member).filename() == reg_name;
    in.registered_caption = "Registered: " + reg_name + (same_name ? "" : " / " + u.ref_member) +
                            ", page " + std::to_string(u.ref_index + 1);
    in.found_caption = "Found: page " + std::to_string(u.index + 1) +
                       (u.member.empty() ? "" : " (" + u.member + ")");
    if (video) {
      in.unit = nullptr;  // frames have no verified outline
      in.registered_caption =
          "Registered: " + reg_name + ", frame at " + internal::FormatClock(info.ref_t);
      in.found_caption = "Found: frame at " + internal::FormatClock(info.query_t) + " (segment " +
                         std::to_string(u.index + 1) + ")";
    }
    KAGAMI_ASSIGN_OR_RETURN(cv::Mat img, renderer_->Render(in, &info.layout));
    KAGAMI_ASSIGN_OR_RETURN(std::string png, EncodePng(img));
    info.file = "findings/" + std::to_string(r.id) + "/exhibit-" + std::to_string(n + 1) + ".png";
    info.unit = static_cast<int>(n);
    KAGAMI_RETURN_IF_ERROR(WriteBundleFile(root_ / info.file, std::string(png.begin(), png.end())));
    return info;
  }

  Status WriteCsv() {
    std::ostringstream csv;
    csv << "id,status,work,title,host,source,page_url,media_url,captured_at_utc,recorded_at_utc,"
           "content_sha256,matched_pages,best_similarity,methods,last_review,ledger_entry_hash\r\n";
    for (const FindingRecord& r : records_) {
      const Finding& f = r.finding;
      std::set<std::string> methods;
      for (const auto& u : f.units) methods.insert(std::string(MatchMethodName(u.method)));
      std::string m;
      for (const auto& x : methods) m += (m.empty() ? "" : "+") + x;
      std::string last;
      if (!r.reviews.empty()) {
        const auto& rv = r.reviews.back();
        last = std::string(ReviewStateName(rv.second.state)) + " by " + rv.second.who + " at " +
               rv.first.recorded_at + (rv.second.note.empty() ? "" : ": " + rv.second.note);
      }
      std::string title = works_.count(f.work) ? works_[f.work].title : "";
      std::vector<std::string> row = {std::to_string(r.id),
                                      std::string(ReviewStateName(r.status)),
                                      f.work,
                                      title,
                                      FindingHost(f),
                                      f.source,
                                      f.page_url,
                                      f.media_url,
                                      f.captured_at,
                                      r.recorded_at,
                                      f.content_sha256,
                                      std::to_string(f.units.size()),
                                      Fixed(BestSimilarity(f), 4),
                                      m,
                                      last,
                                      r.entry_hash};
      for (size_t i = 0; i < row.size(); ++i) csv << (i ? "," : "") << CsvField(row[i]);
      csv << "\r\n";
    }
    return WriteBundleFile(root_ / "findings.csv", csv.str());
  }

  Status WriteNotices() {
    std::string path = options_.rights_holder_config;
    std::error_code ec;
    if (path.empty() && fs::exists(data_dir_ / "rights_holder.json", ec)) {
      path = (data_dir_ / "rights_holder.json").string();
    }
    json config = json::object();
    if (!path.empty()) {
      KAGAMI_ASSIGN_OR_RETURN(config, LoadRightsHolderConfig(path));
    }
    std::vector<HostNotices> notices =
        BuildNotices(records_, works_, config, UtcNow().substr(0, 10));
    int unconfirmed = 0;
    for (const FindingRecord& r : records_) {
      bool url = !r.finding.page_url.empty() || !r.finding.media_url.empty();
      if (url && r.status == ReviewState::kNew) ++unconfirmed;
    }
    if (unconfirmed > 0) {
      Warn(std::to_string(unconfirmed) +
           " finding(s) with a URL are not reviewed yet and get no takedown notice "
           "(kagami findings review ID --confirm)");
    }
    if (!notices.empty() && path.empty()) {
      Warn(
          "no rights-holder config (--rights-holder FILE or DATA/rights_holder.json): notices "
          "carry [missing: ...] markers");
    }
    std::vector<std::string> incomplete;
    for (const HostNotices& n : notices) {
      fs::path dir = root_ / "notices" / SafeName(n.host);
      KAGAMI_RETURN_IF_ERROR(WriteBundleFile(dir / "dmca-512c3.txt", n.dmca));
      KAGAMI_RETURN_IF_ERROR(WriteBundleFile(dir / "notice-ja.txt", n.japanese));
      KAGAMI_RETURN_IF_ERROR(WriteBundleFile(dir / "lumen.json", n.lumen.dump(2) + "\n"));
      ++result_.notices;
      if (!n.missing.empty()) {
        std::string fields;
        for (const auto& m : n.missing) fields += (fields.empty() ? "" : ", ") + m;
        std::string w = "notices for " + n.host + " are incomplete: missing " + fields;
        incomplete.push_back(w);
        Warn(w);
      }
    }
    if (options_.require_complete && !incomplete.empty()) {
      return Status::InvalidArgument(incomplete.front() +
                                     " (--require-complete; add them to the rights-holder config)");
    }
    return Status::Ok();
  }

  Status WriteHtml(const LedgerHead& head) {
    std::ostringstream h;
    h << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      << "<title>Kagami evidence report: " << Html(options_.case_name) << "</title>"
      << "<style>body{font-family:'Noto Sans CJK JP','Noto Sans',sans-serif;margin:24px;"
         "color:#222;background:#fafafa}table{border-collapse:collapse;margin:8px 0}"
         "td,th{border:1px solid #bbb;padding:4px 8px;text-align:left;font-size:13px}"
         "th{background:#e8e8e8}.finding{border-top:2px solid #888;margin-top:24px;padding-top:8px}"
         "img.exhibit{display:block;max-width:100%;margin:8px 0;border:1px solid #999}"
         "code{font-size:12px;word-break:break-all}</style></head><body>\n";
    h << "<h1>Evidence report"
      << (options_.case_name.empty() ? "" : ": " + Html(options_.case_name))
      << "</h1>\n<table><tr><th>Created (UTC)</th><td>" << Html(created_at_)
      << "</td></tr><tr><th>Operator</th><td>" << Html(options_.operator_name)
      << "</td></tr><tr><th>Generator</th><td>" << Html(options_.generator)
      << "</td></tr><tr><th>Ledger head</th><td>entry " << head.seq << ", <code>" << Html(head.hash)
      << "</code></td></tr><tr><th>Signing key</th><td><code>" << Html(key_.key_id())
      << "</code> (ed25519 " << Html(key_.public_hex()) << ")</td></tr><tr><th>Findings</th><td>"
      << records_.size() << "</td></tr></table>\n";
    // Summary per work and per host.
    std::map<std::string, std::map<std::string, int>> per_work, per_host;
    for (const FindingRecord& r : records_) {
      std::string st(ReviewStateName(r.status));
      ++per_work[r.finding.work][st];
      ++per_host[FindingHost(r.finding)][st];
    }
    auto summary = [&](const char* title, const char* key,
                       const std::map<std::string, std::map<std::string, int>>& m) {
      h << "<h2>" << title << "</h2><table><tr><th>" << key
        << "</th><th>findings</th><th>new</th><th>confirmed</th><th>rejected</th>"
           "<th>notice sent</th><th>removed</th></tr>\n";
      for (const auto& [k, counts] : m) {
        int total = 0;
        for (const auto& [s, c] : counts) total += c;
        auto c = [&](const char* s) {
          auto it = counts.find(s);
          return it == counts.end() ? 0 : it->second;
        };
        std::string label = k;
        if (key == std::string("work") && works_.count(k)) label += " — " + works_[k].title;
        h << "<tr><td>" << Html(label) << "</td><td>" << total << "</td><td>" << c("new")
          << "</td><td>" << c("confirmed") << "</td><td>" << c("rejected") << "</td><td>"
          << c("notice_sent") << "</td><td>" << c("removed") << "</td></tr>\n";
      }
      h << "</table>\n";
    };
    summary("Per work", "work", per_work);
    summary("Per host", "host", per_host);
    if (!manifest_warnings_.empty()) {
      h << "<h2>Warnings</h2><ul>";
      for (const auto& w : manifest_warnings_) h << "<li>" << Html(w) << "</li>";
      h << "</ul>\n";
    }
    h << "<h2>Findings</h2>\n";
    for (const FindingRecord& r : records_) {
      const Finding& f = r.finding;
      h << "<div class=\"finding\" id=\"finding-" << r.id << "\"><h3>Finding #" << r.id << " — "
        << Html(f.work) << " — " << ReviewStateName(r.status) << "</h3><table>"
        << "<tr><th>Source</th><td><code>" << Html(f.source) << "</code></td></tr>";
      if (!f.page_url.empty())
        h << "<tr><th>Page URL</th><td><code>" << Html(f.page_url) << "</code></td></tr>";
      if (!f.media_url.empty())
        h << "<tr><th>Media URL</th><td><code>" << Html(f.media_url) << "</code></td></tr>";
      h << "<tr><th>Captured (UTC)</th><td>" << Html(f.captured_at) << "</td></tr>"
        << "<tr><th>Content SHA-256</th><td><code>" << Html(f.content_sha256)
        << "</code></td></tr>";
      if (!f.server_ip.empty())
        h << "<tr><th>Server IP</th><td>" << Html(f.server_ip) << "</td></tr>";
      if (f.http_status) h << "<tr><th>HTTP status</th><td>" << f.http_status << "</td></tr>";
      if (!f.warc_file.empty()) {
        h << "<tr><th>WARC</th><td><code>" << Html(f.warc_file) << " " << Html(f.warc_record_id)
          << "</code></td></tr>";
      }
      if (!f.robots_override.empty()) {
        h << "<tr><th>robots.txt override</th><td>" << Html(f.robots_override) << "</td></tr>";
      }
      h << "<tr><th>Ledger entry</th><td><code>" << Html(r.entry_hash) << "</code></td></tr>";
      for (const auto& [e, a] : r.reviews) {
        h << "<tr><th>Review " << e.recorded_at << "</th><td>" << ReviewStateName(a.state) << " by "
          << Html(a.who) << (a.note.empty() ? "" : ": " + Html(a.note)) << "</td></tr>";
      }
      h << "</table><table><tr><th>page</th><th>registered page</th><th>match</th></tr>";
      for (const MatchedUnit& u : f.units) {
        h << "<tr><td>" << u.index + 1 << (u.member.empty() ? "" : " " + Html(u.member))
          << "</td><td>" << Html(fs::path(u.ref_asset).filename().string())
          << (u.ref_member.empty() ? "" : " / " + Html(u.ref_member)) << " p." << u.ref_index + 1
          << "</td><td>" << Html(Describe(u)) << "</td></tr>";
      }
      h << "</table>\n";
      for (const json& ex : exhibits_[r.id]) {
        std::string file = ex["file"].get<std::string>();
        std::ifstream in(root_ / file, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        h << "<img class=\"exhibit\" alt=\"" << Html(file) << "\" data-file=\"" << Html(file)
          << "\" src=\"data:image/png;base64," << Base64(ss.str()) << "\">\n";
      }
      h << "</div>\n";
    }
    h << "</body></html>\n";
    return WriteBundleFile(root_ / "report.html", h.str());
  }

  Status WriteManifest(const ChainCheck& chain) {
    KAGAMI_ASSIGN_OR_RETURN(std::vector<std::string> files, ListBundleFiles(root_));
    json list = json::array();
    for (const std::string& rel : files) {
      KAGAMI_ASSIGN_OR_RETURN(std::string sha, Sha256HexFile(root_ / rel));
      std::error_code ec;
      list.push_back({{"path", rel}, {"sha256", sha}, {"bytes", fs::file_size(root_ / rel, ec)}});
    }
    json ids = json::array();
    for (const FindingRecord& r : records_) ids.push_back(r.id);
    json filter = {{"work", options_.filter.work},
                   {"since", options_.filter.since},
                   {"status", options_.filter.status
                                  ? json(std::string(ReviewStateName(*options_.filter.status)))
                                  : json(nullptr)}};
    json manifest = {
        {"format", kBundleFormat},
        {"case", options_.case_name},
        {"generator", options_.generator},
        {"operator", options_.operator_name},
        {"created_at", created_at_},
        {"filter", filter},
        {"findings", ids},
        {"warnings", manifest_warnings_},
        {"signing_key",
         {{"file", "signing.pub"}, {"key_id", key_.key_id()}, {"algorithm", "ed25519"}}},
        {"ledger",
         {{"file", "ledger.jsonl"},
          {"format", kLedgerFormat},
          {"entries", chain.entries},
          {"head_seq", chain.head.seq},
          {"head_hash", chain.head.hash}}},
        {"files", list}};
    std::string text = manifest.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
    KAGAMI_RETURN_IF_ERROR(WriteBundleFile(root_ / "manifest.json", text));
    KAGAMI_RETURN_IF_ERROR(WriteBundleFile(root_ / "manifest.sig", key_.Sign(text) + "\n"));
    result_.manifest_sha256 = Sha256Hex(text);
    if (!options_.tsa_url.empty()) {
      KAGAMI_RETURN_IF_ERROR(RequestTimestamp(options_.tsa_url, root_ / "manifest.json",
                                              root_ / "timestamp.tsr", root_ / "tsa.pem",
                                              options_.tsa_ca_file));
    }
    return Status::Ok();
  }

  FindingsLedger& ledger_;
  index::Catalog& catalog_;
  const SigningKey& key_;
  fs::path data_dir_;
  const ExportOptions& options_;
  EvidenceStore evidence_;
  fs::path root_;
  std::string created_at_ = UtcNow();
  std::vector<FindingRecord> records_;
  std::map<std::string, index::Work> works_;
  std::unique_ptr<ExhibitRenderer> renderer_;
  std::map<std::string, Status> asset_ok_;
  std::map<int64_t, json> exhibits_;
  std::vector<std::string> manifest_warnings_;
  ExportResult result_;
};

}  // namespace

Result<ExportResult> ExportBundle(FindingsLedger& ledger, index::Catalog& catalog,
                                  const SigningKey& key, const std::filesystem::path& data_dir,
                                  const ExportOptions& options) {
  Exporter exporter(ledger, catalog, key, data_dir, options);
  return exporter.Run();
}

}  // namespace kagami::reports
