// droot-pack: turns a Docker image into a signed, checksummed, reproducible droot artifact.
#include <curl/curl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cxxopts.hpp>
#include <nlohmann/json.hpp>

#include "docker_host.h"
#include "artifact_config.h"
#include "engine_client.h"
#include "error.h"
#include "image_pull.h"
#include "image_ref.h"
#include "image_source.h"
#include "keygen.h"
#include "minisign.h"
#include "packer.h"
#include "platform.h"
#include "password.h"
#include "progress.h"
#include "registry_auth.h"
#include "signals.h"

namespace {

// What an interrupt leaves to clean up: only an Engine source has a container to remove (the others leave
// nothing but temporary files, removed on the way out).
bool engine_source = false;

using namespace droot;
using namespace droot::pack;

constexpr int kExitError = 125;
constexpr int kMinLongWindowLog = 10, kMaxLongWindowLog = 27;  // ZSTD_WINDOWLOG_MIN; zstd -d's default limit

cxxopts::Options make_options() {
  cxxopts::Options opts("droot-pack", "Pack a Docker image into a signed droot artifact (droot-artifact(5)).");
  opts.custom_help("[OPTIONS]");
  opts.positional_help("IMAGE | docker-archive:PATH | oci-archive:PATH[:REF] | oci:DIR[:REF] | docker://REF\n       droot-pack keygen -p PUB -s SEC [--no-password] [--force]");
  opts.add_options()
      ("o,output", "artifact path (also writes PATH.minisig and PATH.sha256); - for stdout", cxxopts::value<std::string>(), "PATH")
      ("s,secret-key", "minisign secret key (default $DROOT_SECRET_KEY); password from $DROOT_KEY_PASSWORD or the terminal",
       cxxopts::value<std::string>(), "SEC")
      ("unsigned", "pack without a signature (servers then need --insecure-unsigned)")
      ("c,compression", "zstd, gzip or none", cxxopts::value<std::string>()->default_value("zstd"), "ALG")
      ("l,level", "compression level (zstd 1-19, gzip 1-9)", cxxopts::value<int>(), "N")
      ("T,threads", "zstd worker threads, 0 = one per core", cxxopts::value<int>()->default_value("0"), "N")
      ("long", "zstd long-distance matching over a 2^N-byte window (N 10-27, default 27 = 128 MiB): smaller "
       "artifacts when an image repeats itself far apart, for about 2^N bytes more memory when packing and on "
       "every server that deploys the artifact", cxxopts::value<int>()->implicit_value("27"), "N")
      ("base", "write a delta artifact: leave out the regular files this earlier artifact already holds "
       "(same content, size, mode, owner and mtime); repeatable. A server deploys it only if it already holds "
       "the files left out, e.g. from a release of a base (droot-artifact(5), Delta artifacts)", cxxopts::value<std::string>(), "OLD_ARTIFACT")
      ("pull", "pull IMAGE from its registry first: --pull (=missing) only if the Engine does not have it, "
       "--pull=always every time; credentials as the docker CLI keeps them ($DOCKER_CONFIG or ~/.docker/config.json)",
       cxxopts::value<std::string>()->implicit_value("missing"), "WHEN")
      ("platform", "OS/ARCH[/VARIANT] (e.g. linux/arm64): the image of a multi-platform OCI index to pack, and "
       "the platform asked of the Engine (API 1.41+); default: the image's own, or this host's for an index",
       cxxopts::value<std::string>(), "PLATFORM")
      ("plain-http", "docker://: talk plain http to the registry (no TLS); loopback registries (127.0.0.0/8, ::1, "
       "localhost) always are")
      ("H,host", "Engine endpoint (default $DOCKER_HOST, else unix:///var/run/docker.sock)", cxxopts::value<std::string>(), "URL")
      ("source-date-epoch", "clamp file times to this (default $SOURCE_DATE_EPOCH, else the image's Created time)",
       cxxopts::value<int64_t>(), "N")
      ("timeout", "seconds without progress before giving up on the Engine (or the registry of a docker:// source)", cxxopts::value<int>()->default_value("120"), "S")
      ("json", "print a one-line JSON summary on stderr")
      ("q,quiet", "print nothing but errors")
      ("version", "print the version")
      ("h,help", "show this help")
      ("image", "", cxxopts::value<std::string>());
  opts.parse_positional({"image"});
  return opts;
}

std::optional<minisign::SecretKey> load_key(const cxxopts::ParseResult& args) {
  std::string path;
  if (args.count("secret-key")) path = args["secret-key"].as<std::string>();
  else if (const char* env = std::getenv("DROOT_SECRET_KEY"); env && *env) path = env;
  if (args.count("unsigned")) {
    if (!path.empty()) throw Error("--unsigned and a secret key (" + path + ") contradict each other");
    return std::nullopt;
  }
  if (path.empty())
    throw Error("no secret key: pass -s SEC (or set DROOT_SECRET_KEY); create one with 'droot-pack keygen', or say "
                "--unsigned to pack without a signature");
  return minisign::load_secret_key(path, [&] { return read_password("secret key " + path, false); });
}

int pack_main(int argc, char** argv) {
  auto opts = make_options();
  auto args = opts.parse(argc, argv);
  if (args.count("help")) {
    std::fputs(opts.help().c_str(), stdout);
    std::fputs("\ndocker://[REGISTRY/]REPOSITORY[:TAG|@DIGEST] pulls from the registry itself (no Engine), with the docker\n"
               "CLI's credentials ($DOCKER_CONFIG or ~/.docker/config.json), into a private directory under $TMPDIR\n"
               "that needs room for the image's compressed size and is removed when droot-pack exits.\n", stdout);
    std::fputs("\nExit status: 0 packed; 125 error; 130/143 interrupted (the container is removed in every case).\n"
               "See droot-pack(1) and droot-artifact(5).\n", stdout);
    return 0;
  }
  if (args.count("version")) {
    std::printf("droot-pack %s (artifact format %d, deltas %d)\n", DROOT_VERSION, kArtifactVersion, kDeltaArtifactVersion);
    return 0;
  }
  if (!args.count("image")) throw Error("missing IMAGE (see droot-pack --help)");
  if (args.unmatched().size() > 0) throw Error("unexpected argument '" + args.unmatched()[0] + "'");

  PackOptions po;
  po.image = args["image"].as<std::string>();
  po.output = args.count("output") ? args["output"].as<std::string>() : "-";
  if (po.output == "-" && ::isatty(STDOUT_FILENO))
    throw Error("refusing to write an artifact to a terminal: use -o PATH or redirect stdout");
  // Every --base in order (as<>() would give only the last; a vector value would split paths at commas).
  for (const auto& kv : args.arguments())
    if (kv.key() == "base") {
      if (kv.value().empty()) throw Error("--base needs a path to an earlier artifact");
      po.bases.push_back(kv.value());
    }
  po.compression.compression = parse_compression(args["compression"].as<std::string>());
  if (po.output == "-" && po.compression.compression == Compression::none && !args.count("unsigned"))
    throw Error("an uncompressed artifact carries its signature only in PATH.minisig, which stdout has no room for: "
                "use -o PATH, or zstd/gzip (their signature travels inside the stream)");
  if (args.count("level")) {
    int level = args["level"].as<int>();
    int max = po.compression.compression == Compression::gzip ? 9 : 19;
    if (po.compression.compression == Compression::none) throw Error("--level makes no sense with --compression none");
    if (level < 1 || level > max) throw Error("--level " + std::to_string(level) + " is out of range 1-" + std::to_string(max));
    po.compression.level = level;
  }
  if (args.count("long")) {
    int log = args["long"].as<int>();
    if (po.compression.compression != Compression::zstd) throw Error("--long applies to zstd compression only");
    // 27 is what `zstd -d`, libarchive and droot-exec decompress without being told to allow more memory.
    if (log < kMinLongWindowLog || log > kMaxLongWindowLog)
      throw Error("--long " + std::to_string(log) + " is out of range " + std::to_string(kMinLongWindowLog) + "-" +
                  std::to_string(kMaxLongWindowLog) + " (a larger window needs `zstd -d --long=N` on every reader)");
    po.compression.long_window_log = log;
  }
  po.compression.threads = args["threads"].as<int>();
  if (po.compression.threads < 0) throw Error("--threads must be 0 or more");
  if (args.count("source-date-epoch")) {
    po.source_date_epoch = args["source-date-epoch"].as<int64_t>();
    if (*po.source_date_epoch < 0) throw Error("--source-date-epoch must not be negative");
  }
  if (const char* v = std::getenv("DOCKER_API_VERSION"); v && *v) po.forced_api_version = v;
  bool quiet = args.count("quiet") > 0;
  po.progress = !quiet && ::isatty(STDERR_FILENO);
  if (args.count("pull")) {
    po.pull.policy = parse_pull_policy(args["pull"].as<std::string>());
    po.pull.progress = po.progress;
    po.pull.quiet = quiet || args.count("json") > 0;
    po.pull.docker_config = docker_config_path(process_environment());
    // A name that cannot be pulled fails before any I/O (other sources are refused with --pull below).
    if (!is_image_id(po.image) && parse_image_source(po.image).kind == SourceKind::engine) parse_image_ref(po.image);
  }
  // Special files outside dev/ are kept, and deploy refuses them unless --allow-devices: say so, each by path
  // (with --json, in the summary instead).
  if (!quiet && !args.count("json"))
    po.on_special_file = [](const std::string& path, const std::string& kind) {
      std::fprintf(stderr, "droot-pack: warning: %s is a %s outside dev/: kept in the artifact, but droot-exec deploy "
                   "refuses it unless given --allow-devices\n", path.c_str(), kind.c_str());
    };
  int timeout = args["timeout"].as<int>();
  if (timeout < 1) throw Error("--timeout must be at least 1 second");
  if (args.count("platform")) po.platform = parse_platform(args["platform"].as<std::string>());
  ImageSource source = parse_image_source(po.image);
  if (source.kind == SourceKind::registry) {
    source.registry.docker_config = docker_config_path(process_environment());
    source.registry.plain_http = args.count("plain-http") > 0;
    source.registry.progress = po.progress;
    source.registry.timeout = std::chrono::seconds(timeout);
  } else if (args.count("plain-http")) {
    throw Error("--plain-http applies to docker:// sources only");
  }
  if (source.kind != SourceKind::engine) {
    if (args.count("pull")) throw Error(std::string("--pull applies to Engine images, not to ") + source_kind_name(source.kind) + " sources");
    if (args.count("host")) throw Error(std::string("--host applies to Engine images, not to ") + source_kind_name(source.kind) + " sources");
  }

  // The key first: a wrong password should fail before minutes of export, not after.
  std::optional<minisign::SecretKey> key = load_key(args);
  std::optional<std::string> host;
  if (args.count("host")) host = args["host"].as<std::string>();
  PackResult r;
  if (source.kind == SourceKind::engine) {
    EngineClient engine(resolve_endpoint(host, process_environment()), std::chrono::seconds(timeout));
    engine_source = true;
    r = pack_image(engine, po, key);
  } else {
    r = pack_local_image(source, po, key);
  }

  if (args.count("json")) {
    nlohmann::json j = {{"image", r.image_ref},         {"id", r.image_id},
                        {"artifact", r.artifact},       {"exported_bytes", r.exported_bytes},
                        {"artifact_bytes", r.artifact_bytes}, {"payload_bytes", r.payload_bytes},
                        {"sha256", r.sha256},           {"payload_sha256", r.payload_sha256},
                        {"key_id", r.key_id},           {"signed", !r.key_id.empty()},
                        {"compression", compression_name(po.compression.compression)},
                        {"files", r.files},             {"seconds", r.seconds},
                        {"pulled", r.pulled},
                        {"layers", r.layers},
                        {"dev_special_files_dropped", r.dev_special_files_dropped},
                        {"special_files_kept", r.special_files_kept},
                        {"special_files_kept_paths", r.special_files_kept_paths}};
    if (!r.bases.empty()) {
      nlohmann::json bases = nlohmann::json::array();
      for (const auto& b : r.bases)
        bases.push_back({{"path", b.path}, {"image", b.base.image}, {"id", b.base.id}, {"payload_sha256", b.base.payload_sha256}});
      j["delta"] = {{"bases", bases},
                    {"files_shipped", r.files_shipped},
                    {"files_from_bases", r.files_from_bases},
                    {"bytes_from_bases", r.bytes_from_bases}};
    }
    std::fprintf(stderr, "%s\n", j.dump().c_str());
  } else if (!quiet) {
    std::string specials;
    if (r.dev_special_files_dropped != 0)
      specials += ", " + std::to_string(r.dev_special_files_dropped) + " special file" +
                  (r.dev_special_files_dropped == 1 ? "" : "s") + " under dev/ dropped";
    if (r.special_files_kept != 0)
      specials += ", " + std::to_string(r.special_files_kept) + " special file" + (r.special_files_kept == 1 ? "" : "s") +
                  " elsewhere kept (deploy needs --allow-devices)";
    std::fprintf(stderr, "packed %s (%s) into %s: %llu files%s, %s exported, %s artifact, %.1fs%s\n", r.image_ref.c_str(),
                 r.image_id.substr(0, 19).c_str(), r.artifact == "-" ? "stdout" : r.artifact.c_str(),
                 static_cast<unsigned long long>(r.files), specials.c_str(), human_bytes(r.exported_bytes).c_str(),
                 human_bytes(r.artifact_bytes).c_str(), r.seconds,
                 r.key_id.empty() ? ", UNSIGNED" : (", signed by key " + r.key_id).c_str());
    if (!r.bases.empty()) {
      std::string names;
      for (const auto& b : r.bases) names += (names.empty() ? "" : ", ") + b.base.image + " (" + b.path + ")";
      std::fprintf(stderr, "delta against %s: %llu files shipped, %llu files (%s) taken from the base%s\n", names.c_str(),
                   static_cast<unsigned long long>(r.files_shipped), static_cast<unsigned long long>(r.files_from_bases),
                   human_bytes(r.bytes_from_bases).c_str(), r.bases.size() > 1 ? "s" : "");
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
    std::fputs("droot-pack: error: cannot initialise libcurl\n", stderr);
    return kExitError;
  }
  try {
    install_interrupt_handlers();
    if (argc >= 2 && std::string(argv[1]) == "keygen") return cmd_keygen(argc - 1, argv + 1);
    return pack_main(argc, argv);
  } catch (const Interrupted& e) {
    std::fprintf(stderr, "droot-pack: %s; %snothing written\n", e.what(), engine_source ? "container removed, " : "");
    return 128 + e.signal();
  } catch (const cxxopts::exceptions::exception& e) {
    std::fprintf(stderr, "droot-pack: error: %s (see droot-pack --help)\n", e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "droot-pack: error: %s\n", e.what());
  }
  return kExitError;
}
