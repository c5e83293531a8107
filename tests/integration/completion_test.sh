# Bash completion (contrib/completion/): each file is sourced in a fresh bash, its function called with the
# words of a command line being typed, and the candidates compared. Needs neither docker nor bash-completion.

# complete_words FILE WORD...: the candidates for the last WORD (words split as bash splits them with the
# default COMP_WORDBREAKS: "--pull=al" is --pull = al), one per line, sorted. PATH has no docker: the
# IMAGE candidates the droot-pack completion asks docker for are not part of these tests.
complete_words() {
  local file="$DROOT_SRC/contrib/completion/$1"
  shift
  env PATH=/usr/bin:/bin bash --norc --noprofile -c '
    file=$1; shift
    source "$file" || exit 3
    fn=$(complete -p "${1}" | sed -E "s/.*-F ([^ ]+) .*/\1/")
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    "$fn" 2>/dev/null
    [ ${#COMPREPLY[@]} -gt 0 ] && printf "%s\n" "${COMPREPLY[@]}" | LC_ALL=C sort
    exit 0' _ "$file" "$@"
}

expect() {  # "expected candidates (space-separated)" FILE WORD...
  local want="$1"
  shift
  local got
  got=$(complete_words "$@" | tr '\n' ' ' | sed 's/ $//')
  assert_eq "$want" "$got" "completion of [${*:2}]"
}

test_droot_pack_completion() {
  expect "--pull --pull=" droot-pack droot-pack --pu
  expect "--pull --pull=" droot-pack droot-pack -s k.sec --pu
  expect "always missing" droot-pack droot-pack --pull =
  expect "always" droot-pack droot-pack --pull = al
  expect "gzip" droot-pack droot-pack -c g
  expect "gzip none zstd" droot-pack droot-pack --compression ""
  expect "--secret-key --source-date-epoch" droot-pack droot-pack --s
  expect "keygen" droot-pack droot-pack ke
  expect "--base" droot-pack droot-pack --ba
  expect "--no-password" droot-pack droot-pack keygen --no
  expect "--public-key" droot-pack droot-pack keygen --pu
  expect "tcp:// unix://" droot-pack droot-pack -H ""
  # a bare --pull takes no value: after it comes IMAGE (or a flag), not missing/always
  expect "--json" droot-pack droot-pack --pull --js
  expect "--long --long=" droot-pack droot-pack --lo
  # --long=N is a number (no candidates); a bare --long is followed by the next flag
  expect "" droot-pack droot-pack --long = 2
  expect "--json" droot-pack droot-pack --long --js
  # files for -o, -s and keygen's -p
  touch app.tar.zst app.key other
  mkdir appdir
  expect "app.key app.tar.zst appdir" droot-pack droot-pack -o app
  expect "app.key app.tar.zst appdir" droot-pack droot-pack keygen -p app
  expect "app.key app.tar.zst appdir" droot-pack droot-pack --secret-key = app
}

test_droot_exec_completion() {
  expect "--help --version -h check deploy list rollback run verify" droot-exec droot-exec ""
  expect "deploy" droot-exec droot-exec de
  expect "--keep" droot-exec droot-exec deploy --k
  expect "--insecure-unsigned" droot-exec droot-exec verify --in
  expect "NET_ADMIN NET_BIND_SERVICE NET_BROADCAST NET_RAW" droot-exec droot-exec run --cap-add net_
  expect "ALL" droot-exec droot-exec run --cap-drop al
  expect "none" droot-exec droot-exec run --net n
  expect "none" droot-exec droot-exec run --net = n
  expect "default none" droot-exec droot-exec run --seccomp ""
  expect "nofile=" droot-exec droot-exec run --rlimit no
  expect "--read-only --rlimit --ro-bind" droot-exec droot-exec run --r
  expect "--volatile" droot-exec droot-exec run --vo
  expect "--changes" droot-exec droot-exec check --ch
  expect "--no-tty" droot-exec droot-exec run --no
  expect "--tty" droot-exec droot-exec run --tt
  # positionals: an artifact (files), then DEST (directories only)
  touch app.tar.zst
  mkdir -p srv/app/releases/20260101T000000-aaaaaaaaaaaa srv/app/releases/20260202T000000-bbbbbbbbbbbb srvfile.d
  rmdir srvfile.d && touch srvfile
  expect "srv srvfile" droot-exec droot-exec verify srv
  expect "srv" droot-exec droot-exec deploy -p k.pub --keep 2 app.tar.zst srv
  expect "srv" droot-exec droot-exec list srv
  # rollback's RELEASE: the names under DEST/releases
  expect "20260101T000000-aaaaaaaaaaaa 20260202T000000-bbbbbbbbbbbb" droot-exec droot-exec rollback srv/app 2026
  expect "20260202T000000-bbbbbbbbbbbb" droot-exec droot-exec rollback -q srv/app 202602
  # run: DEST, then the jail's command, which is not completed from the host
  expect "srv" droot-exec droot-exec run -e A=1 --memory 64m srv
  expect "" droot-exec droot-exec run srv/app ""
  expect "" droot-exec droot-exec run srv/app -- s
}

test_completion_is_installed_by_meson() {
  local installed
  installed=$(meson introspect --installed "$DROOT_BUILD")
  assert_contains "$installed" "contrib/completion/droot-pack\": \"" "droot-pack completion in meson's install plan"
  assert_contains "$installed" "/share/bash-completion/completions/droot-pack\""
  assert_contains "$installed" "/share/bash-completion/completions/droot-exec\""
}
