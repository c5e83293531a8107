// `droot-exec run [OPTIONS] DEST|ROOT [--] [COMMAND [ARG...]]`: reads the image's config and users, turns the
// command line into a JailSpec, and runs it (jail.h). All checks that can fail cleanly are done here, before
// any namespace exists, so a bad flag leaves nothing behind.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cxxopts.hpp>
#include <memory>

#include "artifact_config.h"
#include "caps.h"
#include "commands.h"
#include "error.h"
#include "io.h"
#include "jail.h"
#include "kernel_features.h"
#include "rootfs_path.h"
#include "run_options.h"
#include "state_dir.h"
#include "user.h"
#include "userns_owners.h"
#include "userns_registry.h"

namespace droot::exec {

namespace {

constexpr const char* kDefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
constexpr size_t kMaxCopySize = 1 << 20;

struct OptionDef {
  const char* names;  // cxxopts style: "e,env"
  const char* help;
  const char* arg;    // nullptr: a flag
};

constexpr OptionDef kOptions[] = {
    {"e,env", "set KEY=VAL (or KEY: the host's value) in the command's environment", "KEY=VAL"},
    {"env-file", "read KEY=VAL lines from FILE (before -e)", "FILE"},
    {"u,user", "run as NAME|UID[:GROUP|GID] of the image's /etc/passwd and /etc/group", "USER"},
    {"w,workdir", "working directory inside the jail (absolute)", "DIR"},
    {"entrypoint", "replace the image's Entrypoint (\"\" clears it); the image's Cmd is then not used", "CMD"},
    {"b,bind", "bind the host's SRC on DST (default: the same path) inside the jail", "SRC[:DST]"},
    {"ro-bind", "bind SRC on DST read-only", "SRC[:DST]"},
    {"tmpfs", "mount an empty tmpfs on DST", "DST"},
    {"cap-add", "add a capability (or ALL) to the default keep-list", "CAP"},
    {"cap-drop", "remove a capability (or ALL) from the default keep-list", "CAP"},
    {"net", "host (default) or none: own network namespace with only lo", "MODE"},
    {"hostname", "the jail's hostname (own UTS namespace)", "NAME"},
    {"read-only", "mount the image's root read-only: the release itself, no overlay, no state", nullptr},
    {"volatile", "writes to the root go to a tmpfs and are forgotten at exit (default for a release: kept in "
                 "DEST/state/<release>)", nullptr},
    {"copy", "copy a host FILE into the jail (default: /etc/resolv.conf and /etc/hosts)", "FILE[:DST]"},
    {"memory", "memory limit (e.g. 256m), in a cgroup made for the run", "BYTES"},
    {"pids-limit", "maximum number of processes and threads", "N"},
    {"cpus", "CPU quota, e.g. 0.5 or 2", "X"},
    {"rlimit", "resource limit, e.g. nofile=1024:4096 (repeatable)", "NAME=SOFT[:HARD]"},
    {"seccomp", "default (deny-list, see droot-exec(1)) or none", "PROFILE"},
    {"t,tty", "give the command a terminal of its own (a pty of the jail, relayed) even without one here", nullptr},
    {"no-tty", "never a pty: the command gets droot-exec's stdin/stdout/stderr as they are (default: a pty when "
               "stdin and stdout are a terminal)", nullptr},
    {"h,help", "show this help", nullptr},
};

bool takes_value(const std::string& name) {
  for (const auto& o : kOptions) {
    std::string names = o.names;
    size_t comma = names.find(',');
    bool match = comma == std::string::npos ? names == name : (names.substr(0, comma) == name || names.substr(comma + 1) == name);
    if (match) return o.arg != nullptr;
  }
  return false;  // unknown: cxxopts reports it
}

cxxopts::Options make_options() {
  cxxopts::Options opts("droot-exec run", "Run an image's command in a jail: own mount, PID, IPC and UTS namespaces, "
                                          "pivot_root, a minimal /dev, dropped capabilities, no_new_privs, seccomp.");
  opts.custom_help("[OPTIONS] DEST|ROOT [--] [COMMAND [ARG...]]");
  opts.positional_help("DEST|ROOT [--] [COMMAND [ARG...]]");
  auto add = opts.add_options();
  // Its value only as --userns=VALUE: a bare --userns means auto, and the next word is the target.
  add("userns", "own user namespace: the jail's uids/gids 0-65535 are unprivileged host ids (auto: a range of its "
      "own per DEST; BASE[:COUNT]; off). Default: $DROOT_USERNS, else off", cxxopts::value<std::vector<std::string>>()->implicit_value("auto"),
      "auto|BASE[:COUNT]|off");
  for (const auto& o : kOptions) {
    if (o.arg)
      add(o.names, o.help, cxxopts::value<std::vector<std::string>>(), o.arg);
    else
      add(o.names, o.help);
  }
  return opts;
}

std::vector<std::string> values(const cxxopts::ParseResult& args, const char* name) {
  return args.count(name) ? args[name].as<std::vector<std::string>>() : std::vector<std::string>{};
}

std::optional<std::string> last_value(const cxxopts::ParseResult& args, const char* name) {
  auto v = values(args, name);
  if (v.empty()) return std::nullopt;
  return v.back();
}

RunOptions to_run_options(const cxxopts::ParseResult& args, SplitArgs split) {
  RunOptions o;
  o.target = std::move(split.target);
  o.command = std::move(split.command);
  for (const auto& e : values(args, "env")) o.env.push_back(parse_env_arg(e));
  o.env_files = values(args, "env-file");
  o.user = last_value(args, "user");
  o.workdir = last_value(args, "workdir");
  o.entrypoint = last_value(args, "entrypoint");
  for (const auto& b : values(args, "bind")) o.binds.push_back(parse_bind(b, false, "--bind"));
  for (const auto& b : values(args, "ro-bind")) o.binds.push_back(parse_bind(b, true, "--ro-bind"));
  for (const auto& t : values(args, "tmpfs")) o.tmpfs.push_back(parse_inside_path(t, "--tmpfs"));
  o.cap_add = values(args, "cap-add");
  o.cap_drop = values(args, "cap-drop");
  if (auto n = last_value(args, "net")) o.net = parse_net(*n);
  o.hostname = last_value(args, "hostname");
  o.read_only = args.count("read-only") > 0;
  o.volatile_root = args.count("volatile") > 0;
  if (o.read_only && o.volatile_root) throw Error("run: --read-only and --volatile contradict each other");
  auto copies = values(args, "copy");
  if (copies.empty())
    o.copies = {{"/etc/resolv.conf", "/etc/resolv.conf"}, {"/etc/hosts", "/etc/hosts"}};
  else
    for (const auto& c : copies) o.copies.push_back(parse_copy(c));
  if (auto m = last_value(args, "memory")) o.memory_bytes = parse_bytes(*m, "--memory");
  if (auto p = last_value(args, "pids-limit")) o.pids_limit = parse_count(*p, "--pids-limit");
  if (auto c = last_value(args, "cpus")) o.cpu_millis = parse_cpus(*c);
  for (const auto& r : values(args, "rlimit")) o.rlimits.push_back(parse_rlimit(r));
  if (auto s = last_value(args, "seccomp")) o.seccomp = parse_seccomp(*s);
  bool force_tty = args.count("tty") > 0, no_tty = args.count("no-tty") > 0;
  if (force_tty && no_tty) throw Error("run: -t/--tty and --no-tty contradict each other");
  o.tty = force_tty ? TtyMode::Force : no_tty ? TtyMode::Off : TtyMode::Auto;
  if (auto u = last_value(args, "userns")) {
    o.userns = parse_userns(*u, "--userns");
  } else if (const char* env = std::getenv("DROOT_USERNS"); env && *env) {
    o.userns = parse_userns(env, "DROOT_USERNS");
  }
  if (o.hostname && (o.hostname->empty() || o.hostname->size() > 64))
    throw Error("run: --hostname '" + *o.hostname + "': must be 1 to 64 characters");
  return o;
}

// What run was given: the real path of the rootfs and, for a release of a deploy directory, which one.
struct Target {
  std::string rootfs;  // no symlinks left, so that nothing in it can change between now and the mount
  std::optional<ReleaseRef> release;
};

// DEST with a `current` link → that release; a release directory of a DEST given as ROOT → that release; any
// other directory → itself.
Target resolve_target(const std::string& target) {
  struct stat st {};
  if (stat(target.c_str(), &st) < 0) throw_errno("run: " + target + " (DEST or ROOT)");
  if (!S_ISDIR(st.st_mode)) throw Error("run: " + target + " is not a directory (expected DEST or a rootfs)");
  std::string current = target + "/current";
  std::string chosen = target;
  if (lstat(current.c_str(), &st) == 0) {
    if (!S_ISLNK(st.st_mode)) throw Error("run: " + current + " is not a symlink (expected DEST/current -> releases/…)");
    if (stat(current.c_str(), &st) < 0 || !S_ISDIR(st.st_mode)) {
      char link[PATH_MAX] = {};
      ssize_t n = readlink(current.c_str(), link, sizeof link - 1);
      throw Error("run: " + current + " points to " + (n > 0 ? std::string(link, static_cast<size_t>(n)) : "?") +
                  ", which does not exist (removed by hand?): deploy again, or switch to an existing release with "
                  "'droot-exec rollback " + target + " [RELEASE]'");
    }
    chosen = current;
  } else if (access((target + "/releases").c_str(), F_OK) == 0 || access((target + "/.droot.lock").c_str(), F_OK) == 0) {
    throw Error("run: " + target + " is a deploy directory without a `current` link (nothing deployed yet?); "
                "deploy an artifact or give a release directory");
  }
  char real[PATH_MAX];
  if (!realpath(chosen.c_str(), real)) throw_errno("run: cannot resolve " + chosen);
  if (std::string(real) == "/") throw Error("run: refusing to use the host's / as the image's rootfs");
  // Everything later opens the tree with O_PATH, which needs no permission: an unreadable release would only
  // surface as an odd error deep inside the rootfs. Say which directory cannot be read, here.
  UniqueFd probe(::open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!probe) throw_errno(std::string("run: cannot read ") + (chosen == current ? "the current release " : "the rootfs ") + real);
  Target t{real, release_of(real)};
  if (chosen == current) {
    char dest[PATH_MAX];
    if (!realpath(target.c_str(), dest)) throw_errno("run: cannot resolve " + target);
    if (!t.release || t.release->dest != dest) t.release.reset();
  }
  return t;
}

// The root's mode (mounts.h): a release is never written — an overlay over it, its writes in its state (or in
// memory with --volatile), or the release itself read-only. A plain ROOT is the caller's own directory, as it
// is to chroot or `bwrap --bind`: written in place unless --read-only or --volatile.
RootMode root_mode(const RunOptions& o, const Target& t, const std::string& target) {
  if (o.read_only) return RootMode::ReadOnly;
  if (o.volatile_root) return RootMode::Volatile;
  if (t.release) return RootMode::State;
  struct stat st {};
  if (lstat((target + "/current").c_str(), &st) == 0)
    throw Error("run: " + target + "/current leads to " + t.rootfs + ", which is not a release in " + target +
                "/releases/: run keeps a release's state in DEST/state/<release>, so without one it would write "
                "into the tree itself; run it with --volatile or --read-only");
  return RootMode::Bind;
}

// RootMode::State: DEST/state/<release>/{upper,work}, made now (before any namespace: a failure leaves nothing
// half-built) and locked for the whole run: the run lock, and the overlay's lock, which outlives the run
// until its overlay is gone (state_dir.h, overlay_holder.h); and the overlay's layers, open.
struct StateLocks {
  UniqueFd run;
  UniqueFd mount;
  UniqueFd release;
  UniqueFd upper;
  UniqueFd work;
};

StateLocks prepare_state(const Target& t, const std::optional<IdRange>& ids) {
  const ReleaseRef& r = *t.release;
  UniqueFd dest = open_or_throw(r.dest, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  struct stat release_root {};
  if (stat(t.rootfs.c_str(), &release_root) < 0) throw_errno("run: cannot stat " + t.rootfs);
  try {
    UniqueFd release = open_or_throw(t.rootfs, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    StateDirs dirs = make_state_dirs(dest.get(), r.dest, r.name, release_root, ids, release.get());
    lock_state(dirs, r.dest, r.name);
    UniqueFd mount = lock_state_mount(dirs, r.dest, r.name);
    return {std::move(dirs.dir), std::move(mount), std::move(release), std::move(dirs.upper), std::move(dirs.work)};
  } catch (const Error& e) {
    throw Error(std::string("run: ") + e.what());
  }
}

struct ImageDefaults {
  ImageConfig config;
  std::string source;  // where the config came from, for messages
  bool has_config = false;
};

ImageDefaults load_image_config(int root, const std::string& rootfs) {
  ImageDefaults d;
  std::string text;
  if (read_rootfs_file(root, "/.droot/config.json", text)) {
    d.source = rootfs + "/.droot/config.json";
    d.config = parse_config_json(text, d.source).config;
    d.has_config = true;
  } else if (read_rootfs_file(root, "/.drootenv", text)) {
    d.source = rootfs + "/.drootenv";
    d.config.env = parse_drootenv(text);
  }
  return d;
}

std::vector<FileCopy> read_copies(const std::vector<CopySpec>& specs, bool explicit_list) {
  std::vector<FileCopy> out;
  for (const auto& c : specs) {
    struct stat st {};
    if (stat(c.source.c_str(), &st) < 0) {
      if (!explicit_list && errno == ENOENT) continue;  // a host without /etc/hosts: the image keeps its own
      throw_errno("run: --copy " + c.source);
    }
    if (!S_ISREG(st.st_mode)) throw Error("run: --copy " + c.source + ": not a regular file");
    out.push_back({c.dest, read_file(c.source, kMaxCopySize), static_cast<mode_t>(st.st_mode & 0777)});
  }
  return out;
}

void check_bind_sources(std::vector<BindSpec>& binds) {
  for (auto& b : binds) {
    struct stat st {};
    const char* flag = b.read_only ? "--ro-bind" : "--bind";
    if (stat(b.source.c_str(), &st) < 0) throw_errno(std::string("run: ") + flag + " " + b.source + ": the source");
    char real[PATH_MAX];
    if (!realpath(b.source.c_str(), real)) throw_errno(std::string("run: ") + flag + " " + b.source);
    b.source = real;
  }
}

std::vector<std::string> command_line(const ImageDefaults& image, const RunOptions& o, const std::string& rootfs) {
  // docker run --entrypoint: a new entrypoint drops the image's Cmd too (it was written for the old one).
  std::vector<std::string> argv = image.config.entrypoint;
  if (o.entrypoint) argv = o.entrypoint->empty() ? std::vector<std::string>{} : std::vector<std::string>{*o.entrypoint};
  const auto& rest = o.command.empty() && !o.entrypoint ? image.config.cmd : o.command;
  argv.insert(argv.end(), rest.begin(), rest.end());
  if (!argv.empty()) return argv;
  if (image.has_config) throw Error("run: the image has neither Entrypoint nor Cmd (" + image.source + "); give a COMMAND");
  throw Error("run: " + rootfs + " has no .droot/config.json, so there is no default command; give a COMMAND after the rootfs");
}

std::vector<std::string> environment(const ImageDefaults& image, const RunOptions& o, const Credentials& cred) {
  std::vector<std::string> overrides;
  for (const auto& f : o.env_files) {
    auto lines = parse_env_file(read_file(f, 1 << 20), f);
    overrides.insert(overrides.end(), lines.begin(), lines.end());
  }
  overrides.insert(overrides.end(), o.env.begin(), o.env.end());
  auto env = merge_env(image.config.env, overrides, [](const std::string& key) -> std::optional<std::string> {
    const char* v = std::getenv(key.c_str());
    return v ? std::optional<std::string>(v) : std::nullopt;
  });
  if (!env_value(env, "PATH")) env.push_back(kDefaultPath);
  if (!env_value(env, "HOME")) env.push_back("HOME=" + cred.home);
  return env;
}

void check_userns_owners(int root, const std::string& rootfs, const IdRange& r) {
  auto bad = first_unmapped_owner(root, r.count, rootfs);
  if (!bad) return;
  throw Error("run: /" + bad->path + " in " + rootfs + " is owned by " + (bad->is_gid ? "gid " : "uid ") +
              std::to_string(bad->id) + " (" + rootfs + "/.droot/manifest.mtree), which the jail's user namespace "
              "does not map (--userns ids 0-" + std::to_string(r.count - 1) + "): it would show as 65534 and nothing "
              "could change it; give a COUNT above " + std::to_string(bad->id) + " (--userns=BASE:COUNT) or run with "
              "--userns=off");
}

// --userns: refuses what would mean nothing in the namespace, then the range (userns_registry.h) — chosen
// last, so a bad flag records nothing.
IdRange userns_for(const RunOptions& o, const Target& t, const Credentials& cred, int root) {
  for (const auto& name : o.cap_add) {
    if (name == "ALL" || name == "all") continue;  // ALL: whatever the namespace can hold
    auto cap = cap_from_name(name);
    if (!cap) continue;  // plan_caps has named it already
    std::string why = cap_meaningless_in_userns(*cap, o.net == NetMode::None);
    if (!why.empty()) throw Error("run: --cap-add " + name + " with --userns: " + why + " (drop one of the two flags)");
  }
  // The release's DEST keeps the record; a plain ROOT is keyed by its own path.
  const bool is_dest = t.release.has_value();
  const std::string key = is_dest ? t.release->dest : t.rootfs;
  return choose_userns_range(o.userns, key, is_dest, [&](const IdRange& r) {
    const std::string which = o.userns.mode == UsernsMode::Explicit ? "--userns=" + range_text(r) : "--userns (" + range_text(r) + ")";
    if (cred.uid >= r.count || cred.gid >= r.count)
      throw Error("run: the command's user (uid " + std::to_string(cred.uid) + ", gid " + std::to_string(cred.gid) +
                  ") is outside the jail's ids 0-" + std::to_string(r.count - 1) + " of " + which + ": give a larger COUNT");
    for (gid_t g : cred.groups)
      if (g >= r.count)
        throw Error("run: the command's user is in group " + std::to_string(g) + " (the image's /etc/group), outside "
                    "the jail's ids 0-" + std::to_string(r.count - 1) + " of " + which + ": give a larger COUNT");
    check_userns_owners(root, t.rootfs, r);
  });
}

}  // namespace

int cmd_run(int argc, char** argv) {
  cxxopts::Options opts = make_options();
  SplitArgs split = split_run_args(argc, argv, takes_value);
  std::vector<char*> option_argv;
  for (auto& s : split.options) option_argv.push_back(s.data());
  auto args = opts.parse(static_cast<int>(option_argv.size()), option_argv.data());
  if (args.count("help")) {
    std::fputs(opts.help().c_str(), stdout);
    return 0;
  }
  // Before anything is read or made: an old kernel gets one clear error, never a half-built jail.
  require_kernel("run", interfaces_for_run());
  if (split.target.empty()) throw Error("run: missing DEST|ROOT (a deploy directory with a `current` link, or a rootfs)");
  RunOptions o = to_run_options(args, std::move(split));

  JailSpec spec;
  Target target = resolve_target(o.target);
  spec.mounts.rootfs = target.rootfs;
  spec.mounts.root = root_mode(o, target, o.target);
  UniqueFd root = open_or_throw(spec.mounts.rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  ImageDefaults image = load_image_config(root.get(), spec.mounts.rootfs);

  spec.argv = command_line(image, o, spec.mounts.rootfs);
  spec.cred = resolve_user_in_rootfs(root.get(), o.user.value_or(image.config.user));
  spec.env = environment(image, o, spec.cred);
  spec.workdir = o.workdir.value_or(image.config.working_dir.empty() ? "/" : image.config.working_dir);
  if (spec.workdir.empty() || spec.workdir[0] != '/') throw Error("run: the working directory '" + spec.workdir + "' must be an absolute path");
  spec.caps = plan_caps(o.cap_add, o.cap_drop, spec.cred.uid == 0, own_bounding_set());
  if (o.userns.mode != UsernsMode::Off) {
    spec.userns = userns_for(o, target, spec.cred, root.get());
  }

  check_bind_sources(o.binds);
  spec.mounts.binds = o.binds;
  spec.mounts.tmpfs = o.tmpfs;
  spec.mounts.copies = read_copies(o.copies, args.count("copy") > 0);
  spec.new_net = o.net == NetMode::None;
  spec.hostname = o.hostname;
  spec.rlimits = o.rlimits;
  spec.seccomp = o.seccomp;
  spec.tty = o.tty;
  spec.limits = {o.memory_bytes, o.pids_limit, o.cpu_millis};
  root.reset();
  // Kept open until the jail is gone: the lock that keeps a second run off this release's state. The overlay's
  // lock goes on, with the layers, to the process that holds the overlay (run_jail, overlay_holder.h).
  StateLocks state_locks;
  if (spec.mounts.root == RootMode::State) {
    spec.mounts.dest = target.release->dest;
    spec.mounts.release = target.release->name;
    state_locks = prepare_state(target, spec.userns);
    spec.overlay_lock = state_locks.mount.get();
    spec.mounts.layers = {state_locks.release.get(), state_locks.upper.get(), state_locks.work.get()};
  }
  return run_jail(spec);
}

}  // namespace droot::exec
