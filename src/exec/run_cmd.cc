// Placeholder until the jail lands.
#include "commands.h"
#include "error.h"

namespace droot::exec {
int cmd_run(int, char**) { throw Error("run: not implemented yet"); }
}  // namespace droot::exec
