#pragma once

// Private helpers for evidence bundles (evidence_bundle.h): files, zip, RFC 3161.

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "kagami/base/status.h"

namespace kagami::reports {

// Files that the manifest does not list: itself, its signature, the timestamp.
bool IsUnlistedBundleFile(const std::string& relative);

// Writes `data` to `path`, creating parent directories.
Status WriteBundleFile(const std::filesystem::path& path, std::string_view data);
Result<std::string> ReadWholeFile(const std::filesystem::path& path, size_t max_bytes);

// Every regular file under `root` (relative, '/'-separated, sorted), except the
// unlisted ones. Symlinks and other non-regular files are an error.
Result<std::vector<std::string>> ListBundleFiles(const std::filesystem::path& root);

// Zips `dir` (its contents at the archive root) into `zip` with libarchive.
Status ZipDirectory(const std::filesystem::path& dir, const std::filesystem::path& zip);
// Extracts a zip into the empty directory `dest`, refusing absolute paths,
// "..", links and more than `max_bytes` in total.
Status UnzipTo(const std::filesystem::path& zip, const std::filesystem::path& dest,
               uint64_t max_bytes);

// RFC 3161: asks the TSA at `url` (HTTP POST, application/timestamp-query) for a
// token over SHA-256 of `data_file` with a nonce and the signer certificate,
// writes the DER reply to `tsr_out`, copies `ca_file` (when given) to
// `ca_out`, and, with a CA, verifies the reply at once.
Status RequestTimestamp(const std::string& url, const std::filesystem::path& data_file,
                        const std::filesystem::path& tsr_out, const std::filesystem::path& ca_out,
                        const std::string& ca_file);
// Verifies like `openssl ts -verify -digest SHA256(data) -in TSR -CAfile CA`:
// version, signature, signer certificate chain to CA, and message imprint.
Status VerifyTimestamp(const std::filesystem::path& tsr, const std::filesystem::path& data_file,
                       const std::filesystem::path& ca_file);

}  // namespace kagami::reports
