#include "architecture.h"

#include <doctest/doctest.h>

using namespace droot;

TEST_CASE("uname machines map to the OCI architecture names image configs use") {
  CHECK(oci_architecture("x86_64") == "amd64");
  CHECK(oci_architecture("aarch64") == "arm64");
  CHECK(oci_architecture("armv7l") == "arm");
  CHECK(oci_architecture("i686") == "386");
  CHECK(oci_architecture("ppc64le") == "ppc64le");
  CHECK(oci_architecture("something") == "something");
  CHECK_FALSE(host_architecture().empty());
}
