// The jail's orchestration: namespaces, the order of the steps, and who does what.
//
//   droot-exec (host namespaces)         makes the run cgroup, unshares a PID namespace for its child, relays
//     │                                  signals to it, removes the cgroup, exits with its status
//     │                                  [with a pty: the host terminal raw, bytes relayed (terminal.h)]
//     │                                  [--userns: makes the user namespace first, user_namespace.h]
//     │                                  [a release's state: before init, makes a process of its own that
//     │                                  mounts the overlay on the other core and sends it to init, and takes
//     │                                  it down after the jail, off run's path: overlay_holder.h]
//     └─ PID 1 "init" (new mount, PID, IPC, UTS, cgroup [, network] namespaces)
//          │                             builds the root and pivots into it, sets the hostname and lo, [opens
//          │                             the jail's pty, sends the master out], closes every inherited fd,
//          │                             [--userns: the mounts as host root, then enters the user namespace
//          │                             and makes IPC, UTS, network and cgroup namespaces it owns]
//          │                             then only relays signals and reaps (init.h)
//          └─ the command                setsid [+ the pty as controlling terminal], rlimits, no_new_privs,
//                                        bounding set, setgroups/setresgid/setresuid, capset,
//                                        PR_SET_PDEATHSIG, chdir, CLOEXEC, seccomp, execve
//
// Everything that reads the image (config, passwd, group) is done before any of this, by plain file
// parsing; the jail itself only runs droot-exec's code until the final execve.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "caps.h"
#include "cgroups.h"
#include "mounts.h"
#include "run_options.h"
#include "user.h"
#include "userns_range.h"

namespace droot::exec {

struct JailSpec {
  MountPlan mounts;
  bool new_net = false;
  std::optional<std::string> hostname;
  Credentials cred;
  CapState caps;
  std::vector<RlimitSpec> rlimits;
  bool seccomp = true;
  TtyMode tty = TtyMode::Auto;  // -t / --no-tty (terminal.h)
  std::vector<std::string> argv;  // argv[0] is looked up in the PATH of `env` when it has no '/'
  std::vector<std::string> env;
  std::string workdir = "/";
  CgroupLimits limits;
  std::optional<IdRange> userns;  // --userns: the host ids of the jail's 0…COUNT-1 (user_namespace.h)
  // RootMode::State: the overlay's lock on its state (state_dir.h), handed to the process that holds the overlay
  // and takes it down once the jail has exited (overlay_holder.h); -1 otherwise.
  int overlay_lock = -1;
};

// Runs the jail to the end; returns droot-exec's exit status (the command's, 126/127 for exec failures,
// 128+N if it died of signal N, 125 if the jail could not be built). Throws Error for failures before the
// jail exists.
int run_jail(const JailSpec& spec);

}  // namespace droot::exec
