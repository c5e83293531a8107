#include "artifact_writer.h"

#include <doctest/doctest.h>
#include <locale.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>

#include "archive_ptr.h"
#include "error.h"
#include "io.h"
#include "mtree.h"

#include <zstd.h>

using namespace droot;
using namespace droot::pack;

namespace {

struct Written {
  std::string bytes;
  PayloadDigests digests;
};

Written write_sample(Compression c, const std::string& trailer_text = "") {
  int fd = ::memfd_create("artifact", 0);
  ArtifactWriter w(fd, "memfd", CompressionOptions{c, -1, 2});
  w.add_text_file(".droot/config.json", "{}\n", 1700000000);
  w.add_text_file("etc/motd", std::string(100000, 'm'), 1700000000);
  Written out;
  out.digests = w.finish_payload();
  if (!trailer_text.empty()) w.append_raw(make_trailer(c, trailer_text));
  uint64_t size = file_size(fd, "memfd");
  out.bytes.resize(size);
  pread_exact(fd, out.bytes.data(), size, 0, "memfd");
  ::close(fd);
  return out;
}

std::vector<std::string> list_entries(const std::string& bytes) {
  ArchiveReader r(archive_read_new());
  archive_read_support_filter_all(r.get());
  archive_read_support_format_tar(r.get());
  REQUIRE(archive_read_open_memory(r.get(), bytes.data(), bytes.size()) == ARCHIVE_OK);
  std::vector<std::string> names;
  archive_entry* e;
  while (archive_read_next_header(r.get(), &e) == ARCHIVE_OK) names.push_back(archive_entry_pathname(e));
  return names;
}

}  // namespace

TEST_CASE("the payload is a readable compressed tar and its digests cover exactly its bytes") {
  for (Compression c : {Compression::zstd, Compression::gzip, Compression::none}) {
    Written w = write_sample(c);
    CHECK(w.digests.size == w.bytes.size());
    CHECK(w.digests.sha256 == sha256_hex(w.bytes));
    CHECK(detect_compression(w.bytes.substr(0, 4)) == c);
    CHECK(list_entries(w.bytes) == std::vector<std::string>{".droot/config.json", "etc/motd"});
  }
}

TEST_CASE("the same input gives the same bytes (reproducible), whatever the zstd thread count") {
  CHECK(write_sample(Compression::zstd).bytes == write_sample(Compression::zstd).bytes);
  CHECK(write_sample(Compression::gzip).bytes == write_sample(Compression::gzip).bytes);
}

TEST_CASE("no zero padding between the compressed payload and the trailer") {
  Written w = write_sample(Compression::zstd, "untrusted comment: x\n");
  CHECK(w.bytes.substr(w.digests.size, 4) == std::string("\x5d\x2a\x4d\x18", 4));
}

// ---- file names in pax headers (droot-artifact(5), "File names") ----

namespace {

const std::string kLatin1 = "etc/caf\xe9";                // not UTF-8
const std::string kNfc = "etc/caf\xc3\xa9";                // é, composed
const std::string kNfd = "etc/cafe\xcc\x81";               // e + combining acute: a reader that normalises breaks it
const std::string kLongAscii = "long/" + std::string(120, 'a');  // one component > 100 bytes: no ustar split
const std::string kSplittable = std::string(60, 'p') + "/" + std::string(60, 'q');  // fits ustar prefix + name
std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}
const std::string kLongUtf8 = "long/" + repeat("\xc3\xa9", 60);
const std::string kLongLatin1 = "long/" + repeat("\xe9", 120);

struct NameCase {
  std::string path;
  std::string symlink;   // empty: not a symlink
  std::string hardlink;  // empty: not a hard link
};

std::vector<NameCase> name_cases() {
  return {
      {"etc/motd", "", ""},
      {kSplittable, "", ""},
      {kLongAscii, "", ""},
      {kNfc, "", ""},
      {kNfd, "", ""},
      {kLongUtf8, "", ""},
      {kLatin1, "", ""},
      {kLongLatin1, "", ""},
      {"l/ascii", "../etc/motd", ""},
      {"l/long-ascii", "../" + kLongAscii, ""},
      {"l/utf8", "../" + kNfd, ""},
      {"l/long-utf8", "../" + kLongUtf8, ""},
      {"l/latin1", "../" + kLatin1, ""},
      {"l/long-latin1", "../" + kLongLatin1, ""},
      {"h/ascii", "", "etc/motd"},
      {"h/long-ascii", "", kLongAscii},
      {"h/utf8", "", kNfc},
      {"h/long-utf8", "", kLongUtf8},
      {"h/latin1", "", kLatin1},
      {"h/long-latin1", "", kLongLatin1},
  };
}

ArchiveEntry entry_for(const NameCase& c) {
  ArchiveEntry e(archive_entry_new());
  archive_entry_set_pathname(e.get(), c.path.c_str());
  archive_entry_set_filetype(e.get(), c.symlink.empty() ? AE_IFREG : AE_IFLNK);
  archive_entry_set_perm(e.get(), c.symlink.empty() ? 0644 : 0777);
  archive_entry_set_mtime(e.get(), 1700000000, 0);
  archive_entry_set_size(e.get(), 0);
  if (!c.symlink.empty()) archive_entry_set_symlink(e.get(), c.symlink.c_str());
  if (!c.hardlink.empty()) archive_entry_set_hardlink(e.get(), c.hardlink.c_str());
  return e;
}

std::string write_names(const std::vector<NameCase>& cases) {
  int fd = ::memfd_create("artifact", 0);
  ArtifactWriter w(fd, "memfd", CompressionOptions{Compression::none, -1, 1});
  for (const NameCase& c : cases) w.write_header(entry_for(c).get());
  w.finish_payload();
  std::string bytes(file_size(fd, "memfd"), '\0');
  pread_exact(fd, bytes.data(), bytes.size(), 0, "memfd");
  ::close(fd);
  return bytes;
}

// One entry as it sits in the tar stream: the pax extended header before it ("" if none) and its own ustar
// typeflag. Parsed by hand so the test sees the records, not what a reader makes of them.
struct TarRecord {
  std::string pax;  // the 'x' record's body
  char typeflag = 0;
};

uint64_t octal_field(const std::string& bytes, size_t at, size_t length) {
  uint64_t v = 0;
  for (size_t i = at; i < at + length && bytes[i] >= '0' && bytes[i] <= '7'; ++i) v = v * 8 + (bytes[i] - '0');
  return v;
}

std::vector<TarRecord> tar_records(const std::string& bytes) {
  std::vector<TarRecord> out;
  std::string pending_pax;
  for (size_t at = 0; at + 512 <= bytes.size();) {
    if (bytes.compare(at, 512, std::string(512, '\0')) == 0) break;  // end of archive
    const char type = bytes[at + 156];
    const uint64_t size = octal_field(bytes, at + 124, 12);
    const size_t body = at + 512;
    at = body + (size + 511) / 512 * 512;
    if (type == 'x') {
      pending_pax = bytes.substr(body, size);
      continue;
    }
    REQUIRE(type != 'g');
    out.push_back(TarRecord{pending_pax, type});
    pending_pax.clear();
  }
  return out;
}

bool has_record(const std::string& pax, const std::string& keyword, const std::string& value) {
  return pax.find(" " + keyword + "=" + value + "\n") != std::string::npos;
}

struct ReadBack {
  std::string path, symlink, hardlink;
  int status;
};

// Read as droot-exec reads: libarchive's tar reader in the process locale, which is "C" in droot's binaries.
std::vector<ReadBack> read_back(const std::string& bytes) {
  ArchiveReader r(archive_read_new());
  archive_read_support_format_tar(r.get());
  REQUIRE(archive_read_open_memory(r.get(), bytes.data(), bytes.size()) == ARCHIVE_OK);
  std::vector<ReadBack> out;
  archive_entry* e;
  for (;;) {
    int rc = archive_read_next_header(r.get(), &e);
    if (rc == ARCHIVE_EOF) break;
    REQUIRE(rc >= ARCHIVE_WARN);
    auto s = [](const char* p) { return std::string(p ? p : ""); };
    out.push_back({s(archive_entry_pathname(e)), s(archive_entry_symlink(e)), s(archive_entry_hardlink(e)), rc});
  }
  return out;
}

}  // namespace

TEST_CASE("classify_name tells ASCII, UTF-8, other bytes and encoded surrogates apart") {
  CHECK(classify_name("") == NameEncoding::ascii);
  CHECK(classify_name("etc/motd") == NameEncoding::ascii);
  CHECK(classify_name(kNfc) == NameEncoding::utf8);
  CHECK(classify_name(kNfd) == NameEncoding::utf8);
  CHECK(classify_name("\xf0\x9f\x98\x80") == NameEncoding::utf8);       // U+1F600, 4 bytes
  CHECK(classify_name("\xed\x9f\xbf") == NameEncoding::utf8);           // U+D7FF, just below the surrogates
  CHECK(classify_name(kLatin1) == NameEncoding::binary);
  CHECK(classify_name("\xc3") == NameEncoding::binary);                 // truncated
  CHECK(classify_name("\xc0\xaf") == NameEncoding::binary);             // overlong '/'
  CHECK(classify_name("\xe0\x80\xaf") == NameEncoding::binary);         // overlong, 3 bytes
  CHECK(classify_name("\xf4\x90\x80\x80") == NameEncoding::binary);     // above U+10FFFF
  CHECK(classify_name("\xed\xa0\xbd\xed\xb8\x80") == NameEncoding::surrogate);  // CESU-8 pair
  CHECK(classify_name("\xe9/\xed\xb0\x80") == NameEncoding::surrogate);          // found after a binary byte
}

TEST_CASE("pax headers only where ustar cannot say it; hdrcharset=BINARY only for names that are not UTF-8") {
  const std::vector<NameCase> cases = name_cases();
  const std::vector<TarRecord> records = tar_records(write_names(cases));
  REQUIRE(records.size() == cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    const NameCase& c = cases[i];
    const std::string& pax = records[i].pax;
    const std::string& link = c.symlink.empty() ? c.hardlink : c.symlink;
    CAPTURE(mtree_escape(c.path));
    const bool path_in_pax = c.path.size() > 100 && c.path != kSplittable;
    const bool needs_pax = path_in_pax || link.size() > 100 || classify_name(c.path) != NameEncoding::ascii ||
                           classify_name(link) != NameEncoding::ascii;
    CHECK(records[i].typeflag == (c.symlink.empty() ? (c.hardlink.empty() ? '0' : '1') : '2'));
    if (!needs_pax) {
      CHECK(pax.empty());  // a plain ustar header, nothing before it
      continue;
    }
    REQUIRE(!pax.empty());
    const bool binary = classify_name(c.path) == NameEncoding::binary || classify_name(link) == NameEncoding::binary;
    CHECK(has_record(pax, "hdrcharset", "BINARY") == binary);
    if (path_in_pax || classify_name(c.path) != NameEncoding::ascii) CHECK(has_record(pax, "path", c.path));
    if (!link.empty() && (link.size() > 100 || classify_name(link) != NameEncoding::ascii))
      CHECK(has_record(pax, "linkpath", link));
    // Nothing else: no times, no ids (the entry is ustar-expressible apart from its names).
    CHECK(pax.find("time=") == std::string::npos);
  }
}

TEST_CASE("ASCII, UTF-8 (NFC and NFD), Latin-1 and long names and link targets read back byte-exact") {
  const std::vector<NameCase> cases = name_cases();
  const std::vector<ReadBack> back = read_back(write_names(cases));
  REQUIRE(back.size() == cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    CAPTURE(mtree_escape(cases[i].path));
    CHECK(back[i].path == cases[i].path);
    CHECK(back[i].symlink == cases[i].symlink);
    CHECK(back[i].hardlink == cases[i].hardlink);
  }
}

TEST_CASE("a name with a UTF-16 surrogate encoded as UTF-8 is refused, not silently rewritten") {
  int fd = ::memfd_create("artifact", 0);
  ArtifactWriter w(fd, "memfd", CompressionOptions{Compression::none, -1, 1});
  const std::string cesu = "etc/\xed\xa0\xbd\xed\xb8\x80";  // U+1F600 as a CESU-8 surrogate pair
  try {
    w.write_header(entry_for({cesu, "", ""}).get());
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("surrogate") != std::string::npos);
  }
  try {
    w.write_header(entry_for({"l/x", "../" + cesu, ""}).get());
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("link target") != std::string::npos);
  }
  ::close(fd);
}

TEST_CASE("the writer leaves the thread's locale as it found it") {
  locale_t before = ::uselocale(static_cast<locale_t>(nullptr));
  write_names({{"etc/motd", "", ""}});
  CHECK(::uselocale(static_cast<locale_t>(nullptr)) == before);
}

TEST_CASE("why droot-exec reads in the C locale: in a UTF-8 locale libarchive's reader rewrites NFD names to NFC") {
  const std::string bytes = write_names({{kNfd, "", ""}, {kLatin1, "", ""}});
  CHECK(read_back(bytes)[0].path == kNfd);  // C locale: the UTF-8 conversion fails and the raw bytes are kept
  CHECK(read_back(bytes)[0].status == ARCHIVE_WARN);
  locale_t utf8 = ::newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
  REQUIRE(utf8 != static_cast<locale_t>(nullptr));
  locale_t before = ::uselocale(utf8);
  std::vector<ReadBack> back = read_back(bytes);
  ::uselocale(before);
  ::freelocale(utf8);
  CHECK(back[0].path == kNfc);     // changed: the tree would not match the signed manifest
  CHECK(back[1].path == kLatin1);  // hdrcharset=BINARY: never converted
}

TEST_CASE("a writer dropped after an error writes nothing more (no tar end, no use of freed digests)") {
  int fd = ::memfd_create("artifact", 0);
  {
    ArtifactWriter w(fd, "memfd", CompressionOptions{Compression::none, -1, 1});
    w.write_header(entry_for({"etc/motd", "", ""}).get());
  }
  CHECK(file_size(fd, "memfd") == 0);  // the 64 KiB block was never filled, so nothing had gone out
  ::close(fd);
}

TEST_CASE("extended attributes are written once, as SCHILY.xattr, and read back byte-exact") {
  const std::string cap("\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 20);
  int fd = ::memfd_create("artifact", 0);
  {
    ArtifactWriter w(fd, "memfd", CompressionOptions{Compression::none, -1, 1});
    ArchiveEntry e = entry_for({"bin/ping", "", ""});
    archive_entry_xattr_add_entry(e.get(), "security.capability", cap.data(), cap.size());
    w.write_header(e.get());
    w.finish_payload();
  }
  std::string bytes(file_size(fd, "memfd"), '\0');
  pread_exact(fd, bytes.data(), bytes.size(), 0, "memfd");
  ::close(fd);
  const std::vector<TarRecord> records = tar_records(bytes);
  REQUIRE(records.size() == 1);
  CHECK(has_record(records[0].pax, "SCHILY.xattr.security.capability", cap));
  CHECK(records[0].pax.find("LIBARCHIVE.") == std::string::npos);  // GNU tar warns about those keywords

  ArchiveReader r(archive_read_new());
  archive_read_support_format_tar(r.get());
  REQUIRE(archive_read_open_memory(r.get(), bytes.data(), bytes.size()) == ARCHIVE_OK);
  archive_entry* e;
  REQUIRE(archive_read_next_header(r.get(), &e) == ARCHIVE_OK);
  REQUIRE(archive_entry_xattr_reset(e) == 1);
  const char* name;
  const void* value;
  size_t size;
  REQUIRE(archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK);
  CHECK(std::string(name) == "security.capability");
  CHECK(std::string(static_cast<const char*>(value), size) == cap);
}

namespace {

// Ends the payload as droot-pack does, with a file list of `list_size` bytes, and returns the memfd's bytes.
std::string finish_with_list(ArtifactWriter& w, int fd, size_t list_size) {
  int list = ::memfd_create("list", 0);
  write_all(list, std::string(list_size, 'l'), "memfd");
  w.add_file_from_fd(".droot/manifest.mtree", list, list_size, 1700000000);
  ::close(list);
  (void)w.finish_payload();
  std::string bytes(file_size(fd, "memfd"), '\0');
  pread_exact(fd, bytes.data(), bytes.size(), 0, "memfd");
  ::close(fd);
  return bytes;
}

// A zstd payload of many small entries, framed every `frame_bytes` of tar, with a file list at the end.
std::string write_framed(uint64_t frame_bytes, int long_window_log = 0, int threads = 2) {
  int fd = ::memfd_create("framed", 0);
  CompressionOptions options{Compression::zstd, -1, threads, long_window_log};
  options.frame_bytes = frame_bytes;
  ArtifactWriter w(fd, "memfd", options);
  w.add_text_file(".droot/config.json", "{}\n", 1700000000);
  for (int i = 0; i < 40; ++i)  // 1.5 KiB of tar each: a header and two data blocks
    w.add_text_file("srv/f" + std::to_string(i), std::string(700 + i, static_cast<char>('a' + i % 26)), 1700000000);
  return finish_with_list(w, fd, 3000);
}

std::string decode_one_frame(std::string_view frame) {
  REQUIRE(ZSTD_findFrameCompressedSize(frame.data(), frame.size()) == frame.size());  // exactly one frame
  std::string out(ZSTD_getFrameContentSize(frame.data(), frame.size()) == ZSTD_CONTENTSIZE_UNKNOWN
                      ? 1 << 20 : ZSTD_getFrameContentSize(frame.data(), frame.size()), '\0');
  ZSTD_DCtx* d = ZSTD_createDCtx();
  ZSTD_inBuffer in{frame.data(), frame.size(), 0};
  ZSTD_outBuffer o{out.data(), out.size(), 0};
  size_t rc = ZSTD_decompressStream(d, &o, &in);
  ZSTD_freeDCtx(d);
  REQUIRE(rc == 0);
  out.resize(o.pos);
  return out;
}

// The entries of a piece of tar that starts at a header and may end without the end-of-archive blocks.
std::vector<std::string> tar_entries(const std::string& tar) {
  ArchiveReader r(archive_read_new());
  archive_read_support_format_tar(r.get());
  REQUIRE(archive_read_open_memory(r.get(), tar.data(), tar.size()) == ARCHIVE_OK);
  std::vector<std::string> names;
  archive_entry* e;
  int rc;
  while ((rc = archive_read_next_header(r.get(), &e)) == ARCHIVE_OK) names.push_back(archive_entry_pathname(e));
  CHECK(rc == ARCHIVE_EOF);
  return names;
}

}  // namespace

TEST_CASE("zstd frames end at entry boundaries, the file list starts a frame, and the index describes them") {
  const std::string payload = write_framed(4096);
  auto index = read_frame_index(payload, "framed");
  REQUIRE(index.has_value());
  REQUIRE(index->frames.size() >= 10);  // 40 entries of 1.5 KiB in >= 4 KiB frames, then the list
  std::string whole_tar;
  std::vector<std::string> all;
  uint64_t at = 0;
  for (size_t i = 0; i < index->frames.size(); ++i) {
    const FrameInfo& f = index->frames[i];
    CAPTURE(i);
    const std::string tar = decode_one_frame(std::string_view(payload).substr(at, f.compressed));
    at += f.compressed;
    CHECK(tar.size() == f.tar_bytes);
    // Every frame can be parsed alone, from its first header, and holds the entries the index says.
    std::vector<std::string> names = tar_entries(tar);
    CHECK(names.size() == f.entries);
    if (i + 2 < index->frames.size()) CHECK(f.tar_bytes >= 4096);  // the last data frame ends at the list
    all.insert(all.end(), names.begin(), names.end());
    whole_tar += tar;
  }
  CHECK(at + index->index_size == payload.size());
  // The file list is alone in the last frame (with the tar's end blocks).
  CHECK(tar_entries(decode_one_frame(std::string_view(payload).substr(at - index->frames.back().compressed,
                                                                      index->frames.back().compressed))) ==
        std::vector<std::string>{".droot/manifest.mtree"});
  CHECK(all.size() == 42);
  // The frames together are the tar a plain reader sees; the index frame is skipped like the trailer is.
  CHECK(list_entries(payload) == all);
  CHECK(tar_entries(whole_tar) == all);
}

TEST_CASE("one frame and no index: gzip, --long, or framing off") {
  CHECK_FALSE(read_frame_index(write_framed(0), "one").has_value());
  CHECK_FALSE(read_frame_index(write_framed(4096, 27), "long").has_value());
  CHECK(list_entries(write_framed(0)).size() == 42);
  // Framing off means no content frame either, whatever the size of a file.
  {
    int fd = ::memfd_create("off", 0);
    CompressionOptions options{Compression::zstd, -1, 2};
    options.frame_bytes = 0;
    options.content_frame_bytes = 1024;
    ArtifactWriter w(fd, "memfd", options);
    ArchiveEntry e(archive_entry_new());
    archive_entry_set_pathname(e.get(), "big");
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 0644);
    archive_entry_set_size(e.get(), 4096);
    w.write_header(e.get());
    w.write_data(std::string(4096, 'b').data(), 4096);
    w.content_written(sha256_hex(std::string(4096, 'b')));
    const std::string bytes = finish_with_list(w, fd, 100);
    CHECK_FALSE(read_frame_index(bytes, "off").has_value());
    CHECK(ZSTD_findFrameCompressedSize(bytes.data(), bytes.size()) == bytes.size());  // one frame
    CHECK(list_entries(bytes) == std::vector<std::string>{"big", ".droot/manifest.mtree"});
  }
  // The default: frames of 8 MiB, so this small payload is two (the entries, then the file list).
  int fd = ::memfd_create("default", 0);
  {
    ArtifactWriter w(fd, "memfd", CompressionOptions{Compression::zstd, -1, 2});
    w.add_text_file(".droot/config.json", "{}\n", 1700000000);
    (void)w.finish_payload();
  }
  std::string bytes(file_size(fd, "memfd"), '\0');
  pread_exact(fd, bytes.data(), bytes.size(), 0, "memfd");
  ::close(fd);
  auto index = read_frame_index(bytes, "default");
  REQUIRE(index.has_value());
  CHECK(index->frames.size() == 1);
  CHECK(index->frames[0].entries == 1);
}

TEST_CASE("framed payloads are reproducible whatever the zstd thread count") {
  CHECK(write_framed(4096, 0, 1) == write_framed(4096, 0, 2));
  CHECK(write_framed(4096, 0, 2) == write_framed(4096, 0, 3));
}

TEST_CASE("a large regular file's content is a frame of its own, keyed in the index; not with xattrs or metadata") {
  int fd = ::memfd_create("content", 0);
  CompressionOptions options{Compression::zstd, -1, 2};
  options.content_frame_bytes = 4096;
  ArtifactWriter w(fd, "memfd", options);
  w.add_text_file(".droot/config.json", std::string(5000, '{'), 1700000000);  // metadata: never split
  auto file = [&](const std::string& path, const std::string& content, bool xattr) {
    ArchiveEntry e(archive_entry_new());
    archive_entry_set_pathname(e.get(), path.c_str());
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 04750);
    archive_entry_set_uid(e.get(), 1000);
    archive_entry_set_gid(e.get(), 100);
    archive_entry_set_mtime(e.get(), 1600000000, 123456789);
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(content.size()));
    if (xattr) archive_entry_xattr_add_entry(e.get(), "security.capability", "\x01\x00\x00\x02", 4);
    w.write_header(e.get());
    w.write_data(content.data(), content.size());
    w.content_written(sha256_hex(content));
  };
  std::string big(5000, 'b');
  big[4999] = 'x';
  file("small", std::string(4095, 's'), false);
  file("big", big, false);
  file("capable", std::string(9000, 'c'), true);
  file("big2", std::string(4096, 'd'), false);
  const std::string payload = finish_with_list(w, fd, 9000);

  auto index = read_frame_index(payload, "content");
  REQUIRE(index.has_value());
  std::vector<std::string> tars;
  uint64_t at = 0;
  for (const FrameInfo& f : index->frames) {
    tars.push_back(decode_one_frame(std::string_view(payload).substr(at, f.compressed)));
    CHECK(tars.back().size() == f.tar_bytes);
    at += f.compressed;
  }
  // config .. big's header | big's content | capable .. big2's header | big2's content | the manifest
  REQUIRE(index->frames.size() == 5);
  CHECK(index->frames[0].entries == 3);
  CHECK(index->frames[2].entries == 2);
  CHECK(index->frames[4].entries == 1);
  for (size_t i : {1, 3}) {
    CAPTURE(i);
    REQUIRE(index->frames[i].content.has_value());
    CHECK(index->frames[i].entries == 0);
  }
  const ContentKey& k = *index->frames[1].content;
  CHECK(k == ContentKey{5000, sha256_hex(big), 04750, 1000, 100, 1600000000, 123456789});
  CHECK(tars[1] == big + std::string(120, '\0'));  // the content and its padding to 512, nothing else
  CHECK(index->frames[3].content->size == 4096);
  CHECK(tars[3] == std::string(4096, 'd'));
  CHECK(list_entries(payload) == std::vector<std::string>{".droot/config.json", "small", "big", "capable", "big2",
                                                          ".droot/manifest.mtree"});
}
