#!/bin/sh
# Dockin's installer, as the seed's release notes describe it:
#
#   sh setup.sh install <webhook url> <network types>   e.g. ... http://127.0.0.1:10002/rmController/getPodMultiNetwork test,dockin
#   sh setup.sh uninstall
#
# A thin wrapper over `dockin install` / `dockin uninstall` (same options as flags, plus --dry-run,
# which may follow: sh setup.sh install <url> <types> --dry-run). The directories come from the
# environment, as in the seed; they must match what kubelet/containerd use:
#
#   CNI_CONF_PATH        CNI config dir (default /etc/cni/net.d/)
#   BIN_DIR              CNI plugin dir (default /opt/cni/bin)
#   DOCKIN_CONF_DIR      network configs (default /etc/cni/dockin/net.d)
#   DOCKIN_CACHE_DIR     dockin-cni's attachment records (default /var/lib/cni/dockin)
#   DOCKIN_LOG_FILE      dockin-cni's log (default /var/log/dockin-cni.log)
#   NOTIFY_URL           where dockin-cni reports each detach (default: beside a Dockin RM's
#                        webhook, .../rmController/podDetached), so the RM releases addresses
#   CONTAINERS_CONF_DIR  where --podman writes its drop-in (default /etc/containers/containers.conf.d)
#   DOCKIN_LINK_DIR      where install links `dockin` so that it is on PATH (default /usr/local/bin;
#                        empty: no link); uninstall removes that link
# (docs/install.md has them in one table.)
#
# The dockin that runs (the standalone executable, installed as the plugins too): $DOCKIN if set;
# else `dockin` beside this script (a release); else this repository's dist/bin/dockin
# (`npm run build` makes it; ./dev setup runs that).
set -eu

CNI_CONF_PATH="${CNI_CONF_PATH:-/etc/cni/net.d/}"
BIN_DIR="${BIN_DIR:-/opt/cni/bin}"
DOCKIN_CONF_DIR="${DOCKIN_CONF_DIR:-/etc/cni/dockin/net.d}"

usage() {
  cat >&2 <<'EOF'
Usage:

  sh setup.sh <option> <webhook url> <network types>

  * Supported options: install, uninstall
  * If you have more than one network type, using comma to split.

Example:

  sh setup.sh install http://127.0.0.1:10002/rmController/getPodMultiNetwork test,dockin
  sh setup.sh uninstall

Environment: CNI_CONF_PATH (default /etc/cni/net.d/), BIN_DIR (default /opt/cni/bin),
DOCKIN_CONF_DIR (default /etc/cni/dockin/net.d), DOCKIN_CACHE_DIR (default /var/lib/cni/dockin),
DOCKIN_LOG_FILE (default /var/log/dockin-cni.log), NOTIFY_URL (default: beside a Dockin RM's
webhook), CONTAINERS_CONF_DIR (default /etc/containers/containers.conf.d), DOCKIN_LINK_DIR
(default /usr/local/bin; empty: no link). Flags after the types: dockin install --help.
EOF
  exit 2
}

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
if [ -n "${DOCKIN:-}" ]; then
  dockin=$DOCKIN
elif [ -f "$here/dockin" ] && [ -x "$here/dockin" ]; then
  dockin=$here/dockin
elif [ -x "$here/dist/bin/dockin" ]; then
  dockin=$here/dist/bin/dockin
else
  echo "setup.sh: no dockin executable beside this script or in $here/dist/bin/:" \
    "build it with 'npm run build' (./dev setup does it all), or set DOCKIN=/path/to/dockin" >&2
  exit 1
fi

link_dir=${DOCKIN_LINK_DIR-/usr/local/bin}

# Whether the arguments hold one of the words after the first (e.g. has --dry-run "$@").
has() {
  word=$1
  shift
  for arg in "$@"; do
    if [ "$arg" = "$word" ]; then return 0; fi
  done
  return 1
}
dry_run() { has --dry-run "$@"; }

# `dockin` on PATH: a symbolic link in $link_dir to the dockin this script runs. A file of that
# name that is not such a link is left alone (and said so). Whether $link_dir is on this shell's
# PATH is said too.
on_path() {
  case ":$PATH:" in *":$link_dir:"*) echo "dockin is on PATH" ;; *) echo "add $link_dir to PATH to run dockin by name" ;; esac
}
link_dockin() {
  [ -n "$link_dir" ] || return 0
  if has --help "$@" || has -h "$@"; then return 0; fi
  target=$(readlink -f -- "$dockin")
  link=$link_dir/dockin
  if [ -L "$link" ] && [ "$(readlink -f -- "$link")" = "$target" ]; then
    echo "setup.sh: $link links to $target already: $(on_path)"
  elif [ -e "$link" ] || [ -L "$link" ]; then
    echo "setup.sh: $link exists and is not a link to $target: left as it is; this one is $dockin"
  elif dry_run "$@"; then
    echo "setup.sh: would link $link -> $target ($(on_path))"
  else
    mkdir -p -- "$link_dir"
    ln -s -- "$target" "$link"
    echo "setup.sh: linked $link -> $target: $(on_path)"
  fi
}

unlink_dockin() {
  [ -n "$link_dir" ] || return 0
  if has --help "$@" || has -h "$@"; then return 0; fi
  target=$(readlink -f -- "$dockin")
  link=$link_dir/dockin
  if [ -L "$link" ] && [ "$(readlink -f -- "$link")" = "$target" ]; then
    if dry_run "$@"; then
      echo "setup.sh: would remove the link $link"
    else
      rm -f -- "$link"
      echo "setup.sh: removed the link $link"
    fi
  fi
}

[ $# -ge 1 ] || usage
option=$1
shift
case $option in
  install)
    [ $# -ge 1 ] || usage
    # The environment's directories first: flags given after them on the command line win.
    if [ -n "${NOTIFY_URL:-}" ]; then set -- --notify-url "$NOTIFY_URL" "$@"; fi
    if [ -n "${DOCKIN_CACHE_DIR:-}" ]; then set -- --cache-dir "$DOCKIN_CACHE_DIR" "$@"; fi
    if [ -n "${DOCKIN_LOG_FILE:-}" ]; then set -- --log-file "$DOCKIN_LOG_FILE" "$@"; fi
    if [ -n "${CONTAINERS_CONF_DIR:-}" ]; then set -- --containers-conf-dir "$CONTAINERS_CONF_DIR" "$@"; fi
    "$dockin" install --cni-conf-dir "$CNI_CONF_PATH" --bin-dir "$BIN_DIR" \
      --dockin-conf-dir "$DOCKIN_CONF_DIR" "$@"
    link_dockin "$@"
    ;;
  uninstall)
    if [ -n "${DOCKIN_CACHE_DIR:-}" ]; then set -- --cache-dir "$DOCKIN_CACHE_DIR" "$@"; fi
    if [ -n "${DOCKIN_LOG_FILE:-}" ]; then set -- --log-file "$DOCKIN_LOG_FILE" "$@"; fi
    if [ -n "${CONTAINERS_CONF_DIR:-}" ]; then set -- --containers-conf-dir "$CONTAINERS_CONF_DIR" "$@"; fi
    "$dockin" uninstall --cni-conf-dir "$CNI_CONF_PATH" --bin-dir "$BIN_DIR" \
      --dockin-conf-dir "$DOCKIN_CONF_DIR" "$@"
    unlink_dockin "$@"
    ;;
  -h | --help | help)
    usage
    ;;
  *)
    echo "setup.sh: unknown option \"$option\": use install or uninstall" >&2
    usage
    ;;
esac
