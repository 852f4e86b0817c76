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
#   CNI_CONF_PATH    CNI config dir (default /etc/cni/net.d/)
#   BIN_DIR          CNI plugin dir (default /opt/cni/bin)
#   DOCKIN_CONF_DIR  network configs (default /etc/cni/dockin/net.d)
#   NOTIFY_URL       optional: where dockin-cni reports each detach (dockin rm serve:
#                    http://<rm>:10002/rmController/podDetached), so the RM releases addresses
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
DOCKIN_CONF_DIR (default /etc/cni/dockin/net.d), NOTIFY_URL (optional: where dockin-cni
reports each detach, e.g. http://127.0.0.1:10002/rmController/podDetached).
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

[ $# -ge 1 ] || usage
option=$1
shift
case $option in
  install)
    [ $# -ge 1 ] || usage
    # The environment's directories first: flags given after them on the command line win.
    if [ -n "${NOTIFY_URL:-}" ]; then set -- --notify-url "$NOTIFY_URL" "$@"; fi
    exec "$dockin" install --cni-conf-dir "$CNI_CONF_PATH" --bin-dir "$BIN_DIR" \
      --dockin-conf-dir "$DOCKIN_CONF_DIR" "$@"
    ;;
  uninstall)
    exec "$dockin" uninstall --cni-conf-dir "$CNI_CONF_PATH" --bin-dir "$BIN_DIR" \
      --dockin-conf-dir "$DOCKIN_CONF_DIR" "$@"
    ;;
  -h | --help | help)
    usage
    ;;
  *)
    echo "setup.sh: unknown option \"$option\": use install or uninstall" >&2
    usage
    ;;
esac
