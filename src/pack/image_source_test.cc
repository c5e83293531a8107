#include "image_source.h"

#include <doctest/doctest.h>

#include "error.h"

using namespace droot;
using namespace droot::pack;

TEST_CASE("image sources in skopeo's transport syntax; a bare name is the Engine") {
  auto e = parse_image_source("registry.example.com:5000/app:1.2");
  CHECK(e.kind == SourceKind::engine);
  CHECK(e.path == "registry.example.com:5000/app:1.2");
  auto d = parse_image_source("docker-archive:/tmp/app.tar");
  CHECK(d.kind == SourceKind::docker_archive);
  CHECK(d.path == "/tmp/app.tar");
  CHECK(d.ref.empty());
  CHECK(parse_image_source("docker-archive:app.tar:@1").ref == "@1");
  auto o = parse_image_source("oci:layout:v2");
  CHECK(o.kind == SourceKind::oci_layout);
  CHECK(o.path == "layout");
  CHECK(o.ref == "v2");
  auto a = parse_image_source("oci-archive:x.tar");
  CHECK(a.kind == SourceKind::oci_archive);
  CHECK(a.path == "x.tar");
  CHECK_THROWS_WITH_AS(parse_image_source("oci:"), doctest::Contains("no path"), Error);
  CHECK_THROWS_WITH_AS(parse_image_source("oci:dir:"), doctest::Contains("empty reference"), Error);
  CHECK(parse_image_source("docker://r.example.com/x:1").kind == SourceKind::registry);
  CHECK_THROWS_WITH_AS(parse_image_source("containers-storage:x"), doctest::Contains("does not read"), Error);
}
