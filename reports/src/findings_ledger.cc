// Chain format, canonical bodies and chain verification (findings_ledger.h).

#include "kagami/reports/findings_ledger.h"

#include "finding_fold.h"
#include "geometry_evidence.h"
#include "kagami/base/sha256.h"

#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>

#include <nlohmann/json.hpp>

namespace kagami::reports {
namespace {

using nlohmann::json;

std::string Dump(const json& j) {
  return j.dump(-1, ' ', /*ensure_ascii=*/false, json::error_handler_t::replace);
}

double Round6(double x) {
  if (!std::isfinite(x)) return 0;
  return std::round(x * 1e6) / 1e6;
}

json TimeRangeToJson(const std::optional<TimeRange>& t) {
  if (!t) return nullptr;
  return json::array({Round6(t->start_s), Round6(t->end_s)});
}

template <typename T>
Result<T> Get(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return Status::Corrupt(std::string("missing field \"") + key + "\"");
  try {
    return it->get<T>();
  } catch (const json::exception&) {
    return Status::Corrupt(std::string("field \"") + key + "\" has the wrong type");
  }
}

Result<std::optional<TimeRange>> TimeRangeFromJson(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::optional<TimeRange>();
  if (!it->is_array() || it->size() != 2 || !(*it)[0].is_number() || !(*it)[1].is_number()) {
    return Status::Corrupt(std::string("field \"") + key + "\" is not [start, end]");
  }
  return std::optional<TimeRange>(TimeRange{(*it)[0].get<double>(), (*it)[1].get<double>()});
}

Result<GeometryEvidence> GeometryFromJson(const json& j) {
  if (!j.is_object()) return Status::Corrupt("geometry is not an object");
  GeometryEvidence g;
  KAGAMI_ASSIGN_OR_RETURN(g.matches, Get<int>(j, "matches"));
  KAGAMI_ASSIGN_OR_RETURN(g.inliers, Get<int>(j, "inliers"));
  KAGAMI_ASSIGN_OR_RETURN(g.distinct_inliers, Get<int>(j, "distinct_inliers"));
  KAGAMI_ASSIGN_OR_RETURN(g.layout_keypoints, Get<int>(j, "layout_keypoints"));
  KAGAMI_ASSIGN_OR_RETURN(g.coverage, Get<double>(j, "coverage"));
  KAGAMI_ASSIGN_OR_RETURN(g.coverage_of, Get<std::string>(j, "coverage_of"));
  KAGAMI_ASSIGN_OR_RETURN(g.overlap, Get<double>(j, "overlap"));
  KAGAMI_ASSIGN_OR_RETURN(g.overlap_coverage, Get<double>(j, "overlap_coverage"));
  KAGAMI_ASSIGN_OR_RETURN(g.grid_cells, Get<int>(j, "grid_cells"));
  KAGAMI_ASSIGN_OR_RETURN(g.scale, Get<double>(j, "scale"));
  KAGAMI_ASSIGN_OR_RETURN(g.anisotropy, Get<double>(j, "anisotropy"));
  KAGAMI_ASSIGN_OR_RETURN(g.rotation_deg, Get<double>(j, "rotation_deg"));
  KAGAMI_ASSIGN_OR_RETURN(g.perspective, Get<double>(j, "perspective"));
  KAGAMI_ASSIGN_OR_RETURN(g.model, Get<std::string>(j, "model"));
  KAGAMI_ASSIGN_OR_RETURN(g.projective_gain, Get<double>(j, "projective_gain"));
  // Ledgers written before the photometric check have none of these.
  if (j.contains("accepted_by")) {
    KAGAMI_ASSIGN_OR_RETURN(g.accepted_by, Get<std::string>(j, "accepted_by"));
    KAGAMI_ASSIGN_OR_RETURN(g.appearance, Get<double>(j, "appearance"));
    KAGAMI_ASSIGN_OR_RETURN(g.appearance_compared, Get<double>(j, "appearance_compared"));
    if (g.accepted_by != "geometry" && g.accepted_by != "appearance") {
      return Status::Corrupt("geometry accepted_by is \"" + g.accepted_by + "\"");
    }
  }
  if (g.coverage_of != "page" && g.coverage_of != "content") {
    return Status::Corrupt("geometry coverage_of is \"" + g.coverage_of + "\"");
  }
  if (g.model != "homography" && g.model != "similarity") {
    return Status::Corrupt("geometry model is \"" + g.model + "\"");
  }
  return g;
}

bool IsHex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool IsUtcStamp(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SSZ
  if (s.size() != 20) return false;
  static constexpr std::string_view kPattern = "dddd-dd-ddTdd:dd:ddZ";
  for (size_t i = 0; i < s.size(); ++i) {
    if (kPattern[i] == 'd') {
      if (s[i] < '0' || s[i] > '9') return false;
    } else if (s[i] != kPattern[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string_view MatchMethodName(MatchMethod m) {
  switch (m) {
    case MatchMethod::kPdq:
      return "pdq";
    case MatchMethod::kLocal:
      return "local";
    case MatchMethod::kBoth:
      return "both";
  }
  return "pdq";
}

Result<MatchMethod> ParseMatchMethod(std::string_view name) {
  if (name == "pdq") return MatchMethod::kPdq;
  if (name == "local") return MatchMethod::kLocal;
  if (name == "both") return MatchMethod::kBoth;
  return Status::InvalidArgument("unknown match method \"" + std::string(name) +
                                 "\" (pdq, local, both)");
}

std::string_view MatchViewName(MatchView v) {
  switch (v) {
    case MatchView::kFull:
      return "full";
    case MatchView::kTrimmed:
      return "trimmed";
    case MatchView::kLeft:
      return "left";
    case MatchView::kRight:
      return "right";
    case MatchView::kBox:
      return "box";
    case MatchView::kUnbanded:
      return "unbanded";
    case MatchView::kDeskewed:
      return "deskewed";
    case MatchView::kLevelled:
      return "levelled";
  }
  return "full";
}

Result<MatchView> ParseMatchView(std::string_view name) {
  if (name == "full") return MatchView::kFull;
  if (name == "trimmed") return MatchView::kTrimmed;
  if (name == "left") return MatchView::kLeft;
  if (name == "right") return MatchView::kRight;
  if (name == "box") return MatchView::kBox;
  if (name == "unbanded") return MatchView::kUnbanded;
  if (name == "deskewed") return MatchView::kDeskewed;
  if (name == "levelled") return MatchView::kLevelled;
  return Status::InvalidArgument(
      "unknown match view \"" + std::string(name) +
      "\" (full, trimmed, left, right, box, unbanded, deskewed, levelled)");
}

std::string_view ReviewStateName(ReviewState s) {
  switch (s) {
    case ReviewState::kNew:
      return "new";
    case ReviewState::kConfirmed:
      return "confirmed";
    case ReviewState::kRejected:
      return "rejected";
    case ReviewState::kNoticeSent:
      return "notice_sent";
    case ReviewState::kRemoved:
      return "removed";
  }
  return "new";
}

Result<ReviewState> ParseReviewState(std::string_view name) {
  if (name == "new") return ReviewState::kNew;
  if (name == "confirmed") return ReviewState::kConfirmed;
  if (name == "rejected") return ReviewState::kRejected;
  if (name == "notice_sent" || name == "notice-sent") return ReviewState::kNoticeSent;
  if (name == "removed") return ReviewState::kRemoved;
  return Status::InvalidArgument("unknown review state \"" + std::string(name) +
                                 "\" (new, confirmed, rejected, notice_sent, removed)");
}

std::string_view EntryKindName(EntryKind k) {
  return k == EntryKind::kFinding ? "finding" : "review";
}

std::string FindingToJson(const Finding& f) {
  json units = json::array();
  for (const MatchedUnit& u : f.units) {
    json h = nullptr;
    if (u.homography) {
      h = json::array();
      for (double v : *u.homography) h.push_back(Round6(v));
    }
    units.push_back({{"member", u.member},
                     {"index", u.index},
                     {"pdq", u.pdq_hex},
                     {"quality", u.quality},
                     {"time", TimeRangeToJson(u.time)},
                     {"ref_unit", u.ref_unit},
                     {"ref_asset", u.ref_asset},
                     {"ref_asset_sha256", u.ref_asset_sha256},
                     {"ref_member", u.ref_member},
                     {"ref_index", u.ref_index},
                     {"ref_time", TimeRangeToJson(u.ref_time)},
                     {"method", MatchMethodName(u.method)},
                     {"view", MatchViewName(u.view)},
                     {"distance", u.distance},
                     {"similarity", Round6(u.similarity)},
                     {"variant", u.variant},
                     {"inliers", u.inliers},
                     {"coverage", Round6(u.coverage)},
                     {"mirrored", u.mirrored},
                     {"homography", h}});
    if (u.query_frame) {  // only when present, so older entries serialise as before
      const VideoQueryFrame& q = *u.query_frame;
      units.back()["query_frame"] = {{"file", q.file},
                                     {"t", Round6(q.t)},
                                     {"ref_t", Round6(q.ref_t)},
                                     {"segment_url", q.segment_url},
                                     {"segment_sha256", q.segment_sha256},
                                     {"segment_sequence", q.segment_sequence}};
    }
    if (u.blurred) units.back()["blurred"] = true;  // only when set: older entries as before
    if (u.colour_disagreement >= 0)                 // only when measured: older entries as before
      units.back()["colour_disagreement"] = Round6(u.colour_disagreement);
    if (u.geometry) units.back()["geometry"] = internal::GeometryToJson(*u.geometry, 6);
    if (u.same_picture_as) {
      const SamePicture& t = *u.same_picture_as;
      units.back()["same_picture_as"] = {
          {"work", t.work},           {"ref_unit", t.ref_unit},
          {"ref_asset", t.ref_asset}, {"ref_member", t.ref_member},
          {"ref_index", t.ref_index}, {"registered_distance", t.registered_distance}};
    }
  }
  json headers = json::array();
  for (const auto& [name, value] : f.http_headers) headers.push_back(json::array({name, value}));
  json j = {{"source", f.source},
            {"source_kind", f.source_is_url ? "url" : "file"},
            {"page_url", f.page_url},
            {"media_url", f.media_url},
            {"work", f.work},
            {"units", units},
            {"captured_at", f.captured_at},
            {"server_ip", f.server_ip},
            {"http_status", f.http_status},
            {"http_headers", headers},
            {"content_sha256", f.content_sha256},
            {"evidence_file", f.evidence_file},
            {"warc_file", f.warc_file},
            {"warc_record_id", f.warc_record_id},
            {"robots_override", f.robots_override},
            {"recorded_by", f.recorded_by}};
  return Dump(j);
}

Result<Finding> FindingFromJson(std::string_view body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Status::Corrupt("finding body is not a JSON object");
  Finding f;
  KAGAMI_ASSIGN_OR_RETURN(f.source, Get<std::string>(j, "source"));
  KAGAMI_ASSIGN_OR_RETURN(std::string kind, Get<std::string>(j, "source_kind"));
  if (kind != "url" && kind != "file") return Status::Corrupt("bad source_kind \"" + kind + "\"");
  f.source_is_url = kind == "url";
  KAGAMI_ASSIGN_OR_RETURN(f.page_url, Get<std::string>(j, "page_url"));
  KAGAMI_ASSIGN_OR_RETURN(f.media_url, Get<std::string>(j, "media_url"));
  KAGAMI_ASSIGN_OR_RETURN(f.work, Get<std::string>(j, "work"));
  KAGAMI_ASSIGN_OR_RETURN(f.captured_at, Get<std::string>(j, "captured_at"));
  KAGAMI_ASSIGN_OR_RETURN(f.server_ip, Get<std::string>(j, "server_ip"));
  KAGAMI_ASSIGN_OR_RETURN(f.http_status, Get<int>(j, "http_status"));
  KAGAMI_ASSIGN_OR_RETURN(f.content_sha256, Get<std::string>(j, "content_sha256"));
  KAGAMI_ASSIGN_OR_RETURN(f.evidence_file, Get<std::string>(j, "evidence_file"));
  KAGAMI_ASSIGN_OR_RETURN(f.warc_file, Get<std::string>(j, "warc_file"));
  KAGAMI_ASSIGN_OR_RETURN(f.warc_record_id, Get<std::string>(j, "warc_record_id"));
  KAGAMI_ASSIGN_OR_RETURN(f.robots_override, Get<std::string>(j, "robots_override"));
  KAGAMI_ASSIGN_OR_RETURN(f.recorded_by, Get<std::string>(j, "recorded_by"));
  KAGAMI_ASSIGN_OR_RETURN(json headers, Get<json>(j, "http_headers"));
  if (!headers.is_array()) return Status::Corrupt("http_headers is not an array");
  for (const json& h : headers) {
    if (!h.is_array() || h.size() != 2 || !h[0].is_string() || !h[1].is_string()) {
      return Status::Corrupt("http_headers entry is not [name, value]");
    }
    f.http_headers.emplace_back(h[0].get<std::string>(), h[1].get<std::string>());
  }
  KAGAMI_ASSIGN_OR_RETURN(json units, Get<json>(j, "units"));
  if (!units.is_array()) return Status::Corrupt("units is not an array");
  for (const json& uj : units) {
    if (!uj.is_object()) return Status::Corrupt("unit is not an object");
    MatchedUnit u;
    KAGAMI_ASSIGN_OR_RETURN(u.member, Get<std::string>(uj, "member"));
    KAGAMI_ASSIGN_OR_RETURN(u.index, Get<int>(uj, "index"));
    KAGAMI_ASSIGN_OR_RETURN(u.pdq_hex, Get<std::string>(uj, "pdq"));
    KAGAMI_ASSIGN_OR_RETURN(u.quality, Get<int>(uj, "quality"));
    KAGAMI_ASSIGN_OR_RETURN(u.time, TimeRangeFromJson(uj, "time"));
    KAGAMI_ASSIGN_OR_RETURN(u.ref_unit, Get<int64_t>(uj, "ref_unit"));
    KAGAMI_ASSIGN_OR_RETURN(u.ref_asset, Get<std::string>(uj, "ref_asset"));
    KAGAMI_ASSIGN_OR_RETURN(u.ref_asset_sha256, Get<std::string>(uj, "ref_asset_sha256"));
    KAGAMI_ASSIGN_OR_RETURN(u.ref_member, Get<std::string>(uj, "ref_member"));
    KAGAMI_ASSIGN_OR_RETURN(u.ref_index, Get<int>(uj, "ref_index"));
    KAGAMI_ASSIGN_OR_RETURN(u.ref_time, TimeRangeFromJson(uj, "ref_time"));
    KAGAMI_ASSIGN_OR_RETURN(std::string method, Get<std::string>(uj, "method"));
    auto m = ParseMatchMethod(method);
    if (!m.ok()) return Status::Corrupt(m.status().message());
    u.method = *m;
    KAGAMI_ASSIGN_OR_RETURN(std::string view, Get<std::string>(uj, "view"));
    auto v = ParseMatchView(view);
    if (!v.ok()) return Status::Corrupt(v.status().message());
    u.view = *v;
    KAGAMI_ASSIGN_OR_RETURN(u.distance, Get<int>(uj, "distance"));
    KAGAMI_ASSIGN_OR_RETURN(u.similarity, Get<double>(uj, "similarity"));
    KAGAMI_ASSIGN_OR_RETURN(u.variant, Get<int>(uj, "variant"));
    KAGAMI_ASSIGN_OR_RETURN(u.inliers, Get<int>(uj, "inliers"));
    KAGAMI_ASSIGN_OR_RETURN(u.coverage, Get<double>(uj, "coverage"));
    KAGAMI_ASSIGN_OR_RETURN(u.mirrored, Get<bool>(uj, "mirrored"));
    if (auto b = uj.find("blurred"); b != uj.end()) {
      if (!b->is_boolean()) return Status::Corrupt("blurred is not a boolean");
      u.blurred = b->get<bool>();
    }
    if (auto c = uj.find("colour_disagreement"); c != uj.end()) {
      if (!c->is_number() || c->get<double>() < 0 || c->get<double>() > 1)
        return Status::Corrupt("colour_disagreement is not a number in [0, 1]");
      u.colour_disagreement = c->get<double>();
    }
    auto h = uj.find("homography");
    if (h != uj.end() && !h->is_null()) {
      if (!h->is_array() || h->size() != 9) return Status::Corrupt("homography is not 9 numbers");
      std::array<double, 9> m9{};
      for (size_t i = 0; i < 9; ++i) {
        if (!(*h)[i].is_number()) return Status::Corrupt("homography is not 9 numbers");
        m9[i] = (*h)[i].get<double>();
      }
      u.homography = m9;
    }
    auto q = uj.find("query_frame");
    if (q != uj.end() && !q->is_null()) {
      if (!q->is_object()) return Status::Corrupt("query_frame is not an object");
      VideoQueryFrame v;
      KAGAMI_ASSIGN_OR_RETURN(v.file, Get<std::string>(*q, "file"));
      KAGAMI_ASSIGN_OR_RETURN(v.t, Get<double>(*q, "t"));
      KAGAMI_ASSIGN_OR_RETURN(v.ref_t, Get<double>(*q, "ref_t"));
      KAGAMI_ASSIGN_OR_RETURN(v.segment_url, Get<std::string>(*q, "segment_url"));
      KAGAMI_ASSIGN_OR_RETURN(v.segment_sha256, Get<std::string>(*q, "segment_sha256"));
      KAGAMI_ASSIGN_OR_RETURN(v.segment_sequence, Get<int64_t>(*q, "segment_sequence"));
      u.query_frame = std::move(v);
    }
    auto g = uj.find("geometry");
    if (g != uj.end() && !g->is_null()) {
      KAGAMI_ASSIGN_OR_RETURN(GeometryEvidence ge, GeometryFromJson(*g));
      u.geometry = std::move(ge);
    }
    auto t = uj.find("same_picture_as");
    if (t != uj.end() && !t->is_null()) {
      if (!t->is_object()) return Status::Corrupt("same_picture_as is not an object");
      SamePicture same;
      KAGAMI_ASSIGN_OR_RETURN(same.work, Get<std::string>(*t, "work"));
      KAGAMI_ASSIGN_OR_RETURN(same.ref_unit, Get<int64_t>(*t, "ref_unit"));
      KAGAMI_ASSIGN_OR_RETURN(same.ref_asset, Get<std::string>(*t, "ref_asset"));
      KAGAMI_ASSIGN_OR_RETURN(same.ref_member, Get<std::string>(*t, "ref_member"));
      KAGAMI_ASSIGN_OR_RETURN(same.ref_index, Get<int>(*t, "ref_index"));
      KAGAMI_ASSIGN_OR_RETURN(same.registered_distance, Get<int>(*t, "registered_distance"));
      u.same_picture_as = std::move(same);
    }
    f.units.push_back(std::move(u));
  }
  return f;
}

std::string ReviewToJson(const ReviewAction& r) {
  json j = {{"finding", r.finding},
            {"state", ReviewStateName(r.state)},
            {"who", r.who},
            {"note", r.note}};
  return Dump(j);
}

Result<ReviewAction> ReviewFromJson(std::string_view body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Status::Corrupt("review body is not a JSON object");
  ReviewAction r;
  KAGAMI_ASSIGN_OR_RETURN(r.finding, Get<int64_t>(j, "finding"));
  KAGAMI_ASSIGN_OR_RETURN(std::string state, Get<std::string>(j, "state"));
  auto s = ParseReviewState(state);
  if (!s.ok()) return Status::Corrupt(s.status().message());
  r.state = *s;
  KAGAMI_ASSIGN_OR_RETURN(r.who, Get<std::string>(j, "who"));
  KAGAMI_ASSIGN_OR_RETURN(r.note, Get<std::string>(j, "note"));
  return r;
}

std::string ComputeEntryHash(int64_t seq, EntryKind kind, std::string_view recorded_at,
                             std::string_view prev_hash, std::string_view body) {
  std::string pre;
  pre.reserve(body.size() + 128);
  pre.append(kLedgerFormat).append("\n");
  pre.append(std::to_string(seq)).append("\n");
  pre.append(EntryKindName(kind)).append("\n");
  pre.append(recorded_at).append("\n");
  pre.append(prev_hash).append("\n");
  pre.append(body);
  return Sha256Hex(pre);
}

ChainCheck VerifyEntries(const std::vector<LedgerEntry>& entries) {
  ChainCheck check;
  std::map<int64_t, bool> findings;
  std::string prev(kGenesisHash);
  int64_t expected_seq = 1;
  for (const LedgerEntry& e : entries) {
    auto fail = [&](const std::string& why) {
      check.ok = false;
      check.bad_seq = e.seq;
      check.problem = "ledger entry " + std::to_string(e.seq) + ": " + why;
      return check;
    };
    if (e.seq != expected_seq) {
      check.bad_seq = e.seq;
      return fail("out of sequence (expected entry " + std::to_string(expected_seq) +
                  "; an entry was deleted, inserted or reordered)");
    }
    if (e.prev_hash != prev) {
      return fail("prev_hash does not match the hash of entry " + std::to_string(e.seq - 1) +
                  " (an earlier entry was changed, deleted or reordered)");
    }
    if (!IsUtcStamp(e.recorded_at)) return fail("recorded_at is not a UTC time");
    if (!IsHex64(e.hash)) return fail("hash is not 64 lowercase hex digits");
    std::string computed = ComputeEntryHash(e.seq, e.kind, e.recorded_at, e.prev_hash, e.body);
    if (computed != e.hash) return fail("hash mismatch (the entry was edited)");
    if (e.kind == EntryKind::kFinding) {
      auto f = FindingFromJson(e.body);
      if (!f.ok()) return fail("finding body unreadable: " + f.status().message());
      findings[e.seq] = true;
    } else {
      auto r = ReviewFromJson(e.body);
      if (!r.ok()) return fail("review body unreadable: " + r.status().message());
      if (!findings.count(r->finding)) {
        return fail("review of finding " + std::to_string(r->finding) +
                    ", which is not an earlier finding");
      }
    }
    prev = e.hash;
    ++expected_seq;
    ++check.entries;
    check.head.seq = e.seq;
    check.head.hash = e.hash;
  }
  return check;
}

std::string EntryToJsonLine(const LedgerEntry& e) {
  json j = {{"seq", e.seq},
            {"kind", EntryKindName(e.kind)},
            {"recorded_at", e.recorded_at},
            {"prev_hash", e.prev_hash},
            {"hash", e.hash},
            {"body", e.body}};
  return Dump(j);
}

Result<LedgerEntry> EntryFromJsonLine(std::string_view line) {
  json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Status::Corrupt("ledger line is not a JSON object");
  LedgerEntry e;
  KAGAMI_ASSIGN_OR_RETURN(e.seq, Get<int64_t>(j, "seq"));
  KAGAMI_ASSIGN_OR_RETURN(std::string kind, Get<std::string>(j, "kind"));
  if (kind == "finding") {
    e.kind = EntryKind::kFinding;
  } else if (kind == "review") {
    e.kind = EntryKind::kReview;
  } else {
    return Status::Corrupt("unknown entry kind \"" + kind + "\"");
  }
  KAGAMI_ASSIGN_OR_RETURN(e.recorded_at, Get<std::string>(j, "recorded_at"));
  KAGAMI_ASSIGN_OR_RETURN(e.prev_hash, Get<std::string>(j, "prev_hash"));
  KAGAMI_ASSIGN_OR_RETURN(e.hash, Get<std::string>(j, "hash"));
  KAGAMI_ASSIGN_OR_RETURN(e.body, Get<std::string>(j, "body"));
  return e;
}

std::string UtcNow() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<std::string> ParseUtcTime(std::string_view text) {
  std::string s(text);
  if (s.size() == 10) s += "T00:00:00Z";
  if (!IsUtcStamp(s)) {
    return Status::InvalidArgument("\"" + std::string(text) +
                                   "\" is not a UTC date (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)");
  }
  return s;
}

Result<FindingRecord> FindingsLedger::Get(int64_t id) {
  FindingFilter filter;
  filter.ids = {id};
  KAGAMI_ASSIGN_OR_RETURN(auto list, List(filter));
  if (list.empty()) return Status::NotFound("no finding " + std::to_string(id));
  return std::move(list.front());
}

Result<ChainCheck> FindingsLedger::VerifyChain() {
  KAGAMI_ASSIGN_OR_RETURN(auto entries, Entries());
  return VerifyEntries(entries);
}

namespace internal {
bool IsValidUtcStamp(std::string_view s) { return IsUtcStamp(s); }

FindingFold::FindingFold(const FindingFilter& filter, std::string context)
    : ids_(filter.ids.begin(), filter.ids.end()),
      status_(filter.status),
      context_(std::move(context)) {}

Status FindingFold::Add(LedgerEntry e) {
  const std::string where = context_ + "ledger entry " + std::to_string(e.seq);
  if (e.kind == EntryKind::kFinding) {
    if (!ids_.empty() && !ids_.count(e.seq)) return Status::Ok();
    auto f = FindingFromJson(e.body);
    if (!f.ok()) return f.status().WithContext(where);
    FindingRecord rec;
    rec.id = e.seq;
    rec.entry_hash = e.hash;
    rec.recorded_at = e.recorded_at;
    rec.finding = std::move(*f);
    pos_[e.seq] = out_.size();
    out_.push_back(std::move(rec));
    return Status::Ok();
  }
  auto r = ReviewFromJson(e.body);
  if (!r.ok()) return r.status().WithContext(where);
  auto it = pos_.find(r->finding);
  if (it == pos_.end()) return Status::Ok();
  FindingRecord& rec = out_[it->second];
  rec.status = r->state;
  rec.reviews.emplace_back(std::move(e), std::move(*r));
  return Status::Ok();
}

std::vector<FindingRecord> FindingFold::Finish() && {
  if (status_) {
    std::erase_if(out_, [&](const FindingRecord& r) { return r.status != *status_; });
  }
  return std::move(out_);
}

}  // namespace internal

}  // namespace kagami::reports
