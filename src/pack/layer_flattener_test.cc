#include "layer_flattener.h"

#include <archive.h>
#include <archive_entry.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <map>
#include <string>

#include "archive_ptr.h"
#include "error.h"
#include "hash.h"
#include "io.h"
#include "spool_file.h"

using namespace droot;
using namespace droot::pack;

namespace {

struct E {
  E(std::string p, char t = 'f', std::string d = "", uint32_t m = 0644) : path(std::move(p)), type(t), data(std::move(d)), mode(m) {}
  std::string path;
  char type;         // f file, d dir, l symlink, h hard link
  std::string data;  // content, symlink or hard link target
  uint32_t mode;
};

// One layer as a tar file in a temp dir, compressed with `filter` ("", "gzip", "zstd"), and its digest.
struct Layer {
  std::string path;
  std::string digest;
  UniqueFd fd;
  LayerBlob blob() const { return LayerBlob{BlobRange{fd.get(), 0, file_size(fd.get(), path), path}, digest}; }
};

int g_layer_counter = 0;

Layer make_layer(const std::vector<E>& entries, const std::string& filter = "") {
  Layer l;
  l.path = "/tmp/droot-flatten-test-" + std::to_string(::getpid()) + "-" + std::to_string(g_layer_counter++);
  ArchiveWriter w(archive_write_new());
  archive_write_set_format_pax_restricted(w.get());
  if (filter == "gzip") archive_write_add_filter_gzip(w.get());
  if (filter == "zstd") archive_write_add_filter_zstd(w.get());
  REQUIRE(archive_write_open_filename(w.get(), l.path.c_str()) == ARCHIVE_OK);
  for (const auto& x : entries) {
    ArchiveEntry e(archive_entry_new());
    archive_entry_set_pathname(e.get(), x.path.c_str());
    archive_entry_set_perm(e.get(), x.mode);
    archive_entry_set_mtime(e.get(), 1000, 0);
    if (x.type == 'd') archive_entry_set_filetype(e.get(), AE_IFDIR);
    if (x.type == 'l') {
      archive_entry_set_filetype(e.get(), AE_IFLNK);
      archive_entry_set_symlink(e.get(), x.data.c_str());
    }
    if (x.type == 'f') {
      archive_entry_set_filetype(e.get(), AE_IFREG);
      archive_entry_set_size(e.get(), static_cast<la_int64_t>(x.data.size()));
    }
    if (x.type == 'h') {
      archive_entry_set_filetype(e.get(), AE_IFREG);
      archive_entry_set_hardlink(e.get(), x.data.c_str());
    }
    REQUIRE(archive_write_header(w.get(), e.get()) == ARCHIVE_OK);
    if (x.type == 'f') archive_write_data(w.get(), x.data.data(), x.data.size());
  }
  archive_write_close(w.get());
  w.reset();
  l.fd = open_or_throw(l.path, O_RDONLY | O_CLOEXEC);
  ::unlink(l.path.c_str());
  std::string all(file_size(l.fd.get(), l.path), '\0');
  pread_exact(l.fd.get(), all.data(), all.size(), 0, l.path);
  l.digest = "sha256:" + sha256_hex(all);
  return l;
}

struct Out {
  std::vector<std::string> order;                 // paths in tar order
  std::map<std::string, std::string> what;        // path → "f:content", "d", "l:target", "h:target"
};

std::string read_all(int fd) {
  std::string all(file_size(fd, "tar"), '\0');
  pread_exact(fd, all.data(), all.size(), 0, "tar");
  return all;
}

// The flattened tree's tar as the packer gets it: with the bottom layer streamed (`stream`), after the fallback
// to reading it first if streaming it was refused (`refused`, if given, says whether it was).
std::string flat_tar(const std::vector<LayerBlob>& blobs, bool stream, bool* refused = nullptr) {
  FlatTree tree(blobs, "test-image", stream);
  UniqueFd spool = make_spool_file("test");
  if (refused) *refused = stream && !tree.streams_bottom();
  try {
    tree.write_tar(spool.get());
  } catch (const BottomLayerNotStreamable&) {
    if (refused) *refused = true;
    tree.read_bottom_layer();
    spool = make_spool_file("test");
    tree.write_tar(spool.get());
  }
  return read_all(spool.get());
}

Out parse(const std::string& tar) {
  ArchiveReader r(archive_read_new());
  archive_read_support_format_tar(r.get());
  REQUIRE(archive_read_open_memory(r.get(), tar.data(), tar.size()) == ARCHIVE_OK);
  Out out;
  archive_entry* e = nullptr;
  while (archive_read_next_header(r.get(), &e) == ARCHIVE_OK) {
    std::string p = archive_entry_pathname(e);
    if (!p.empty() && p.back() == '/') p.pop_back();  // libarchive's pax writer spells directories "etc/"
    out.order.push_back(p);
    if (archive_entry_hardlink(e)) {
      out.what[p] = std::string("h:") + archive_entry_hardlink(e);
    } else if (archive_entry_filetype(e) == AE_IFDIR) {
      out.what[p] = "d";
    } else if (archive_entry_filetype(e) == AE_IFLNK) {
      out.what[p] = std::string("l:") + archive_entry_symlink(e);
    } else {
      std::string data(static_cast<size_t>(archive_entry_size(e)), '\0');
      if (!data.empty()) archive_read_data(r.get(), data.data(), data.size());
      out.what[p] = "f:" + data;
    }
  }
  return out;
}

// Flattens `layers` with and without streaming the bottom layer: both must give the same bytes.
Out flatten(const std::vector<const Layer*>& layers, bool* refused = nullptr) {
  std::vector<LayerBlob> blobs;
  for (auto* l : layers) blobs.push_back(l->blob());
  const std::string tar = flat_tar(blobs, false);
  CHECK(flat_tar(blobs, true, refused) == tar);
  return parse(tar);
}

}  // namespace

TEST_CASE("walk order: a directory's subtree comes before the names that sort after it") {
  CHECK(walk_order_less("a", "a/b"));
  CHECK(walk_order_less("a/b", "a.c"));
  CHECK(walk_order_less("a/z", "a0"));
  CHECK_FALSE(walk_order_less("b", "a/z"));
}

TEST_CASE("whiteouts, opaque directories and replacements across layers, in walk order") {
  Layer l0 = make_layer({{"etc", 'd'}, {"etc/a", 'f', "a0"}, {"etc/b", 'f', "b0"}, {"opt", 'd'}, {"opt/x", 'f', "x0"},
                         {"opt/sub", 'd'}, {"opt/sub/y", 'f', "y0"}, {"lib", 'd'}, {"lib/z", 'f', "z0"},
                         {"gone", 'd'}, {"gone/deep", 'f', "d0"}});
  Layer l1 = make_layer({{"etc", 'd'}, {"etc/.wh.b", 'f'}, {"etc/a", 'f', "a1"}, {"opt", 'd'}, {"opt/.wh..wh..opq", 'f'},
                         {"opt/new", 'f', "n1"}, {"lib", 'l', "usr/lib"}, {".wh.gone", 'f'}}, "gzip");
  Layer l2 = make_layer({{"etc", 'd'}, {"etc/b", 'f', "b2"}, {"etc.d", 'd'}, {"etc.d/c", 'f', "c2"}}, "zstd");
  Out o = flatten({&l0, &l1, &l2});
  CHECK(o.order == std::vector<std::string>{"etc", "etc/a", "etc/b", "etc.d", "etc.d/c", "lib", "opt", "opt/new"});
  CHECK(o.what["etc/a"] == "f:a1");
  CHECK(o.what["etc/b"] == "f:b2");  // deleted in layer 1, created again in layer 2
  CHECK(o.what["lib"] == "l:usr/lib");
  CHECK(o.what["opt/new"] == "f:n1");
}

TEST_CASE("hard links: within a layer, to a lower layer, and to a file a layer above deleted") {
  Layer l0 = make_layer({{"bin", 'd'}, {"bin/perl", 'f', "PERL"}, {"bin/perl5", 'h', "bin/perl"}, {"lib", 'f', "L"}});
  Layer l1 = make_layer({{"bin", 'd'}, {"bin/lib-link", 'h', "lib"}});
  Layer l2 = make_layer({{"bin", 'd'}, {"bin/.wh.perl", 'f'}, {".wh.lib", 'f'}});
  Out o = flatten({&l0, &l1, &l2});
  CHECK(o.order == std::vector<std::string>{"bin", "bin/lib-link", "bin/perl5"});
  CHECK(o.what["bin/lib-link"] == "f:L");   // its target was deleted above: it holds the content itself
  CHECK(o.what["bin/perl5"] == "f:PERL");
  Out both = flatten({&l0, &l1});
  CHECK(both.what["bin/lib-link"] == "f:L");  // first in walk order holds the content
  CHECK(both.what["lib"] == "h:bin/lib-link");
  CHECK(both.what["bin/perl"] == "f:PERL");
  CHECK(both.what["bin/perl5"] == "h:bin/perl");
}

TEST_CASE("an opaque root hides every lower layer") {
  Layer l0 = make_layer({{"old", 'f', "o"}, {"dir", 'd'}, {"dir/x", 'f', "x"}});
  Layer l1 = make_layer({{".wh..wh..opq", 'f'}, {"new", 'f', "n"}});
  Out o = flatten({&l0, &l1});
  CHECK(o.order == std::vector<std::string>{"new"});
}

TEST_CASE("implicit parent directories are created") {
  Layer l0 = make_layer({{"a/b/c", 'f', "x"}});
  Out o = flatten({&l0});
  CHECK(o.order == std::vector<std::string>{"a", "a/b", "a/b/c"});
}

TEST_CASE("hostile layers: a wrong digest, '..' in a path or a whiteout, a hard link to nothing") {
  Layer good = make_layer({{"a", 'f', "x"}});
  LayerBlob bad = good.blob();
  bad.digest = "sha256:" + std::string(64, 'e');
  const std::string want = "not the sha256:" + std::string(64, 'e');
  CHECK_THROWS_WITH_AS(FlatTree({bad}, "img"), doctest::Contains(want.c_str()), Error);
  Layer dotdot = make_layer({{"a/../../etc/passwd", 'f', "x"}});
  CHECK_THROWS_WITH_AS(FlatTree({dotdot.blob()}, "img"), doctest::Contains("path traversal"), Error);
  Layer wh = make_layer({{"a", 'd'}, {"a/.wh...", 'f'}});
  CHECK_THROWS_WITH_AS(FlatTree({wh.blob()}, "img"), doctest::Contains("not a name"), Error);
  Layer link = make_layer({{"x", 'h', "nothing"}});
  CHECK_THROWS_WITH_AS(FlatTree({link.blob()}, "img"), doctest::Contains("no layer below"), Error);
  Layer out = make_layer({{"x", 'h', "../etc/shadow"}});
  CHECK_THROWS_WITH_AS(FlatTree({out.blob()}, "img"), doctest::Contains("outside the image"), Error);
  Layer garbage;
  garbage.path = "garbage";
  garbage.fd = make_spool_file("t");
  write_all(garbage.fd.get(), std::string(3000, '\x01'), "garbage");
  garbage.digest = "sha256:" + sha256_hex(std::string(3000, '\x01'));
  CHECK_THROWS_WITH_AS(FlatTree({LayerBlob{BlobRange{garbage.fd.get(), 0, 3000, "garbage"}, garbage.digest}}, "img"),
                       doctest::Contains("img: layer"), Error);
}

TEST_CASE("extended attributes (file capabilities) and modes come through flattening") {
  Layer l;
  l.path = "/tmp/droot-flatten-test-xattr-" + std::to_string(::getpid());
  {
    ArchiveWriter w(archive_write_new());
    archive_write_set_format_pax_restricted(w.get());
    REQUIRE(archive_write_open_filename(w.get(), l.path.c_str()) == ARCHIVE_OK);
    ArchiveEntry e(archive_entry_new());
    archive_entry_set_pathname(e.get(), "bin/ping");
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 04755);
    archive_entry_set_uid(e.get(), 7);
    archive_entry_set_size(e.get(), 2);
    const std::string cap("\x01\x00\x00\x02\x00\x20\x00\x00", 8);
    archive_entry_xattr_add_entry(e.get(), "security.capability", cap.data(), cap.size());
    REQUIRE(archive_write_header(w.get(), e.get()) == ARCHIVE_OK);
    archive_write_data(w.get(), "hi", 2);
  }
  l.fd = open_or_throw(l.path, O_RDONLY | O_CLOEXEC);
  ::unlink(l.path.c_str());
  std::string all(file_size(l.fd.get(), l.path), '\0');
  pread_exact(l.fd.get(), all.data(), all.size(), 0, l.path);
  l.digest = "sha256:" + sha256_hex(all);
  const std::vector<LayerBlob> blobs{l.blob()};
  FlatTree tree(blobs, "img");
  UniqueFd spool = make_spool_file("test");
  tree.write_tar(spool.get());
  REQUIRE(::lseek(spool.get(), 0, SEEK_SET) == 0);
  ArchiveReader r(archive_read_new());
  archive_read_support_format_tar(r.get());
  REQUIRE(archive_read_open_fd(r.get(), spool.get(), 65536) == ARCHIVE_OK);
  archive_entry* e = nullptr;
  REQUIRE(archive_read_next_header(r.get(), &e) == ARCHIVE_OK);  // bin (implicit)
  CHECK(archive_entry_filetype(e) == AE_IFDIR);
  REQUIRE(archive_read_next_header(r.get(), &e) == ARCHIVE_OK);
  CHECK(std::string(archive_entry_pathname(e)) == "bin/ping");
  CHECK((archive_entry_perm(e) & 07777) == 04755);
  CHECK(archive_entry_uid(e) == 7);
  REQUIRE(archive_entry_xattr_reset(e) == 1);
  const char* name = nullptr;
  const void* value = nullptr;
  size_t size = 0;
  REQUIRE(archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK);
  CHECK(std::string(name) == "security.capability");
  CHECK(size == 8);
}

TEST_CASE("a bottom layer in walk order is streamed: the same bytes as reading it first") {
  for (const char* filter : {"", "gzip", "zstd"}) {
    Layer l0 = make_layer({{"a", 'd'}, {"a/b", 'f', "B0"}, {"a/c", 'f', "C0"}, {"a/c2", 'h', "a/c"}, {"a/d/e", 'f', "E0"},
                           {"a.x", 'f', "X0"}, {"dev", 'd'}, {"dev/null", 'f', ""}, {"o", 'd'}, {"o/old", 'f', "OLD"},
                           {"q", 'd'}, {"q/gone", 'f', "G"}, {"z", 'l', "a"}}, filter);
    Layer l1 = make_layer({{"a", 'd'}, {"a/b", 'f', "B1"}, {"a/bb", 'f', "BB1"}, {"a/.wh.c2", 'f'}, {"m/n/o", 'f', "O1"},
                           {"o", 'd'}, {"o/.wh..wh..opq", 'f'}, {"o/new", 'f', "N"}, {".wh.q", 'f'}}, "gzip");
    bool refused = true;
    Out o = flatten({&l0, &l1}, &refused);
    CHECK_FALSE(refused);
    CHECK(o.order == std::vector<std::string>{"a", "a/b", "a/bb", "a/c", "a/d", "a/d/e", "a.x", "dev", "dev/null", "m", "m/n", "m/n/o",
                                              "o", "o/new", "z"});
    CHECK(o.what["a/b"] == "f:B1");
    CHECK(o.what["a/c"] == "f:C0");
    Out alone = flatten({&l0}, &refused);
    CHECK_FALSE(refused);
    CHECK(alone.what["a/c2"] == "h:a/c");
  }
}

TEST_CASE("a bottom layer that cannot be streamed is read first instead, with the same result") {
  bool refused = false;
  // Not in walk order (a tar of a directory in readdir order, as `docker import` keeps it).
  Layer unsorted = make_layer({{"b", 'f', "B"}, {"a", 'f', "A"}});
  CHECK(flatten({&unsorted}, &refused).order == std::vector<std::string>{"a", "b"});
  CHECK(refused);
  // Out of order only after the entries checked when the tree is built: write_tar refuses it.
  std::vector<E> late;
  for (int i = 0; i < 300; ++i) {
    std::string name = std::to_string(1000 + i);
    name.insert(name.begin(), 'f');
    late.push_back({name, 'f', std::to_string(i)});
  }
  late.push_back({"a", 'f', "A"});
  Layer late_layer = make_layer(late, "gzip");
  {
    const std::vector<LayerBlob> blobs{late_layer.blob()};
    FlatTree tree(blobs, "img", true);
    CHECK(tree.streams_bottom());
    UniqueFd out = make_spool_file("test");
    CHECK_THROWS_AS(tree.write_tar(out.get()), BottomLayerNotStreamable);
  }
  Out o = flatten({&late_layer}, &refused);
  CHECK(refused);
  CHECK(o.order.front() == "a");
  CHECK(o.what["f1299"] == "f:299");
  // A path twice: the later entry wins.
  Layer twice = make_layer({{"a", 'f', "1"}, {"a", 'f', "2"}});
  CHECK(flatten({&twice}, &refused).what["a"] == "f:2");
  CHECK(refused);
  // A kept hard link to a file a layer above deleted.
  Layer l0 = make_layer({{"bin", 'd'}, {"bin/perl", 'f', "PERL"}, {"bin/perl5", 'h', "bin/perl"}});
  Layer l1 = make_layer({{"bin", 'd'}, {"bin/.wh.perl", 'f'}});
  CHECK(flatten({&l0, &l1}, &refused).what["bin/perl5"] == "f:PERL");
  CHECK(refused);
  // A hostile bottom layer: the error is the one reading it first gives, before anything is written.
  Layer dotdot = make_layer({{"a", 'f', "x"}, {"b/../../etc/passwd", 'f', "x"}});
  const std::vector<LayerBlob> blobs{dotdot.blob()};
  CHECK_THROWS_WITH_AS(flat_tar(blobs, true), doctest::Contains("path traversal"), Error);
}

TEST_CASE("an upper layer's hard link into the bottom layer: the bottom layer is read first") {
  Layer l0 = make_layer({{"lib", 'f', "L"}});
  Layer l1 = make_layer({{"bin", 'd'}, {"bin/lib-link", 'h', "lib"}});
  std::vector<LayerBlob> blobs{l0.blob(), l1.blob()};
  FlatTree tree(blobs, "img", true);
  CHECK_FALSE(tree.streams_bottom());
  Out o = flatten({&l0, &l1});
  CHECK(o.what["bin/lib-link"] == "f:L");
  CHECK(o.what["lib"] == "h:bin/lib-link");
}
