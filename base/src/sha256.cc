#include "kagami/base/sha256.h"

#include <openssl/evp.h>

#include <cerrno>
#include <cstdio>
#include <new>
#include <vector>

#include "kagami/base/hex.h"

namespace kagami {

void Sha256::CtxDeleter::operator()(evp_md_ctx_st* ctx) const { EVP_MD_CTX_free(ctx); }

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1) throw std::bad_alloc();
}

Sha256::~Sha256() = default;

void Sha256::Update(const void* data, size_t size) {
  if (size > 0 && EVP_DigestUpdate(ctx_.get(), data, size) != 1) throw std::bad_alloc();
}

std::array<unsigned char, Sha256::kDigestBytes> Sha256::Final() {
  std::array<unsigned char, kDigestBytes> digest{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_.get(), digest.data(), &len) != 1 || len != kDigestBytes) {
    throw std::bad_alloc();
  }
  return digest;
}

std::string Sha256::FinalHex() {
  const std::array<unsigned char, kDigestBytes> digest = Final();
  return HexLower(digest.data(), digest.size());
}

std::string Sha256Hex(std::string_view bytes) {
  Sha256 h;
  h.Update(bytes);
  return h.FinalHex();
}

std::string Sha256Hex(std::initializer_list<std::string_view> parts) {
  Sha256 h;
  for (std::string_view p : parts) h.Update(p);
  return h.FinalHex();
}

Result<std::string> Sha256HexFile(const std::filesystem::path& path) {
  struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) return ErrnoStatus(errno, "open " + path.string());
  Sha256 h;
  std::vector<unsigned char> buffer(1 << 20);
  size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), file.get())) > 0)
    h.Update(buffer.data(), n);
  if (std::ferror(file.get())) return ErrnoStatus(errno, "read " + path.string());
  return h.FinalHex();
}

}  // namespace kagami
