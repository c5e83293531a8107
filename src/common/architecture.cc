#include "architecture.h"

#include <sys/utsname.h>

namespace droot {

std::string oci_architecture(const std::string& m) {
  if (m == "x86_64" || m == "amd64") return "amd64";
  if (m == "aarch64" || m == "arm64" || m == "armv8l") return "arm64";
  if (m.rfind("armv", 0) == 0 || m == "arm") return "arm";
  if (m == "i386" || m == "i486" || m == "i586" || m == "i686") return "386";
  if (m == "ppc64le") return "ppc64le";
  if (m == "s390x") return "s390x";
  if (m == "riscv64") return "riscv64";
  if (m == "mips64") return "mips64";
  if (m == "loongarch64") return "loong64";
  return m;
}

std::string host_architecture() {
  utsname u{};
  if (::uname(&u) != 0) return "";
  return oci_architecture(u.machine);
}

}  // namespace droot
