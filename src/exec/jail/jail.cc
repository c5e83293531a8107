#include "jail.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <optional>

#include "error.h"
#include "init.h"
#include "landlock.h"
#include "net.h"
#include "overlay_holder.h"
#include "rlimits.h"
#include "seccomp_filter.h"
#include "terminal.h"
#include "user_namespace.h"

namespace droot::exec {

namespace {

constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

[[noreturn]] void die(const std::string& message, int code = 125) {
  std::fprintf(stderr, "droot-exec: error: %s\n", message.c_str());
  _exit(code);
}

// With 0, 1 or 2 closed, the first file the jail opens would become the command's stdin or stdout.
void ensure_standard_fds() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF) continue;
    int null = open("/dev/null", O_RDWR);
    if (null < 0) throw_errno("cannot open /dev/null for a closed standard descriptor");
    if (null != fd) throw Error("cannot fill closed standard descriptor " + std::to_string(fd));
  }
}

std::vector<char*> c_strings(const std::vector<std::string>& v) {
  std::vector<char*> out;
  for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// execvpe(3) would search the PATH of droot-exec's environment, not the command's; and 126/127 need the
// reason. ENOENT/ENOTDIR everywhere → not found; a candidate that exists but cannot run → not executable.
[[noreturn]] void exec_command(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  std::vector<char*> args = c_strings(argv);
  std::vector<char*> envp = c_strings(env);
  const std::string& file = argv[0];
  int err = ENOENT;
  std::string tried = file;
  if (file.find('/') != std::string::npos) {
    execve(file.c_str(), args.data(), envp.data());
    err = errno;
  } else if (!file.empty()) {
    std::string path = kDefaultPath;
    for (const auto& kv : env)
      if (kv.rfind("PATH=", 0) == 0) path = kv.substr(5);
    bool denied = false;
    size_t pos = 0;
    while (pos <= path.size()) {
      size_t colon = path.find(':', pos);
      if (colon == std::string::npos) colon = path.size();
      std::string dir = path.substr(pos, colon - pos);
      pos = colon + 1;
      std::string candidate = (dir.empty() ? "." : dir) + "/" + file;
      execve(candidate.c_str(), args.data(), envp.data());
      if (errno == EACCES) {
        denied = true;
        tried = candidate;
      } else if (errno != ENOENT && errno != ENOTDIR) {
        err = errno;
        tried = candidate;
        break;
      }
    }
    if (denied && err == ENOENT) err = EACCES;
    if (err == ENOENT) tried = file + "' (searched PATH=" + path + ")";
  }
  bool not_found = err == ENOENT || err == ENOTDIR;
  if (tried.empty() || tried.back() != ')') tried += "'";
  die("cannot run '" + tried + ": " + (not_found ? "not found in the image" : errno_text(err)), not_found ? 127 : 126);
}

// The command's process, forked by PID 1. Every step needs the privileges the next one removes.
[[noreturn]] void command_process(const JailSpec& spec, const TerminalPlan& tty) {
  try {
    // A session of its own, always (bubblewrap's --new-session): the kernel lets a process push bytes into a
    // terminal's input with TIOCSTI only if that terminal is its controlling one (or with CAP_SYS_ADMIN), and a
    // new session has none. Even a host terminal passed as plain stdio (--no-tty) is then out of reach.
    if (setsid() < 0) throw_errno("cannot give the command a session of its own");
    // With the jail's pty: it becomes the controlling terminal, and the session leader's process group its
    // foreground group, so ^C and ^Z typed on the host reach the command through the pty's line discipline
    // and job-control shells work. The pty is on at least one of 0-2 (terminal.h); init put it there.
    if (tty.pty) {
      int fd = tty.on_pty[0] ? 0 : tty.on_pty[1] ? 1 : 2;
      if (ioctl(fd, TIOCSCTTY, 0) < 0) throw_errno("cannot make the jail's pty the command's controlling terminal");
    }
    reset_signals_for_exec();
    apply_rlimits(spec.rlimits);
    // Set-uid binaries and file capabilities in the image gain nothing from here on; needed for seccomp too.
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) throw_errno("cannot set no_new_privs");
    scope_abstract_unix_sockets();
    drop_bounding_and_prepare(spec.caps, spec.cred.uid != 0);
    switch_credentials(spec.cred);
    apply_caps(spec.caps);
    // The credential change cleared the parent-death signal; set it again so the command never outlives PID 1.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) throw_errno("cannot set the parent-death signal");
    if (getppid() != 1) _exit(125);
    if (chdir(spec.workdir.c_str()) < 0) throw_errno("cannot enter the working directory " + spec.workdir);
    close_fds_above_stderr(true);
    if (spec.seccomp) load_seccomp_filter();
  } catch (const std::exception& e) {
    die(e.what());
  }
  exec_command(spec.argv, spec.env);
}

// In the jail's mount namespace, after pivot_root, so /dev/ptmx is the jail's devpts and the pty is
// /dev/pts/0 there. The master goes to droot-exec, which relays it; init keeps the slave only in place of the
// host's terminal on its own 0/1/2, for the command to inherit, and closes the rest with every other fd.
void hand_over_pty(const JailSpec& spec, const TerminalPlan& tty, UniqueFd sock) {
  Pty pty = open_pty();
  // Set before the command starts, so its first TIOCGWINSZ (`stty size`, a shell's $COLUMNS) is right.
  if (tty.size && ioctl(pty.master.get(), TIOCSWINSZ, &*tty.size) < 0) throw_errno("cannot size the jail's pty");
  // As login(1) does: the terminal belongs to the user on it, so that a non-root command can open it by name
  // (/dev/pts/0 is root's, mode 0620, in a fresh devpts).
  if (fchown(pty.slave.get(), spec.cred.uid, static_cast<gid_t>(-1)) < 0)
    throw_errno("cannot give the jail's pty to the command's user");
  send_fd(sock.get(), pty.master.get());
  for (int fd = 0; fd <= 2; ++fd)
    if (tty.on_pty[fd] && dup2(pty.slave.get(), fd) < 0) throw_errno("cannot put the jail's pty on the standard descriptors");
}

// PID 1 of the jail, in the namespaces its parent unshared for it. `back`: the socket on which it sends
// droot-exec the pty's master, when the jail has one.
[[noreturn]] void init_process(const JailSpec& spec, UniqueFd go, const TerminalPlan& tty, UniqueFd back) {
  try {
    // Nothing in the jail may ptrace this process or open its /proc/1/exe (droot-exec's binary on the host)
    // or /proc/1/fd: runc's CVE-2019-5736 went through exactly that.
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) throw_errno("cannot make the jail's init non-dumpable");
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) throw_errno("cannot set the parent-death signal");
    // With --userns only the mount namespace is made now, owned by the host's user namespace (the idmapped
    // mounts need host root); the others come after entering the jail's, so that it owns them (user_namespace.h).
    const bool userns = spec.mounts.userns_fd >= 0;
    const int others = CLONE_NEWIPC | CLONE_NEWUTS | (spec.new_net ? CLONE_NEWNET : 0);
    if (unshare(CLONE_NEWNS | (userns ? 0 : others)) < 0) throw_errno("cannot create the jail's mount, IPC and UTS namespaces");
    char byte = 0;
    // EOF: droot-exec failed (or died) before the jail was placed in its cgroup.
    if (read(go.get(), &byte, 1) != 1) _exit(125);
    go.reset();
    // Now that the parent has moved this process into the run cgroup, that cgroup becomes "/" for the jail.
    if (!userns && unshare(CLONE_NEWCGROUP) < 0) throw_errno("cannot create the jail's cgroup namespace");
    umask(022);
    if (userns) act_as_jail_root(spec.mounts.id_shift);
    build_jail_root(spec.mounts);
    if (userns) {
      enter_user_namespace(spec.mounts.userns_fd);
      close(spec.mounts.userns_fd);
      if (unshare(others | CLONE_NEWCGROUP) < 0)
        throw_errno("cannot create the jail's IPC, UTS, cgroup and network namespaces in its user namespace");
    }
    if (spec.hostname && sethostname(spec.hostname->data(), spec.hostname->size()) < 0)
      throw_errno("cannot set the hostname " + *spec.hostname);
    if (spec.new_net) bring_loopback_up();
    if (tty.pty) hand_over_pty(spec, tty, std::move(back));
    // Whatever droot-exec's caller left open (a directory of the host, a socket) ends here.
    close_fds_above_stderr(false);
    if (setpgid(0, 0) < 0) throw_errno("cannot give the jail's init its own process group");
  } catch (const std::exception& e) {
    die(e.what());
  }
  run_init([&] { command_process(spec, tty); });
}

// droot-exec's side of a run with a pty: the host terminal raw, the bytes relayed, until the jail is gone.
int relay_terminal(const TerminalPlan& tty, int master, pid_t pid) {
  std::optional<RawMode> raw;
  if (tty.relay_input) raw.emplace(STDIN_FILENO);
  // The window may have changed between the plan and now: SIGWINCH was relayed to nobody meanwhile.
  if (tty.size_from >= 0) copy_window_size(tty.size_from, master);
  RelayEnds ends{master, tty.relay_input ? STDIN_FILENO : -1, STDOUT_FILENO, tty.size_from};
  return relay_pty_until_exit(ends, pid, relayed_signals());
}

}  // namespace

int run_jail(const JailSpec& spec) {
  ensure_standard_fds();
  // From here on a SIGTERM waits for the relay loop instead of killing droot-exec with the cgroup left behind.
  block_relayed_signals();
  TerminalPlan tty = plan_terminal_for_stdio(spec.tty);
  std::unique_ptr<RunCgroup> cgroup;
  if (spec.limits.any()) cgroup = std::make_unique<RunCgroup>(spec.limits, "droot-run-" + std::to_string(getpid()));
  // The namespace lives on this fd until init has entered it; init gets a copy of the spec that names it, and
  // the holder's socket.
  UserNamespace userns;
  JailSpec with_fds;
  const JailSpec* jail = &spec;
  const bool holds_overlay = spec.mounts.root == RootMode::State && spec.overlay_lock >= 0;
  if (spec.userns || holds_overlay) {
    with_fds = spec;
    jail = &with_fds;
  }
  if (spec.userns) {
    userns = make_user_namespace(*spec.userns);
    with_fds.mounts.userns_fd = userns.fd();
    with_fds.mounts.id_shift = static_cast<uint32_t>(spec.userns->base);
  }
  // The overlay's holder (overlay_holder.h) is prepared now, so that init inherits its end of the socket, and
  // started once init is on its way (launch); after the signals are blocked, so that it keeps them blocked: a ^C
  // to the terminal's process group must not end it, and its lock, while the jail still has the overlay.
  OverlayHolder holder;
  UniqueFd own_pid_ns;
  if (holds_overlay) {
    holder = OverlayHolder::prepare(with_fds.mounts, spec.overlay_lock);
    with_fds.mounts.overlay_sock = holder.jail_end();
    // To make the holder in droot-exec's own PID namespace after the jail's has been unshared below.
    own_pid_ns = UniqueFd(open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC));
    if (!own_pid_ns) throw_errno("cannot open /proc/self/ns/pid");
  }

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) throw_errno("cannot create a pipe");
  UniqueFd go_read(fds[0]), go_write(fds[1]);
  // init opens the pty in the jail and sends the master back on this pair (SCM_RIGHTS).
  UniqueFd back_parent, back_child;
  if (tty.pty) {
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0) throw_errno("cannot create a socket pair");
    back_parent = UniqueFd(fds[0]);
    back_child = UniqueFd(fds[1]);
  }
  // Only the next child is affected: it becomes PID 1 of a new PID namespace; droot-exec stays where it is.
  if (unshare(CLONE_NEWPID) < 0) throw_errno("cannot create a PID namespace");
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) throw_errno("cannot fork the jail's init");
  if (pid == 0) {
    go_write.reset();
    back_parent.reset();
    holder.close_in_init();
    own_pid_ns.reset();
    init_process(*jail, std::move(go_read), tty, std::move(back_child));
  }
  go_read.reset();
  back_child.reset();
  holder.close_jail_end();
  UniqueFd master;
  int status = 0;
  try {
    if (cgroup) cgroup->add(pid);
    if (write(go_write.get(), "g", 1) != 1) throw_errno("cannot start the jail");
    go_write.reset();
    if (holds_overlay) {
      // Children made from now on are droot-exec's again, not the jail's (setns of a PID namespace changes only
      // where the next children go, and one's own is always allowed).
      if (setns(own_pid_ns.get(), CLONE_NEWPID) < 0) throw_errno("cannot return to droot-exec's PID namespace");
      own_pid_ns.reset();
      holder.launch();  // it mounts the overlay while init makes its namespaces and /dev (mounts.h)
    }
    userns.close_fd();
    userns.reap();  // while init builds the jail on the other core
    // EOF instead of a pty: init failed before it made one, and said why; its status is the answer.
    if (tty.pty) master = receive_fd(back_parent.get());
    back_parent.reset();
    if (master) status = relay_terminal(tty, master.get(), pid);
  } catch (...) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    holder.finish();
    throw;
  }
  if (!master) status = relay_signals_until_exit(pid, false);
  // The jail is gone; its overlay is not, as long as the holder keeps it.
  holder.finish();
  return exit_code_of(status);
}

}  // namespace droot::exec
