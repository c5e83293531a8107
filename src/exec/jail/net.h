// The network side of the jail. `--net host` (the default) shares the host's stack, as `docker run
// --net host` does; `--net none` gives the jail its own network namespace with only a loopback interface.
#pragma once

namespace droot::exec {

// In a fresh network namespace "lo" exists but is down; programs that talk to 127.0.0.1 expect it up.
void bring_loopback_up();

}  // namespace droot::exec
