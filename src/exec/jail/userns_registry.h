// Where `run --userns` records which host ids each DEST's jail uses, so that two DESTs never share them (a
// process of one could then signal, ptrace or own the files of the other) and one DEST always gets the same
// range (the files its services wrote into DEST/state/ are owned by those host ids).
//
//   /var/lib/droot/userns-ranges        one line per DEST (or plain ROOT): "BASE:COUNT PATH", the host-wide
//                                       list every choice is checked against; DROOT_USERNS_REGISTRY moves it
//   /var/lib/droot/userns-ranges.lock   flock()ed while a range is chosen and written: two runs starting at
//                                       once on two new DESTs cannot pick the same free slot
//   DEST/userns                         "BASE:COUNT": the DEST's own record, what it keeps if the registry is
//                                       lost (it is put back, after the same overlap check)
//
// Collisions are avoided by choosing under the lock and refusing any range (auto's or an explicit one) that
// overlaps another path's line. A removed DEST keeps its line — its ids may still own files somewhere — until
// an operator deletes the line. Both files are replaced atomically (temp file + rename).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "userns_range.h"

namespace droot::exec {

std::string userns_registry_path();  // $DROOT_USERNS_REGISTRY or /var/lib/droot/userns-ranges

inline constexpr const char* kDestUsernsRecord = "userns";

// The range for a run of `target` (the real path of DEST, or of a plain ROOT, which gets no record of its
// own: it is the caller's directory). `is_dest` says whether `target` is a deploy directory. Throws Error,
// naming the other DEST, for a range that overlaps one; naming the record, for an explicit range that differs
// from the DEST's recorded one.
// `accept` is called with the range before anything is written, and may throw (a release whose files it
// cannot hold): a refused run records nothing.
IdRange choose_userns_range(const UsernsRequest& request, const std::string& target, bool is_dest,
                            const std::function<void(const IdRange&)>& accept = {});

}  // namespace droot::exec
