// check --objects: every object of DEST's store read and hashed again, and compared with its name (content
// sha256, mode, owner, mtime). Deploy does not re-hash an object it reuses (that would read every unchanged
// file on every update); this is the full check, at the cost of reading every stored byte once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace droot::exec {

class ObjectStore;

struct DamagedObject {
  std::string object;  // "ab/cdef…", relative to DEST/objects
  std::string detail;
};

struct ObjectCheck {
  uint64_t checked = 0;
  uint64_t bytes = 0;
  uint64_t unused = 0;  // linked by no release (a later deploy's garbage collection removes them)
  std::vector<DamagedObject> damaged;
};

// `owners`: compare uid/gid too (a deploy as root set them).
ObjectCheck check_objects(const ObjectStore& objects, bool owners);

}  // namespace droot::exec
