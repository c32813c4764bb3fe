#pragma once

#include <array>
#include <cstddef>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

#include "kagami/base/status.h"

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX

namespace kagami {

// SHA-256 (FIPS 180-4), computed by OpenSSL's EVP interface, which uses the
// CPU's SHA extensions where it has them (about 1.5 GB/s on this project's
// machines; libsodium's portable code, used before, was several times slower).
// The one implementation for content digests, WARC payload digests, evidence
// file names and ledger entry hashes.
//
// An object hashes one message: Update any number of times, then Final or
// FinalHex once (after which it must not be used). Objects are independent;
// one object is not safe to use from two threads at once. An allocation
// failure inside OpenSSL throws std::bad_alloc, as a std::string's would.
class Sha256 {
 public:
  static constexpr size_t kDigestBytes = 32;

  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(const void* data, size_t size);
  void Update(std::string_view bytes) { Update(bytes.data(), bytes.size()); }
  std::array<unsigned char, kDigestBytes> Final();
  std::string FinalHex();  // 64 lowercase hex digits

 private:
  struct CtxDeleter {
    void operator()(evp_md_ctx_st* ctx) const;
  };
  std::unique_ptr<evp_md_ctx_st, CtxDeleter> ctx_;
};

// Lowercase hex SHA-256 of `bytes`, of the concatenation of `parts`, and of a
// file's content (streamed in 1 MiB reads; kNotFound for a missing file, the
// errno's code for other open or read failures).
std::string Sha256Hex(std::string_view bytes);
inline std::string Sha256Hex(const void* data, size_t size) {
  return Sha256Hex(std::string_view(static_cast<const char*>(data), size));
}
std::string Sha256Hex(std::initializer_list<std::string_view> parts);
Result<std::string> Sha256HexFile(const std::filesystem::path& path);

}  // namespace kagami
