// SIGINT/SIGTERM/SIGHUP become a flag that long operations poll (curl's progress callback, the copy loop), so
// that the container is removed and the temporary artifact unlinked before droot-pack exits 128+N.
#pragma once

namespace droot::pack {

void install_interrupt_handlers();  // also ignores SIGPIPE: a closed stdout becomes an EPIPE error we clean up after
int pending_interrupt();            // 0, or the signal number received
void throw_if_interrupted();        // throws droot::Interrupted

}  // namespace droot::pack
