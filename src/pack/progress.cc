#include "progress.h"

#include <cstdio>

namespace droot::pack {

std::string human_bytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

Progress::Progress(bool enabled, std::string label, uint64_t expected_bytes)
    : enabled_(enabled), label_(std::move(label)), expected_(expected_bytes),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

Progress::~Progress() {
  if (drawn_) std::fputs("\n", stderr);
}

void Progress::update(uint64_t bytes_in, uint64_t bytes_out) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < std::chrono::milliseconds(200)) return;
  last_draw_ = now;
  draw(bytes_in, bytes_out);
}

void Progress::status(const std::string& text) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_draw_ < std::chrono::milliseconds(200)) return;
  last_draw_ = now;
  std::fprintf(stderr, "\r\033[K%s: %s", label_.c_str(), text.c_str());
  drawn_ = true;
}

void Progress::draw(uint64_t bytes_in, uint64_t bytes_out) {
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double rate = secs > 0 ? static_cast<double>(bytes_in) / secs : 0;
  std::string pct;
  if (expected_ > 0 && bytes_in <= expected_) pct = " (" + std::to_string(bytes_in * 100 / expected_) + "%)";
  std::fprintf(stderr, "\r\033[K%s: %s read%s, %s/s, %s written", label_.c_str(), human_bytes(bytes_in).c_str(),
               pct.c_str(), human_bytes(static_cast<uint64_t>(rate)).c_str(), human_bytes(bytes_out).c_str());
  drawn_ = true;
}

void Progress::done() {
  if (!enabled_ || !drawn_) return;
  std::fputs("\r\033[K", stderr);
  drawn_ = false;
}

}  // namespace droot::pack
