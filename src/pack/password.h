// Key passwords: $DROOT_KEY_PASSWORD, else a prompt on the controlling terminal with echo off.
#pragma once

#include <string>

namespace droot::pack {

// `purpose` is shown in the prompt; `confirm` asks twice (keygen). Throws when there is neither a
// terminal nor the environment variable, saying how to provide one.
std::string read_password(const std::string& purpose, bool confirm);

}  // namespace droot::pack
