#include "agent/network/dns/hosts_dir_records.h"

#include <sys/stat.h>
#include <utime.h>

#include <catch2/catch.hpp>

#include "test/support/files.h"
#include "test/support/temp_dir.h"

using namespace zlayer::agent::network;
using zlayer::StatusCode;
using zlayer::testing::FileExists;
using zlayer::testing::ReadFile;
using zlayer::testing::TempDir;
using zlayer::testing::WriteFile;

namespace {

const std::vector<DnsRecord> kWeb = {{"web.shop.zlayer.internal", "10.201.0.7"},
                                     {"0.web.shop.zlayer.internal", "10.200.3.2"}};

ino_t Inode(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_ino;
}

void MakeOld(const std::string& path) {
  struct utimbuf times {};
  times.actime = times.modtime = 1000;  // 1970
  REQUIRE(::utime(path.c_str(), &times) == 0);
}

}  // namespace

TEST_CASE("A deployment's names go into a file of its own in the hosts directory") {
  TempDir tmp;
  HostsDirRecords records(tmp / "dns/hosts");
  REQUIRE(records.SetDeployment("shop", kWeb).ok());
  CHECK(ReadFile(tmp / "dns/hosts/shop") == RenderHostsFile(kWeb));
  // The temporary file was renamed in, from beside the directory, not inside it.
  CHECK_FALSE(FileExists(tmp / "dns/hosts.tmp-shop"));
}

TEST_CASE("Setting a deployment's names replaces all of its earlier ones") {
  TempDir tmp;
  HostsDirRecords records(tmp / "hosts");
  REQUIRE(records.SetDeployment("shop", kWeb).ok());
  const std::vector<DnsRecord> only_db = {{"db.shop.zlayer.internal", "10.201.0.8"}};
  REQUIRE(records.SetDeployment("shop", only_db).ok());
  CHECK(ReadFile(tmp / "hosts/shop") == "10.201.0.8 db.shop.zlayer.internal\n");
}

TEST_CASE("Unchanged names are not rewritten, so dnsmasq rereads nothing") {
  TempDir tmp;
  HostsDirRecords records(tmp / "hosts");
  REQUIRE(records.SetDeployment("shop", kWeb).ok());
  const ino_t before = Inode(tmp / "hosts/shop");
  REQUIRE(records.SetDeployment("shop", kWeb).ok());
  CHECK(Inode(tmp / "hosts/shop") == before);  // a rename would bring a new inode
}

TEST_CASE("Dropping a deployment's names renames an empty file over its file, removed later") {
  TempDir tmp;
  HostsDirRecords records(tmp / "hosts");
  REQUIRE(records.SetDeployment("shop", kWeb).ok());
  const ino_t before = Inode(tmp / "hosts/shop");

  REQUIRE(records.SetDeployment("shop", {}).ok());
  // Deleting the file would leave its names in dnsmasq until SIGHUP.
  REQUIRE(FileExists(tmp / "hosts/shop"));
  CHECK(ReadFile(tmp / "hosts/shop").empty());
  CHECK(Inode(tmp / "hosts/shop") != before);
  CHECK(records.Deployments().value().empty());

  SECTION("dropping it once more removes the empty file") {
    REQUIRE(records.SetDeployment("shop", {}).ok());
    CHECK_FALSE(FileExists(tmp / "hosts/shop"));
  }
  SECTION("listing the deployments removes the empty file once it is old") {
    MakeOld(tmp / "hosts/shop");
    REQUIRE(records.Deployments().ok());
    CHECK_FALSE(FileExists(tmp / "hosts/shop"));
  }
}

TEST_CASE("Dropping the names of a deployment that has none writes nothing") {
  TempDir tmp;
  HostsDirRecords records(tmp / "hosts");
  REQUIRE(records.SetDeployment("shop", {}).ok());
  CHECK_FALSE(FileExists(tmp / "hosts/shop"));
}

TEST_CASE("The deployments with names are listed sorted, without empty or hidden files") {
  TempDir tmp;
  HostsDirRecords records(tmp / "hosts");
  CHECK(records.Deployments().value().empty());  // no directory yet
  REQUIRE(records.SetDeployment("shop", kWeb).ok());
  REQUIRE(records.SetDeployment("blog", kWeb).ok());
  REQUIRE(records.SetDeployment("gone", kWeb).ok());
  REQUIRE(records.SetDeployment("gone", {}).ok());
  WriteFile(tmp / "hosts/.hidden", "10.0.0.1 x\n");
  CHECK(records.Deployments().value() == std::vector<std::string>{"blog", "shop"});
  // A fresh empty file stays: dnsmasq may not have read it yet.
  CHECK(FileExists(tmp / "hosts/gone"));
}

TEST_CASE("A deployment name that cannot be a file name is refused") {
  TempDir tmp;
  HostsDirRecords records(tmp / "hosts");
  for (const char* name : {"", ".", "..", "a/b", ".hidden"}) {
    CAPTURE(name);
    CHECK(records.SetDeployment(name, kWeb).code() == StatusCode::kInvalidArgument);
  }
}

TEST_CASE("The in-memory records keep what was set, for tests of the callers") {
  InMemoryDnsRecords records;
  REQUIRE(records.SetDeployment("shop", kWeb).ok());
  REQUIRE(records.SetDeployment("blog", kWeb).ok());
  REQUIRE(records.SetDeployment("blog", {}).ok());
  CHECK(records.Records("shop") == kWeb);
  CHECK(records.Deployments().value() == std::vector<std::string>{"shop"});
  CHECK(records.set_calls() == 3);
  records.FailWith(zlayer::InternalError("disk full"));
  CHECK_FALSE(records.SetDeployment("shop", {}).ok());
  CHECK(records.Records("shop") == kWeb);
}
