// droot-exec deploy: verify, extract into DEST/releases/.tmp-…, check against the manifest, sync, rename,
// switch DEST/current, prune. The order is what makes every failure leave DEST as it was.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cxxopts.hpp>
#include <nlohmann/json.hpp>

#include "architecture.h"
#include "artifact_config.h"
#include "artifact_verify.h"
#include "commands.h"
#include "dir_lock.h"
#include "early_writeback.h"
#include "error.h"
#include "extract.h"
#include "frame_index.h"
#include "kernel_features.h"
#include "release_store.h"
#include "beneath.h"
#include "delta_needs.h"
#include "downgrade.h"
#include "object_store.h"
#include "signal_deferral.h"
#include "verify_options.h"

namespace droot::exec {
namespace {

struct DeployOptions {
  std::string artifact;
  std::string dest;
  size_t keep = 3;
  bool allow_devices = false;
  bool allow_downgrade = false;
  bool any_arch = false;
  bool quiet = false;
  bool json = false;
  bool verbose = false;
};

void say(const DeployOptions& o, const std::string& text) {
  if (!o.quiet && !o.json) std::fprintf(stderr, "droot-exec: %s\n", text.c_str());
}

// Deep trees are removed recursively with one fd per level (remove_tree.cc): use the hard limit.
void raise_fd_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
}

struct Deployed {
  std::string release;
  std::optional<std::string> previous;
  std::vector<std::string> pruned;
  ExtractResult extracted;
};

// Everything between "verified" and "current switched": signals are deferred and polled, so any way out
// of here before publish() unwinds through ~TempRelease, which removes the temporary tree.
Deployed build_release(const ReleaseStore& store, const ObjectStore& objects, const VerifiedArtifact& art,
                       const FrameIndex* frames, const DeployOptions& o) {
  SignalDeferral signals;
  TempRelease temp = store.create_temp();
  ExtractOptions eo;
  eo.objects = &objects;
  eo.allow_devices = o.allow_devices;
  eo.set_owner = ::geteuid() == 0;
  if (o.verbose) eo.note = [&](const std::string& text) { say(o, text); };
  eo.poll = [&] { signals.poll(); };
  Deployed d;
  {
    EarlyWriteback writeback(temp.fd());
    eo.writeback = &writeback;
    d.extracted = extract_payload({art.fd.get(), art.payload_size, art.payload_sha256, art.name, frames}, temp.fd(), eo);
  }
  // One syncfs for the whole tree instead of an fsync per file: the data and the directory entries must be
  // on disk before the rename makes the release visible, or a crash could publish empty files.
  if (::syncfs(temp.fd()) != 0) throw_errno("cannot sync the new release in " + store.releases_path());
  signals.poll_now();
  d.release = store.publish(temp, art.payload_sha256);
  d.previous = store.current();
  store.switch_current(d.release);
  return d;
}

DeployOptions parse(int argc, char** argv, cxxopts::ParseResult& args_out, cxxopts::Options& opts) {
  add_verify_options(opts);
  opts.add_options()("keep", "keep the newest N releases (besides current and its predecessor)",
                     cxxopts::value<size_t>()->default_value("3"), "N")(
      "allow-devices", "extract character/block devices and FIFOs (refused by default)")(
      "allow-downgrade", "deploy an image older than the current release's (refused by default; rollback is the way back)")(
      "any-arch", "deploy an image built for another CPU architecture than this host's (refused by default)")(
      "v,verbose", "say what is ignored or dropped (extended attributes, a '.' entry)")(
      "json", "print the result as one JSON object on stdout")("q,quiet", "print nothing on success")(
      "h,help", "show this help")("artifact", "", cxxopts::value<std::string>())("dest", "", cxxopts::value<std::string>());
  opts.parse_positional({"artifact", "dest"});
  args_out = opts.parse(argc, argv);
  DeployOptions o;
  if (args_out.count("help")) return o;
  if (!args_out.count("artifact") || !args_out.count("dest"))
    throw Error("deploy: needs ARTIFACT (a file, or - for stdin) and DEST (see droot-exec deploy --help)");
  o.artifact = args_out["artifact"].as<std::string>();
  o.dest = args_out["dest"].as<std::string>();
  o.keep = args_out["keep"].as<size_t>();
  if (o.keep < 1) throw Error("deploy: --keep must be at least 1");
  o.allow_devices = args_out.count("allow-devices") > 0;
  o.allow_downgrade = args_out.count("allow-downgrade") > 0;
  o.any_arch = args_out.count("any-arch") > 0;
  o.quiet = args_out.count("quiet") > 0;
  o.json = args_out.count("json") > 0;
  o.verbose = args_out.count("verbose") > 0;
  return o;
}

void report(const DeployOptions& o, const ReleaseStore& store, const VerifiedArtifact& art, const Deployed& d,
            double seconds) {
  ArtifactConfig config = parse_config_json(d.extracted.config_json, art.name + ": .droot/config.json");
  if (o.json) {
    nlohmann::json j = {{"artifact", art.name},
                        {"dest", store.dest()},
                        {"release", d.release},
                        {"path", store.releases_path() + "/" + d.release},
                        {"previous", d.previous ? nlohmann::json(*d.previous) : nlohmann::json(nullptr)},
                        {"image", config.image.ref},
                        {"id", config.image.id},
                        {"signed", art.is_signed},
                        {"key_id", art.key_id},
                        {"payload_sha256", art.payload_sha256},
                        {"entries", d.extracted.entries},
                        {"files", d.extracted.files},
                        {"bytes", d.extracted.bytes},
                        {"delta", d.extracted.delta},
                        {"stored_files", d.extracted.stored_files},
                        {"stored_bytes", d.extracted.stored_bytes},
                        {"from_base", d.extracted.from_base},
                        {"not_decoded_files", d.extracted.not_decoded_files},
                        {"not_decoded_bytes", d.extracted.not_decoded_bytes},
                        {"pruned", d.pruned},
                        {"seconds", seconds}};
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  if (o.quiet) return;
  std::printf("deployed %s (%s) to %s\n  current -> releases/%s (was %s)\n  %llu entries, %llu files, %llu bytes, %.1fs\n",
              config.image.ref.c_str(), config.image.id.c_str(), store.dest().c_str(), d.release.c_str(),
              d.previous ? d.previous->c_str() : "none", static_cast<unsigned long long>(d.extracted.entries),
              static_cast<unsigned long long>(d.extracted.files), static_cast<unsigned long long>(d.extracted.bytes),
              seconds);
  std::printf("  new in the store: %llu files (%llu bytes)%s; every other file is linked from what DEST holds\n",
              static_cast<unsigned long long>(d.extracted.stored_files),
              static_cast<unsigned long long>(d.extracted.stored_bytes),
              d.extracted.delta ? (", a delta: " + std::to_string(d.extracted.from_base) + " files not shipped").c_str() : "");
  if (d.extracted.not_decoded_files > 0)
    std::printf("  not decoded: %llu large files (%llu bytes) whose objects DEST already held (the frame index)\n",
                static_cast<unsigned long long>(d.extracted.not_decoded_files),
                static_cast<unsigned long long>(d.extracted.not_decoded_bytes));
  for (const auto& p : d.pruned) std::printf("  pruned releases/%s\n", p.c_str());
}

}  // namespace

int cmd_deploy(int argc, char** argv) {
  cxxopts::Options opts("droot-exec deploy",
                        "Verify an artifact, extract it as a new release of DEST and switch DEST/current to it.");
  opts.custom_help("[-p PUB]... [--signature FILE] [--keep N] [--allow-devices] [--allow-downgrade] [--any-arch] [-q] [--json]");
  opts.positional_help("ARTIFACT|- DEST");
  cxxopts::ParseResult args;
  DeployOptions o = parse(argc, argv, args, opts);
  if (args.count("help")) {
    std::fputs(opts.help().c_str(), stdout);
    return 0;
  }
  require_kernel("deploy", interfaces_for_deploy());
  const auto start = std::chrono::steady_clock::now();
  raise_fd_limit();
  ReleaseStore store(o.dest, /*create=*/true);
  DirLock lock(store.dest_fd(), o.dest, [&](const std::string& text) { say(o, text); });
  const std::vector<std::string> stale = store.remove_stale_temps();
  for (const auto& path : stale) say(o, "removed " + path + " (left by an interrupted deploy)");
  // Stdin is spooled into DEST/releases: the same filesystem as the release, so "enough space" means one thing.
  VerifyOptions vo = verify_options_from(args, store.releases_path());
  VerifiedArtifact art = verify_artifact(o.artifact, vo);
  if (!art.is_signed) say(o, "warning: " + art.name + " is not signed (accepted because of --insecure-unsigned)");
  // Read only now that the payload is verified; a malformed one is refused (droot-artifact(5), "Frame index").
  std::optional<FrameIndex> frames;
  if (art.compression == Compression::zstd) frames = read_frame_index(art.fd.get(), art.payload_size, art.name);
  ObjectStore objects(store.dest_fd(), o.dest, /*create=*/true);
  if (!stale.empty()) objects.collect_garbage();  // what the interrupted deploy had stored
  objects.begin_deploy();
  const bool owners = ::geteuid() == 0;
  DeltaNeeds needs = delta_needs({art.fd.get(), art.payload_size, art.payload_sha256, art.name}, objects, owners);
  if (needs.missing || needs.damaged) throw DeltaBaseMissing(delta_refusal(needs, art.name, o.dest));
  // An image for another CPU cannot run here (its binaries fail with "Exec format error" only at `run`): refuse
  // it before anything is extracted. An artifact that does not say (an old or hand-made one) is let through.
  if (needs.config && !o.any_arch) {
    const std::string& want = needs.config->image.architecture;
    const std::string host = host_architecture();
    if (!want.empty() && !host.empty() && want != host)
      throw Error(art.name + ": the image is for architecture " + want + ", this host is " + host +
                  "; nothing was deployed (pass --any-arch to deploy it anyway, e.g. to run it under qemu-user binfmt)");
  }
  if (auto cur = store.current(); cur && needs.config && !o.allow_downgrade && store.has_release(*cur)) {
    const std::string path = store.releases_path() + "/" + *cur;
    std::optional<ArtifactConfig> current_config;
    try {
      UniqueFd root = open_beneath_or_throw(store.releases_fd(), *cur, O_PATH | O_DIRECTORY, "cannot open " + path);
      current_config = parse_config_json(read_file_beneath(root.get(), ".droot/config.json", path, 16 << 20),
                                         path + "/.droot/config.json");
    } catch (const Error& e) {
      say(o, std::string("warning: cannot tell whether this is a downgrade: ") + e.what());
    }
    if (current_config)
      if (auto refused = downgrade_refusal(*needs.config, *current_config, *cur, o.dest))
        throw Error(art.name + ": " + *refused);
  }
  try {
    Deployed d;
    try {
      d = build_release(store, objects, art, frames ? &*frames : nullptr, o);
    } catch (...) {
      // Objects this deploy stored are linked by nothing now: remove them (the lock is still held).
      try {
        objects.collect_garbage();
      } catch (const Error& e) {
        say(o, std::string("warning: ") + e.what() + " (the next deploy removes unused objects)");
      }
      throw;
    }
    d.pruned = store.prune(o.keep, d.previous);
    if (!d.pruned.empty()) objects.collect_garbage();
    report(o, store, art, d, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  } catch (const Interrupted& e) {
    std::fprintf(stderr, "droot-exec: error: deploy to %s %s; %s/current is unchanged\n", o.dest.c_str(), e.what(),
                 o.dest.c_str());
    return 128 + e.signal();
  }
  return 0;
}

}  // namespace droot::exec
