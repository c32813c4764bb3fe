// `kagami verify BUNDLE`: checks every hash, the signature, the ledger chain
// and the optional timestamp; exit 0 only when everything holds.

#include <fstream>
#include <iostream>
#include <sstream>

#include "command.h"
#include "kagami/reports/evidence_bundle.h"
#include "kagami/reports/signing_key.h"

namespace kagami::app {
namespace {

class VerifyCommand : public Command {
 public:
  CLI::App* Setup(CLI::App& app) override {
    CLI::App* cmd = app.add_subcommand("verify", "check an evidence bundle (directory or .zip)");
    cmd->add_option("bundle", bundle_, "bundle directory or zip")->required();
    cmd->add_option("--key", key_, "expected ed25519 public key (64 hex) or a signing.pub file");
    cmd->add_option("--tsa-ca", tsa_ca_, "trusted TSA CA file (default: the bundle's tsa.pem)");
    return cmd;
  }

  int Run(const GlobalFlags&) override {
    reports::VerifyOptions options;
    options.tsa_ca_file = tsa_ca_;
    if (!key_.empty()) {
      if (key_.size() == 64) {
        options.trusted_key_hex = key_;
      } else {
        std::ifstream in(key_);
        std::stringstream ss;
        ss << in.rdbuf();
        auto pk = reports::ParsePublicKeyFile(ss.str());
        if (!pk.ok()) {
          std::cerr << "kagami: --key " << key_ << ": " << pk.status().message() << '\n';
          return kExitUsage;
        }
        options.trusted_key_hex = *pk;
      }
    }
    reports::VerifyReport report = reports::VerifyBundle(bundle_, options);
    for (const auto& n : report.notes) std::cout << "ok: " << n << '\n';
    for (const auto& p : report.problems) std::cout << "FAIL: " << p << '\n';
    std::cout << (report.ok ? "bundle verifies\n" : "bundle does NOT verify\n");
    return report.ok ? kExitOk : kExitFailure;
  }

 private:
  std::string bundle_, key_, tsa_ca_;
};

}  // namespace

std::unique_ptr<Command> MakeVerifyCommand() { return std::make_unique<VerifyCommand>(); }

}  // namespace kagami::app
