// droot-exec's subcommands. Each takes argv starting at the subcommand's name, throws droot::Error on
// failure (main() prints it and exits 125), and returns the process exit status otherwise.
#pragma once

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

}  // namespace droot::exec
