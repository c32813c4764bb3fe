#pragma once

// Takedown notices per host, from confirmed findings and a rights-holder
// config file. Nothing is invented: a required detail missing from the config
// stays a visible "[missing: FIELD]" marker in the text and is listed in
// `missing`.
//
// Config (JSON), e.g. rights_holder.json:
// {
//   "name": "Example Publishing Co., Ltd.",          // copyright owner           (required)
//   "name_ja": "株式会社例示出版",                      // for the Japanese notice  (required
//   there) "agent": "Legal Dept., Taro Yamada",             // person authorised to act (required)
//   "address": "1-2-3 Chiyoda, Tokyo 100-0001, Japan",// (required)
//   "address_ja": "東京都千代田区千代田1-2-3",          // (required for the Japanese notice)
//   "email": "legal@example.co.jp",                  // (required)
//   "phone": "+81-3-0000-0000",                      // (required)
//   "signature": "/Taro Yamada/",                    // electronic signature     (required)
//   "works": {"WORK_ID": {"description": "...", "url": "https://..."}},  // optional
//   "hosts": {"HOST": {"recipient": "Abuse Desk, Host Inc.", "email": "abuse@host"}}
// }
// The work description falls back to the catalog title and identifiers; the
// recipient falls back to "[missing: hosts.HOST.recipient]".
//
// DMCA notices follow 17 U.S.C. 512(c)(3)(A)(i)-(vi); the Japanese notice
// follows the structure of the 侵害情報の通知書 兼 送信防止措置依頼書 form
// (プロバイダ責任制限法 ガイドライン); the JSON follows Lumen's notice fields.

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kagami/base/status.h"
#include "kagami/index/catalog.h"
#include "kagami/reports/findings_ledger.h"

namespace kagami::reports {

struct HostNotices {
  std::string host;
  std::vector<int64_t> findings;
  std::string dmca;                  // plain text, UTF-8
  std::string japanese;              // plain text, UTF-8
  nlohmann::json lumen;              // Lumen-style record
  std::vector<std::string> missing;  // config fields that are missing, e.g. "phone"
};

// Loads the config file; kNotFound / kCorrupt with the path on failure.
Result<nlohmann::json> LoadRightsHolderConfig(const std::string& path);

// One HostNotices per host among `findings` that have a URL (local files have
// no host to notify); only findings whose status is confirmed or notice_sent
// are included. `date` is the UTC date printed on the notices.
std::vector<HostNotices> BuildNotices(const std::vector<FindingRecord>& findings,
                                      const std::map<std::string, index::Work>& works,
                                      const nlohmann::json& config, const std::string& date);

}  // namespace kagami::reports
