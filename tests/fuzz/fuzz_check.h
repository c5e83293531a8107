// Shared by the fuzz targets: checks that hold whatever the input, active in every build type (not assert(),
// which NDEBUG removes), and a small reader that splits one fuzz input into several values.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

// A property of the parser that the input broke: report and abort, which libFuzzer records as a crash with
// its reproducer.
#define FUZZ_CHECK(cond)                                                                        \
  do {                                                                                          \
    if (!(cond)) {                                                                              \
      std::fprintf(stderr, "fuzz property failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                             \
    }                                                                                           \
  } while (0)

namespace droot::fuzz {

// Consumes a fuzz input front to back; running out yields zeros and empty strings, never an error.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : rest_(reinterpret_cast<const char*>(data), size) {}
  uint8_t byte() {
    if (rest_.empty()) return 0;
    uint8_t b = static_cast<uint8_t>(rest_[0]);
    rest_.remove_prefix(1);
    return b;
  }
  // Up to the next `sep` (consumed), or everything left.
  std::string until(char sep) {
    size_t at = rest_.find(sep);
    std::string out(rest_.substr(0, at));
    rest_.remove_prefix(at == std::string_view::npos ? rest_.size() : at + 1);
    return out;
  }
  std::vector<std::string> split_rest(char sep) {
    std::vector<std::string> out;
    while (!rest_.empty()) out.push_back(until(sep));
    return out;
  }
  std::string rest() {
    std::string out(rest_);
    rest_ = {};
    return out;
  }
  bool empty() const { return rest_.empty(); }

 private:
  std::string_view rest_;
};

}  // namespace droot::fuzz
