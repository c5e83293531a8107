#include "registry_client.h"

#include <arpa/inet.h>
#include <curl/curl.h>

#include <cctype>
#include <memory>
#include <nlohmann/json.hpp>

#include "base64.h"
#include "curl_transfer.h"
#include "error.h"
#include "signals.h"

namespace droot::pack {
namespace {

constexpr size_t kMaxHeaders = 256 << 10;   // a hostile registry cannot make us buffer more
constexpr size_t kMaxErrorBody = 64 << 10;  // of an error answer, what is kept for the message
constexpr long kMaxRedirects = 5;

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string escape(CURL* c, const std::string& s) {
  char* e = curl_easy_escape(c, s.c_str(), static_cast<int>(s.size()));
  if (!e) throw Error("cannot build a URL (out of memory)");
  std::string out = e;
  curl_free(e);
  return out;
}

}  // namespace

std::vector<AuthChallenge> parse_www_authenticate(const std::string& h) {
  std::vector<AuthChallenge> out;
  size_t i = 0;
  const size_t n = h.size();
  auto skip_ws = [&] {
    while (i < n && (h[i] == ' ' || h[i] == '\t')) ++i;
  };
  auto token = [&] {
    size_t start = i;
    while (i < n && h[i] != ' ' && h[i] != '\t' && h[i] != ',' && h[i] != '=' && h[i] != '"') ++i;
    return h.substr(start, i - start);
  };
  while (i < n) {
    while (i < n && (h[i] == ' ' || h[i] == '\t' || h[i] == ',')) ++i;
    if (i >= n) break;
    std::string t = token();
    if (t.empty()) {  // a stray '=' or '"': skip to the next comma
      while (i < n && h[i] != ',') ++i;
      continue;
    }
    skip_ws();
    if (i < n && h[i] == '=') {
      ++i;
      skip_ws();
      std::string value;
      if (i < n && h[i] == '"') {
        ++i;
        while (i < n && h[i] != '"') {
          if (h[i] == '\\' && i + 1 < n) ++i;
          value += h[i++];
        }
        if (i < n) ++i;  // the closing quote
      } else {
        size_t start = i;
        while (i < n && h[i] != ',' && h[i] != ' ' && h[i] != '\t') ++i;
        value = h.substr(start, i - start);
      }
      if (!out.empty()) out.back().params[lower(t)] = value;
    } else {
      out.push_back(AuthChallenge{lower(t), {}});
    }
  }
  return out;
}

bool is_loopback_registry(const std::string& host_port) {
  std::string host = host_port;
  if (!host.empty() && host[0] == '[') {
    host = host.substr(1, host.find(']') == std::string::npos ? std::string::npos : host.find(']') - 1);
  } else if (auto colon = host.rfind(':'); colon != std::string::npos) {
    host = host.substr(0, colon);
  }
  host = lower(host);
  if (host == "localhost" || host == "::1") return true;
  in_addr a{};
  return inet_pton(AF_INET, host.c_str(), &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

RegistryEndpoint registry_endpoint(const ImageRef& ref, bool plain_http) {
  RegistryEndpoint e;
  e.registry = ref.registry;
  e.host = ref.registry == kDockerHubDomain ? "registry-1.docker.io" : ref.registry;
  e.plain_http = plain_http || is_loopback_registry(e.host);
  return e;
}

std::string registry_message(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  std::string out;
  if (j.is_object() && j.contains("errors") && j["errors"].is_array())
    for (const auto& e : j["errors"]) {
      if (!e.is_object()) continue;
      std::string code = e.value("code", std::string()), message = e.value("message", std::string());
      if (e.contains("code") && !e["code"].is_string()) code.clear();
      std::string one = code.empty() ? message : message.empty() ? code : code + ": " + message;
      if (!one.empty()) out += (out.empty() ? "" : "; ") + one;
    }
  if (out.empty()) {
    out = body.substr(0, 200);
    for (auto& c : out)
      if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return out.empty() ? "(no message)" : out.substr(0, 500);
}

RegistryClient::RegistryClient(ImageRef ref, RegistryEndpoint endpoint, std::string docker_config,
                               std::chrono::seconds timeout, std::string spec)
    : ref_(std::move(ref)), endpoint_(std::move(endpoint)), docker_config_(std::move(docker_config)),
      timeout_(timeout), spec_(std::move(spec)) {}

std::string RegistryClient::login_hint() const {
  return ref_.registry == kDockerHubDomain ? "docker login" : "docker login " + ref_.registry;
}

std::string RegistryClient::where() const { return spec_ + ": the registry " + endpoint_.registry; }

const std::optional<RegistryCredentials>& RegistryClient::credentials() {
  if (!credentials_loaded_) {
    credentials_loaded_ = true;
    if (!docker_config_.empty()) credentials_ = load_credentials(docker_config_, ref_.auth_server());
  }
  return credentials_;
}

HttpResponse RegistryClient::perform(const std::string& url, std::vector<std::string> headers, const Sink* sink,
                                     size_t max_body, const std::string& what, bool with_auth,
                                     const std::string& post_body) {
  throw_if_interrupted();
  CurlPtr curl(curl_easy_init());
  if (!curl) throw Error("cannot initialise libcurl");
  HttpResponse response;
  CURL* c = curl.get();
  CurlTransfer t(c, response, sink, {kMaxHeaders, max_body, kMaxErrorBody}, timeout_);
  char errbuf[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "droot-pack/" DROOT_VERSION);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
  curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 256L << 10);  // layers: fewer, larger writes
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  // Blobs are often redirected to a CDN or an object store; https stays https. libcurl drops a custom
  // Authorization header when a redirect leaves the host (CURLOPT_UNRESTRICTED_AUTH is off).
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, kMaxRedirects);
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, endpoint_.plain_http ? "http,https" : "https");
  if (with_auth && !authorization_.empty()) headers.push_back("Authorization: " + authorization_);
  SlistPtr list;
  for (const auto& h : headers) append_header(list, h);
  if (list) curl_easy_setopt(c, CURLOPT_HTTPHEADER, list.get());
  if (!post_body.empty()) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, post_body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(post_body.size()));
  }
  CURLcode rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  if (rc == CURLE_OK) return response;

  if (pending_interrupt()) throw Interrupted(pending_interrupt());
  if (t.sink_refused()) return response;  // the sink's owner knows why, and says so
  const std::string tail = "; nothing was written";
  if (t.too_large() || t.headers_too_large())
    throw Error(where() + " sent more than droot-pack accepts for " + what + " (" +
                std::to_string(t.headers_too_large() ? kMaxHeaders : max_body) + " bytes" +
                (t.headers_too_large() ? " of headers" : "") + ")" + tail);
  std::string detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
  switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
      throw Error(where() + ": cannot resolve its host name (" + detail + "): is the reference right?" + tail);
    case CURLE_COULDNT_CONNECT:
      throw Error(where() + ": cannot connect to " + endpoint_.base_url() + " (" + detail +
                  "): is the registry running, is host:port right?" + tail);
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
      throw Error(where() + ": TLS with " + endpoint_.host + " failed (" + detail +
                  "); a registry that speaks plain http needs --plain-http" + tail);
    case CURLE_TOO_MANY_REDIRECTS:
      throw Error(where() + " redirected the request for " + what + " more than " + std::to_string(kMaxRedirects) +
                  " times (a redirect loop?)" + tail);
    case CURLE_UNSUPPORTED_PROTOCOL:
      throw Error(where() + " redirected the request for " + what + " to a URL droot-pack does not follow (" + detail +
                  "; from an https registry only https)" + tail);
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
      throw Error(where() + " closed the connection in the middle of " + what + " (" + detail + ")" + tail);
    default: break;
  }
  if (t.stalled() || rc == CURLE_OPERATION_TIMEDOUT)
    throw Error(where() + " sent nothing for " + std::to_string(timeout_.count()) + "s while droot-pack fetched " + what +
                " (raise --timeout if it is just slow)" + tail);
  if (rc == CURLE_OUT_OF_MEMORY)  // libcurl's own limit on one header line (below 8.6)
    throw Error(where() + " sent an oversized header line with " + what + " (" + detail + ")" + tail);
  throw Error(where() + ": GET " + what + " failed: " + detail + tail);
}

[[noreturn]] void RegistryClient::throw_unauthorized(const std::string& what, const HttpResponse& r) {
  const auto& creds = credentials();
  if (creds)
    throw Error(where() + " refused the credentials for " + ref_.registry + " from " + creds->source + " (" + what +
                ": " + registry_message(r.body) + "): log in again with `" + login_hint() +
                "`, or check that this account may pull " + ref_.repository + "; nothing was written");
  throw Error(where() + " requires authentication for " + what + " (" + registry_message(r.body) +
              ") and there are no credentials for " + ref_.auth_server() + " in " +
              (docker_config_.empty() ? std::string("the docker CLI's config.json") : docker_config_) + ": run `" +
              login_hint() + "` (DOCKER_CONFIG chooses the directory droot-pack reads); nothing was written");
}

void RegistryClient::authenticate(const HttpResponse& challenge, const std::string& what) {
  auto h = challenge.headers.find("www-authenticate");
  std::vector<AuthChallenge> all = h == challenge.headers.end() ? std::vector<AuthChallenge>{} : parse_www_authenticate(h->second);
  const AuthChallenge* bearer = nullptr;
  const AuthChallenge* basic = nullptr;
  for (const auto& c : all) {
    if (c.scheme == "bearer" && !bearer) bearer = &c;
    if (c.scheme == "basic" && !basic) basic = &c;
  }
  if (!bearer && !basic)
    throw Error(where() + " answered 401 to the request for " + what + " without a Bearer or Basic challenge (WWW-Authenticate: " +
                (h == challenge.headers.end() ? std::string("none") : h->second.substr(0, 200)) + "); nothing was written");
  const auto& creds = credentials();
  if (!bearer) {
    if (!creds) throw_unauthorized(what, challenge);
    if (creds->username.empty() && creds->password.empty())
      throw Error(where() + " asks for a user name and password, but the credentials for " + ref_.registry + " from " +
                  creds->source + " are an identity token: run `" + login_hint() + "` with a password; nothing was written");
    authorization_ = "Basic " + base64_encode(creds->username + ":" + creds->password);
    return;
  }

  auto param = [&](const char* name) {
    auto it = bearer->params.find(name);
    return it == bearer->params.end() ? std::string() : it->second;
  };
  const std::string realm = param("realm");
  if (realm.rfind("https://", 0) != 0 && !(endpoint_.plain_http && realm.rfind("http://", 0) == 0))
    throw Error(where() + " sends droot-pack for a token to '" + realm.substr(0, 200) + "', which is not an " +
                (endpoint_.plain_http ? "http(s)" : "https") + " URL; nothing was written");
  CurlPtr esc(curl_easy_init());
  if (!esc) throw Error("cannot initialise libcurl");
  std::string query;
  if (std::string service = param("service"); !service.empty()) query += "service=" + escape(esc.get(), service);
  std::string scope = param("scope");
  if (scope.empty()) scope = "repository:" + ref_.repository + ":pull";
  for (size_t start = 0; start < scope.size();) {  // several scopes, space-separated: one parameter each
    size_t end = scope.find(' ', start);
    std::string one = scope.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!one.empty()) {
      if (!query.empty()) query += '&';
      query += "scope=";
      query += escape(esc.get(), one);
    }
    start = end == std::string::npos ? scope.size() : end + 1;
  }
  std::vector<std::string> headers;
  std::string url = realm, post;
  if (creds && !creds->identity_token.empty()) {
    // An OAuth2 refresh token (docker login to Docker Hub with SSO): POSTed, as the docker CLI does.
    post = query + "&grant_type=refresh_token&client_id=droot-pack&refresh_token=" + escape(esc.get(), creds->identity_token);
    headers.push_back("Content-Type: application/x-www-form-urlencoded");
  } else {
    url += (realm.find('?') == std::string::npos ? "?" : "&") + query;
    if (creds) headers.push_back("Authorization: Basic " + base64_encode(creds->username + ":" + creds->password));
  }
  const std::string token_what = "a token from " + realm.substr(0, 200);
  HttpResponse r = perform(url, headers, nullptr, 1 << 20, token_what, false, post);
  if (r.status == 401 || r.status == 403) {
    if (creds)
      throw Error(where() + ": its token server " + realm.substr(0, 200) + " refused the credentials for " + ref_.registry +
                  " from " + creds->source + " (" + std::to_string(r.status) + ": " + registry_message(r.body) +
                  "): log in again with `" + login_hint() + "`; nothing was written");
    throw_unauthorized(what, r);
  }
  if (r.status != 200)
    throw Error(where() + ": its token server " + realm.substr(0, 200) + " answered " + std::to_string(r.status) + ": " +
                registry_message(r.body) + "; nothing was written");
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  std::string token;
  if (j.is_object()) {
    for (const char* field : {"token", "access_token"})
      if (auto it = j.find(field); token.empty() && it != j.end() && it->is_string()) token = it->get<std::string>();
  }
  if (token.empty() || token.find_first_of("\r\n") != std::string::npos)
    throw Error(where() + ": its token server " + realm.substr(0, 200) + " answered without a usable token; nothing was written");
  authorization_ = "Bearer " + token;
}

HttpResponse RegistryClient::get(const std::string& path, const std::vector<std::string>& headers, const Sink* sink,
                                 size_t max_body, const std::string& what) {
  const std::string url = endpoint_.base_url() + "/v2/" + ref_.repository + "/" + path;
  HttpResponse r = perform(url, headers, sink, max_body, what, true);
  if (r.status != 401) return r;
  // One authentication per request, then one retry: a token that expired during a long pull is renewed,
  // a registry that keeps answering 401 is not asked again.
  authenticate(r, what);
  r = perform(url, headers, sink, max_body, what, true);
  if (r.status == 401) throw_unauthorized(what, r);
  return r;
}

}  // namespace droot::pack
