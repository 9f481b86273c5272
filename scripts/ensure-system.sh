#!/usr/bin/env bash
# Installs the Debian packages the test suite drives for real, and starts MariaDB and
# PostgreSQL (the panel-DB tests run on both, and on SQLite).
# PACKAGES holds what `jopanel install` puts on a server (jopanel/install/packages.py)
# plus the suite's own tools: systemd (systemd-analyze), util-linux (setpriv), git and
# make for tests/install.
# Safe to run again: it installs only what is missing.
set -euo pipefail

PACKAGES=(
  passwd login nginx php8.2-fpm php8.2-cli openssh-server libnss-wrapper
  mariadb-server mariadb-client chromium acl zip unzip publicsuffix bubblewrap strace
  cron quota e2fsprogs pebble systemd util-linux git make postgresql stress-ng
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done

if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "ensure-system: missing packages (run as root to install): ${missing[*]}" >&2
    exit 1
  fi
  echo "ensure-system: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Keep package scripts from starting services on the host (tests run their own).
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  rm -f /usr/sbin/policy-rc.d
fi

if ! mariadb-admin --protocol=socket ping >/dev/null 2>&1; then
  echo "ensure-system: starting MariaDB"
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
  for _ in $(seq 1 60); do
    mariadb-admin --protocol=socket ping >/dev/null 2>&1 && break
    sleep 1
  done
  mariadb-admin --protocol=socket ping >/dev/null
fi

# PostgreSQL: the cluster Debian made, started when it is not; the tests connect over its
# socket as root (a superuser role made here once, trust on the socket as Debian sets it).
if ! pg_isready -q -h /var/run/postgresql; then
  echo "ensure-system: starting PostgreSQL"
  cluster=$(pg_lsclusters -h | awk 'NR==1 {print $1" "$2}')
  # shellcheck disable=SC2086 # version and name, two words
  pg_ctlcluster $cluster start
  for _ in $(seq 1 60); do
    pg_isready -q -h /var/run/postgresql && break
    sleep 1
  done
  pg_isready -q -h /var/run/postgresql
fi
if ! psql -h /var/run/postgresql -U root -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
  su postgres -c "createuser --superuser root"
fi
