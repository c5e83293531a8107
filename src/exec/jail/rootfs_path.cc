#include "rootfs_path.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <deque>
#include <optional>
#include <vector>

#include "error.h"

namespace droot::exec {

namespace {

// Linux's own limit on symlinks followed in one lookup.
constexpr int kMaxSymlinks = 40;

struct Component {
  std::string name;
  bool from_symlink;
};

void push_front_components(std::deque<Component>& todo, const std::string& path, bool from_symlink) {
  std::vector<Component> parts;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string::npos) slash = path.size();
    if (slash > pos) parts.push_back({path.substr(pos, slash - pos), from_symlink});
    pos = slash + 1;
  }
  todo.insert(todo.begin(), parts.begin(), parts.end());
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += "/" + n;
  return out.empty() ? "/" : out;
}

std::string read_link(int fd, const std::string& where) {
  char buf[4096];
  // An O_PATH|O_NOFOLLOW fd of a symlink and an empty name read the link itself.
  ssize_t n = readlinkat(fd, "", buf, sizeof buf);
  if (n < 0) throw_errno("cannot read the symlink " + where + " in the rootfs");
  if (n == static_cast<ssize_t>(sizeof buf)) throw Error("the symlink " + where + " in the rootfs is too long");
  return std::string(buf, n);
}

UniqueFd open_component(int dir, const std::string& name) {
  return UniqueFd(openat(dir, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
}

// Creates `name` in `dir`; losing a race against someone creating it too is fine, the caller reopens it.
// Returns whether this call made it.
bool create_component(int dir, const std::string& name, bool as_file, const std::string& where) {
  if (as_file) {
    UniqueFd f(openat(dir, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!f && errno != EEXIST) throw_errno("cannot create the file " + where + " in the rootfs");
    return bool(f);
  }
  if (mkdirat(dir, name.c_str(), 0755) == 0) return true;
  if (errno != EEXIST) throw_errno("cannot create the directory " + where + " in the rootfs");
  return false;
}

}  // namespace

namespace {

// The walk behind both public functions. A non-directory leaf is re-opened with `leaf_flags` (O_NOFOLLOW
// added, so a symlink swapped in meanwhile fails instead of being followed); `missing_ok` turns ENOENT into
// nullopt.
std::optional<ResolvedPath> walk(int root, const std::string& path, Create create, int leaf_flags, bool missing_ok) {
  std::deque<Component> todo;
  push_front_components(todo, path, false);
  std::vector<UniqueFd> dirs;  // the directories walked below the root; empty = at the root
  std::vector<std::string> names;
  UniqueFd leaf;  // set when the walk ended on something that is not a directory
  std::vector<std::string> created;
  int symlinks = 0;
  auto current = [&] { return dirs.empty() ? root : dirs.back().get(); };

  while (!todo.empty()) {
    Component c = todo.front();
    todo.pop_front();
    if (c.name == ".") continue;
    if (c.name == "..") {
      if (dirs.empty()) {
        // The path as given is cleaned lexically ("/.." is "/"), but a symlink that climbs above the root
        // is an attempt to reach the host: refuse it rather than quietly clamp it.
        if (c.from_symlink)
          throw Error("cannot resolve " + path + " inside the rootfs: a symlink on the way (" + join(names) +
                      "...) leads out of the rootfs with '..'");
        continue;
      }
      dirs.pop_back();
      names.pop_back();
      continue;
    }
    names.push_back(c.name);
    std::string where = join(names);
    bool last = todo.empty();
    UniqueFd fd = open_component(current(), c.name);
    if (!fd && errno == ENOENT && create != Create::Nothing) {
      if (create_component(current(), c.name, last && create == Create::File, where)) created.push_back(where.substr(1));
      fd = open_component(current(), c.name);
    }
    if (!fd && errno == ENOENT && missing_ok) return std::nullopt;
    if (!fd) throw_errno("cannot resolve " + path + " inside the rootfs (at " + where + ")");
    struct stat st {};
    if (fstat(fd.get(), &st) < 0) throw_errno("cannot stat " + where + " in the rootfs");
    if (S_ISLNK(st.st_mode)) {
      if (++symlinks > kMaxSymlinks)
        throw Error("cannot resolve " + path + " inside the rootfs: too many levels of symlinks (at " + where + ")");
      std::string target = read_link(fd.get(), where);
      names.pop_back();
      if (target.empty()) throw Error("cannot resolve " + path + " inside the rootfs: the symlink " + where + " is empty");
      if (target[0] == '/') {
        dirs.clear();
        names.clear();
      }
      push_front_components(todo, target, true);
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      dirs.push_back(std::move(fd));
      continue;
    }
    if (!last) throw Error("cannot resolve " + path + " inside the rootfs: " + where + " is not a directory");
    if (leaf_flags != O_PATH) {
      // Only regular files are opened for real: opening a FIFO or a device planted in an image could block
      // or have side effects.
      if (!S_ISREG(st.st_mode)) throw Error(where + " in the rootfs is not a regular file");
      fd = UniqueFd(openat(current(), c.name.c_str(), leaf_flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
      if (!fd) throw_errno("cannot open " + where + " in the rootfs");
    }
    leaf = std::move(fd);
  }

  ResolvedPath out;
  out.path = join(names);
  out.created = std::move(created);
  if (leaf) {
    out.fd = std::move(leaf);
  } else if (!dirs.empty()) {
    out.fd = std::move(dirs.back());
    out.is_dir = true;
  } else {
    out.fd = UniqueFd(openat(root, ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!out.fd) throw_errno("cannot open the rootfs");
    out.is_dir = true;
  }
  return out;
}

}  // namespace

ResolvedPath resolve_in_rootfs(int root, const std::string& path, Create create) {
  return std::move(*walk(root, path, create, O_PATH, false));
}

bool read_rootfs_file(int root, const std::string& path, std::string& out, size_t max_size) {
  std::optional<ResolvedPath> r = walk(root, path, Create::Nothing, O_RDONLY | O_NONBLOCK, true);
  if (!r) return false;
  if (r->is_dir) throw Error(path + " in the rootfs is a directory, not a file");
  struct stat st {};
  if (fstat(r->fd.get(), &st) < 0) throw_errno("cannot stat " + r->path + " in the rootfs");
  if (!S_ISREG(st.st_mode)) throw Error(r->path + " in the rootfs is not a regular file");
  if (static_cast<uint64_t>(st.st_size) > max_size)
    throw Error(r->path + " in the rootfs is too large (" + std::to_string(st.st_size) + " bytes)");
  out.clear();
  char buf[65536];
  for (;;) {
    ssize_t n = read(r->fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("cannot read " + r->path + " in the rootfs");
    if (n == 0) break;
    out.append(buf, n);
    if (out.size() > max_size) throw Error(r->path + " in the rootfs is too large");
  }
  return true;
}

}  // namespace droot::exec
