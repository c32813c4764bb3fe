#include "kagami/reports/takedown_notices.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "kagami/reports/finding_records.h"

namespace kagami::reports {
namespace {

using nlohmann::json;

// Looks up a string field; records and marks it when missing or empty.
class Fields {
 public:
  explicit Fields(const json& config) : config_(config) {}

  std::string Get(const std::string& key) { return GetPath({key}, key); }
  std::string GetPath(const std::vector<std::string>& path, const std::string& label) {
    const json* node = &config_;
    for (const std::string& p : path) {
      if (!node->is_object() || !node->contains(p)) {
        node = nullptr;
        break;
      }
      node = &(*node)[p];
    }
    if (node && node->is_string() && !node->get<std::string>().empty()) {
      return node->get<std::string>();
    }
    if (std::find(missing_.begin(), missing_.end(), label) == missing_.end()) {
      missing_.push_back(label);
    }
    return "[missing: " + label + "]";
  }
  // Optional: "" when absent, nothing recorded.
  std::string Optional(const std::vector<std::string>& path) const {
    const json* node = &config_;
    for (const std::string& p : path) {
      if (!node->is_object() || !node->contains(p)) return "";
      node = &(*node)[p];
    }
    return node->is_string() ? node->get<std::string>() : "";
  }
  const std::vector<std::string>& missing() const { return missing_; }

 private:
  const json& config_;
  std::vector<std::string> missing_;
};

std::string WorkDescription(const std::string& work_id,
                            const std::map<std::string, index::Work>& works, const Fields& fields) {
  std::string d = fields.Optional({"works", work_id, "description"});
  if (!d.empty()) return d;
  auto it = works.find(work_id);
  if (it == works.end()) return "\"" + work_id + "\"";
  std::string out = "\"" + it->second.title + "\"";
  for (const auto& [scheme, value] : it->second.identifiers) {
    out += ", " + scheme + " " + value;
  }
  return out;
}

struct WorkGroup {
  std::string work;
  std::vector<const FindingRecord*> findings;
};

std::string InfringingUrl(const Finding& f) {
  return !f.page_url.empty() ? f.page_url : f.media_url;
}

}  // namespace

Result<json> LoadRightsHolderConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("rights-holder config " + path + " not found");
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Status::Corrupt(path + ": not a JSON object");
  return j;
}

std::vector<HostNotices> BuildNotices(const std::vector<FindingRecord>& findings,
                                      const std::map<std::string, index::Work>& works,
                                      const json& config, const std::string& date) {
  std::map<std::string, std::vector<const FindingRecord*>> by_host;
  for (const FindingRecord& r : findings) {
    if (r.status != ReviewState::kConfirmed && r.status != ReviewState::kNoticeSent) continue;
    if (InfringingUrl(r.finding).empty()) continue;
    by_host[FindingHost(r.finding)].push_back(&r);
  }
  std::vector<HostNotices> out;
  for (const auto& [host, recs] : by_host) {
    Fields fields(config);
    HostNotices n;
    n.host = host;
    std::vector<WorkGroup> groups;
    for (const FindingRecord* r : recs) {
      n.findings.push_back(r->id);
      auto g = std::find_if(groups.begin(), groups.end(),
                            [&](const WorkGroup& w) { return w.work == r->finding.work; });
      if (g == groups.end()) {
        groups.push_back({r->finding.work, {}});
        g = groups.end() - 1;
      }
      g->findings.push_back(r);
    }
    std::string owner = fields.Get("name");
    std::string agent = fields.Get("agent");
    std::string address = fields.Get("address");
    std::string email = fields.Get("email");
    std::string phone = fields.Get("phone");
    std::string signature = fields.Get("signature");
    std::string recipient =
        fields.GetPath({"hosts", host, "recipient"}, "hosts." + host + ".recipient");
    std::string recipient_email = fields.Optional({"hosts", host, "email"});

    std::ostringstream d;
    d << "To: " << recipient << (recipient_email.empty() ? "" : " <" + recipient_email + ">")
      << "\nDate: " << date << "\nSubject: DMCA notice of copyright infringement (17 U.S.C. "
      << "512(c)(3)) concerning " << host << "\n\n"
      << "I am writing on behalf of " << owner << ", the owner of the exclusive rights in the "
      << "copyrighted works identified below, to notify you of infringing material on " << host
      << ".\n\n";
    d << "1. Identification of the copyrighted works (512(c)(3)(A)(ii)):\n";
    int k = 0;
    for (const WorkGroup& g : groups) {
      d << "   " << ++k << ". " << WorkDescription(g.work, works, fields);
      std::string url = fields.Optional({"works", g.work, "url"});
      if (!url.empty()) d << " (" << url << ")";
      d << "\n";
    }
    d << "\n2. Identification of the infringing material and its location (512(c)(3)(A)(iii)):\n";
    k = 0;
    for (const WorkGroup& g : groups) {
      d << "   Copies of work " << ++k << ":\n";
      for (const FindingRecord* r : g.findings) {
        const Finding& f = r->finding;
        d << "   - " << InfringingUrl(f);
        if (!f.media_url.empty() && f.media_url != InfringingUrl(f))
          d << " (image " << f.media_url << ")";
        d << "\n     observed " << f.captured_at << " UTC, " << f.units.size()
          << " matching page(s), Kagami finding #" << r->id << "\n";
      }
    }
    d << "\n3. Contact information of the complaining party (512(c)(3)(A)(iv)):\n   " << agent
      << " for " << owner << "\n   " << address << "\n   Telephone: " << phone
      << "\n   Email: " << email << "\n\n";
    d << "4. I have a good faith belief that use of the material in the manner complained of is "
         "not authorized by the copyright owner, its agent, or the law (512(c)(3)(A)(v)).\n\n";
    d << "5. The information in this notification is accurate, and under penalty of perjury, I "
         "am authorized to act on behalf of the owner of an exclusive right that is allegedly "
         "infringed (512(c)(3)(A)(vi)).\n\n";
    d << "6. Signature (512(c)(3)(A)(i)): " << signature << "\n   " << agent << "\n";
    n.dmca = d.str();

    // Japanese request. Separate missing-field bookkeeping shares `fields`.
    std::string owner_ja = fields.Get("name_ja");
    std::string address_ja = fields.Get("address_ja");
    std::ostringstream j;
    j << "著作権侵害の通知（送信防止措置依頼書）\n\n"
      << recipient << " 御中\n\n"
      << date << "\n\n"
      << "［権利者］\n住所: " << address_ja << "\n氏名（名称）: " << owner_ja
      << "\n担当者: " << agent << "\n電話番号: " << phone << "\n電子メール: " << email << "\n\n"
      << "貴社が管理する特定電気通信設備（" << host << "）に掲載されている下記の情報の流通により、"
      << "当社の著作権（複製権及び公衆送信権（送信可能化権を含む））が侵害されているため、"
      << "特定電気通信役務提供者の損害賠償責任の制限及び発信者情報の開示に関する法律に基づき、"
      << "当該情報の送信を防止する措置を講じるよう依頼します。\n\n"
      << "記\n\n";
    k = 0;
    for (const WorkGroup& g : groups) {
      j << ++k << ". 著作物: " << WorkDescription(g.work, works, fields) << "\n";
      for (const FindingRecord* r : g.findings) {
        const Finding& f = r->finding;
        j << "   掲載されている場所（URL）: " << InfringingUrl(f) << "\n"
          << "   確認日時（UTC）: " << f.captured_at << "、一致ページ数: " << f.units.size()
          << "（Kagami 検出番号 " << r->id << "）\n";
      }
    }
    j << "\n侵害されたとする権利: 著作権（複製権、公衆送信権）\n"
      << "権利が侵害されたとする理由: 当社は上記著作物の著作権者であり、上記URLに掲載されている"
         "画像は当該著作物を許諾なく複製したものです。\n\n"
      << "上記の内容は真実であり、当社は上記著作物の権利者又はその代理人として本通知を行う権限を"
         "有することを申し添えます。\n\n"
      << "署名: " << signature << "\n以上\n";
    n.japanese = j.str();

    json lumen_works = json::array();
    for (const WorkGroup& g : groups) {
      json infringing = json::array();
      for (const FindingRecord* r : g.findings) {
        infringing.push_back({{"url", InfringingUrl(r->finding)}});
      }
      json copyrighted = json::array();
      std::string url = fields.Optional({"works", g.work, "url"});
      if (!url.empty()) copyrighted.push_back({{"url", url}});
      lumen_works.push_back({{"description", WorkDescription(g.work, works, fields)},
                             {"kind", "manga"},
                             {"copyrighted_urls", copyrighted},
                             {"infringing_urls", infringing}});
    }
    auto kind = [&](const std::string& id) {
      auto it = works.find(id);
      return it == works.end() ? std::string("other")
                               : std::string(index::WorkKindName(it->second.kind));
    };
    for (size_t i = 0; i < groups.size(); ++i) lumen_works[i]["kind"] = kind(groups[i].work);
    n.lumen = {{"notice",
                {{"type", "DMCA"},
                 {"title", "Copyright infringement notice concerning " + host},
                 {"subject", "Infringing copies on " + host},
                 {"date_sent", date},
                 {"principal_name", owner},
                 {"sender_name", agent},
                 {"recipient_name", recipient},
                 {"sender_address", address},
                 {"sender_email", email},
                 {"works", lumen_works},
                 {"tag_list", "kagami"},
                 {"language", "en"}}}};
    n.missing = fields.missing();
    out.push_back(std::move(n));
  }
  return out;
}

}  // namespace kagami::reports
