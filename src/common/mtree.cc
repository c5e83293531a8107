#include "mtree.h"

#include <charconv>
#include <climits>
#include <cstdio>
#include <optional>

#include "error.h"

namespace droot {
namespace {

bool needs_escape(unsigned char c) { return c <= 0x20 || c >= 0x7f || c == '#' || c == '=' || c == '\\'; }

uint64_t parse_number(std::string_view v, int base, const std::string& where) {
  uint64_t out = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out, base);
  if (ec != std::errc() || ptr != v.data() + v.size() || v.empty()) throw Error(where + ": bad number '" + std::string(v) + "'");
  return out;
}

MtreeTime parse_time(std::string_view v, const std::string& where) {
  // "SEC.NSEC" exactly as format_manifest_line writes it: an optional '-', digits, '.', nine digits.
  const size_t dot = v.find('.');
  if (dot == std::string_view::npos || v.size() - dot - 1 != 9)
    throw Error(where + ": bad time '" + std::string(v) + "' (want SECONDS.NANOSECONDS, nine digits after the '.')");
  std::string_view sec = v.substr(0, dot);
  const bool negative = !sec.empty() && sec[0] == '-';
  if (negative) sec.remove_prefix(1);
  MtreeTime t;
  const uint64_t magnitude = parse_number(sec, 10, where);
  if (magnitude > static_cast<uint64_t>(INT64_MAX)) throw Error(where + ": time out of range");
  t.sec = negative ? -static_cast<int64_t>(magnitude) : static_cast<int64_t>(magnitude);
  t.nsec = static_cast<uint32_t>(parse_number(v.substr(dot + 1), 10, where));
  return t;
}

bool valid_type(std::string_view t) {
  return t == "file" || t == "dir" || t == "link" || t == "char" || t == "block" || t == "fifo";
}

}  // namespace

std::string mtree_escape(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (unsigned char c : raw) {
    if (needs_escape(c)) {
      out.push_back('\\');
      out.push_back(static_cast<char>('0' + ((c >> 6) & 7)));
      out.push_back(static_cast<char>('0' + ((c >> 3) & 7)));
      out.push_back(static_cast<char>('0' + (c & 7)));
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

std::string mtree_unescape(std::string_view quoted) {
  std::string out;
  for (size_t i = 0; i < quoted.size(); ++i) {
    if (quoted[i] != '\\') {
      out.push_back(quoted[i]);
      continue;
    }
    if (i + 3 >= quoted.size()) throw Error("truncated escape in manifest path");
    int v = 0;
    for (int k = 1; k <= 3; ++k) {
      char d = quoted[i + k];
      if (d < '0' || d > '7') throw Error("bad escape in manifest path");
      v = v * 8 + (d - '0');
    }
    if (v > 255) throw Error("bad escape in manifest path");
    out.push_back(static_cast<char>(v));
    i += 3;
  }
  return out;
}

std::string manifest_header() { return "#mtree\n"; }

std::string format_manifest_line(const ManifestEntry& e) {
  char mode[16];
  std::snprintf(mode, sizeof mode, "%04o", e.mode & 07777);
  std::string line = "./" + mtree_escape(e.path) + " type=" + e.type + " mode=" + mode +
                     " uid=" + std::to_string(e.uid) + " gid=" + std::to_string(e.gid);
  if (e.type == "file") line += " size=" + std::to_string(e.size);
  if (e.time) {
    char nsec[16];
    std::snprintf(nsec, sizeof nsec, "%09u", static_cast<unsigned>(e.time->nsec));
    line += " time=" + std::to_string(e.time->sec) + "." + nsec;
  }
  if (e.type == "file") line += " sha256digest=" + e.sha256;
  if (e.type == "link") line += " link=" + mtree_escape(e.link);
  line += '\n';
  return line;
}

std::optional<ManifestEntry> parse_manifest_line(std::string_view line, const std::string& where) {
  if (line.empty() || line[0] == '#') return std::nullopt;
  size_t sp = line.find(' ');
  std::string_view raw_path = line.substr(0, sp);
  if (raw_path.substr(0, 2) != "./" || raw_path.size() < 3) throw Error(where + ": path must start with ./");
  ManifestEntry e;
  try {
    e.path = mtree_unescape(raw_path.substr(2));
  } catch (const Error& err) {
    throw Error(where + ": " + err.what());
  }
  std::string_view rest = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
  bool has_mode = false;
  while (!rest.empty()) {
    size_t next = rest.find(' ');
    std::string_view kv = rest.substr(0, next);
    rest.remove_prefix(next == std::string_view::npos ? rest.size() : next + 1);
    if (kv.empty()) continue;
    size_t eq = kv.find('=');
    if (eq == std::string_view::npos) throw Error(where + ": keyword without value '" + std::string(kv) + "'");
    std::string_view key = kv.substr(0, eq), value = kv.substr(eq + 1);
    if (key == "type") {
      if (!valid_type(value)) throw Error(where + ": unknown type '" + std::string(value) + "'");
      e.type = std::string(value);
    } else if (key == "mode") {
      e.mode = static_cast<uint32_t>(parse_number(value, 8, where));
      if (e.mode > 07777) throw Error(where + ": mode out of range");
      has_mode = true;
    } else if (key == "uid") {
      e.uid = parse_number(value, 10, where);
    } else if (key == "gid") {
      e.gid = parse_number(value, 10, where);
    } else if (key == "size") {
      e.size = parse_number(value, 10, where);
    } else if (key == "time") {
      e.time = parse_time(value, where);
    } else if (key == "link") {
      e.link = mtree_unescape(value);
    } else if (key == "sha256digest") {
      if (value.size() != 64 || value.find_first_not_of("0123456789abcdef") != std::string_view::npos)
        throw Error(where + ": bad sha256digest");
      e.sha256 = std::string(value);
    } else {
      throw Error(where + ": unknown keyword '" + std::string(key) + "'");
    }
  }
  if (e.type.empty() || !has_mode) throw Error(where + ": entry needs type and mode");
  if (e.type == "file" && e.sha256.empty()) throw Error(where + ": regular file without sha256digest");
  return e;
}

std::map<std::string, ManifestEntry> parse_manifest(std::string_view text, const std::string& source) {
  std::map<std::string, ManifestEntry> entries;
  size_t line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++line_no;
    const std::string where = source + " line " + std::to_string(line_no);
    std::optional<ManifestEntry> e = parse_manifest_line(line, where);
    if (!e) continue;
    std::string key = e->path;
    if (!entries.emplace(key, std::move(*e)).second) throw Error(where + ": duplicate entry '" + key + "'");
  }
  return entries;
}

}  // namespace droot
