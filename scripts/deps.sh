#!/usr/bin/env bash
# deps.sh — install everything Cairn needs to build and test on Debian 12
# (run as root; does nothing when all is present). Used by standalone.sh,
# test.sh and .ci/run.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libgrpc-dev libnghttp2-dev protobuf-c-compiler libprotobuf-c-dev protobuf-compiler
  liblmdb-dev libmicrohttpd-dev libyaml-dev libjson-c-dev libcmocka-dev
  libcurl4-openssl-dev libzstd-dev libxxhash-dev
  etcd-server librdkafka-dev libssl-dev
  docker-compose unzip
  clang libclang-rt-14-dev valgrind
  nodejs npm
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# A node from elsewhere (nvm, nodesource) is fine: do not replace it.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  filtered=()
  for p in "${missing[@]}"; do
    [[ "$p" == nodejs || "$p" == npm ]] || filtered+=("$p")
  done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi

if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
