// kagami-hash, the lean `kagami hash` (app/lean_hash.cc): byte-identical output
// and exit codes to kagami-core's for the same arguments, self-sufficient for
// plain JPEG/PNG/GIF/AVIF files, and free of the heavy libraries.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <turbojpeg.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "shell.h"
#include "temp_dir.h"

namespace kagami {
namespace {

namespace fs = std::filesystem;
using testing::CommandResult;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::RunShell;
using testing::ShellQuote;

const fs::path kBinDir = fs::path(KAGAMI_BINARY).parent_path();
const fs::path kData = KAGAMI_TEST_DATA_DIR;

CommandResult RunBinary(const fs::path& binary, const std::vector<std::string>& args,
                        testing::Stderr err = testing::Stderr::kDiscard) {
  std::string cmd = ShellQuote(binary.string());
  for (const std::string& a : args) cmd += " " + ShellQuote(a);
  return RunShell(cmd, err);
}

std::vector<unsigned char> ReadBytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<unsigned char>(std::istreambuf_iterator<char>(in), {});
}

// Adobe CMYK JPEG (the OpenCV/libjpeg path in kagami-core).
std::vector<unsigned char> CmykJpeg() {
  std::vector<unsigned char> cmyk(48 * 40 * 4);
  for (size_t i = 0; i < cmyk.size(); ++i) cmyk[i] = static_cast<unsigned char>((i * 37) % 251);
  std::unique_ptr<void, int (*)(tjhandle)> tj(tjInitCompress(), tjDestroy);
  unsigned char* encoded = nullptr;
  unsigned long size = 0;
  if (tjCompress2(tj.get(), cmyk.data(), 48, 0, 40, TJPF_CMYK, &encoded, &size, TJSAMP_444, 90,
                  0) != 0) {
    return {};
  }
  std::vector<unsigned char> out(encoded, encoded + size);
  tjFree(encoded);
  return out;
}

class LeanHashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    inputs_ = {(kData / "golden/wallpaper-flow-360x720.jpg").string(),
               (kData / "golden/clipart-flask.png").string(),
               (kData / "real/manual-050.jpg").string()};
    // GIF (animated) and AVIF generated with FFmpeg; skipped if it cannot.
    const std::string gif = (dir_ / "anim.gif").string();
    const std::string avif = (dir_ / "still.avif").string();
    if (RunShell("ffmpeg -v error -f lavfi -i testsrc2=s=160x120:d=1 -frames:v 3 -y " +
                 ShellQuote(gif))
            .exit_code == 0) {
      inputs_.push_back(gif);
    }
    if (RunShell("ffmpeg -v error -f lavfi -i testsrc2=s=128x96 -frames:v 1 -c:v libaom-av1 "
                 "-still-picture 1 -cpu-used 8 -y " +
                 ShellQuote(avif))
            .exit_code == 0) {
      inputs_.push_back(avif);
    }
    std::vector<unsigned char> cmyk = CmykJpeg();
    ASSERT_FALSE(cmyk.empty());
    testing::WriteFile(dir_ / "cmyk.jpg", cmyk);
    inputs_.push_back((dir_ / "cmyk.jpg").string());
    std::vector<unsigned char> jpeg = ReadBytes(kData / "real/manual-051.jpg");
    jpeg.resize(jpeg.size() / 2);
    testing::WriteFile(dir_ / "truncated.jpg", jpeg);
    inputs_.push_back((dir_ / "truncated.jpg").string());
    testing::WriteFile(dir_ / "png-named.jpg", ReadBytes(kData / "golden/clipart-flask.png"));
    inputs_.push_back((dir_ / "png-named.jpg").string());
  }

  testing::TempDir dir_;
  std::vector<std::string> inputs_;
};

TEST_F(LeanHashTest, PrintsExactlyWhatKagamiCorePrintsForEveryOptionSet) {
  EXPECT_GE(inputs_.size(), 8u) << "FFmpeg could not make the GIF or AVIF input";
  const std::vector<std::vector<std::string>> option_sets = {
      {"hash"},
      {"hash", "--dihedral"},
      {"hash", "--decode", "fast"},
      {"--decode", "fast", "hash", "--dihedral"},
      {"--threads", "1", "hash", "--decode=exact", "--data", "unused"},
  };
  for (const auto& options : option_sets) {
    std::vector<std::vector<std::string>> runs;
    for (const std::string& input : inputs_) runs.push_back({input});
    runs.push_back(inputs_);  // all at once (up to the lean batch size)
    for (const auto& paths : runs) {
      std::vector<std::string> args = options;
      args.insert(args.end(), paths.begin(), paths.end());
      CommandResult lean = RunBinary(kBinDir / "kagami-hash", args);
      CommandResult core = RunBinary(kBinDir / "kagami-core", args);
      CommandResult launched = RunBinary(kBinDir / "kagami", args);
      std::string what = ::testing::PrintToString(args);
      EXPECT_EQ(lean.out, core.out) << what;
      EXPECT_EQ(lean.exit_code, core.exit_code) << what;
      EXPECT_EQ(launched.out, core.out) << what;
      EXPECT_FALSE(core.out.empty()) << what;
    }
  }
}

TEST_F(LeanHashTest, HashesPlainImagesWithoutKagamiCore) {
  // A copy of kagami-hash alone in a folder: nothing to hand work on to.
  const fs::path alone = dir_ / "bin/kagami-hash";
  fs::create_directories(alone.parent_path());
  fs::copy_file(kBinDir / "kagami-hash", alone);
  const std::string jpg = (kData / "golden/wallpaper-flow-360x720.jpg").string();
  CommandResult lean = RunBinary(alone, {"hash", jpg}, testing::Stderr::kMerge);
  EXPECT_EQ(lean.exit_code, 0) << lean.out;
  EXPECT_THAT(lean.out, HasSubstr("\"pdq\":\""));
  EXPECT_EQ(lean.out, RunBinary(kBinDir / "kagami-core", {"hash", jpg}).out);
  // A folder is kagami-core's work: without it, a clear failure.
  CommandResult folder = RunBinary(alone, {"hash", dir_.path().string()}, testing::Stderr::kMerge);
  EXPECT_EQ(folder.exit_code, 2);
  EXPECT_THAT(folder.out, HasSubstr("cannot run"));
  // CMYK JPEGs too (libjpeg directly, no OpenCV).
  const std::string cmyk = (dir_ / "cmyk.jpg").string();
  CommandResult both = RunBinary(alone, {"hash", jpg, cmyk});
  EXPECT_EQ(both.exit_code, 0);
  EXPECT_THAT(both.out, Not(HasSubstr("\"error\":")));
  EXPECT_EQ(both.out, RunBinary(kBinDir / "kagami-core", {"hash", jpg, cmyk}).out);
}

TEST(LeanHashLinkTest, LinksNoneOfTheHeavyLibraries) {
  CommandResult needed =
      RunShell("readelf -d " + ShellQuote((kBinDir / "kagami-hash").string()) + " | grep NEEDED");
  ASSERT_EQ(needed.exit_code, 0);
  EXPECT_THAT(needed.out, HasSubstr("libturbojpeg"));
  for (const char* heavy : {"opencv", "poppler", "libarchive", "libav", "faiss", "blas", "tbb",
                            "sqlite", "curl", "libxml2"}) {
    EXPECT_THAT(needed.out, Not(HasSubstr(heavy))) << needed.out;
  }
}

}  // namespace
}  // namespace kagami
