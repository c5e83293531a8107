// droot-exec check DEST|ROOT: compare a deployed tree with its .droot/manifest.mtree.
// Exit status: 0 clean, 1 drift, 125 error (droot-exec(1)).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cxxopts.hpp>
#include <nlohmann/json.hpp>

#include "beneath.h"
#include "commands.h"
#include "error.h"
#include "io.h"
#include "kernel_features.h"
#include "mtree.h"
#include "release_store.h"
#include "tree_check.h"

namespace droot::exec {
namespace {

constexpr int kExitDrift = 1;

struct CheckedRoot {
  UniqueFd fd;
  std::string path;
};

// DEST (a directory with a `current` link) means its current release; anything else is a rootfs.
CheckedRoot open_checked_root(const std::string& arg) {
  UniqueFd dir = open_or_throw(arg, O_RDONLY | O_DIRECTORY);
  struct stat st {};
  if (::fstatat(dir.get(), "current", &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISLNK(st.st_mode)) {
    // A deploy destination whose first deploy failed has releases/ but nothing to check yet.
    if (::fstatat(dir.get(), "releases", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
        ::fstatat(dir.get(), ".droot", &st, AT_SYMLINK_NOFOLLOW) != 0)
      throw Error(arg + " has no current release (nothing deployed yet?); give a release directory to check it");
    return {std::move(dir), arg};
  }
  ReleaseStore store(arg, /*create=*/false);
  std::optional<std::string> current = store.current();
  const std::string path = store.releases_path() + "/" + *current;
  if (!store.has_release(*current)) throw Error("check: " + store.missing_current_text(*current));
  UniqueFd fd = open_beneath(store.releases_fd(), *current, O_RDONLY | O_DIRECTORY);
  if (!fd) throw Error("check: cannot open the current release " + path + ": " + beneath_error_text(errno));
  return {std::move(fd), path};
}

}  // namespace

int cmd_check(int argc, char** argv) {
  cxxopts::Options opts("droot-exec check",
                        "Compare a deployed tree with its manifest: modified, missing and extra entries, mode and owner "
                        "changes (empty mount points that run had to create are listed as notes, not drift). Exit status 0 clean, 1 "
                        "drift, 125 error.");
  opts.positional_help("DEST|ROOT");
  opts.add_options()("json", "print one JSON object")("q,quiet", "print nothing; the exit status tells")(
      "h,help", "show this help")("root", "", cxxopts::value<std::string>());
  opts.parse_positional({"root"});
  auto args = opts.parse(argc, argv);
  if (args.count("help")) {
    std::fputs(opts.help().c_str(), stdout);
    return 0;
  }
  if (!args.count("root")) throw Error("check: missing DEST or ROOT (see droot-exec check --help)");
  require_kernel("check", interfaces_for_deploy());
  CheckedRoot root = open_checked_root(args["root"].as<std::string>());
  TreeCheck result = check_tree(root.fd.get(), root.path);
  const std::vector<Difference>& diffs = result.differences;
  if (args.count("json")) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& d : diffs) list.push_back({{"kind", kind_name(d.kind)}, {"path", d.path}, {"detail", d.detail}});
    std::printf("%s\n", nlohmann::json({{"root", root.path}, {"clean", diffs.empty()}, {"differences", list},
                                        {"run_mountpoints", result.run_mountpoints}})
                            .dump()
                            .c_str());
  } else if (!args.count("quiet")) {
    for (const auto& d : diffs)
      std::printf("%-8s %s: %s\n", kind_name(d.kind).c_str(), mtree_escape(d.path).c_str(), d.detail.c_str());
    // Not drift: empty mount points that run created because the image had none there (run_mountpoints.h).
    for (const auto& p : result.run_mountpoints)
      std::printf("%-8s %s: empty mount point made by droot-exec run (not counted)\n", "note", mtree_escape(p).c_str());
    if (diffs.empty()) std::printf("%s: clean, matches its manifest\n", root.path.c_str());
    else std::printf("%s: %zu difference(s) from its manifest\n", root.path.c_str(), diffs.size());
  }
  return diffs.empty() ? 0 : kExitDrift;
}

}  // namespace droot::exec
