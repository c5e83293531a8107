// Whole lines out of text that arrives in pieces (archive data blocks, read() buffers): each complete line is
// handed over as soon as its '\n' arrives, without it; only the unfinished tail is kept. Manifests and file
// lists are read this way so that memory stays one line, whatever the number of entries.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "error.h"

namespace droot {

class LineSplitter {
 public:
  // `what` names the text in the error for a line longer than `max_line` bytes (a "line" of megabytes is an
  // attempt to make the reader hold it all: lines here are a path and a few keywords).
  LineSplitter(std::string what, size_t max_line = 64 * 1024) : what_(std::move(what)), max_(max_line) {}

  // on_line(std::string_view line, size_t line_no) for every line `data` completes; line numbers from 1.
  template <class F>
  void feed(std::string_view data, F&& on_line) {
    for (size_t nl; (nl = data.find('\n')) != std::string_view::npos; data.remove_prefix(nl + 1)) {
      if (tail_.empty()) {
        on_line(data.substr(0, nl), line_no_++);
      } else {
        tail_.append(data.substr(0, nl));
        on_line(std::string_view(tail_), line_no_++);
        tail_.clear();
      }
    }
    tail_.append(data);
    if (tail_.size() > max_)
      throw Error(what_ + ": line " + std::to_string(line_no_) + " is longer than " + std::to_string(max_) + " bytes");
  }

  // The last line, when the text does not end with '\n'.
  template <class F>
  void finish(F&& on_line) {
    if (!tail_.empty()) on_line(std::string_view(tail_), line_no_++);
    tail_.clear();
  }

 private:
  std::string what_;
  size_t max_;
  std::string tail_;
  size_t line_no_ = 1;
};

}  // namespace droot
