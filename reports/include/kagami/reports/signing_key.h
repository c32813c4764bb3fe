#pragma once

// Ed25519 signing keys for evidence bundles (RFC 8032, via libsodium).
//
// Files in the data directory:
//   keys/signing.key  mode 0600: "kagami-ed25519-secret-v1\n" + 128 hex digits
//                     (libsodium's 64-byte secret key: seed || public key) + "\n"
//   keys/signing.pub  "kagami-ed25519-public-v1\n" + 64 hex digits + "\n"
// A bundle carries the public key file as `signing.pub`; signatures are
// detached, 128 hex digits + "\n". The key id is the first 16 hex digits of
// SHA-256 of the 32 raw public key bytes. Thread-safe (immutable after load).

#include <filesystem>
#include <string>
#include <string_view>

#include "kagami/base/status.h"

namespace kagami::reports {

class SigningKey {
 public:
  // Creates a new key pair in data_dir/keys. kInvalidArgument (naming the
  // file) when a key exists and `overwrite` is false. The secret key file is
  // created with mode 0600 and never widened.
  static Result<SigningKey> Create(const std::filesystem::path& data_dir, bool overwrite);
  // Loads data_dir/keys/signing.key; kNotFound with "run `kagami keys init`"
  // when missing; kInvalidArgument when its mode allows group/other access.
  static Result<SigningKey> Load(const std::filesystem::path& data_dir);

  const std::string& public_hex() const { return public_hex_; }
  std::string key_id() const;
  std::string PublicKeyFile() const;                 // the signing.pub contents
  std::string Sign(std::string_view message) const;  // 128 hex digits

  static std::filesystem::path SecretPath(const std::filesystem::path& data_dir);
  static std::filesystem::path PublicPath(const std::filesystem::path& data_dir);

 private:
  std::string secret_;  // 64 raw bytes
  std::string public_hex_;
};

// Parses a signing.pub file's contents; returns the 64-hex public key.
Result<std::string> ParsePublicKeyFile(std::string_view contents);
// True when `signature_hex` (optionally followed by "\n") is a valid Ed25519
// signature of `message` by `public_hex`.
bool VerifySignature(std::string_view message, std::string_view signature_hex,
                     std::string_view public_hex);
// Key id for a public key given in hex.
std::string KeyIdFor(std::string_view public_hex);

}  // namespace kagami::reports
