#include "kagami/reports/signing_key.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include <sodium.h>

#include "kagami/base/hex.h"
#include "kagami/reports/findings_ledger.h"

namespace kagami::reports {
namespace {

constexpr std::string_view kSecretHeader = "kagami-ed25519-secret-v1\n";
constexpr std::string_view kPublicHeader = "kagami-ed25519-public-v1\n";

bool FromHex(std::string_view hex, size_t bytes, std::string* out) {
  if (hex.size() != 2 * bytes) return false;
  out->assign(bytes, '\0');
  for (size_t i = 0; i < bytes; ++i) {
    int v = 0;
    for (int k = 0; k < 2; ++k) {
      char c = hex[2 * i + k];
      int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (d < 0) return false;
      v = v * 16 + d;
    }
    (*out)[i] = static_cast<char>(v);
  }
  return true;
}

Status WriteFileMode(const std::filesystem::path& path, std::string_view data, mode_t mode) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoStatus(errno, "create " + tmp.string());
  ::fchmod(fd, mode);
  bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()) &&
            ::fsync(fd) == 0;
  int e = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    return ErrnoStatus(e, "write " + tmp.string());
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    e = errno;
    ::unlink(tmp.c_str());
    return ErrnoStatus(e, "rename to " + path.string());
  }
  return Status::Ok();
}

}  // namespace

std::filesystem::path SigningKey::SecretPath(const std::filesystem::path& data_dir) {
  return data_dir / "keys" / "signing.key";
}
std::filesystem::path SigningKey::PublicPath(const std::filesystem::path& data_dir) {
  return data_dir / "keys" / "signing.pub";
}

Result<SigningKey> SigningKey::Create(const std::filesystem::path& data_dir, bool overwrite) {
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialise");
  std::filesystem::path secret_path = SecretPath(data_dir);
  std::error_code ec;
  if (!overwrite && std::filesystem::exists(secret_path, ec)) {
    return Status::InvalidArgument(secret_path.string() +
                                   " already exists (use --force to replace it; bundles signed "
                                   "with the old key then need the old public key to verify)");
  }
  std::filesystem::create_directories(secret_path.parent_path(), ec);
  if (ec)
    return Status::IoError("creating " + secret_path.parent_path().string() + ": " + ec.message());
  ::chmod(secret_path.parent_path().c_str(), 0700);
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  unsigned char sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_keypair(pk, sk);
  SigningKey key;
  key.secret_.assign(reinterpret_cast<char*>(sk), sizeof sk);
  key.public_hex_ = HexLower(std::string_view(reinterpret_cast<char*>(pk), sizeof pk));
  std::string secret_file = std::string(kSecretHeader) + HexLower(key.secret_) + "\n";
  sodium_memzero(sk, sizeof sk);
  KAGAMI_RETURN_IF_ERROR(WriteFileMode(secret_path, secret_file, 0600));
  sodium_memzero(secret_file.data(), secret_file.size());
  KAGAMI_RETURN_IF_ERROR(WriteFileMode(PublicPath(data_dir), key.PublicKeyFile(), 0644));
  return key;
}

Result<SigningKey> SigningKey::Load(const std::filesystem::path& data_dir) {
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialise");
  std::filesystem::path path = SecretPath(data_dir);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return Status::NotFound("no signing key at " + path.string() + "; run `kagami keys init`");
    }
    return ErrnoStatus(errno, "stat " + path.string());
  }
  if ((st.st_mode & 077) != 0) {
    return Status::InvalidArgument(path.string() + " is readable by group or others; chmod 600 it");
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  std::string raw;
  if (text.rfind(kSecretHeader, 0) != 0 ||
      !FromHex(std::string_view(text).substr(kSecretHeader.size(), 128), 64, &raw)) {
    return Status::Corrupt(path.string() + ": not a Kagami Ed25519 secret key file");
  }
  SigningKey key;
  key.secret_ = raw;
  key.public_hex_ = HexLower(std::string_view(raw).substr(32));
  return key;
}

std::string SigningKey::key_id() const { return KeyIdFor(public_hex_); }

std::string SigningKey::PublicKeyFile() const {
  return std::string(kPublicHeader) + public_hex_ + "\n";
}

std::string SigningKey::Sign(std::string_view message) const {
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(message.data()),
                       message.size(), reinterpret_cast<const unsigned char*>(secret_.data()));
  return HexLower(std::string_view(reinterpret_cast<char*>(sig), sizeof sig));
}

Result<std::string> ParsePublicKeyFile(std::string_view contents) {
  std::string raw;
  if (contents.rfind(kPublicHeader, 0) != 0 ||
      !FromHex(contents.substr(kPublicHeader.size(), 64), 32, &raw)) {
    return Status::Corrupt("not a Kagami Ed25519 public key file");
  }
  return std::string(contents.substr(kPublicHeader.size(), 64));
}

bool VerifySignature(std::string_view message, std::string_view signature_hex,
                     std::string_view public_hex) {
  if (sodium_init() < 0) return false;
  if (!signature_hex.empty() && signature_hex.back() == '\n') signature_hex.remove_suffix(1);
  std::string sig, pk;
  if (!FromHex(signature_hex, crypto_sign_BYTES, &sig) ||
      !FromHex(public_hex, crypto_sign_PUBLICKEYBYTES, &pk)) {
    return false;
  }
  return crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(sig.data()),
                                     reinterpret_cast<const unsigned char*>(message.data()),
                                     message.size(),
                                     reinterpret_cast<const unsigned char*>(pk.data())) == 0;
}

std::string KeyIdFor(std::string_view public_hex) {
  std::string raw;
  if (!FromHex(public_hex, 32, &raw)) return "invalid";
  return Sha256Hex(raw).substr(0, 16);
}

}  // namespace kagami::reports
