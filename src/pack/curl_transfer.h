// One libcurl transfer as both of droot-pack's HTTP clients make it (the Engine's, engine_client.h, and the
// registry's, registry_client.h): RAII for the handle and the header list, and the callbacks that bound what
// a hostile server can make droot-pack buffer, hand a 200 answer's body to a sink, and give up on a stall or
// an interrupt.
#pragma once

#include <curl/curl.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace droot::pack {

struct HttpResponse {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names; of the last answer after redirects
};

struct CurlFree {
  void operator()(CURL* c) const;
};
struct SlistFree {
  void operator()(curl_slist* l) const;
};
using CurlPtr = std::unique_ptr<CURL, CurlFree>;
using SlistPtr = std::unique_ptr<curl_slist, SlistFree>;

// Appends one "Name: value" line to `list`; Error when libcurl is out of memory.
void append_header(SlistPtr& list, const std::string& header);

class CurlTransfer {
 public:
  using Sink = std::function<bool(const char*, size_t)>;  // false: stop the transfer (the sink has its reason)
  struct Limits {
    size_t max_headers;     // all header lines of the transfer together
    size_t max_body;        // a 200 answer held in memory (no sink)
    size_t max_error_body;  // what is kept of any other answer, for the message; the rest is read and dropped
  };

  // Installs the callbacks on `curl` (header, write, progress). A 200 answer's body goes to `sink` when given,
  // else into response.body. `timeout`: no byte from the server for that long is a stall. `abortable`: a
  // pending SIGINT/SIGTERM ends the transfer (not for the clean-up requests that must finish).
  CurlTransfer(CURL* curl, HttpResponse& response, const Sink* sink, Limits limits, std::chrono::seconds timeout,
               bool abortable = true);
  CurlTransfer(const CurlTransfer&) = delete;
  CurlTransfer& operator=(const CurlTransfer&) = delete;

  // Why curl_easy_perform failed, when it was our doing.
  bool sink_refused() const { return sink_refused_; }
  bool too_large() const { return too_large_; }
  bool headers_too_large() const { return header_bytes_ > limits_.max_headers; }
  bool stalled() const { return stalled_; }

 private:
  static size_t on_header(char* data, size_t size, size_t n, void* self);
  static size_t on_body(char* data, size_t size, size_t n, void* self);
  static int on_progress(void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t);

  CURL* curl_;
  HttpResponse& response_;
  const Sink* sink_;
  Limits limits_;
  std::chrono::seconds timeout_;
  bool abortable_;
  bool sink_refused_ = false;
  bool too_large_ = false;
  bool stalled_ = false;
  size_t header_bytes_ = 0;
  // Last moment the server sent something or our sink finished consuming: time spent blocked writing to a
  // slow consumer (a pipe into an uploader) is ours, not the server's, and must not count as a stall.
  std::chrono::steady_clock::time_point last_activity_ = std::chrono::steady_clock::now();
};

}  // namespace droot::pack
