// droot-exec rollback DEST [RELEASE]: point DEST/current at the previous (or the named) release, atomically.
#include <cstdio>
#include <cxxopts.hpp>

#include "commands.h"
#include "dir_lock.h"
#include "error.h"
#include "release_store.h"

namespace droot::exec {

int cmd_rollback(int argc, char** argv) {
  cxxopts::Options opts("droot-exec rollback",
                        "Point DEST/current at the release before it, or at RELEASE (a name or a unique prefix).");
  opts.positional_help("DEST [RELEASE]");
  opts.add_options()("q,quiet", "print nothing on success")("h,help", "show this help")(
      "dest", "", cxxopts::value<std::string>())("release", "", cxxopts::value<std::string>());
  opts.parse_positional({"dest", "release"});
  auto args = opts.parse(argc, argv);
  if (args.count("help")) {
    std::fputs(opts.help().c_str(), stdout);
    return 0;
  }
  if (!args.count("dest")) throw Error("rollback: missing DEST (see droot-exec rollback --help)");
  const std::string dest = args["dest"].as<std::string>();
  ReleaseStore store(dest, /*create=*/false);
  DirLock lock(store.dest_fd(), dest, [](const std::string& text) { std::fprintf(stderr, "droot-exec: %s\n", text.c_str()); });
  std::optional<std::string> current = store.current();
  std::string target;
  if (args.count("release")) {
    target = store.resolve(args["release"].as<std::string>());
  } else {
    if (!current) throw Error("rollback: " + dest + "/current does not exist; name the release to switch to");
    // A `current` whose release was removed by hand still says where it stood: going back means the newest
    // release older than it, exactly as if it were there (releases sort by deploy time).
    const bool dangling = !store.has_release(*current);
    std::optional<std::string> previous = store.previous_of(*current);
    if (!previous && dangling)
      throw Error("rollback: " + store.missing_current_text(*current) + "; no release is older than it to go back to");
    if (!previous) throw Error("rollback: " + dest + "/current is the oldest release (" + *current + "); nothing to go back to");
    if (dangling)
      std::fprintf(stderr, "droot-exec: warning: %s/current pointed to releases/%s, which does not exist; going back to "
                   "the release before it\n", dest.c_str(), current->c_str());
    target = *previous;
  }
  store.switch_current(target);
  if (!args.count("quiet"))
    std::printf("%s/current -> releases/%s (was %s)\n", dest.c_str(), target.c_str(), current ? current->c_str() : "none");
  return 0;
}

}  // namespace droot::exec
