// An unnamed temporary file in $TMPDIR (else /tmp) for what droot-pack must hold until later in the stream:
// the manifest, a delta's list of omitted files, a large file's content. It has no name, so nothing is left
// behind on any exit, and memory stays flat.
#pragma once

#include <string>

#include "fd.h"

namespace droot::pack {

// `what` names the spool in the error ("the manifest spool").
UniqueFd make_spool_file(const std::string& what);

// Writes every byte at `offset` or throws naming `what`.
void pwrite_all(int fd, const void* data, size_t size, uint64_t offset, const std::string& what);

}  // namespace droot::pack
