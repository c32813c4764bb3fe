// `kagami keys init|show`: the Ed25519 key that signs evidence bundles.

#include <iostream>

#include "command.h"
#include "kagami/index/store.h"
#include "kagami/reports/signing_key.h"

namespace kagami::app {
namespace {

class KeysCommand : public Command {
 public:
  CLI::App* Setup(CLI::App& app) override {
    CLI::App* cmd = app.add_subcommand("keys", "manage the evidence signing key");
    cmd->require_subcommand(1);
    init_ = cmd->add_subcommand("init", "create an Ed25519 signing key in the data directory");
    init_->add_flag("--force", force_, "replace an existing key");
    show_ = cmd->add_subcommand("show", "print the public key and its id");
    return cmd;
  }

  int Run(const GlobalFlags& flags) override {
    auto dir = index::ResolveDataDir(flags.data_dir);
    if (*init_) {
      auto key = reports::SigningKey::Create(dir, force_);
      if (!key.ok()) return Fail(key.status());
      std::cout << "signing key " << key->key_id() << " created\n"
                << "  secret: " << reports::SigningKey::SecretPath(dir).string() << " (0600)\n"
                << "  public: " << reports::SigningKey::PublicPath(dir).string() << '\n'
                << "  ed25519 public key " << key->public_hex() << '\n';
      return kExitOk;
    }
    auto key = reports::SigningKey::Load(dir);
    if (!key.ok()) return Fail(key.status());
    std::cout << "key id " << key->key_id() << "\ned25519 public key " << key->public_hex() << '\n';
    return kExitOk;
  }

 private:
  CLI::App* init_ = nullptr;
  CLI::App* show_ = nullptr;
  bool force_ = false;
};

}  // namespace

std::unique_ptr<Command> MakeKeysCommand() { return std::make_unique<KeysCommand>(); }

}  // namespace kagami::app
