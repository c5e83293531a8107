// droot-exec: the server side. Verifies, deploys and runs droot artifacts; links no HTTP client.
#include <cxxopts.hpp>
#include <cstdio>
#include <cstring>
#include <string>

#include "commands.h"
#include "error.h"

namespace {

constexpr const char* kUsage =
    "Usage: droot-exec COMMAND [OPTIONS]\n"
    "\n"
    "Verify, deploy and run droot artifacts made by droot-pack.\n"
    "\n"
    "Commands:\n"
    "  verify   [-p PUB]... [--signature F] ARTIFACT|-          check signature and checksums\n"
    "  deploy   [-p PUB]... [--keep N] ARTIFACT|- DEST          verify, extract, switch DEST/current\n"
    "  rollback DEST [RELEASE]                                 point DEST/current at an older release\n"
    "  list     DEST                                           show releases\n"
    "  check    DEST|ROOT                                      compare a tree with its manifest\n"
    "  run      [OPTIONS] DEST|ROOT [--] [COMMAND [ARG...]]    run the image's command in a jail\n"
    "\n"
    "Run 'droot-exec COMMAND --help' for a command's options. See droot-exec(1).\n"
    "Exit status: the command's own for run; 125 droot-exec error; 126 not executable; 127 not found;\n"
    "3 deploy of a delta whose base files DEST lacks (deploy the full artifact); check: 1 drift.\n";

}  // namespace

// No setlocale() here, on purpose: the process stays in the "C" locale, and that is what keeps file names
// byte-exact. libarchive's tar reader converts pax `path`/`linkpath` records from UTF-8 to the locale's charset:
// in "C" that fails for every non-ASCII name and it keeps the raw bytes (ARCHIVE_WARN, accepted by extract.cc);
// in a UTF-8 locale it would succeed and normalise NFD names to NFC, so the tree would not match the signed
// manifest (droot-artifact(5), "File names"; src/pack/artifact_writer_test.cc shows both). It also means no
// locale files are needed on servers.
int main(int argc, char** argv) {
  using namespace droot::exec;
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return kExitError;
  }
  std::string command = argv[1];
  try {
    if (command == "--help" || command == "-h" || command == "help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (command == "--version") {
      std::printf("droot-exec %s\n", DROOT_VERSION);
      return 0;
    }
    if (command == "verify") return cmd_verify(argc - 1, argv + 1);
    if (command == "deploy") return cmd_deploy(argc - 1, argv + 1);
    if (command == "rollback") return cmd_rollback(argc - 1, argv + 1);
    if (command == "list") return cmd_list(argc - 1, argv + 1);
    if (command == "check") return cmd_check(argc - 1, argv + 1);
    if (command == "run") return cmd_run(argc - 1, argv + 1);
    std::fprintf(stderr, "droot-exec: error: unknown command '%s' (see droot-exec --help)\n", command.c_str());
    return kExitError;
  } catch (const DeltaBaseMissing& e) {
    std::fprintf(stderr, "droot-exec: error: %s\n", e.what());
    return kExitDeltaBaseMissing;
  } catch (const cxxopts::exceptions::exception& e) {
    std::fprintf(stderr, "droot-exec: error: %s: %s (see droot-exec %s --help)\n", command.c_str(), e.what(),
                 command.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "droot-exec: error: %s\n", e.what());
  }
  return kExitError;
}
