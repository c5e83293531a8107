// One self-rewriting status line on a terminal (bytes, rate, or a caller's text); nothing at all when stderr is not a TTY.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace droot::pack {

class Progress {
 public:
  Progress(bool enabled, std::string label, uint64_t expected_bytes);
  ~Progress();
  void update(uint64_t bytes_in, uint64_t bytes_out);
  // The same line with a text of the caller's ("2/3 layers, 1.2 MiB of 3.4 MiB"), at most 5 times a second.
  void status(const std::string& text);
  void done();

 private:
  void draw(uint64_t bytes_in, uint64_t bytes_out);

  bool enabled_;
  bool drawn_ = false;
  std::string label_;
  uint64_t expected_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

std::string human_bytes(uint64_t bytes);

}  // namespace droot::pack
