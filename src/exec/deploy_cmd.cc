// Placeholder until deploy/rollback/list/check land.
#include "commands.h"
#include "error.h"

namespace droot::exec {
int cmd_deploy(int, char**) { throw Error("deploy: not implemented yet"); }
int cmd_rollback(int, char**) { throw Error("rollback: not implemented yet"); }
int cmd_list(int, char**) { throw Error("list: not implemented yet"); }
int cmd_check(int, char**) { throw Error("check: not implemented yet"); }
}  // namespace droot::exec
