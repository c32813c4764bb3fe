#pragma once

// Evidence bundles: what `kagami export` writes and `kagami verify` checks.
//
// Layout (format "kagami-evidence-bundle/1"), all paths relative to the bundle:
//   manifest.json        {"format","case","generator","operator","created_at",
//                         "filter":{...},"findings":[ids],"warnings":[...],
//                         "signing_key":{"file":"signing.pub","key_id","algorithm":"ed25519"},
//                         "ledger":{"file":"ledger.jsonl","entries","head_seq","head_hash"},
//                         "files":[{"path","sha256","bytes"}] (every other file, sorted)}
//   manifest.sig         Ed25519 signature of the exact bytes of manifest.json (hex)
//   signing.pub          the public key (signing_key.h format)
//   ledger.jsonl         the whole findings ledger up to its head, one entry per line
//                        (findings_ledger.h), so the chain verifies from entry 1
//   findings.csv         one row per exported finding (RFC 4180)
//   report.html          self-contained (inline CSS, images as data: URIs), offline
//   findings/ID/finding.json      the listing record, its ledger entry and exhibit layout
//   findings/ID/captured/NAME     the captured bytes (the kept copy of the source)
//   findings/ID/exhibit-N.png     side-by-side exhibits (exhibit_renderer.h)
//   notices/HOST/dmca-512c3.txt, notices/HOST/notice-ja.txt, notices/HOST/lumen.json
//   timestamp.tsr, tsa.pem        optional RFC 3161 token over SHA-256(manifest.json)
//                                 and the TSA's certificate chain (not in "files")
//
// The manifest signature covers the file list and the ledger head; file hashes
// cover everything else; the ledger chain covers the history; each finding.json
// names its ledger entry hash, and captured bytes must hash to the finding's
// content_sha256.

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "kagami/base/status.h"
#include "kagami/index/catalog.h"
#include "kagami/reports/findings_ledger.h"
#include "kagami/reports/signing_key.h"

namespace kagami::reports {

inline constexpr std::string_view kBundleFormat = "kagami-evidence-bundle/1";

struct ExportOptions {
  std::filesystem::path out_dir;  // must not exist, or be an empty directory
  std::string case_name;
  FindingFilter filter;
  std::string operator_name;
  std::string generator = "kagami 0.1.0";
  std::string rights_holder_config;  // "" = data_dir/rights_holder.json if present
  bool require_complete = false;     // missing notice fields are an error
  bool zip = false;                  // also write OUT.zip
  std::string tsa_url;               // "" = no RFC 3161 timestamp
  std::string tsa_ca_file;           // for checking the TSA's reply right away
  std::string font_path;             // "" = ExhibitRenderer::DefaultFontPath()
};

struct ExportResult {
  std::filesystem::path bundle;
  std::optional<std::filesystem::path> zip;
  int findings = 0;
  int exhibits = 0;
  int notices = 0;
  std::vector<std::string> warnings;
  std::string manifest_sha256;
};

// Writes the bundle. Per-finding problems (a registered file that moved, an
// undecodable page) become warnings in the manifest and on the result; store
// failures and --require-complete violations are errors, and nothing is left
// under out_dir then (it is written as OUT.partial and renamed at the end).
Result<ExportResult> ExportBundle(FindingsLedger& ledger, index::Catalog& catalog,
                                  const SigningKey& key, const std::filesystem::path& data_dir,
                                  const ExportOptions& options);

struct VerifyOptions {
  std::string trusted_key_hex;  // "" = trust the bundle's signing.pub (reported)
  std::string tsa_ca_file;      // "" = use the bundle's tsa.pem for the timestamp
};

struct VerifyReport {
  bool ok = false;
  std::vector<std::string> problems;  // each names the file or ledger entry
  std::vector<std::string> notes;     // what was checked
};

// Checks a bundle directory or a .zip of one. Never throws; unreadable input
// is a problem in the report.
VerifyReport VerifyBundle(const std::filesystem::path& bundle, const VerifyOptions& options);

}  // namespace kagami::reports
