#pragma once

// A real PostgreSQL server for tests, started from Debian's `postgresql`
// package: initdb (once per machine, then copied into a fresh directory under
// /tmp) and pg_ctl with a Unix socket in that directory (no TCP). PostgreSQL refuses to run as
// root, so when the tests run as root (CI) the server runs as `nobody` through setpriv, the
// directory chowned to it. Stopped (immediate) and removed on destruction. Each test gets its own
// database (CreateDatabase).

#include <glob.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace kagami::testing {

class PgServer {
 public:
  // The directory holding initdb/pg_ctl of the newest installed PostgreSQL, or "".
  static std::string FindBinDir() {
    glob_t g{};
    std::vector<std::string> dirs;
    if (glob("/usr/lib/postgresql/*/bin/pg_ctl", 0, nullptr, &g) == 0) {
      for (size_t i = 0; i < g.gl_pathc; ++i)
        dirs.push_back(std::filesystem::path(g.gl_pathv[i]).parent_path().string());
    }
    globfree(&g);
    std::sort(dirs.begin(), dirs.end(), [](const std::string& a, const std::string& b) {
      return std::stoi(a.substr(19)) < std::stoi(b.substr(19));
    });
    return dirs.empty() ? "" : dirs.back();
  }

  // Starts a server. On failure returns null and sets `error` (empty `bin`
  // means the binaries are missing: callers skip).
  static std::unique_ptr<PgServer> Start(std::string& error) {
    std::string bin = FindBinDir();
    if (bin.empty()) {
      error =
          "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin); "
          "scripts/bootstrap installs the postgresql package";
      return nullptr;
    }
    std::unique_ptr<PgServer> s(new PgServer());
    s->bin_ = bin;
    char tmpl[] = "/tmp/kagami-pg-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      error = "mkdtemp failed";
      return nullptr;
    }
    s->dir_ = tmpl;
    if (geteuid() == 0) {
      s->as_user_ = "setpriv --reuid=nobody --regid=nogroup --clear-groups ";
      if (chown(tmpl, 65534, 65534) != 0) {
        error = "chown to nobody failed";
        return nullptr;
      }
    }
    chmod(tmpl, 0755);
    std::string log = s->dir_ + "/setup.log";
    // initdb once per machine (it is most of a server's start-up): later
    // servers copy that cluster. Built under a lock, published by rename.
    std::string tmpl_dir = "/tmp/kagami-pg-template-" + std::to_string(geteuid()) + "-" +
                           std::filesystem::path(bin).parent_path().filename().string();
    std::string make_template =
        "flock " + tmpl_dir + ".lock sh -c 'test -d " + tmpl_dir + " || { rm -rf " + tmpl_dir +
        ".tmp && mkdir -p " + tmpl_dir + ".tmp && " +
        (s->as_user_.empty() ? "" : "chown nobody:nogroup " + tmpl_dir + ".tmp && ") + s->as_user_ +
        bin + "/initdb -D " + tmpl_dir + ".tmp/data -U kagami -A trust -E UTF8 " +
        "--no-sync --no-instructions && mv " + tmpl_dir + ".tmp " + tmpl_dir + "; }' >" + log +
        " 2>&1";
    if (std::system(make_template.c_str()) != 0) {
      error = "initdb failed: " + Read(log);
      return nullptr;
    }
    std::string copy = "cp -a " + tmpl_dir + "/data " + s->dir_ + "/data >" + log + " 2>&1";
    if (std::system(copy.c_str()) != 0) {
      error = "copying the initdb template failed: " + Read(log);
      return nullptr;
    }
    std::string start = s->as_user_ + bin + "/pg_ctl -D " + s->dir_ + "/data -l " + s->dir_ +
                        "/server.log -w -t 60 -o \"-k " + s->dir_ +
                        " -c listen_addresses='' -F -c max_connections=120 "
                        "-c shared_buffers=32MB\" start >" +
                        log + " 2>&1";
    if (std::system(start.c_str()) != 0) {
      error = "pg_ctl start failed: " + Read(log) + Read(s->dir_ + "/server.log");
      return nullptr;
    }
    s->running_ = true;
    return s;
  }

  ~PgServer() {
    if (running_) {
      std::string stop =
          as_user_ + bin_ + "/pg_ctl -D " + dir_ + "/data -m immediate stop >/dev/null 2>&1";
      (void)std::system(stop.c_str());
    }
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  std::string Conninfo(const std::string& db) const {
    return "host=" + dir_ + " user=kagami dbname=" + db;
  }

  // Creates database `name` (letters, digits, '_'); returns "" or the error.
  std::string CreateDatabase(const std::string& name) const {
    std::unique_ptr<PGconn, decltype(&PQfinish)> c(PQconnectdb(Conninfo("postgres").c_str()),
                                                   &PQfinish);
    if (PQstatus(c.get()) != CONNECTION_OK) return PQerrorMessage(c.get());
    std::unique_ptr<PGresult, decltype(&PQclear)> r(
        PQexec(c.get(), ("CREATE DATABASE " + name).c_str()), &PQclear);
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) return PQerrorMessage(c.get());
    return "";
  }

  const std::string& dir() const { return dir_; }

 private:
  PgServer() = default;
  static std::string Read(const std::string& p) {
    std::ifstream in(p);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }

  std::string bin_, dir_, as_user_;
  bool running_ = false;
};

// A fixture that starts a server for each test and creates database "kagami" on it: the test is
// skipped where PostgreSQL is not installed and fails where it is installed but does not start.
// Subclasses that override SetUp call PgServerTest::SetUp() first and return if it did not pass.
class PgServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    server_ = PgServer::Start(error);
    if (!server_ && PgServer::FindBinDir().empty()) GTEST_SKIP() << error;
    ASSERT_TRUE(server_) << error;
    ASSERT_EQ(server_->CreateDatabase("kagami"), "");
  }

  std::unique_ptr<PgServer> server_;
};

}  // namespace kagami::testing
