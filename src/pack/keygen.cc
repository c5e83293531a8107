#include "keygen.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cxxopts.hpp>

#include "error.h"
#include "io.h"
#include "minisign.h"
#include "password.h"

namespace droot::pack {

int cmd_keygen(int argc, char** argv) {
  cxxopts::Options opts("droot-pack keygen", "Create a minisign-compatible Ed25519 key pair for signing artifacts.");
  opts.custom_help("-p PUB -s SEC [--no-password] [--force]");
  opts.add_options()("p,public-key", "where to write the public key", cxxopts::value<std::string>(), "PUB")(
      "s,secret-key", "where to write the secret key (mode 0600)", cxxopts::value<std::string>(), "SEC")(
      "no-password", "do not encrypt the secret key (minisign -W); for CI secrets stores")(
      "force", "overwrite existing key files")("h,help", "show this help");
  auto args = opts.parse(argc, argv);
  if (args.count("help")) {
    std::fputs(opts.help().c_str(), stdout);
    return 0;
  }
  if (!args.count("public-key") || !args.count("secret-key"))
    throw Error("keygen needs both -p PUB and -s SEC (see droot-pack keygen --help)");
  std::string pub = args["public-key"].as<std::string>();
  std::string sec = args["secret-key"].as<std::string>();
  if (pub == sec) throw Error("keygen: -p and -s name the same file " + pub);
  if (!args.count("force"))
    for (const auto& f : {pub, sec})
      if (::access(f.c_str(), F_OK) == 0) throw Error(f + " already exists; pass --force to overwrite it");

  std::optional<std::string> password;
  if (!args.count("no-password")) password = read_password("the new secret key " + sec, true);
  minisign::SecretKey key = minisign::generate_secret_key();
  if (password) std::fprintf(stderr, "Deriving a key from the password (scrypt, about a second)...\n");
  std::string sec_text = minisign::format_secret_key(key, password);
  std::string pub_text = minisign::format_public_key(key.public_part());

  TempFile sec_file(sec, 0600);
  write_all(sec_file.fd(), sec_text, sec_file.path());
  TempFile pub_file(pub, 0644);
  write_all(pub_file.fd(), pub_text, pub_file.path());
  sec_file.commit();
  pub_file.commit();
  std::fprintf(stderr, "Key %s: secret key %s, public key %s\nDeploy the public key to servers as /etc/droot/keys/%s.pub\n",
               minisign::key_id_hex(key.key_id).c_str(), sec.c_str(), pub.c_str(), minisign::key_id_hex(key.key_id).c_str());
  return 0;
}

}  // namespace droot::pack
