// What droot-pack reads from the Docker Engine's answers (bodies, headers), as pure functions of the bytes
// received: engine_client.cc does the transport, these do the parsing, so tests/fuzz/engine_fuzz.cc can feed
// them answers no daemon would send. A hostile or broken Engine gets an Error that names it, never a crash
// or a library exception.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "artifact_config.h"

namespace droot::pack {

// The newest API version droot-pack was written against; older daemons are spoken to in their own version.
constexpr const char* kNewestApiVersion = "1.45";
constexpr const char* kOldestApiVersion = "1.24";

// Compares "1.41" < "1.45" numerically.
int compare_api_versions(const std::string& a, const std::string& b);
// The Engine's {"message": …} if the body is such JSON, else the body itself: one printable line (control
// characters become spaces), at most ~1000 bytes.
std::string engine_message(const std::string& body);

// One header line as libcurl hands it ("Name: value\r\n"): records lower-case name → value without the
// surrounding blanks; lines without a colon (the status line, the blank end line) are ignored.
void add_header_line(std::string_view line, std::map<std::string, std::string>& headers);

// The API version to speak: `forced` ($DOCKER_API_VERSION) if given, else the lower of the daemon's (its
// Api-Version header, "" if it sent none: then the oldest we support) and ours. Throws Error if the result is
// older than kOldestApiVersion; `display` names the Engine.
std::string choose_api_version(const std::string& server, const std::string& forced, const std::string& display);

// GET /images/{ref}/json: a JSON object with a string Id, whose fields droot-pack reads have the types it
// reads them as, and whose Config droot-exec will accept back from config.json. Else Error("<what> sent
// malformed JSON…").
nlohmann::json parse_inspect_answer(const std::string& body, const std::string& what);
// POST /containers/create: the new container's Id, or Error("<what> sent malformed JSON").
std::string parse_create_answer(const std::string& body, const std::string& what);

// From an answer parse_inspect_answer accepted: what config.json records about the image.
ImageInfo image_info_from(const nlohmann::json& inspect, const std::string& ref);
// Its .Config (null when absent) and .Size (0 when absent).
nlohmann::json image_config_from(const nlohmann::json& inspect);
uint64_t image_size_from(const nlohmann::json& inspect);

}  // namespace droot::pack
