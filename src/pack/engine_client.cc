#include "engine_client.h"

#include <curl/curl.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "curl_transfer.h"
#include "error.h"
#include "signals.h"

namespace droot::pack {
namespace {

constexpr CurlTransfer::Limits kLimits{
    64 << 10,  // headers: a hostile daemon cannot make us buffer more
    16 << 20,  // an answer held in memory: inspect of a huge image is still far below this
    64 << 10,  // of an error answer, what is kept for the message
};

bool valid_ref(const std::string& ref) {
  if (ref.empty() || ref.size() > 512) return false;
  for (unsigned char c : ref)
    if (!(std::isalnum(c) || c == '.' || c == '_' || c == '/' || c == ':' || c == '@' || c == '-')) return false;
  return ref[0] != '-' && ref.find("..") == std::string::npos;
}

}  // namespace

EngineClient::EngineClient(EngineEndpoint endpoint, std::chrono::seconds timeout)
    : endpoint_(std::move(endpoint)), timeout_(timeout) {}

EngineClient::~EngineClient() = default;

std::string EngineClient::url(const std::string& path) const {
  return endpoint_.base_url + "/v" + api_version_ + path;
}

HttpResponse EngineClient::request(const std::string& method, const std::string& path, const std::string& body,
                                   bool abortable, const std::function<bool(const char*, size_t)>* sink,
                                   const std::vector<std::string>& extra_headers) {
  CurlPtr curl(curl_easy_init());
  if (!curl) throw Error("cannot initialise libcurl");
  HttpResponse response;
  CURL* c = curl.get();
  CurlTransfer t(c, response, sink, kLimits, timeout_, abortable);
  char errbuf[CURL_ERROR_SIZE] = {};
  SlistPtr headers;
  std::string full_url = path == "/_ping" ? endpoint_.base_url + path : url(path);
  curl_easy_setopt(c, CURLOPT_URL, full_url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "droot-pack/" DROOT_VERSION);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
  if (!endpoint_.unix_socket.empty()) curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, endpoint_.unix_socket.c_str());
  if (endpoint_.tls) {
    curl_easy_setopt(c, CURLOPT_CAINFO, endpoint_.ca_file.c_str());
    curl_easy_setopt(c, CURLOPT_SSLCERT, endpoint_.cert_file.c_str());
    curl_easy_setopt(c, CURLOPT_SSLKEY, endpoint_.key_file.c_str());
  }
  for (const auto& h : extra_headers) append_header(headers, h);
  if (method == "POST") append_header(headers, "Content-Type: application/json");
  if (headers) curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  if (method == "POST") {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  } else if (method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  CURLcode rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  if (rc == CURLE_OK) return response;

  if (abortable && pending_interrupt()) throw Interrupted(pending_interrupt());
  if (t.sink_refused()) throw Error("writing the artifact failed while exporting");
  if (t.too_large() || t.headers_too_large()) throw Error("the Engine at " + endpoint_.display + " sent an oversized answer to " + method + " " + path);
  long os_errno = 0;
  curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno);
  std::string detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
  // libcurl refuses a single header line above its own limit (100 KiB) before our header callback sees it:
  // before 8.6 as "Out of memory", since then as CURLE_TOO_LARGE.
  bool curl_too_large = rc == CURLE_OUT_OF_MEMORY;
#if LIBCURL_VERSION_NUM >= 0x080600
  curl_too_large = curl_too_large || rc == CURLE_TOO_LARGE;
#endif
  if (curl_too_large)
    throw Error("the Engine at " + endpoint_.display + " sent an oversized answer to " + method + " " + path +
                " (libcurl: " + detail + ")");
  if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST) {
    if (os_errno != 0) detail = "connect: " + errno_text(static_cast<int>(os_errno));
    if (os_errno == EACCES)
      throw Error("permission denied on the Docker socket " + endpoint_.unix_socket +
                  ": run droot-pack as root or as a member of the socket's group (usually 'docker')");
    throw Error("cannot connect to the Docker Engine at " + endpoint_.display + " (" + detail +
                "): is dockerd running? Set DOCKER_HOST or -H to where it listens");
  }
  if (t.stalled() || rc == CURLE_OPERATION_TIMEDOUT)
    throw Error("the Docker Engine at " + endpoint_.display + " stopped answering " + method + " " + path + " for " +
                std::to_string(timeout_.count()) + "s (" + (t.stalled() ? "nothing received" : detail) +
                "; raise --timeout if the daemon is just slow)");
  if (rc == CURLE_PARTIAL_FILE || rc == CURLE_GOT_NOTHING || rc == CURLE_RECV_ERROR)
    throw Error("the Docker Engine at " + endpoint_.display + " closed the connection in the middle of its answer to " +
                method + " " + path + " (" + detail + "): did dockerd stop or restart?");
  throw Error(method + " " + path + " on the Docker Engine at " + endpoint_.display + " failed: " + detail);
}

void EngineClient::throw_http(const std::string& what, const HttpResponse& r) const {
  throw Error(what + ": the Engine at " + endpoint_.display + " answered " + std::to_string(r.status) + ": " +
              engine_message(r.body));
}

void EngineClient::negotiate(const std::string& forced_version) {
  HttpResponse r = request("GET", "/_ping", "", true);
  if (r.status != 200) throw_http("ping", r);
  auto server = r.headers.find("api-version");
  api_version_ = choose_api_version(server == r.headers.end() ? "" : server->second, forced_version, endpoint_.display);
}

nlohmann::json EngineClient::inspect_image(const std::string& ref) {
  if (!valid_ref(ref))
    throw Error("'" + ref + "' is not an image reference (expected name[:tag], name@digest or an image id)");
  HttpResponse r = request("GET", "/images/" + ref + "/json", "", true);
  if (r.status == 404)
    throw Error("image " + ref + " not found on the Engine at " + endpoint_.display + " (build or pull it first: docker pull " +
                ref + ")");
  if (r.status != 200) throw_http("inspect image " + ref, r);
  return parse_inspect_answer(r.body, "inspect image " + ref + ": the Engine at " + endpoint_.display);
}

std::string EngineClient::create_container(const std::string& image_id, const std::map<std::string, std::string>& labels,
                                           const std::string& platform) {
  // Entrypoint and Cmd are overridden: an image with neither is refused ("No command specified") and the
  // container is never started anyway, so no shell or binary in the image is needed.
  nlohmann::json body = {{"Image", image_id},
                         {"Entrypoint", {"/droot-never-started"}},
                         {"Cmd", nlohmann::json::array()},
                         {"Labels", labels},
                         {"NetworkDisabled", true},
                         {"HostConfig", {{"NetworkMode", "none"}}}};
  // The platform is a query parameter; "os/arch[/variant]" needs only its slashes escaped.
  std::string query;
  if (!platform.empty()) {
    query = "?platform=";
    for (char c : platform) query += c == '/' ? std::string("%2F") : std::string(1, c);
  }
  // Not abortable: a SIGINT that cut this request short would leave the container the Engine goes on to make,
  // with an id droot-pack never learned (seen on a loaded machine). The answer comes in milliseconds (--timeout
  // bounds a stall); the interrupt then ends the export, and the caller removes the container.
  HttpResponse r = request("POST", "/containers/create" + query, body.dump(), false);
  // 404 here is not "never existed" (inspect just found it) but "removed since": say that, not "not found".
  if (r.status == 404 && !platform.empty() && engine_message(r.body).find("platform") != std::string::npos)
    throw Error("image " + image_id + " is not for --platform " + platform + ": the Engine answered: " +
                engine_message(r.body) + "; pull that platform's image first (docker pull --platform " + platform +
                "); nothing was written");
  if (r.status == 404)
    throw Error("image " + image_id + " was removed from the Engine at " + endpoint_.display +
                " after droot-pack inspected it and before its container could be created (docker rmi by someone "
                "else?); the Engine answered 404: " + engine_message(r.body) + "; nothing was written");
  if (r.status != 201 && r.status != 200) throw_http("create a container from image " + image_id, r);
  return parse_create_answer(r.body, "create container: the Engine at " + endpoint_.display);
}

std::string EngineClient::remove_container(const std::string& id) noexcept {
  try {
    // v=1 removes the anonymous volumes that VOLUME lines of the image created with the container.
    HttpResponse r = request("DELETE", "/containers/" + id + "?force=1&v=1", "", false);
    if (r.status == 204 || r.status == 200 || r.status == 404) return "";
    return "the Engine answered " + std::to_string(r.status) + ": " + engine_message(r.body);
  } catch (const std::exception& e) {
    return e.what();
  }
}

HttpResponse EngineClient::call(const std::string& method, const std::string& path,
                                const std::vector<std::string>& headers,
                                const std::function<bool(const char*, size_t)>* sink) {
  return request(method, path, "", true, sink, headers);
}

void EngineClient::export_container(const std::string& id, const std::function<bool(const char*, size_t)>& sink) {
  HttpResponse r = request("GET", "/containers/" + id + "/export", "", true, &sink);
  // The container was made a moment ago by us; 404 means someone removed it before the export began.
  if (r.status == 404)
    throw Error("container " + id.substr(0, 12) + " was removed before its export began (docker rm by someone "
                "else?); the Engine at " + endpoint_.display + " answered 404: " + engine_message(r.body));
  if (r.status != 200) throw_http("export container " + id.substr(0, 12), r);
}

}  // namespace droot::pack
