#!/bin/sh
# Installs JoPanel on a Debian 12 server, as root, from this checkout:
#   sudo ./install.sh [--database-url URL] [--no-systemd]
# It makes a virtualenv in /opt/jopanel/venv (JOPANEL_PREFIX overrides), links the
# `jopanel` command into /usr/local/bin and runs `jopanel install` with the arguments
# given (Debian packages, the jopanel user, settings, database, systemd units, the panel
# on https://<host>:8083, the first admin). Running it again upgrades in place.
set -eu

SRC=$(cd "$(dirname "$0")" && pwd)
PREFIX=${JOPANEL_PREFIX:-/opt/jopanel}
VENV="$PREFIX/venv"

if [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run as root (sudo ./install.sh)" >&2
  exit 1
fi

if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-venv
fi

extras=""
case " $* " in
  *postgresql*) extras="[postgres]" ;;
esac

first=1
[ -x "$VENV/bin/jopanel" ] && first=0
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q "$SRC$extras"
ln -sf "$VENV/bin/jopanel" /usr/local/bin/jopanel

"$VENV/bin/jopanel" install "$@"
if [ "$first" -eq 0 ]; then
  # An existing installation: migrate, rewrite units and configs, restart.
  case " $* " in
    *--no-systemd*) "$VENV/bin/jopanel" upgrade --no-systemd ;;
    *) "$VENV/bin/jopanel" upgrade ;;
  esac
fi
