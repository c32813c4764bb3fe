#include "bundle_util.h"

#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <memory>
#include <sstream>

#include "kagami/reports/findings_ledger.h"

namespace kagami::reports {
namespace fs = std::filesystem;

namespace {

std::string OpensslError() {
  unsigned long e = ERR_get_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using ArchivePtr = std::unique_ptr<archive, int (*)(archive*)>;
using TsReqPtr = std::unique_ptr<TS_REQ, Deleter<TS_REQ, TS_REQ_free>>;
using TsRespPtr = std::unique_ptr<TS_RESP, Deleter<TS_RESP, TS_RESP_free>>;
using TsMsgPtr = std::unique_ptr<TS_MSG_IMPRINT, Deleter<TS_MSG_IMPRINT, TS_MSG_IMPRINT_free>>;
using AlgPtr = std::unique_ptr<X509_ALGOR, Deleter<X509_ALGOR, X509_ALGOR_free>>;
using IntPtr = std::unique_ptr<ASN1_INTEGER, Deleter<ASN1_INTEGER, ASN1_INTEGER_free>>;
using VerifyCtxPtr = std::unique_ptr<TS_VERIFY_CTX, Deleter<TS_VERIFY_CTX, TS_VERIFY_CTX_free>>;
using StorePtr = std::unique_ptr<X509_STORE, Deleter<X509_STORE, X509_STORE_free>>;
using CurlPtr = std::unique_ptr<CURL, Deleter<CURL, curl_easy_cleanup>>;
using SlistPtr = std::unique_ptr<curl_slist, Deleter<curl_slist, curl_slist_free_all>>;

Result<std::string> Sha256Raw(const fs::path& file) {
  KAGAMI_ASSIGN_OR_RETURN(std::string hex, Sha256HexFile(file));
  std::string raw(32, '\0');
  for (size_t i = 0; i < 32; ++i)
    raw[i] = static_cast<char>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  return raw;
}

size_t CollectBody(char* data, size_t size, size_t n, void* user) {
  auto* out = static_cast<std::string*>(user);
  constexpr size_t kMaxReply = 1 << 20;
  if (out->size() + size * n > kMaxReply) return 0;  // abort: a TSA reply is small
  out->append(data, size * n);
  return size * n;
}

}  // namespace

bool IsUnlistedBundleFile(const std::string& rel) {
  return rel == "manifest.json" || rel == "manifest.sig" || rel == "timestamp.tsr" ||
         rel == "tsa.pem";
}

Status WriteBundleFile(const fs::path& path, std::string_view data) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) return Status::IoError("creating " + path.parent_path().string() + ": " + ec.message());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return ErrnoStatus(errno, "create " + path.string());
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  out.flush();
  if (!out) return Status::IoError("write " + path.string());
  return Status::Ok();
}

Result<std::string> ReadWholeFile(const fs::path& path, size_t max_bytes) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (ec) return Status::NotFound(path.string() + ": " + ec.message());
  if (size > max_bytes) return Status::ResourceExhausted(path.string() + " is too large");
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoStatus(errno, "open " + path.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<std::vector<std::string>> ListBundleFiles(const fs::path& root) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    const auto& entry = *it;
    if (entry.is_symlink()) {
      return Status::Corrupt(fs::relative(entry.path(), root).generic_string() +
                             ": symbolic links are not allowed in a bundle");
    }
    if (entry.is_directory()) continue;
    std::string rel = fs::relative(entry.path(), root).generic_string();
    if (!entry.is_regular_file()) return Status::Corrupt(rel + ": not a regular file");
    if (!IsUnlistedBundleFile(rel)) out.push_back(rel);
  }
  if (ec) return Status::IoError("listing " + root.string() + ": " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

Status ZipDirectory(const fs::path& dir, const fs::path& zip) {
  ArchivePtr a(archive_write_new(), &archive_write_free);
  archive_write_set_format_zip(a.get());
  if (archive_write_open_filename(a.get(), zip.c_str()) != ARCHIVE_OK) {
    return Status::IoError("creating " + zip.string() + ": " + archive_error_string(a.get()));
  }
  std::vector<std::string> files;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->is_regular_file()) files.push_back(fs::relative(it->path(), dir).generic_string());
  }
  std::sort(files.begin(), files.end());
  for (const std::string& rel : files) {
    KAGAMI_ASSIGN_OR_RETURN(std::string data, ReadWholeFile(dir / rel, size_t{1} << 34));
    std::unique_ptr<archive_entry, void (*)(archive_entry*)> e(archive_entry_new(),
                                                               &archive_entry_free);
    archive_entry_set_pathname(e.get(), rel.c_str());
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(data.size()));
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 0644);
    if (archive_write_header(a.get(), e.get()) != ARCHIVE_OK ||
        archive_write_data(a.get(), data.data(), data.size()) !=
            static_cast<la_ssize_t>(data.size())) {
      return Status::IoError("writing " + zip.string() + ": " + archive_error_string(a.get()));
    }
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK) {
    return Status::IoError("closing " + zip.string() + ": " + archive_error_string(a.get()));
  }
  return Status::Ok();
}

Status UnzipTo(const fs::path& zip, const fs::path& dest, uint64_t max_bytes) {
  ArchivePtr a(archive_read_new(), &archive_read_free);
  archive_read_support_format_zip(a.get());
  if (archive_read_open_filename(a.get(), zip.c_str(), 1 << 16) != ARCHIVE_OK) {
    return Status::Corrupt(zip.string() + ": " + archive_error_string(a.get()));
  }
  uint64_t total = 0;
  archive_entry* e = nullptr;
  int rc;
  while ((rc = archive_read_next_header(a.get(), &e)) == ARCHIVE_OK) {
    std::string name = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
    fs::path p(name);
    bool bad = name.empty() || p.is_absolute();
    for (const auto& part : p) bad = bad || part == "..";
    if (bad) return Status::Corrupt(zip.string() + ": unsafe entry name \"" + name + "\"");
    if (archive_entry_filetype(e) == AE_IFDIR) continue;
    if (archive_entry_filetype(e) != AE_IFREG) {
      return Status::Corrupt(zip.string() + ": entry \"" + name + "\" is not a regular file");
    }
    std::string data;
    char buf[1 << 16];
    la_ssize_t n;
    while ((n = archive_read_data(a.get(), buf, sizeof buf)) > 0) {
      total += static_cast<uint64_t>(n);
      if (total > max_bytes) return Status::ResourceExhausted(zip.string() + " expands too far");
      data.append(buf, static_cast<size_t>(n));
    }
    if (n < 0) return Status::Corrupt(zip.string() + ": " + archive_error_string(a.get()));
    KAGAMI_RETURN_IF_ERROR(WriteBundleFile(dest / p, data));
  }
  if (rc != ARCHIVE_EOF)
    return Status::Corrupt(zip.string() + ": " + archive_error_string(a.get()));
  return Status::Ok();
}

Status RequestTimestamp(const std::string& url, const fs::path& data_file, const fs::path& tsr_out,
                        const fs::path& ca_out, const std::string& ca_file) {
  KAGAMI_ASSIGN_OR_RETURN(std::string digest, Sha256Raw(data_file));
  TsReqPtr req(TS_REQ_new());
  TsMsgPtr imprint(TS_MSG_IMPRINT_new());
  AlgPtr alg(X509_ALGOR_new());
  IntPtr nonce(ASN1_INTEGER_new());
  unsigned char nonce_bytes[8];
  if (!req || !imprint || !alg || !nonce || RAND_bytes(nonce_bytes, sizeof nonce_bytes) != 1) {
    return Status::Internal("building a timestamp request: " + OpensslError());
  }
  nonce_bytes[0] &= 0x7f;
  std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>> bn(
      BN_bin2bn(nonce_bytes, sizeof nonce_bytes, nullptr));
  X509_ALGOR_set0(alg.get(), OBJ_nid2obj(NID_sha256), V_ASN1_NULL, nullptr);
  if (!bn || !BN_to_ASN1_INTEGER(bn.get(), nonce.get()) || !TS_REQ_set_version(req.get(), 1) ||
      !TS_MSG_IMPRINT_set_algo(imprint.get(), alg.get()) ||
      !TS_MSG_IMPRINT_set_msg(imprint.get(), reinterpret_cast<unsigned char*>(digest.data()),
                              static_cast<int>(digest.size())) ||
      !TS_REQ_set_msg_imprint(req.get(), imprint.get()) ||
      !TS_REQ_set_nonce(req.get(), nonce.get()) || !TS_REQ_set_cert_req(req.get(), 1)) {
    return Status::Internal("building a timestamp request: " + OpensslError());
  }
  unsigned char* der = nullptr;
  int der_len = i2d_TS_REQ(req.get(), &der);
  if (der_len <= 0) return Status::Internal("encoding a timestamp request: " + OpensslError());
  std::string body(reinterpret_cast<char*>(der), static_cast<size_t>(der_len));
  OPENSSL_free(der);

  CurlPtr curl(curl_easy_init());
  if (!curl) return Status::Internal("curl_easy_init failed");
  SlistPtr headers(curl_slist_append(nullptr, "Content-Type: application/timestamp-query"));
  std::string reply;
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, &CollectBody);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &reply);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(curl.get(), CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  CURLcode rc = curl_easy_perform(curl.get());
  if (rc != CURLE_OK) {
    return Status::IoError("timestamp request to " + url + ": " + curl_easy_strerror(rc));
  }
  long http = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &http);
  if (http != 200) {
    return Status::IoError("timestamp request to " + url + ": HTTP " + std::to_string(http));
  }
  const unsigned char* p = reinterpret_cast<const unsigned char*>(reply.data());
  TsRespPtr resp(d2i_TS_RESP(nullptr, &p, static_cast<long>(reply.size())));
  if (!resp) return Status::Corrupt("the TSA at " + url + " sent no RFC 3161 reply");
  // The reply must answer this request (imprint and nonce) before it is kept.
  VerifyCtxPtr ctx(TS_REQ_to_TS_VERIFY_CTX(req.get(), nullptr));
  if (!ctx) return Status::Internal("timestamp check: " + OpensslError());
  int flags = TS_VFY_VERSION | TS_VFY_IMPRINT | TS_VFY_NONCE;
  if (!ca_file.empty()) {
    StorePtr store(X509_STORE_new());
    if (!store || X509_STORE_load_file(store.get(), ca_file.c_str()) != 1) {
      return Status::InvalidArgument("TSA CA file " + ca_file + ": " + OpensslError());
    }
    TS_VERIFY_CTX_set_store(ctx.get(), store.release());
    flags |= TS_VFY_SIGNATURE | TS_VFY_SIGNER;
  }
  TS_VERIFY_CTX_set_flags(ctx.get(), flags);
  if (TS_RESP_verify_response(ctx.get(), resp.get()) != 1) {
    return Status::Corrupt("the TSA's reply does not verify: " + OpensslError());
  }
  KAGAMI_RETURN_IF_ERROR(WriteBundleFile(tsr_out, reply));
  if (!ca_file.empty()) {
    KAGAMI_ASSIGN_OR_RETURN(std::string ca, ReadWholeFile(ca_file, 1 << 20));
    KAGAMI_RETURN_IF_ERROR(WriteBundleFile(ca_out, ca));
  }
  return Status::Ok();
}

Status VerifyTimestamp(const fs::path& tsr, const fs::path& data_file, const fs::path& ca_file) {
  KAGAMI_ASSIGN_OR_RETURN(std::string reply, ReadWholeFile(tsr, 1 << 20));
  KAGAMI_ASSIGN_OR_RETURN(std::string digest, Sha256Raw(data_file));
  const unsigned char* p = reinterpret_cast<const unsigned char*>(reply.data());
  TsRespPtr resp(d2i_TS_RESP(nullptr, &p, static_cast<long>(reply.size())));
  if (!resp) return Status::Corrupt("not an RFC 3161 timestamp reply");
  VerifyCtxPtr ctx(TS_VERIFY_CTX_new());
  StorePtr store(X509_STORE_new());
  if (!ctx || !store) return Status::Internal(OpensslError());
  if (X509_STORE_load_file(store.get(), ca_file.c_str()) != 1) {
    return Status::InvalidArgument("TSA CA file " + ca_file.string() + ": " + OpensslError());
  }
  TS_VERIFY_CTX_set_store(ctx.get(), store.release());
  auto* imprint = static_cast<unsigned char*>(OPENSSL_malloc(digest.size()));
  std::copy(digest.begin(), digest.end(), imprint);
  TS_VERIFY_CTX_set_imprint(ctx.get(), imprint, static_cast<long>(digest.size()));
  TS_VERIFY_CTX_set_flags(ctx.get(),
                          TS_VFY_VERSION | TS_VFY_SIGNER | TS_VFY_IMPRINT | TS_VFY_SIGNATURE);
  if (TS_RESP_verify_response(ctx.get(), resp.get()) != 1) {
    return Status::Corrupt("does not verify: " + OpensslError());
  }
  return Status::Ok();
}

}  // namespace kagami::reports
