// Content-addressed copies of suspect bytes (findings_ledger.h).

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <memory>
#include <system_error>

#include "kagami/base/sha256.h"
#include "kagami/reports/findings_ledger.h"

namespace kagami::reports {
namespace {

constexpr size_t kChunk = 1 << 16;

std::string RelativeFor(const std::string& sha) {
  return "evidence/" + sha.substr(0, 2) + "/" + sha;
}

std::string TempSuffix() {
  static std::atomic<uint64_t> counter{0};
  return ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
}

// Writes `bytes` to `final_path` via a temporary file + fsync + rename.
Status WriteAtomically(const std::filesystem::path& final_path, std::string_view bytes) {
  std::error_code ec;
  std::filesystem::create_directories(final_path.parent_path(), ec);
  if (ec)
    return Status::IoError("creating " + final_path.parent_path().string() + ": " + ec.message());
  std::filesystem::path tmp = final_path;
  tmp += TempSuffix();
  {
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(tmp.c_str(), "wb"), &std::fclose);
    if (!f) return ErrnoStatus(errno, "create " + tmp.string());
    if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), f.get()) != bytes.size()) {
      int e = errno;
      std::filesystem::remove(tmp, ec);
      return ErrnoStatus(e, "write " + tmp.string());
    }
    if (std::fflush(f.get()) != 0 || ::fsync(fileno(f.get())) != 0) {
      int e = errno;
      std::filesystem::remove(tmp, ec);
      return ErrnoStatus(e, "flush " + tmp.string());
    }
  }
  std::filesystem::rename(tmp, final_path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return Status::IoError("rename to " + final_path.string() + ": " + ec.message());
  }
  return Status::Ok();
}

}  // namespace

Result<std::pair<std::string, std::string>> EvidenceStore::KeepBytes(std::string_view bytes) {
  std::string sha = Sha256Hex(bytes);
  std::string rel = RelativeFor(sha);
  std::filesystem::path dst = data_dir_ / rel;
  std::error_code ec;
  if (!std::filesystem::exists(dst, ec)) KAGAMI_RETURN_IF_ERROR(WriteAtomically(dst, bytes));
  return std::make_pair(sha, rel);
}

Result<std::pair<std::string, std::string>> EvidenceStore::KeepFile(
    const std::filesystem::path& path) {
  // Copy to a temporary file while hashing, then rename to the content name,
  // so the kept bytes are exactly the bytes hashed even if the source changes.
  std::error_code ec;
  std::filesystem::path dir = data_dir_ / "evidence";
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IoError("creating " + dir.string() + ": " + ec.message());
  std::filesystem::path tmp = dir / ("incoming" + TempSuffix());
  Sha256 digest;
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) return ErrnoStatus(errno, "open " + path.string());
    std::unique_ptr<FILE, int (*)(FILE*)> out(std::fopen(tmp.c_str(), "wb"), &std::fclose);
    if (!out) return ErrnoStatus(errno, "create " + tmp.string());
    std::string buf(kChunk, '\0');
    while (in) {
      in.read(buf.data(), buf.size());
      std::streamsize n = in.gcount();
      if (n <= 0) continue;
      digest.Update(buf.data(), static_cast<size_t>(n));
      if (std::fwrite(buf.data(), 1, n, out.get()) != static_cast<size_t>(n)) {
        int e = errno;
        out.reset();
        std::filesystem::remove(tmp, ec);
        return ErrnoStatus(e, "write " + tmp.string());
      }
    }
    if (in.bad() || std::fflush(out.get()) != 0 || ::fsync(fileno(out.get())) != 0) {
      out.reset();
      std::filesystem::remove(tmp, ec);
      return Status::IoError("copying " + path.string() + " into " + dir.string());
    }
  }
  std::string sha = digest.FinalHex();
  std::string rel = RelativeFor(sha);
  std::filesystem::path dst = data_dir_ / rel;
  std::filesystem::create_directories(dst.parent_path(), ec);
  if (std::filesystem::exists(dst)) {
    std::filesystem::remove(tmp, ec);
  } else {
    std::filesystem::rename(tmp, dst, ec);
    if (ec) {
      std::filesystem::remove(tmp, ec);
      return Status::IoError("rename to " + dst.string() + ": " + ec.message());
    }
  }
  return std::make_pair(sha, rel);
}

Result<std::filesystem::path> EvidenceStore::Resolve(const std::string& relative) const {
  if (relative.empty() || relative.find("..") != std::string::npos || relative[0] == '/') {
    return Status::InvalidArgument("bad evidence path \"" + relative + "\"");
  }
  std::filesystem::path p = data_dir_ / relative;
  KAGAMI_ASSIGN_OR_RETURN(std::string sha, Sha256HexFile(p));
  if (sha != p.filename().string()) {
    return Status::Corrupt(p.string() + ": kept evidence no longer matches its SHA-256 " +
                           p.filename().string());
  }
  return p;
}

}  // namespace kagami::reports
