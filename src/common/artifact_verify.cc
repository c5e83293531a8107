#include "artifact_verify.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "background_digest.h"
#include "error.h"
#include "hash.h"
#include "io.h"

namespace droot {
namespace {

UniqueFd spool_stdin(const std::string& dir) {
  // No name: the spool cannot be swapped by another process and vanishes on any exit.
  UniqueFd d = open_or_throw(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  UniqueFd out = open_unnamed(d.get());
  if (!out) throw_errno("cannot create a spool file in " + dir + " for the artifact read from stdin");
  std::vector<char> buf(1 << 20);
  for (;;) {
    ssize_t n = ::read(STDIN_FILENO, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot read the artifact from stdin");
    }
    if (n == 0) break;
    write_all(out.get(), buf.data(), static_cast<size_t>(n), "the stdin spool file in " + dir);
  }
  return out;
}

struct Hashes {
  std::vector<uint8_t> payload_blake2b;
  std::string payload_sha256;
  std::string file_sha256;
};

// One read of every byte. Over the payload, BLAKE2b-512 runs on a second thread over the same buffer while
// this one does SHA-256, and the next block is read into the other buffer meanwhile; the file's own SHA-256
// continues from the payload's over the trailer.
Hashes hash_artifact(int fd, uint64_t payload_size, uint64_t file_size_at_open, const std::string& what) {
  // Declared before the digest whose thread reads them, so they outlive it on every way out.
  std::vector<char> buffers[2] = {std::vector<char>(1 << 20), std::vector<char>(1 << 20)};
  BackgroundDigest blake(Digest::blake2b512());
  Digest sha = Digest::sha256();
  uint64_t offset = 0;
  // Reads the next block of [offset, end) into `buf`; returns its size.
  auto read_block = [&](std::vector<char>& buf, uint64_t end) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), end - offset));
    try {
      pread_exact(fd, buf.data(), want, offset, what);
    } catch (const Error&) {
      // The size was taken when the file was opened: shorter now means someone rewrote it in place.
      if (file_size(fd, what) < file_size_at_open)
        throw Error(what + ": the file shrank while it was being verified (rewritten in place?); refusing it");
      throw;
    }
    offset += want;
    return want;
  };
  for (int current = 0; offset < payload_size; current ^= 1) {
    std::vector<char>& buf = buffers[current];
    size_t n = read_block(buf, payload_size);
    blake.update(buf.data(), n);  // returns once the thread is done with the other buffer
    sha.update(buf.data(), n);
  }
  Hashes h;
  h.payload_blake2b = blake.finish();  // the thread is done with both buffers now
  Digest sha_file(sha);
  h.payload_sha256 = to_hex(sha.finish());
  while (offset < file_size_at_open) {
    size_t n = read_block(buffers[0], file_size_at_open);
    sha_file.update(buffers[0].data(), n);
  }
  h.file_sha256 = to_hex(sha_file.finish());
  return h;
}

const TrustedKey& find_key(const std::vector<TrustedKey>& keys, const minisign::KeyId& id, const std::string& what) {
  for (const auto& k : keys)
    if (k.key.key_id == id) return k;
  std::string known;
  for (const auto& k : keys) known += (known.empty() ? "" : ", ") + minisign::key_id_hex(k.key.key_id) + " (" + k.path + ")";
  throw Error(what + ": signed by key " + minisign::key_id_hex(id) + ", which is not a trusted key (trusted: " + known +
              "); pass its public key with -p or install it in /etc/droot/keys/");
}

}  // namespace

std::vector<TrustedKey> load_trusted_keys(const std::vector<std::string>& paths) {
  std::vector<TrustedKey> keys;
  for (const auto& p : paths) keys.push_back({minisign::load_public_key(p), p});
  if (!paths.empty()) return keys;
  const char* env = std::getenv("DROOT_KEYS_DIR");
  std::string dir = env && *env ? env : "/etc/droot/keys";
  DIR* d = ::opendir(dir.c_str());
  if (d != nullptr) {
    std::vector<std::string> names;
    while (dirent* ent = ::readdir(d)) {
      std::string name = ent->d_name;
      if (name.size() > 4 && name.compare(name.size() - 4, 4, ".pub") == 0) names.push_back(name);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    for (const auto& n : names) keys.push_back({minisign::load_public_key(dir + "/" + n), dir + "/" + n});
  }
  if (keys.empty())
    throw Error("no trusted public keys: pass -p FILE, or install minisign public keys as " + dir + "/*.pub");
  return keys;
}

std::map<std::string, std::string> parse_trusted_comment(const std::string& comment) {
  std::map<std::string, std::string> fields;
  size_t pos = 0;
  while (pos < comment.size()) {
    size_t sp = comment.find(' ', pos);
    std::string word = comment.substr(pos, sp == std::string::npos ? std::string::npos : sp - pos);
    pos = sp == std::string::npos ? comment.size() : sp + 1;
    size_t eq = word.find('=');
    if (eq != std::string::npos && eq > 0) fields.emplace(word.substr(0, eq), word.substr(eq + 1));
  }
  return fields;
}

VerifiedArtifact verify_artifact(const std::string& path, const VerifyOptions& options) {
  VerifiedArtifact art;
  art.name = path == "-" ? "stdin" : path;
  // Keys first: a misconfigured server should say so before it reads a gigabyte from a pipe.
  std::vector<TrustedKey> keys;
  if (!options.insecure_unsigned || !options.public_keys.empty()) keys = load_trusted_keys(options.public_keys);
  art.fd = path == "-" ? spool_stdin(options.spool_dir) : open_or_throw(path, O_RDONLY);
  struct stat st {};
  if (::fstat(art.fd.get(), &st) != 0) throw_errno("cannot stat " + art.name);
  if (!S_ISREG(st.st_mode)) throw Error(art.name + ": not a regular file");
  art.file_size = static_cast<uint64_t>(st.st_size);
  if (art.file_size == 0) throw Error(art.name + ": empty file (truncated download?)");

  std::optional<std::string> minisig_text;
  std::optional<Trailer> trailer = read_trailer(art.fd.get(), art.file_size, art.name);
  art.payload_size = trailer ? trailer->payload_size : art.file_size;
  if (options.signature_path) {
    minisig_text = read_file(*options.signature_path, kMaxTrailerSize);
    art.signature_source = *options.signature_path;
  } else if (trailer) {
    minisig_text = trailer->minisig_text;
    art.signature_source = art.name + " (embedded signature)";
  } else if (path != "-" && ::access((path + ".minisig").c_str(), F_OK) == 0) {
    minisig_text = read_file(path + ".minisig", kMaxTrailerSize);
    art.signature_source = path + ".minisig";
  }

  char head[4] = {};
  pread_exact(art.fd.get(), head, std::min<uint64_t>(sizeof head, art.payload_size), 0, art.name);
  art.compression = detect_compression(std::string_view(head, std::min<uint64_t>(sizeof head, art.payload_size)));

  Hashes h = hash_artifact(art.fd.get(), art.payload_size, art.file_size, art.name);
  art.payload_sha256 = h.payload_sha256;
  art.file_sha256 = h.file_sha256;

  if (!minisig_text) {
    if (!options.insecure_unsigned)
      throw Error(art.name + ": artifact is not signed (no embedded signature, no --signature, no " +
                  (path == "-" ? std::string("sidecar for stdin") : path + ".minisig") +
                  "); refusing it (--insecure-unsigned accepts unsigned artifacts)");
  } else {
    minisign::Signature sig = minisign::parse_signature(*minisig_text, art.signature_source);
    const TrustedKey& key = find_key(keys, sig.key_id, art.name);
    minisign::verify_prehashed(sig, key.key, h.payload_blake2b, art.name);
    art.is_signed = true;
    art.key_id = minisign::key_id_hex(sig.key_id);
    art.key_path = key.path;
    art.trusted_comment = sig.trusted_comment;
    art.comment_fields = parse_trusted_comment(sig.trusted_comment);
    auto want = art.comment_fields.find("payload_sha256");
    if (want != art.comment_fields.end() && want->second != art.payload_sha256)
      throw Error(art.name + ": payload sha256 " + art.payload_sha256 + " does not match the signed payload_sha256 " +
                  want->second);
  }
  if (path != "-" && ::access((path + ".sha256").c_str(), F_OK) == 0) {
    std::string line = read_file(path + ".sha256", 4096);
    std::string want = line.substr(0, line.find_first_of(" \t\n"));
    if (want != art.file_sha256)
      throw Error(art.name + ": sha256 " + art.file_sha256 + " does not match " + path + ".sha256 (" + want + ")");
  }
  return art;
}

}  // namespace droot
