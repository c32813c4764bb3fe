#include "command.h"

#include <any>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kagami/index/robust_matcher.h"
#include "kagami/ingest/volume.h"
#include "kagami/pipeline/video_pipeline.h"

namespace kagami::app {
namespace {

// `kagami hash`: one JSON line per page.
class HashPrinter : public kagami::pipeline::ExtractSink {
 public:
  explicit HashPrinter(const std::vector<kagami::ingest::Volume>& volumes) : volumes_(volumes) {}

  void BeginAsset(size_t, size_t, const std::string&, bool) override {}
  void OnPage(kagami::fingerprint::PageFingerprint page) override {
    nlohmann::json j;
    j["file"] = volumes_[page.volume].assets[page.asset].path.string();
    j["member"] = page.member;
    j["unit"] = "page";
    j["index"] = page.page_index;
    if (!page.status.ok()) {
      j["error"] = page.status.ToString();
      ++errors_;
    } else {
      j["pdq"] = page.pdq.hash.ToHex();
      j["quality"] = page.pdq.quality;
      if (page.dihedral) {
        nlohmann::json d = nlohmann::json::array();
        for (const auto& h : page.dihedral->hashes) d.push_back(h.ToHex());
        j["dihedral"] = d;
      }
      if (const auto* stored = std::any_cast<kagami::index::RegisteredHashes>(&page.annotation)) {
        if (stored->trimmed) {
          j["trimmed_pdq"] = stored->trimmed->hash.ToHex();
          j["trimmed_quality"] = stored->trimmed->quality;
        }
        j["blurred_pdq"] = stored->blurred.hash.ToHex();
        j["blurred_quality"] = stored->blurred.quality;
      }
      ++hashed_;
    }
    std::cout << JsonDump(j) << '\n';
  }
  void EndAsset(size_t volume, size_t asset, const Status& status) override {
    if (status.ok()) return;
    ++errors_;
    nlohmann::json j;
    j["file"] = volumes_[volume].assets[asset].path.string();
    j["error"] = status.ToString();
    std::cout << JsonDump(j) << '\n';
  }
  void EndVolume(size_t volume) override {
    const auto& v = volumes_[volume];
    if (v.status.ok()) return;
    ++errors_;
    nlohmann::json j;
    j["file"] = v.source;
    j["error"] = v.status.ToString();
    std::cout << JsonDump(j) << '\n';
  }

  int hashed() const { return hashed_; }
  int errors() const { return errors_; }

 private:
  const std::vector<kagami::ingest::Volume>& volumes_;
  int hashed_ = 0;
  int errors_ = 0;
};

class HashCommand : public Command {
 public:
  CLI::App* Setup(CLI::App& app) override {
    CLI::App* cmd =
        app.add_subcommand("hash", "print the PDQ hash of every page, one JSON line each");
    cmd->add_option("paths", paths_, "image files, folders, archives, PDFs, EPUBs")->required();
    cmd->add_flag("--dihedral", dihedral_, "add the 8 rotation/mirror variants");
    cmd->add_flag("--stored", stored_,
                  "add the hashes register stores beside PDQ: the trimmed view's "
                  "(trimmed_pdq, when trimming removes anything) and the blurred hash "
                  "(blurred_pdq); decodes as register does (--decode fast) unless --decode "
                  "says otherwise, so every hash printed is the one a catalog holds");
    return cmd;
  }
  int Run(const GlobalFlags& flags) override { return RunHash(flags, paths_, dihedral_, stored_); }

 private:
  static int RunHash(const GlobalFlags& flags, const std::vector<std::string>& paths, bool dihedral,
                     bool stored) {
    auto options = MakeExtractOptions(
        flags, stored ? kagami::ingest::DecodeMode::kFast : kagami::ingest::DecodeMode::kExact);
    options.dihedral = dihedral;
    if (stored) {
      options.analyze = [](const cv::Mat& pixels, const kagami::ingest::EncodedPage&,
                           kagami::fingerprint::PdqHasher& hasher,
                           kagami::fingerprint::PageFingerprint& page) {
        page.annotation = kagami::index::HashForRegistration(pixels, hasher);
      };
    }
    std::vector<std::string> page_paths, video_paths;
    for (const std::string& p : kagami::pipeline::WithFolderVideos(paths, options.limits)) {
      (kagami::pipeline::IsVideoInput(p) ? video_paths : page_paths).push_back(p);
    }
    std::vector<kagami::ingest::Volume> volumes =
        kagami::ingest::ExpandInputs(page_paths, options.limits);
    HashPrinter printer(volumes);
    kagami::pipeline::ExtractVolumes(volumes, options, printer);
    int video_hashed = 0, video_errors = 0;
    HashVideos(flags, video_paths, options.limits, video_hashed, video_errors);
    std::cout.flush();
    if (printer.hashed() + video_hashed == 0 && printer.errors() + video_errors > 0) {
      return kExitFailure;
    }
    return kExitOk;
  }

  std::vector<std::string> paths_;
  bool dihedral_ = false;
  bool stored_ = false;
};

}  // namespace

std::unique_ptr<Command> MakeHashCommand() { return std::make_unique<HashCommand>(); }

}  // namespace kagami::app
