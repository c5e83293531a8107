// A Docker Engine API client on libcurl: just the calls droot-pack needs. Every error names the endpoint and
// carries the Engine's own {"message": …}.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "curl_transfer.h"  // HttpResponse
#include "docker_host.h"
#include "engine_messages.h"

namespace droot::pack {

class EngineClient {
 public:
  EngineClient(EngineEndpoint endpoint, std::chrono::seconds timeout);
  ~EngineClient();
  EngineClient(const EngineClient&) = delete;
  EngineClient& operator=(const EngineClient&) = delete;

  // GET /_ping; picks the API version (DOCKER_API_VERSION if given, else the lower of the daemon's and ours).
  void negotiate(const std::string& forced_version);
  const std::string& api_version() const { return api_version_; }
  const EngineEndpoint& endpoint() const { return endpoint_; }

  nlohmann::json inspect_image(const std::string& ref);
  // Creates a container that is never started; returns its id. `platform` ("os/arch[/variant]", API >= 1.41)
  // asks the Engine for that platform's image: an error if the image is for another one.
  std::string create_container(const std::string& image_id, const std::map<std::string, std::string>& labels,
                               const std::string& platform = "");
  // Best effort, never throws, ignores interrupts: used on every exit path. Returns "" or the error.
  std::string remove_container(const std::string& id) noexcept;
  // GET /containers/{id}/export; `sink` receives the tar stream; returning false aborts the transfer.
  // Throws on transport errors and non-200 answers.
  void export_container(const std::string& id, const std::function<bool(const char*, size_t)>& sink);
  // A raw call, for the API calls kept in files of their own (image_pull.cc): `headers` are extra request
  // headers ("Name: value"); a 200 answer's body goes to `sink` if given (which must not refuse it).
  // Transport errors throw; the caller judges the status.
  HttpResponse call(const std::string& method, const std::string& path, const std::vector<std::string>& headers,
                    const std::function<bool(const char*, size_t)>* sink = nullptr);

 private:
  HttpResponse request(const std::string& method, const std::string& path, const std::string& body, bool abortable,
                       const std::function<bool(const char*, size_t)>* sink = nullptr,
                       const std::vector<std::string>& extra_headers = {});
  std::string url(const std::string& path) const;
  [[noreturn]] void throw_http(const std::string& what, const HttpResponse& r) const;

  EngineEndpoint endpoint_;
  std::chrono::seconds timeout_;
  std::string api_version_ = kOldestApiVersion;
};

}  // namespace droot::pack
