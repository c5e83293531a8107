#include "downgrade.h"

#include "error.h"

namespace droot::exec {
namespace {

std::optional<int64_t> created(const ArtifactConfig& c) {
  if (c.image.created.empty()) return std::nullopt;
  try {
    return parse_rfc3339(c.image.created);
  } catch (const Error&) {
    return std::nullopt;
  }
}

}  // namespace

std::optional<std::string> downgrade_refusal(const ArtifactConfig& incoming, const ArtifactConfig& current,
                                             const std::string& current_release, const std::string& dest) {
  auto in = created(incoming), cur = created(current);
  if (!in || !cur || *in >= *cur) return std::nullopt;
  return "the artifact's image " + incoming.image.ref + " (created " + incoming.image.created +
         ") is older than the current release's " + current.image.ref + " (created " + current.image.created +
         ", releases/" + current_release + "); to go back, use 'droot-exec rollback " + dest +
         "', or deploy with --allow-downgrade if this older image is really meant to become current";
}

}  // namespace droot::exec
