// droot-exec check DEST|ROOT: compare a deployed tree with its .droot/manifest.mtree; with --changes, also list
// what run's jail wrote over it (its state's upper layer, state_changes.h), which is not drift.
// Exit status: 0 clean, 1 drift, 125 error (droot-exec(1)).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cxxopts.hpp>
#include <nlohmann/json.hpp>

#include "artifact_config.h"
#include "beneath.h"
#include "commands.h"
#include "error.h"
#include "io.h"
#include "kernel_features.h"
#include "mtree.h"
#include "release_store.h"
#include "object_check.h"
#include "object_store.h"
#include "state_changes.h"
#include "state_dir.h"
#include "tree_check.h"

namespace droot::exec {
namespace {

constexpr int kExitDrift = 1;

struct CheckedRoot {
  UniqueFd fd;
  std::string path;
  std::optional<std::string> release;  // the current release's name when given a DEST
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
    return {std::move(dir), arg, std::nullopt};
  }
  ReleaseStore store(arg, /*create=*/false);
  std::optional<std::string> current = store.current();
  const std::string path = store.releases_path() + "/" + *current;
  if (!store.has_release(*current)) throw Error("check: " + store.missing_current_text(*current));
  UniqueFd fd = open_beneath(store.releases_fd(), *current, O_RDONLY | O_DIRECTORY);
  if (!fd) throw Error("check: cannot open the current release " + path + ": " + beneath_error_text(errno));
  return {std::move(fd), path, *current};
}

// --changes: what run's jail wrote over the release, read from its state's upper layer (state_dir.h). Not drift:
// the release itself is what check_tree compared.
struct StateReport {
  std::string upper;
  bool exists = false;
  StateChanges state;
};

StateReport read_state(const CheckedRoot& root) {
  char real[PATH_MAX];
  if (!::realpath(root.path.c_str(), real)) throw_errno("check: cannot resolve " + root.path);
  std::optional<ReleaseRef> ref = release_of(real);
  if (!ref)
    throw Error("check: --changes: " + root.path + " is not a release of a deploy directory (DEST/releases/<name>): "
                "run keeps no state for a plain ROOT, it writes into the directory itself");
  UniqueFd dest = open_or_throw(ref->dest, O_PATH | O_DIRECTORY | O_NOFOLLOW);
  const std::string rel = state_dir_name(ref->name) + "/upper";
  StateReport r;
  r.upper = ref->dest + "/" + rel;
  UniqueFd upper = open_beneath(dest.get(), rel, O_RDONLY | O_DIRECTORY);
  if (!upper) {
    if (errno == ENOENT) return r;
    throw Error("check: cannot open " + r.upper + ": " + beneath_error_text(errno));
  }
  r.exists = true;
  UniqueFd state = open_beneath(dest.get(), state_dir_name(ref->name), O_PATH | O_DIRECTORY);
  if (!state) throw Error("check: cannot open " + ref->dest + "/" + state_dir_name(ref->name) + ": " + beneath_error_text(errno));
  std::optional<IdRange> ids = read_state_ids(state.get(), ref->dest + "/" + state_dir_name(ref->name));
  r.state = list_state_changes(upper.get(), root.fd.get(), r.upper, ids ? static_cast<uint32_t>(ids->base) : 0);
  return r;
}

std::string change_detail(const StateChange& c) {
  if (c.kind == StateChange::Kind::deleted) return c.type.empty() ? "whiteout" : c.type + " (whiteout)";
  if (c.kind == StateChange::Kind::replaced) return "dir (made again: the release's content below is hidden)";
  if (c.type == "file") return "file, " + std::to_string(c.size) + " bytes";
  return c.type;
}

void print_state(const StateReport& r) {
  if (!r.exists) {
    std::printf("%s: nothing written (no state: the release has not run with a persistent root)\n", r.upper.c_str());
    return;
  }
  const auto& changes = r.state.changes;
  if (changes.empty()) std::printf("%s: nothing written over the release\n", r.upper.c_str());
  else std::printf("%s: %zu change(s) written over the release by run (not drift):\n", r.upper.c_str(), changes.size());
  for (const auto& c : changes)
    std::printf("  %-8s %s: %s\n", change_name(c.kind).c_str(), mtree_escape(c.path).c_str(), change_detail(c).c_str());
  for (const auto& p : r.state.run_mountpoints)
    std::printf("  %-8s %s: empty mount point made by droot-exec run (not counted)\n", "note", mtree_escape(p).c_str());
}

// --json's "image": the checked tree's own .droot/config.json (ref and id), null when it cannot be read (the
// differences then say why). A fleet report names what each host runs without a second command.
nlohmann::json image_json(const CheckedRoot& root) {
  try {
    ArtifactConfig config = parse_config_json(read_file_beneath(root.fd.get(), ".droot/config.json", root.path, 16 << 20),
                                              root.path + "/.droot/config.json");
    return {{"ref", config.image.ref}, {"id", config.image.id}};
  } catch (const Error&) {
    return nullptr;
  }
}

nlohmann::json state_json(const StateReport& r) {
  nlohmann::json changes = nlohmann::json::array();
  for (const auto& c : r.state.changes) {
    nlohmann::json j = {{"change", change_name(c.kind)}, {"path", c.path}, {"type", c.type}};
    if (c.type == "file" && c.kind != StateChange::Kind::deleted) j["size"] = c.size;
    changes.push_back(std::move(j));
  }
  return {{"upper", r.upper}, {"exists", r.exists}, {"changes", changes}, {"run_mountpoints", r.state.run_mountpoints}};
}

}  // namespace

int cmd_check(int argc, char** argv) {
  cxxopts::Options opts("droot-exec check",
                        "Compare a deployed tree with its manifest: modified, missing and extra entries, mode and owner "
                        "changes (empty mount points that run had to create are listed as notes, not drift). Exit status 0 clean, 1 "
                        "drift, 125 error.");
  opts.positional_help("DEST|ROOT");
  opts.add_options()("json", "print one JSON object")("q,quiet", "print nothing; the exit status tells")(
      "changes", "also list what run's jail wrote over the release (DEST/state/<release>/upper: added, modified, "
                 "deleted); not drift, the exit status ignores it")(
      "objects", "also read every object of DEST's store and compare it with its name (content sha256, mode, owner, "
                 "mtime): reads every stored byte once")(
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
  std::optional<StateReport> state;
  if (args.count("changes")) state = read_state(root);
  std::optional<ObjectCheck> objects;
  if (args.count("objects")) {
    const std::string dest = args["root"].as<std::string>();
    UniqueFd dest_fd = open_or_throw(dest, O_RDONLY | O_DIRECTORY);
    ObjectStore store(dest_fd.get(), dest, /*create=*/false);
    if (!store.exists()) throw Error("check: --objects: " + dest + " has no object store (DEST/objects); give a deploy directory");
    objects = check_objects(store, ::geteuid() == 0);
  }
  TreeCheck result = check_tree(root.fd.get(), root.path);
  const std::vector<Difference>& diffs = result.differences;
  const bool damaged = objects && !objects->damaged.empty();
  if (args.count("json")) {
    nlohmann::json list = nlohmann::json::array();
    nlohmann::json counts = nlohmann::json::object();
    for (const auto& d : diffs) {
      list.push_back({{"kind", kind_name(d.kind)}, {"path", d.path}, {"detail", d.detail}});
      counts[kind_name(d.kind)] = counts.value(kind_name(d.kind), 0) + 1;
    }
    nlohmann::json out = {{"root", root.path},
                          {"release", root.release ? nlohmann::json(*root.release) : nlohmann::json(nullptr)},
                          {"image", image_json(root)},
                          {"clean", diffs.empty()},
                          {"counts", counts},
                          {"differences", list},
                          {"run_mountpoints", result.run_mountpoints}};
    if (state) out["state"] = state_json(*state);
    if (objects) {
      nlohmann::json bad = nlohmann::json::array();
      for (const auto& o : objects->damaged) bad.push_back({{"object", o.object}, {"detail", o.detail}});
      out["objects"] = {{"checked", objects->checked}, {"bytes", objects->bytes}, {"unused", objects->unused}, {"damaged", bad}};
      out["clean"] = diffs.empty() && !damaged;
    }
    std::printf("%s\n", out.dump().c_str());
  } else if (!args.count("quiet")) {
    for (const auto& d : diffs)
      std::printf("%-8s %s: %s\n", kind_name(d.kind).c_str(), mtree_escape(d.path).c_str(), d.detail.c_str());
    // Not drift: empty mount points that run created because the image had none there (run_mountpoints.h).
    for (const auto& p : result.run_mountpoints)
      std::printf("%-8s %s: empty mount point made by droot-exec run (not counted)\n", "note", mtree_escape(p).c_str());
    if (diffs.empty()) std::printf("%s: clean, matches its manifest\n", root.path.c_str());
    else std::printf("%s: %zu difference(s) from its manifest\n", root.path.c_str(), diffs.size());
    if (state) print_state(*state);
    if (objects) {
      for (const auto& o : objects->damaged) std::printf("%-8s objects/%s: %s\n", "damaged", o.object.c_str(), o.detail.c_str());
      std::printf("objects: %llu checked (%llu bytes read), %zu damaged, %llu linked by no release\n",
                  static_cast<unsigned long long>(objects->checked), static_cast<unsigned long long>(objects->bytes),
                  objects->damaged.size(), static_cast<unsigned long long>(objects->unused));
    }
  }
  return diffs.empty() && !damaged ? 0 : kExitDrift;
}

}  // namespace droot::exec
