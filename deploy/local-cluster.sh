#!/usr/bin/env bash
# local-cluster.sh — a whole Cairn cluster on 127.0.0.1, one process per
# role, for trying cluster mode without Kubernetes or Docker.
#
#   deploy/local-cluster.sh start DIR   start everything, state under DIR
#   deploy/local-cluster.sh stop DIR    stop everything started in DIR
#   deploy/local-cluster.sh restart DIR NAME   start NAME (e.g. querynode-1,
#                                       etcd-1) again as it was first started
#                                       (fault tests; kill it yourself first)
#
# start runs: etcd (Debian etcd-server), a Kafka cluster (librdkafka's mock
# cluster, our tests/helpers/kafka_mock), s3rver (npm, tests/cluster) as the
# S3 store, then 2 coordinators (active + standby), 2 datanodes, 1
# indexnode, 2 querynodes and 2 proxies, each its own `cairn` process on
# ports the kernel picks. Every pid goes to DIR/pids/<role>-<n>.pid, every
# log to DIR/logs/<role>-<n>.log; the last line on stdout is
#   cairn cluster proxies=HOST:PORT,HOST:PORT
# Point any Milvus SDK at one of the proxies.
#
# Knobs (environment): CAIRN_BIN (default: build/cmd/cairn, built if
# missing), KAFKA_MOCK (default: build/tests/helpers/kafka_mock),
# CAIRN_SESSION_TTL (default 5s: how fast a dead node's work moves),
# CAIRN_DATANODES, CAIRN_QUERYNODES, CAIRN_PROXIES, CAIRN_COORDINATORS,
# CAIRN_INDEXNODES (counts), CAIRN_EXTRA_FLAGS (appended to every role).
# The kafka mock keeps the log in memory: stopping the cluster loses rows
# not yet flushed to segments (a real Kafka keeps them).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"

usage() { echo "usage: $0 start|stop DIR | restart DIR NAME" >&2; exit 2; }
[[ $# -eq 2 || ( $# -eq 3 && $1 == restart ) ]] || usage
cmd=$1
dir=$(mkdir -p "$2" && cd "$2" && pwd)

free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

# wait_line FILE PATTERN SECONDS PID: until FILE has a line matching PATTERN.
wait_line() {
  local file=$1 pattern=$2 secs=$3 pid=$4 i
  for ((i = 0; i < secs * 10; i++)); do
    grep -q "$pattern" "$file" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { echo "local-cluster: process $pid exited; see $file" >&2; tail -5 "$file" >&2; return 1; }
    sleep 0.1
  done
  echo "local-cluster: timed out waiting for '$pattern' in $file" >&2
  return 1
}

wait_http() { # URL SECONDS
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    curl -s -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "local-cluster: $1 did not answer" >&2
  return 1
}

# spawn NAME CMD...: start in the background, pid file, log file (appended
# to), and the command line in DIR/cmd/NAME.cmd for `restart`.
spawn() {
  local name=$1
  shift
  mkdir -p "$dir/cmd"
  printf '%q ' "$@" >"$dir/cmd/$name.cmd"
  setsid "$@" </dev/null >>"$dir/logs/$name.log" 2>&1 &
  echo $! >"$dir/pids/$name.pid"
}

# restart NAME: spawn it again from its recorded command line and wait
# until it serves.
restart_one() {
  local name=$1 lines=0
  [[ -f "$dir/cmd/$name.cmd" ]] || { echo "local-cluster: no process $name in $dir" >&2; exit 1; }
  [[ -f "$dir/logs/$name.log" ]] && lines=$(wc -l <"$dir/logs/$name.log")
  eval "spawn $name $(cat "$dir/cmd/$name.cmd")"
  case "$name" in
    etcd-*) wait_http "http://$(cat "$dir/etcd.endpoint")/health" 30 ;;
    s3rver-*) wait_http "http://$(cat "$dir/s3.endpoint")/" 30 ;;
    kafka-*) echo "local-cluster: the kafka mock keeps its log in memory; it cannot be restarted" >&2; exit 1 ;;
    *)
      local pid i
      pid=$(cat "$dir/pids/$name.pid")
      for ((i = 0; i < 600; i++)); do
        tail -n +"$((lines + 1))" "$dir/logs/$name.log" | grep -q '^cairn listening' && return 0
        kill -0 "$pid" 2>/dev/null || { echo "local-cluster: $name exited" >&2; exit 1; }
        sleep 0.1
      done
      echo "local-cluster: $name did not start" >&2; exit 1 ;;
  esac
}

stop_all() {
  local f pid
  [[ -d "$dir/pids" ]] || return 0
  # Roles first (proxies, nodes, coordinators), servers last.
  for f in "$dir"/pids/proxy-*.pid "$dir"/pids/*node-*.pid \
           "$dir"/pids/coordinator-*.pid "$dir"/pids/s3rver-*.pid \
           "$dir"/pids/kafka-*.pid "$dir"/pids/etcd-*.pid; do
    [[ -f "$f" ]] || continue
    pid=$(cat "$f")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$f"
  done
}

start_servers() {
  local etcd_port peer_port s3_port
  etcd_port=$(free_port)
  peer_port=$(free_port)
  spawn etcd-1 etcd --name=cairn-local --data-dir="$dir/etcd" \
    --listen-client-urls="http://127.0.0.1:$etcd_port" \
    --advertise-client-urls="http://127.0.0.1:$etcd_port" \
    --listen-peer-urls="http://127.0.0.1:$peer_port" \
    --initial-advertise-peer-urls="http://127.0.0.1:$peer_port" \
    --initial-cluster="cairn-local=http://127.0.0.1:$peer_port" \
    --log-level=warn
  wait_http "http://127.0.0.1:$etcd_port/health" 30
  echo "127.0.0.1:$etcd_port" >"$dir/etcd.endpoint"

  spawn kafka-1 "$kafka_mock" --brokers 1 --ignore-stdin
  wait_line "$dir/logs/kafka-1.log" '^kafka bootstrap=' 30 "$(cat "$dir/pids/kafka-1.pid")"
  sed -n 's/^kafka bootstrap=//p' "$dir/logs/kafka-1.log" | head -1 >"$dir/kafka.brokers"

  if [[ ! -d "$here/tests/cluster/node_modules/s3rver" ]]; then
    (cd "$here/tests/cluster" && npm ci --silent --no-audit --no-fund >/dev/null)
  fi
  s3_port=$(free_port)
  mkdir -p "$dir/s3"
  spawn s3rver-1 node "$here/tests/cluster/s3rver-cairn.js" --directory "$dir/s3" \
    --address 127.0.0.1 --port "$s3_port" --bucket cairn --silent
  wait_http "http://127.0.0.1:$s3_port/" 30
  echo "127.0.0.1:$s3_port" >"$dir/s3.endpoint"
}

# start_role ROLE N: one cairn process; waits for its listening line.
start_role() {
  local role=$1 n=$2 name="$1-$2"
  mkdir -p "$dir/data/$name"
  # shellcheck disable=SC2086
  spawn "$name" "$cairn" "$role" --grpc.host=127.0.0.1 --port=0 \
    --http.host=127.0.0.1 --http-port=0 --data-dir="$dir/data/$name" \
    --meta.backend=etcd --etcd.endpoints="$(cat "$dir/etcd.endpoint")" \
    --etcd.rootPath=cairn-local --mq.backend=kafka \
    --kafka.brokerList="$(cat "$dir/kafka.brokers")" \
    --objstore.backend=s3 --minio.address="$(cat "$dir/s3.endpoint")" \
    --minio.bucketName=cairn --minio.accessKeyID=S3RVER \
    --minio.secretAccessKey=S3RVER --session.ttl="${CAIRN_SESSION_TTL:-5s}" \
    ${CAIRN_EXTRA_FLAGS:-}
  wait_line "$dir/logs/$name.log" '^cairn listening' 60 "$(cat "$dir/pids/$name.pid")"
}

start() {
  cairn=${CAIRN_BIN:-$here/build/cmd/cairn}
  kafka_mock=${KAFKA_MOCK:-$here/build/tests/helpers/kafka_mock}
  if [[ ! -x "$cairn" || ! -x "$kafka_mock" ]]; then
    cmake -S "$here" -B "$here/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    ninja -C "$here/build" cairn kafka_mock >/dev/null
  fi
  if ls "$dir"/pids/*.pid >/dev/null 2>&1; then
    echo "local-cluster: $dir already has a running cluster (stop it first)" >&2
    exit 1
  fi
  mkdir -p "$dir/pids" "$dir/logs"
  trap 'stop_all' ERR
  start_servers
  local i proxies=()
  for ((i = 1; i <= ${CAIRN_COORDINATORS:-2}; i++)); do start_role coordinator "$i"; done
  for ((i = 1; i <= ${CAIRN_DATANODES:-2}; i++)); do start_role datanode "$i"; done
  for ((i = 1; i <= ${CAIRN_INDEXNODES:-1}; i++)); do start_role indexnode "$i"; done
  for ((i = 1; i <= ${CAIRN_QUERYNODES:-2}; i++)); do start_role querynode "$i"; done
  for ((i = 1; i <= ${CAIRN_PROXIES:-2}; i++)); do
    start_role proxy "$i"
    proxies+=("$(sed -n 's/^cairn listening grpc=\([^ ]*\).*/\1/p' "$dir/logs/proxy-$i.log" | head -1)")
  done
  trap - ERR
  local IFS=,
  echo "cairn cluster proxies=${proxies[*]}"
}

case "$cmd" in
  start) start ;;
  stop) stop_all ;;
  restart) restart_one "$3" ;;
  *) usage ;;
esac
