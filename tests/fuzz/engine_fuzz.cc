// What droot-pack reads from the Docker Engine (src/pack/engine_messages.h): error bodies, /_ping headers,
// the image inspect and the container create answers. The first byte picks the answer (a letter in the
// corpus files, any other byte by its value). Whatever the Engine sends, droot-pack throws droot::Error or
// gets values it can use: a one-line bounded message, an API version within what it speaks, and an inspect
// answer whose config.json droot-exec reads back to the same image.
#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "artifact_config.h"
#include "engine_messages.h"
#include "error.h"
#include "fuzz_check.h"

using namespace droot;
using namespace droot::pack;
using nlohmann::json;

namespace {

void message(const std::string& body) {
  const std::string m = engine_message(body);
  FUZZ_CHECK(!m.empty());
  FUZZ_CHECK(m.size() <= 1024);
  for (unsigned char c : m) FUZZ_CHECK(c >= 0x20 && c != 0x7f);  // one line, no terminal escapes
}

void ping(const std::string& text) {
  droot::fuzz::Input in(reinterpret_cast<const uint8_t*>(text.data()), text.size());
  const std::string forced = in.until('\n');
  std::map<std::string, std::string> headers;
  for (const auto& line : in.split_rest('\n')) add_header_line(line + "\n", headers);
  for (const auto& [name, value] : headers) {
    for (char c : name) FUZZ_CHECK(!(c >= 'A' && c <= 'Z'));
    FUZZ_CHECK(value.empty() || (value.back() != '\r' && value.back() != '\n' && value.back() != ' '));
  }
  auto server = headers.find("api-version");
  std::string version;
  try {
    version = choose_api_version(server == headers.end() ? "" : server->second, forced, "fuzz");
  } catch (const Error&) {
    return;
  }
  FUZZ_CHECK(compare_api_versions(version, kOldestApiVersion) >= 0);
  if (forced.empty()) FUZZ_CHECK(compare_api_versions(version, kNewestApiVersion) <= 0);
}

void inspect(const std::string& body) {
  json j;
  try {
    j = parse_inspect_answer(body, "fuzz");
  } catch (const Error&) {
    return;
  }
  const ImageInfo info = image_info_from(j, "fuzz:latest");
  FUZZ_CHECK(info.id == j["Id"].get<std::string>());
  (void)image_size_from(j);
  const json config = image_config_from(j);
  // What droot-pack writes, droot-exec reads: the same image fields, the same Env, Cmd, User, ...
  ArtifactConfig back;
  try {
    back = parse_config_json(make_config_json(info, config, 1700000000, "droot-pack fuzz"), "config.json");
  } catch (const Error& e) {
    std::fprintf(stderr, "droot-exec refuses the config.json of an accepted inspect answer: %s\n", e.what());
    std::abort();
  }
  FUZZ_CHECK(back.image.id == info.id && back.image.ref == info.ref && back.image.created == info.created &&
             back.image.repo_digests == info.repo_digests && back.image.os == info.os &&
             back.image.architecture == info.architecture && back.source_date_epoch == 1700000000);
  const std::string env = make_drootenv(config.is_object() && config.contains("Env") ? config["Env"] : json());
  for (const auto& kv : parse_drootenv(env))
    FUZZ_CHECK(std::find(back.config.env.begin(), back.config.env.end(), kv) != back.config.env.end());
  try {
    (void)parse_rfc3339(info.created);
  } catch (const Error&) {
  }
}

void create(const std::string& body) {
  try {
    (void)parse_create_answer(body, "fuzz");
  } catch (const Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  droot::fuzz::Input in(data, size);
  static const char kAnswers[] = "mhic";
  uint8_t b = in.byte();
  char which = static_cast<char>(b);
  if (std::string_view(kAnswers).find(which) == std::string_view::npos) which = kAnswers[b % (sizeof kAnswers - 1)];
  const std::string rest = in.rest();
  switch (which) {
    case 'm': message(rest); break;
    case 'h': ping(rest); break;
    case 'i': inspect(rest); break;
    case 'c': create(rest); break;
  }
  return 0;
}
