#include "kernel_features.h"

#include <doctest/doctest.h>
#include <errno.h>

using namespace droot::exec;

TEST_CASE("this kernel has every interface run and deploy need") {
  for (const auto* list : {&interfaces_for_run(), &interfaces_for_deploy()})
    for (const auto& i : *list) {
      errno = 0;
      CHECK_MESSAGE(i.probe() == -1, i.name);  // invalid arguments: never succeeds, never changes anything
      CHECK_MESSAGE(errno != ENOSYS, i.name);
    }
  CHECK_NOTHROW(require_kernel("run", interfaces_for_run()));
}

TEST_CASE("an old kernel gets one error naming every missing interface and the version to upgrade to") {
  const auto& run = interfaces_for_run();
  std::vector<int> errors(run.size(), EINVAL);
  CHECK(missing_interfaces_message("run", run, errors, "uname -r: 6.1.0-57-amd64").empty());
  errors.back() = ENOSYS;  // mount_setattr
  errors.front() = ENOSYS; // openat2
  std::string m = missing_interfaces_message("run", run, errors, "uname -r: 5.4.0-xx");
  CHECK(m.find("run needs Linux 5.12 or newer") == 0);
  CHECK(m.find("(uname -r: 5.4.0-xx)") != std::string::npos);
  CHECK(m.find("openat2 (Linux 5.6), mount_setattr (Linux 5.12)") != std::string::npos);
  CHECK(m.find("fsopen") == std::string::npos);
  std::vector<int> deploy_errors = {ENOSYS};
  CHECK(missing_interfaces_message("deploy", interfaces_for_deploy(), deploy_errors, "r").find("deploy needs Linux 5.6 or newer") == 0);
}

TEST_CASE("EPERM from a filter around droot-exec is told apart from a missing call") {
  const auto& run = interfaces_for_run();
  std::vector<int> errors(run.size(), EBADF);
  errors[1] = EPERM;
  std::string m = missing_interfaces_message("run", run, errors, "r");
  CHECK(m.find("refuses fsopen (Linux 5.2) with EPERM") != std::string::npos);
  CHECK(m.find("run droot-exec as root, on the host") != std::string::npos);
}
