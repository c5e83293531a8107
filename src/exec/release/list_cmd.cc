// droot-exec list DEST: the releases, which one is current, the image each holds, its size, when deployed.
#include <fcntl.h>

#include <algorithm>
#include <cstdio>
#include <cxxopts.hpp>
#include <nlohmann/json.hpp>

#include "artifact_config.h"
#include "beneath.h"
#include "commands.h"
#include "error.h"
#include "mtree.h"
#include "object_store.h"
#include "release_store.h"
#include "release_usage.h"

namespace droot::exec {
namespace {

struct ReleaseInfo {
  std::string name;
  bool current = false;
  std::string deployed;  // RFC 3339, from the name
  std::string image;
  std::string id;
  uint64_t size = 0;     // bytes of regular files, from the manifest
  uint64_t own = 0;      // bytes only this release links (what removing it frees)
  bool own_known = true;
  uint64_t entries = 0;
  std::string problem;   // why image/size are unknown, if they are
};

// "20240102T030405-…" → "2024-01-02T03:04:05Z".
std::string deployed_time(const std::string& name) {
  return name.substr(0, 4) + "-" + name.substr(4, 2) + "-" + name.substr(6, 2) + "T" + name.substr(9, 2) + ":" +
         name.substr(11, 2) + ":" + name.substr(13, 2) + "Z";
}

ReleaseInfo describe(const ReleaseStore& store, const std::string& name) {
  ReleaseInfo info;
  info.name = name;
  info.deployed = deployed_time(name);
  const std::string path = store.releases_path() + "/" + name;
  if (!store.has_release(name)) {
    // Only `current` can name a release that is not there: list shows it rather than silently omit it.
    info.problem = "missing: " + store.missing_current_text(name);
    return info;
  }
  try {
    UniqueFd root = open_beneath_or_throw(store.releases_fd(), name, O_PATH | O_DIRECTORY, "cannot open " + path);
    ArtifactConfig config = parse_config_json(read_file_beneath(root.get(), ".droot/config.json", path, 16 << 20),
                                              path + "/.droot/config.json");
    info.image = config.image.ref;
    info.id = config.image.id;
    for (const auto& [p, e] : parse_manifest(read_file_beneath(root.get(), ".droot/manifest.mtree", path, 256 << 20),
                                             path + "/.droot/manifest.mtree")) {
      info.size += e.size;
      ++info.entries;
    }
    try {
      info.own = release_usage(store.releases_fd(), name, path).own_bytes;
    } catch (const Error&) {
      info.own_known = false;  // a directory droot-exec may not read (no CAP_DAC_READ_SEARCH): size unknown, not damage
    }
  } catch (const Error& e) {
    // One damaged release must not hide the others: show it with the reason.
    info.problem = e.what();
  }
  return info;
}

}  // namespace

int cmd_list(int argc, char** argv) {
  cxxopts::Options opts("droot-exec list", "Show DEST's releases, oldest first, and which one is current.");
  opts.positional_help("DEST");
  opts.add_options()("json", "print one JSON object")("h,help", "show this help")("dest", "", cxxopts::value<std::string>());
  opts.parse_positional({"dest"});
  auto args = opts.parse(argc, argv);
  if (args.count("help")) {
    std::fputs(opts.help().c_str(), stdout);
    return 0;
  }
  if (!args.count("dest")) throw Error("list: missing DEST (see droot-exec list --help)");
  ReleaseStore store(args["dest"].as<std::string>(), /*create=*/false);
  std::optional<std::string> current = store.current();
  std::vector<std::string> names = store.releases();
  if (current && std::find(names.begin(), names.end(), *current) == names.end()) {
    names.push_back(*current);  // dangling: shown in its place by time, marked current, with the reason
    std::sort(names.begin(), names.end());
  }
  const StoreTotals totals = ObjectStore(store.dest_fd(), store.dest(), /*create=*/false).totals();
  std::vector<ReleaseInfo> infos;
  for (const auto& name : names) {
    infos.push_back(describe(store, name));
    infos.back().current = current && *current == name;
  }
  // Everything readable is printed first; then a damaged DEST is an error (exit 125), so that a script or a
  // monitoring check notices an unreadable release or a dangling `current` without parsing the table.
  auto fail_if_damaged = [&]() -> int {
    std::string problems;
    for (const auto& i : infos)
      if (!i.problem.empty()) problems += std::string(problems.empty() ? "" : "; ") + i.name + ": " + i.problem;
    if (problems.empty()) return 0;
    std::fflush(stdout);
    std::fprintf(stderr, "droot-exec: error: list: %s is damaged: %s\n", store.dest().c_str(), problems.c_str());
    return kExitError;
  };
  if (args.count("json")) {
    nlohmann::json releases = nlohmann::json::array();
    for (const auto& i : infos) {
      nlohmann::json r = {{"name", i.name},   {"current", i.current}, {"deployed", i.deployed}, {"image", i.image},
                          {"id", i.id},       {"size", i.size},       {"own_bytes", i.own_known ? nlohmann::json(i.own) : nlohmann::json(nullptr)}, {"entries", i.entries},
                          {"path", store.releases_path() + "/" + i.name}};
      if (!i.problem.empty()) r["error"] = i.problem;
      releases.push_back(r);
    }
    nlohmann::json j = {{"dest", store.dest()},
                        {"current", current ? nlohmann::json(*current) : nlohmann::json(nullptr)},
                        {"releases", releases},
                        {"store", {{"objects", totals.objects}, {"bytes", totals.bytes}}}};
    std::printf("%s\n", j.dump().c_str());
    return fail_if_damaged();
  }
  std::printf("%-2s %-28s %-20s %12s %12s  %s\n", "", "RELEASE", "DEPLOYED", "SIZE", "OWN", "IMAGE");
  for (const auto& i : infos) {
    std::string image = i.problem.empty() ? i.image + " " + i.id : "(" + i.problem + ")";
    std::printf("%-2s %-28s %-20s %12llu %12s  %s\n", i.current ? "*" : "", i.name.c_str(), i.deployed.c_str(),
                static_cast<unsigned long long>(i.size), i.own_known ? std::to_string(i.own).c_str() : "?",
                image.c_str());
  }
  std::printf("store: %llu objects, %llu bytes (each file once, whichever releases link it)\n",
              static_cast<unsigned long long>(totals.objects), static_cast<unsigned long long>(totals.bytes));
  return fail_if_damaged();
}

}  // namespace droot::exec
