#!/usr/bin/env bash
# Installs the Debian packages Carnot builds and tests with, only those that are missing.
# Sourced or run by quickstart.sh and test.sh; safe to run again.
set -euo pipefail

carnot_packages=(
  build-essential cmake ninja-build ccache pkg-config
  openmpi-bin libopenmpi-dev
  libyaml-cpp-dev libopenblas-dev
  libgtest-dev libcli11-dev nlohmann-json3-dev libxxhash-dev libpng-dev zlib1g-dev
  python3-matplotlib
  dataset-fashion-mnist
)

missing=()
for p in "${carnot_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "carnot: installing missing packages: ${missing[*]}"
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "carnot: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo_cmd="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
