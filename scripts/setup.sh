#!/usr/bin/env bash
# Installs what the router needs on Debian/Ubuntu and is missing: Lua 5.4, libcurl, SQLite and zlib development files,
# pkg-config, binutils (readelf and strip, for the Lambda package and its check), and Python's venv (for the test
# suite's independent Slack validator and Lambda emulator). Safe to run again.
set -euo pipefail

pkgs=(liblua5.4-dev libcurl4-openssl-dev libsqlite3-dev zlib1g-dev pkg-config binutils)
if ! command -v python3 >/dev/null 2>&1; then
  pkgs+=(python3 python3-venv)
elif ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  pkgs+=(python3-venv)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "setup: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
