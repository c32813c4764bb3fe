// `kagami verify`: checks an evidence bundle (evidence_bundle.h).

#include <map>
#include <random>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "bundle_util.h"
#include "kagami/reports/evidence_bundle.h"

namespace kagami::reports {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr size_t kMaxManifestBytes = 64 << 20;
constexpr size_t kMaxLedgerBytes = size_t{1} << 31;
constexpr uint64_t kMaxZipBytes = uint64_t{64} << 30;

class TempTree {
 public:
  TempTree() {
    std::random_device rd;
    path_ = fs::temp_directory_path() /
            ("kagami-verify-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempTree() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void CheckDirectory(const fs::path& root, const VerifyOptions& options, VerifyReport& report) {
  auto problem = [&](std::string p) { report.problems.push_back(std::move(p)); };
  auto manifest_text = ReadWholeFile(root / "manifest.json", kMaxManifestBytes);
  if (!manifest_text.ok()) {
    problem("manifest.json: " + manifest_text.status().message());
    return;
  }
  // 1. Signature over the exact manifest bytes.
  auto pub_text = ReadWholeFile(root / "signing.pub", 4096);
  auto sig_text = ReadWholeFile(root / "manifest.sig", 4096);
  std::string public_hex;
  if (!pub_text.ok()) {
    problem("signing.pub: " + pub_text.status().message());
  } else {
    auto pk = ParsePublicKeyFile(*pub_text);
    if (!pk.ok()) {
      problem("signing.pub: " + pk.status().message());
    } else {
      public_hex = *pk;
    }
  }
  if (!options.trusted_key_hex.empty() && !public_hex.empty() &&
      public_hex != options.trusted_key_hex) {
    problem("signing.pub: public key " + KeyIdFor(public_hex) + " is not the trusted key " +
            KeyIdFor(options.trusted_key_hex));
  }
  if (!sig_text.ok()) {
    problem("manifest.sig: " + sig_text.status().message());
  } else if (!public_hex.empty()) {
    if (VerifySignature(*manifest_text, *sig_text, public_hex)) {
      report.notes.push_back("signature: manifest.json signed by key " + KeyIdFor(public_hex) +
                             (options.trusted_key_hex.empty() ? " (the bundle's own key; pass "
                                                                "--key to pin the expected one)"
                                                              : " (trusted)"));
    } else {
      problem(
          "manifest.sig: the signature does not verify for manifest.json with signing.pub "
          "(manifest edited, or key replaced)");
    }
  }
  json manifest = json::parse(*manifest_text, nullptr, false);
  if (!manifest.is_object() || !manifest.contains("files") || !manifest["files"].is_array()) {
    problem("manifest.json: not a Kagami bundle manifest");
    return;
  }
  if (manifest.value("format", "") != kBundleFormat) {
    problem("manifest.json: unknown format \"" + manifest.value("format", "") + "\"");
  }
  if (manifest.contains("signing_key") && manifest["signing_key"].is_object() &&
      !public_hex.empty() && manifest["signing_key"].value("key_id", "") != KeyIdFor(public_hex)) {
    problem("signing.pub: key id " + KeyIdFor(public_hex) + " differs from the manifest's " +
            manifest["signing_key"].value("key_id", ""));
  }
  // 2. Every listed file's hash; nothing unlisted.
  std::set<std::string> listed;
  std::map<std::string, std::string> sha_of;
  for (const json& f : manifest["files"]) {
    if (!f.is_object() || !f.contains("path") || !f["path"].is_string() || !f.contains("sha256")) {
      problem("manifest.json: malformed file entry");
      continue;
    }
    std::string rel = f["path"].get<std::string>();
    fs::path p(rel);
    bool bad = rel.empty() || p.is_absolute();
    for (const auto& part : p) bad = bad || part == "..";
    if (bad) {
      problem("manifest.json: unsafe path \"" + rel + "\"");
      continue;
    }
    listed.insert(rel);
    sha_of[rel] = f["sha256"].is_string() ? f["sha256"].get<std::string>() : "";
    std::error_code ec;
    if (!fs::is_regular_file(root / p, ec)) {
      problem(rel + ": listed in the manifest but missing");
      continue;
    }
    auto sha = Sha256HexFile(root / p);
    if (!sha.ok()) {
      problem(rel + ": " + sha.status().message());
    } else if (*sha != sha_of[rel]) {
      problem(rel + ": SHA-256 mismatch (file changed since export)");
    }
  }
  auto present = ListBundleFiles(root);
  if (!present.ok()) {
    problem(present.status().message());
  } else {
    for (const std::string& rel : *present) {
      if (!listed.count(rel)) problem(rel + ": not listed in the manifest (added after export)");
    }
  }
  report.notes.push_back("files: " + std::to_string(listed.size()) + " listed in the manifest");
  // 3. The ledger chain and its head.
  std::string ledger_file = "ledger.jsonl";
  json ledger_meta = manifest.contains("ledger") ? manifest["ledger"] : json::object();
  auto ledger_text = ReadWholeFile(root / ledger_file, kMaxLedgerBytes);
  std::map<int64_t, LedgerEntry> by_seq;
  if (!ledger_text.ok()) {
    problem(ledger_file + ": " + ledger_text.status().message());
  } else {
    std::vector<LedgerEntry> entries;
    std::istringstream in(*ledger_text);
    std::string line;
    int n = 0;
    bool parse_ok = true;
    while (std::getline(in, line)) {
      ++n;
      if (line.empty()) continue;
      auto e = EntryFromJsonLine(line);
      if (!e.ok()) {
        problem(ledger_file + " line " + std::to_string(n) + ": " + e.status().message());
        parse_ok = false;
        continue;
      }
      entries.push_back(*e);
      by_seq[e->seq] = *e;
    }
    if (parse_ok) {
      ChainCheck chain = VerifyEntries(entries);
      if (!chain.ok) {
        problem(ledger_file + ": " + chain.problem);
      } else {
        if (ledger_meta.is_object() &&
            (ledger_meta.value("head_hash", "") != chain.head.hash ||
             ledger_meta.value("head_seq", int64_t{-1}) != chain.head.seq)) {
          problem(ledger_file + ": chain head (entry " + std::to_string(chain.head.seq) + ", " +
                  chain.head.hash.substr(0, 16) + "...) differs from the manifest's head (entry " +
                  std::to_string(ledger_meta.value("head_seq", int64_t{-1})) +
                  "; entries deleted or appended)");
        } else {
          report.notes.push_back("ledger: " + std::to_string(chain.entries) +
                                 " entries chain to head " + chain.head.hash);
        }
      }
    }
  }
  // 4. Each exported finding against its ledger entry and captured bytes.
  if (manifest.contains("findings") && manifest["findings"].is_array()) {
    for (const json& idj : manifest["findings"]) {
      if (!idj.is_number_integer()) continue;
      int64_t id = idj.get<int64_t>();
      std::string rel = "findings/" + std::to_string(id) + "/finding.json";
      auto text = ReadWholeFile(root / rel, kMaxManifestBytes);
      if (!text.ok()) {
        problem(rel + ": " + text.status().message());
        continue;
      }
      json rec = json::parse(*text, nullptr, false);
      if (!rec.is_object() || !rec.contains("ledger_entry")) {
        problem(rel + ": unreadable");
        continue;
      }
      auto it = by_seq.find(id);
      if (it == by_seq.end() || it->second.kind != EntryKind::kFinding) {
        problem(rel + ": finding " + std::to_string(id) + " is not in ledger.jsonl");
        continue;
      }
      if (rec["ledger_entry"].value("hash", "") != it->second.hash) {
        problem(rel + ": ledger entry hash differs from ledger.jsonl entry " + std::to_string(id));
      }
      auto finding = FindingFromJson(it->second.body);
      if (!finding.ok()) continue;
      if (rec.contains("captured") && rec["captured"].is_object()) {
        std::string cap = rec["captured"].value("file", "");
        auto sha = Sha256HexFile(root / cap);
        if (!sha.ok()) {
          problem(cap + ": " + sha.status().message());
        } else if (*sha != finding->content_sha256) {
          problem(cap + ": captured bytes do not match the ledger's content SHA-256 for finding " +
                  std::to_string(id));
        }
      }
    }
  }
  // 5. Optional RFC 3161 timestamp over manifest.json.
  std::error_code ec;
  if (fs::exists(root / "timestamp.tsr", ec)) {
    fs::path ca = options.tsa_ca_file.empty() ? root / "tsa.pem" : fs::path(options.tsa_ca_file);
    Status st = VerifyTimestamp(root / "timestamp.tsr", root / "manifest.json", ca);
    if (!st.ok()) {
      problem("timestamp.tsr: " + st.message());
    } else {
      report.notes.push_back(std::string("timestamp: RFC 3161 token over manifest.json verifies") +
                             (options.tsa_ca_file.empty()
                                  ? " (against the bundle's tsa.pem)"
                                  : " (against " + options.tsa_ca_file + ")"));
    }
  }
}

}  // namespace

VerifyReport VerifyBundle(const fs::path& bundle, const VerifyOptions& options) {
  VerifyReport report;
  std::error_code ec;
  if (fs::is_directory(bundle, ec)) {
    CheckDirectory(bundle, options, report);
  } else if (fs::is_regular_file(bundle, ec)) {
    TempTree tmp;
    Status st = UnzipTo(bundle, tmp.path(), kMaxZipBytes);
    if (!st.ok()) {
      report.problems.push_back(st.message());
    } else {
      CheckDirectory(tmp.path(), options, report);
    }
  } else {
    report.problems.push_back(bundle.string() + ": no such bundle");
  }
  report.ok = report.problems.empty();
  return report;
}

}  // namespace kagami::reports
