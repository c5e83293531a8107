// droot-exec's subcommands. Each takes argv starting at the subcommand's name, throws droot::Error on
// failure (main() prints it and exits 125, or 3 for DeltaBaseMissing), and returns the process exit status otherwise.
#pragma once

#include "error.h"

namespace droot::exec {

int cmd_verify(int argc, char** argv);
int cmd_deploy(int argc, char** argv);
int cmd_rollback(int argc, char** argv);
int cmd_list(int argc, char** argv);
int cmd_check(int argc, char** argv);
int cmd_run(int argc, char** argv);

// droot-exec's exit statuses, docker's habits (droot-exec(1), EXIT STATUS).
constexpr int kExitError = 125;
constexpr int kExitNotExecutable = 126;
constexpr int kExitNotFound = 127;
// deploy of a delta whose base files DEST does not hold (or holds damaged): nothing was deployed, and the
// full artifact is the way out. Its own status so that a rollout tool can fall back without reading text.
constexpr int kExitDeltaBaseMissing = 3;
// What deploy throws for it (with delta_needs.h's delta_refusal text); main() turns it into that status.
class DeltaBaseMissing : public Error {
 public:
  using Error::Error;
};

}  // namespace droot::exec
