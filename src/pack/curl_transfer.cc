#include "curl_transfer.h"

#include <algorithm>
#include <string_view>

#include "engine_messages.h"  // add_header_line
#include "error.h"
#include "signals.h"

namespace droot::pack {

void CurlFree::operator()(CURL* c) const { curl_easy_cleanup(c); }
void SlistFree::operator()(curl_slist* l) const { curl_slist_free_all(l); }

void append_header(SlistPtr& list, const std::string& header) {
  curl_slist* l = curl_slist_append(list.get(), header.c_str());
  if (!l) throw Error("cannot build the request headers (out of memory)");
  (void)list.release();  // curl_slist_append returned the same list, one line longer
  list.reset(l);
}

CurlTransfer::CurlTransfer(CURL* curl, HttpResponse& response, const Sink* sink, Limits limits,
                           std::chrono::seconds timeout, bool abortable)
    : curl_(curl), response_(response), sink_(sink), limits_(limits), timeout_(timeout), abortable_(abortable) {
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &CurlTransfer::on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, this);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &CurlTransfer::on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, this);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &CurlTransfer::on_progress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, this);
}

size_t CurlTransfer::on_header(char* data, size_t size, size_t n, void* self) {
  auto* t = static_cast<CurlTransfer*>(self);
  const size_t len = size * n;
  t->header_bytes_ += len;
  t->last_activity_ = std::chrono::steady_clock::now();
  if (t->header_bytes_ > t->limits_.max_headers) return 0;
  std::string_view line(data, len);
  // A new status line: the answer after a redirect or a 100 Continue, whose headers replace the last ones.
  if (line.rfind("HTTP/", 0) == 0) t->response_.headers.clear();
  else add_header_line(line, t->response_.headers);
  return len;
}

size_t CurlTransfer::on_body(char* data, size_t size, size_t n, void* self) {
  auto* t = static_cast<CurlTransfer*>(self);
  const size_t len = size * n;
  struct Touch {  // after the sink returns: its time is ours
    CurlTransfer* t;
    ~Touch() { t->last_activity_ = std::chrono::steady_clock::now(); }
  } touch{t};
  curl_easy_getinfo(t->curl_, CURLINFO_RESPONSE_CODE, &t->response_.status);
  std::string& body = t->response_.body;
  if (t->response_.status == 200) {
    if (t->sink_) {
      if ((*t->sink_)(data, len)) return len;
      t->sink_refused_ = true;
      return 0;
    }
    if (body.size() + len > t->limits_.max_body) {
      t->too_large_ = true;
      return 0;
    }
    body.append(data, len);
    return len;
  }
  if (body.size() < t->limits_.max_error_body) body.append(data, std::min(len, t->limits_.max_error_body - body.size()));
  return len;
}

int CurlTransfer::on_progress(void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<CurlTransfer*>(self);
  if (t->abortable_ && pending_interrupt() != 0) return 1;
  if (std::chrono::steady_clock::now() - t->last_activity_ > t->timeout_) {
    t->stalled_ = true;
    return 1;
  }
  return 0;
}

}  // namespace droot::pack
