// The Engine's export as a readable fd: a thread runs the HTTP transfer into the pipe of a TreeStream.
#pragma once

#include <string>

#include "engine_client.h"
#include "tree_stream.h"

namespace droot::pack {

class ExportStream : public TreeStream {
 public:
  // `client` must outlive the stream.
  ExportStream(EngineClient& client, const std::string& container_id);
};

}  // namespace droot::pack
