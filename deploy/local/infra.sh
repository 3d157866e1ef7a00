#!/usr/bin/env bash
# Local infrastructure for Tongxin without Docker: Kafka (single KRaft node), FerretDB (SQLite
# backend, speaks the MongoDB protocol) and, on request, Prometheus.
#
#   infra.sh install                      install system packages, build/fetch binaries into var/
#   infra.sh up [kafka|ferretdb|prometheus|gateway]...    start (default: kafka ferretdb), wait for health
#   infra.sh down [kafka|ferretdb|prometheus|gateway]...  stop (default: everything this script started)
#   infra.sh gateway-conf                 render the gateway's nginx config into $TONGXIN_GATEWAY_DIR
#   infra.sh status                       show each component; exit 3 if kafka or ferretdb is down
#   infra.sh topics                       create the Tongxin topics (+ .dlq twins) if missing
#
# Environment:
#   TONGXIN_KAFKA_BOOTSTRAP   default localhost:9092; anything else = external broker, only checked
#   TONGXIN_MONGODB_URL       default mongodb://127.0.0.1:27017/; non-local = external, only checked
#   TONGXIN_TOPIC_NAMESPACE   default tongxin (topics are <ns>.<stream>.v1 and <ns>.<stream>.v1.dlq)
#   TONGXIN_TOPIC_PARTITIONS  default 3
#   TONGXIN_INFRA_TIMEOUT     seconds to wait for a component to become healthy (default 90)
#   TONGXIN_VAR_DIR           state directory (default <repo>/var)
#   TONGXIN_FERRETDB_DEBUG_ADDR  FerretDB metrics/debug HTTP (default 127.0.0.1:8088, "-" = off)
#   TONGXIN_FERRETDB_LOG_LEVEL   default warn (info logs every client connection)
#   TONGXIN_GATEWAY_PORT      the gateway's port on 127.0.0.1 (default 8080)
#   TONGXIN_GATEWAY_DIR       its config, temp files and pid (default <var>/gateway)
#   TONGXIN_WEB_DIST          the built apps it serves (default <repo>/web/dist)
#   TONGXIN_<SERVICE>_UPSTREAM  host:port of each service (default 127.0.0.1:800N)
#   KAFKA_HEAP_OPTS           JVM heap for the broker (default -Xms256m -Xmx1G)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VAR="${TONGXIN_VAR_DIR:-$ROOT/var}"
mkdir -p "$VAR"
VAR="$(cd "$VAR" && pwd)"

RUN_DIR="$VAR/run"
LOG_DIR="$VAR/log"
BIN_DIR="$VAR/bin"

FERRETDB_MODULE="github.com/FerretDB/FerretDB"
FERRETDB_VERSION="v1.24.2"
FERRETDB_BIN="$BIN_DIR/ferretdb"
# Names the fixes applied to the module source before building (fix_ferretdb_id_lookups); a
# binary built without them is rebuilt.
FERRETDB_BUILD="$FERRETDB_VERSION+id-index-lookups"
FERRETDB_HOST="127.0.0.1"
FERRETDB_PORT=27017
# FerretDB exits if its debug/metrics HTTP port is taken, so this is checked before launch.
FERRETDB_DEBUG_ADDR="${TONGXIN_FERRETDB_DEBUG_ADDR:-127.0.0.1:8088}"

KAFKA_POM="$HERE/kafka/pom.xml"
KAFKA_LOG4J="$HERE/kafka/log4j2.properties"
KAFKA_TOOL_SRC="$HERE/kafka/CreateTopics.java"
KAFKA_HOME="$VAR/kafka"
KAFKA_LIBS="$KAFKA_HOME/libs"
KAFKA_CLASSES="$KAFKA_HOME/classes"
KAFKA_DATA="$KAFKA_HOME/data"
KAFKA_PROPS="$KAFKA_HOME/server.properties"
KAFKA_CLUSTER_ID_FILE="$KAFKA_HOME/cluster.id"
KAFKA_PORT=9092
KAFKA_CONTROLLER_PORT=9093
KAFKA_LOCAL_BOOTSTRAP="localhost:$KAFKA_PORT"

PROM_BIN="/usr/bin/prometheus"
PROM_CONFIG="$HERE/prometheus.yml"
PROM_DATA="$VAR/prometheus"
PROM_HOST="127.0.0.1"
PROM_PORT=9090

# Deployment checks in the tests: kustomize + kubeconform (Go module proxy) into var/bin, the
# AsyncAPI parser (npm) into var/node. Pinned so that `make test` checks the same way everywhere.
KUSTOMIZE_MODULE="sigs.k8s.io/kustomize/kustomize/v5"
KUSTOMIZE_VERSION="v5.8.2"
KUBECONFORM_MODULE="github.com/yannh/kubeconform/cmd/kubeconform"
KUBECONFORM_VERSION="v0.8.0"
NODE_PREFIX="$VAR/node"
ASYNCAPI_PARSER_VERSION="3.6.6"

# The gateway: Debian's nginx in front of the apps and the services (deploy/gateway/).
NGINX_BIN="/usr/sbin/nginx"
GATEWAY_TEMPLATE_DIR="$ROOT/deploy/gateway"
GATEWAY_DIR="${TONGXIN_GATEWAY_DIR:-$VAR/gateway}"
GATEWAY_HOST="127.0.0.1"
GATEWAY_PORT="${TONGXIN_GATEWAY_PORT:-8080}"
WEB_DIST="${TONGXIN_WEB_DIST:-$ROOT/web/dist}"

KAFKA_BOOTSTRAP="${TONGXIN_KAFKA_BOOTSTRAP:-$KAFKA_LOCAL_BOOTSTRAP}"
MONGODB_URL="${TONGXIN_MONGODB_URL:-mongodb://$FERRETDB_HOST:$FERRETDB_PORT/}"
TOPIC_NAMESPACE="${TONGXIN_TOPIC_NAMESPACE:-tongxin}"
TOPIC_PARTITIONS="${TONGXIN_TOPIC_PARTITIONS:-3}"
TIMEOUT="${TONGXIN_INFRA_TIMEOUT:-90}"

# Short-lived helper JVMs: favour startup time over peak throughput.
TOOL_JVM_OPTS=(-Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto
  "-Dlog4j2.configurationFile=$KAFKA_LOG4J" "-Dkafka.logs.dir=$LOG_DIR/kafka"
  -Dtongxin.log.file=tools.log)

log() { printf '[infra] %s\n' "$*"; }
warn() { printf '[infra] WARNING: %s\n' "$*" >&2; }
die() { printf '[infra] ERROR: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.1fs", e - s }'; }

# ---------------------------------------------------------------------------------------------
# Generic process helpers
# ---------------------------------------------------------------------------------------------

port_open() { # host port
  timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

# A pid only counts if its command line still contains our marker (pids get reused).
pid_of() { # name marker -> prints pid if our process is alive
  local pidfile="$RUN_DIR/$1.pid" pid cmdline
  [[ -f $pidfile ]] || return 1
  pid="$(<"$pidfile")"
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  [[ $cmdline == *"$2"* ]] || return 1
  echo "$pid"
}

rotate_log() { # name; keeps the previous run's log for post-mortems
  mkdir -p "$LOG_DIR"
  [[ -s $LOG_DIR/$1.log ]] && mv -f "$LOG_DIR/$1.log" "$LOG_DIR/$1.log.1"
  : >"$LOG_DIR/$1.log"
}

# Components that `up` must wait for: launched now or already running under our pid file.
declare -A WAIT=()

start_bg() { # name marker cmd...; setsid so Ctrl-C / job-control kills of the caller don't reach it
  local name=$1 marker=$2 pid i
  shift 2
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  (cd "$VAR" && exec setsid nohup "$@" >>"$LOG_DIR/$name.log" 2>&1 </dev/null) &
  pid=$!
  echo "$pid" >"$RUN_DIR/$name.pid"
  # Until the exec chain finishes, the pid's cmdline is still bash's and pid_of would miss it.
  for ((i = 0; i < 100; i++)); do
    if pid_of "$name" "$marker" >/dev/null || ! kill -0 "$pid" 2>/dev/null; then break; fi
    sleep 0.02
  done
  WAIT[$name]=1
}

wait_healthy() { # name marker check_fn [args...]
  local name=$1 marker=$2 check=$3 start deadline
  shift 3
  start="$(now)"
  deadline=$((SECONDS + TIMEOUT))
  until "$check" "$@"; do
    if ! pid_of "$name" "$marker" >/dev/null; then
      printf '[infra] ERROR: %s exited during startup; last log lines (%s):\n' "$name" "$LOG_DIR/$name.log" >&2
      tail -n 20 "$LOG_DIR/$name.log" >&2 || true
      return 1
    fi
    if ((SECONDS >= deadline)); then
      printf '[infra] ERROR: %s did not become healthy within %ss; see %s\n' "$name" "$TIMEOUT" "$LOG_DIR/$name.log" >&2
      tail -n 20 "$LOG_DIR/$name.log" >&2 || true
      return 1
    fi
    sleep 0.3
  done
  log "$name: healthy after $(elapsed "$start") (pid $(pid_of "$name" "$marker"), log $LOG_DIR/$name.log)"
}

stop_component() { # name marker grace_seconds [polls before a second SIGTERM, 0.1s each]
  local name=$1 marker=$2 grace=$3 reterm=${4:-0} pid start deadline polls=0
  if ! pid="$(pid_of "$name" "$marker")"; then
    rm -f "$RUN_DIR/$name.pid"
    log "$name: not running"
    return 0
  fi
  start="$(now)"
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + grace))
  while pid_of "$name" "$marker" >/dev/null; do
    polls=$((polls + 1))
    if ((polls == reterm)); then
      kill -TERM "$pid" 2>/dev/null || true
    fi
    if ((SECONDS >= deadline)); then
      warn "$name (pid $pid) ignored SIGTERM for ${grace}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
      break
    fi
    sleep 0.1
  done
  rm -f "$RUN_DIR/$name.pid"
  log "$name: stopped after $(elapsed "$start")"
}

# ---------------------------------------------------------------------------------------------
# Health checks
# ---------------------------------------------------------------------------------------------

kafka_healthy() { # bootstrap; a metadata answer listing at least one broker
  local first="${1%%,*}" meta
  port_open "${first%:*}" "${first##*:}" || return 1
  meta="$(kcat -b "$1" -L -m 3 2>/dev/null)" || return 1
  [[ $meta == *" brokers:"* ]]
}

# Minimal MongoDB OP_MSG {ping: 1} with the stdlib, so no driver is needed on the host.
mongo_ping() { # host port
  python3 - "$1" "$2" <<'PY'
import socket, struct, sys

def bson(doc):
    out = b""
    for key, val in doc.items():
        k = key.encode() + b"\0"
        if isinstance(val, int):
            out += b"\x10" + k + struct.pack("<i", val)
        else:
            s = val.encode() + b"\0"
            out += b"\x02" + k + struct.pack("<i", len(s)) + s
    return struct.pack("<i", len(out) + 5) + out + b"\0"

def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise OSError("connection closed")
        buf += chunk
    return buf

body = struct.pack("<I", 0) + b"\0" + bson({"ping": 1, "$db": "admin"})
msg = struct.pack("<iiii", 16 + len(body), 1, 0, 2013) + body
try:
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2) as sock:
        sock.sendall(msg)
        length = struct.unpack("<i", recv_exact(sock, 16)[:4])[0]
        reply = recv_exact(sock, length - 16)
except (OSError, struct.error):
    sys.exit(1)
sys.exit(0 if b"\x01ok\x00" + struct.pack("<d", 1.0) in reply else 1)
PY
}

http_ok() { # url
  python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$1" 2>/dev/null
}

# ---------------------------------------------------------------------------------------------
# Configuration helpers
# ---------------------------------------------------------------------------------------------

kafka_is_local() {
  [[ $KAFKA_BOOTSTRAP == "localhost:$KAFKA_PORT" || $KAFKA_BOOTSTRAP == "127.0.0.1:$KAFKA_PORT" ]]
}

# Splits TONGXIN_MONGODB_URL into MONGO_HOST / MONGO_PORT (first host only).
parse_mongodb_url() {
  local rest="${MONGODB_URL#*://}"
  rest="${rest#*@}"
  rest="${rest%%[/?]*}"
  rest="${rest%%,*}"
  MONGO_HOST="${rest%:*}"
  MONGO_PORT=27017
  [[ $rest == *:* ]] && MONGO_PORT="${rest##*:}"
  return 0
}

ferretdb_is_local() {
  parse_mongodb_url
  [[ $MONGODB_URL == mongodb://* && $MONGO_PORT == "$FERRETDB_PORT" &&
    ($MONGO_HOST == localhost || $MONGO_HOST == 127.0.0.1) ]]
}

topic_names() {
  local s
  for s in needs volunteers notify identity; do
    printf '%s\n' "$TOPIC_NAMESPACE.$s.v1" "$TOPIC_NAMESPACE.$s.v1.dlq"
  done
}

java_cp() { printf '%s/*:%s' "$KAFKA_LIBS" "$KAFKA_CLASSES"; }

pom_stamp() { sha256sum "$KAFKA_POM" | cut -d' ' -f1; }

require_kafka_libs() {
  [[ -f $KAFKA_LIBS/.stamp && "$(<"$KAFKA_LIBS/.stamp")" == "$(pom_stamp)" ]] ||
    die "Kafka jars missing or stale in $KAFKA_LIBS; run: $0 install"
}

# ---------------------------------------------------------------------------------------------
# install
# ---------------------------------------------------------------------------------------------

install_system_packages() {
  local pkgs=()
  command -v kcat >/dev/null || pkgs+=(kcat)
  [[ -x $PROM_BIN ]] || pkgs+=(prometheus)
  # The gateway in front of the apps and services.
  [[ -x $NGINX_BIN ]] || pkgs+=(nginx-light)
  command -v python3 >/dev/null || pkgs+=(python3)
  # javac for the topic helper, mvn to resolve the Kafka jars.
  command -v javac >/dev/null || pkgs+=(default-jdk-headless)
  command -v mvn >/dev/null || pkgs+=(maven)
  # HTTP load generator for `make bench`.
  command -v wrk >/dev/null || pkgs+=(wrk)
  # node + npm for the AsyncAPI parser that checks docs/events.
  command -v npm >/dev/null || pkgs+=(nodejs npm)
  # Headless browser for the dashboard test (driven by Playwright with executable_path).
  [[ -x /usr/bin/chromium ]] || pkgs+=(chromium)
  # A CJK font, so that the dashboard's Chinese renders in the test's screenshots.
  [[ -d /usr/share/fonts/truetype/wqy ]] || pkgs+=(fonts-wqy-zenhei)
  # pdftotext, which the certificate test reads the PDF's Chinese back with.
  command -v pdftotext >/dev/null || pkgs+=(poppler-utils)
  ((${#pkgs[@]} == 0)) && return 0
  ((EUID == 0)) || die "need root to install: ${pkgs[*]}"
  log "apt: installing ${pkgs[*]}"
  local start
  start="$(now)"
  mkdir -p "$LOG_DIR"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}"; } \
    >"$LOG_DIR/apt.log" 2>&1 || { tail -n 30 "$LOG_DIR/apt.log" >&2; die "apt-get failed; see $LOG_DIR/apt.log"; }
  # Debian auto-starts its own prometheus.service on :9090, which would collide with `up prometheus`.
  if [[ " ${pkgs[*]} " == *" prometheus "* && -d /run/systemd/system ]]; then
    systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
  # Likewise Debian's nginx.service on :80: the gateway is started by `up gateway` only.
  if [[ " ${pkgs[*]} " == *" nginx-light "* && -d /run/systemd/system ]]; then
    systemctl disable --now nginx >/dev/null 2>&1 || true
  fi
  log "apt: done in $(elapsed "$start")"
}

# `go install` of FerretDB panics at startup (build/version/version.txt is generated upstream and
# absent from the module zip), so build from a writable copy of the module with that file added.
install_ferretdb() {
  if [[ -x $FERRETDB_BIN && -f $FERRETDB_BIN.build && "$(<"$FERRETDB_BIN.build")" == "$FERRETDB_BUILD" ]]; then
    return 0
  fi
  command -v go >/dev/null || die "Go toolchain (>= 1.21) not found; needed to build FerretDB"
  log "ferretdb: building $FERRETDB_VERSION (≈1 min on 2 cores with cold Go caches)"
  local start tmp src
  start="$(now)"
  tmp="$(mktemp -d)"
  # A go.mod/go.work above the cwd or odd GOFLAGS must not influence this standalone build.
  src="$(cd "$tmp" && GOWORK=off GOFLAGS='' go mod download -json "$FERRETDB_MODULE@$FERRETDB_VERSION" |
    python3 -c 'import json, sys; d = json.load(sys.stdin); sys.exit(d.get("Error")) if d.get("Error") else print(d["Dir"])')" ||
    { rm -rf "$tmp"; die "ferretdb: go mod download failed"; }
  cp -R "$src/." "$tmp/src"
  chmod -R u+w "$tmp/src"
  echo "$FERRETDB_VERSION" >"$tmp/src/build/version/version.txt"
  fix_ferretdb_id_lookups "$tmp/src" || { rm -rf "$tmp"; die "ferretdb: the _id lookup fixes no longer apply"; }
  mkdir -p "$BIN_DIR" "$LOG_DIR"
  # CGO off: the SQLite backend is pure Go, so no C compiler is needed and the binary is static.
  if ! (cd "$tmp/src" && GOWORK=off GOFLAGS='' CGO_ENABLED=0 go build -trimpath -o "$FERRETDB_BIN.tmp" ./cmd/ferretdb) \
    >"$LOG_DIR/ferretdb-build.log" 2>&1; then
    rm -rf "$tmp"
    tail -n 30 "$LOG_DIR/ferretdb-build.log" >&2
    die "ferretdb: go build failed; see $LOG_DIR/ferretdb-build.log"
  fi
  mv -f "$FERRETDB_BIN.tmp" "$FERRETDB_BIN"
  echo "$FERRETDB_BUILD" >"$FERRETDB_BIN.build"
  rm -rf "$tmp"
  log "ferretdb: built $FERRETDB_BIN in $(elapsed "$start")"
}

# Lookups by `_id` in FerretDB 1.24's SQLite backend scan the whole table; two edits to the
# module copy make them use the unique `_id` index, as MongoDB does (both checked by
# tests/integration/test_ferretdb_id_index.py):
# - The backend compares `_id` as `_ferretdb_sjson->'$._id'`, while the index it creates is on
#   `_ferretdb_sjson->"_id"`: the same value, but SQLite matches an index to a query by the text of
#   its expression, so EXPLAIN said `SCAN` (20,000 documents: 20-35 ms a lookup, 0.5 ms after).
#   The PostgreSQL backend already writes `->'_id'`.
# - It narrows by `_id` only when `_id` is the filter's one key. The handlers apply the whole
#   filter to what the backend returns, so narrowing by `_id` beside other conditions (a
#   compare-and-set such as `{_id, _version}`) is just as correct.
fix_ferretdb_id_lookups() {
  local metadata="$1/internal/backends/sqlite/metadata/metadata.go" collection="$1/internal/backends/sqlite/collection.go"
  sed -i "s|IDColumn = DefaultColumn + \"->'\\\$._id'\"|IDColumn = DefaultColumn + \"->'_id'\"|" "$metadata"
  sed -i 's|if params.Filter.Len() == 1 {|if params.Filter.Has("_id") {|' "$collection"
  grep -q "IDColumn = DefaultColumn + \"->'_id'\"" "$metadata" &&
    [[ "$(grep -c 'if params.Filter.Has("_id") {' "$collection")" == 2 ]]
}

install_kafka() {
  if [[ ! -f $KAFKA_LIBS/.stamp || "$(<"$KAFKA_LIBS/.stamp")" != "$(pom_stamp)" ]]; then
    log "kafka: resolving jars with maven"
    local start
    start="$(now)"
    rm -rf "$KAFKA_LIBS.tmp"
    mkdir -p "$LOG_DIR"
    # Output to a file: even -q -B leaves ANSI escapes on the terminal.
    mvn -B -Dstyle.color=never -f "$KAFKA_POM" dependency:copy-dependencies \
      -DoutputDirectory="$KAFKA_LIBS.tmp" >"$LOG_DIR/maven.log" 2>&1 ||
      { tail -n 30 "$LOG_DIR/maven.log" >&2; die "kafka: maven dependency:copy-dependencies failed; see $LOG_DIR/maven.log"; }
    pom_stamp >"$KAFKA_LIBS.tmp/.stamp"
    rm -rf "$KAFKA_LIBS"
    mv "$KAFKA_LIBS.tmp" "$KAFKA_LIBS"
    rm -rf "$KAFKA_CLASSES"
    log "kafka: $(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars in $KAFKA_LIBS in $(elapsed "$start")"
  fi
  compile_topic_tool
}

compile_topic_tool() {
  [[ -f $KAFKA_CLASSES/CreateTopics.class && $KAFKA_CLASSES/CreateTopics.class -nt $KAFKA_TOOL_SRC ]] && return 0
  require_kafka_libs
  mkdir -p "$KAFKA_CLASSES"
  javac -nowarn -cp "$KAFKA_LIBS/*" -d "$KAFKA_CLASSES" "$KAFKA_TOOL_SRC" || die "kafka: compiling $KAFKA_TOOL_SRC failed"
}

go_tool_version() { # binary -> the module version it was built from
  go version -m "$1" 2>/dev/null | awk '$1 == "mod" { print $3; exit }'
}

install_go_tool() { # name module version
  local name=$1 module=$2 version=$3 start
  [[ -x $BIN_DIR/$name && "$(go_tool_version "$BIN_DIR/$name")" == "$version" ]] && return 0
  command -v go >/dev/null || die "Go toolchain not found; needed to install $name"
  log "$name: go install $module@$version"
  start="$(now)"
  mkdir -p "$BIN_DIR" "$LOG_DIR"
  # GOTOOLCHAIN=local: these versions build with the machine's Go; never fetch another toolchain.
  (cd "$BIN_DIR" && GOWORK=off GOFLAGS='' GOTOOLCHAIN=local GOBIN="$BIN_DIR" go install "$module@$version") \
    >"$LOG_DIR/go-install-$name.log" 2>&1 ||
    { tail -n 30 "$LOG_DIR/go-install-$name.log" >&2; die "$name: go install failed; see $LOG_DIR/go-install-$name.log"; }
  log "$name: installed $BIN_DIR/$name in $(elapsed "$start")"
}

install_asyncapi_parser() {
  local pkg="$NODE_PREFIX/node_modules/@asyncapi/parser/package.json" start
  if [[ -f $pkg ]] && [[ "$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["version"])' "$pkg")" == "$ASYNCAPI_PARSER_VERSION" ]]; then
    return 0
  fi
  command -v npm >/dev/null || die "npm not found; needed for @asyncapi/parser"
  log "asyncapi: npm install @asyncapi/parser@$ASYNCAPI_PARSER_VERSION into $NODE_PREFIX"
  start="$(now)"
  mkdir -p "$NODE_PREFIX" "$LOG_DIR"
  [[ -f $NODE_PREFIX/package.json ]] || echo '{"name": "tongxin-tools", "private": true}' >"$NODE_PREFIX/package.json"
  npm install --prefix "$NODE_PREFIX" --no-audit --no-fund --loglevel=error \
    "@asyncapi/parser@$ASYNCAPI_PARSER_VERSION" >"$LOG_DIR/npm.log" 2>&1 ||
    { tail -n 30 "$LOG_DIR/npm.log" >&2; die "asyncapi: npm install failed; see $LOG_DIR/npm.log"; }
  log "asyncapi: installed in $(elapsed "$start")"
}

install_deploy_tools() {
  install_go_tool kustomize "$KUSTOMIZE_MODULE" "$KUSTOMIZE_VERSION"
  install_go_tool kubeconform "$KUBECONFORM_MODULE" "$KUBECONFORM_VERSION"
  install_asyncapi_parser
}

cmd_install() {
  local start
  start="$(now)"
  mkdir -p "$VAR"
  install_system_packages
  install_kafka
  install_ferretdb
  install_deploy_tools
  log "install: complete in $(elapsed "$start")"
}

# ---------------------------------------------------------------------------------------------
# Kafka
# ---------------------------------------------------------------------------------------------

KAFKA_MARKER="$KAFKA_PROPS"

write_kafka_properties() {
  mkdir -p "$KAFKA_DATA"
  cat >"$KAFKA_PROPS" <<EOF
# Generated by deploy/local/infra.sh on every start; edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=localhost:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://localhost:$KAFKA_PORT,CONTROLLER://localhost:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://localhost:$KAFKA_PORT,CONTROLLER://localhost:$KAFKA_CONTROLLER_PORT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DATA
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
# Single broker: internal topics cannot have more than one replica.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Fewer internal partitions = faster first consumer-group join on a small dev box.
offsets.topic.num.partitions=10
transaction.state.log.num.partitions=10
# Consumers in tests should join immediately; topics must be created explicitly.
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
num.network.threads=2
num.io.threads=4
log.retention.hours=72
EOF
}

kafka_launch() {
  if ! kafka_is_local; then
    kafka_healthy "$KAFKA_BOOTSTRAP" || die "kafka: external broker $KAFKA_BOOTSTRAP is not reachable"
    log "kafka: using external broker $KAFKA_BOOTSTRAP (reachable; not started locally)"
    return 0
  fi
  if pid_of kafka "$KAFKA_MARKER" >/dev/null; then
    log "kafka: already running (pid $(pid_of kafka "$KAFKA_MARKER"))"
    WAIT[kafka]=1
    return 0
  fi
  if port_open 127.0.0.1 "$KAFKA_PORT" || port_open 127.0.0.1 "$KAFKA_CONTROLLER_PORT"; then
    kafka_healthy "$KAFKA_LOCAL_BOOTSTRAP" && { log "kafka: a broker not started by this script already serves $KAFKA_LOCAL_BOOTSTRAP; leaving it alone"; return 0; }
    die "kafka: port $KAFKA_PORT or $KAFKA_CONTROLLER_PORT is in use by something that is not a Kafka broker"
  fi
  require_kafka_libs
  command -v kcat >/dev/null || die "kcat not found; run: $0 install"
  rotate_log kafka
  mkdir -p "$LOG_DIR/kafka"
  write_kafka_properties
  if [[ ! -s $KAFKA_CLUSTER_ID_FILE ]]; then
    # `|| true`: a failed JVM is reported by the format check below instead of a silent set -e exit.
    { java "${TOOL_JVM_OPTS[@]}" -cp "$(java_cp)" kafka.tools.StorageTool random-uuid 2>>"$LOG_DIR/kafka.log" |
      tail -n 1 >"$KAFKA_CLUSTER_ID_FILE.tmp"; } || true
    grep -qE '^[A-Za-z0-9_-]{22}$' "$KAFKA_CLUSTER_ID_FILE.tmp" || die "kafka: could not generate a cluster id; see $LOG_DIR/kafka.log"
    mv "$KAFKA_CLUSTER_ID_FILE.tmp" "$KAFKA_CLUSTER_ID_FILE"
  fi
  if [[ ! -f $KAFKA_DATA/meta.properties ]]; then
    log "kafka: formatting $KAFKA_DATA (cluster id $(<"$KAFKA_CLUSTER_ID_FILE"))"
    # --standalone: this node is the whole (dynamic) controller quorum.
    java "${TOOL_JVM_OPTS[@]}" -cp "$(java_cp)" kafka.tools.StorageTool format --standalone --ignore-formatted \
      -t "$(<"$KAFKA_CLUSTER_ID_FILE")" -c "$KAFKA_PROPS" >>"$LOG_DIR/kafka.log" 2>&1 ||
      die "kafka: storage format failed; see $LOG_DIR/kafka.log"
  fi
  log "kafka: starting on $KAFKA_LOCAL_BOOTSTRAP (controller :$KAFKA_CONTROLLER_PORT)"
  # shellcheck disable=SC2086 # heap/perf opts are intentionally word-split like Kafka's own scripts
  start_bg kafka "$KAFKA_MARKER" java ${KAFKA_HEAP_OPTS:--Xms256m -Xmx1G} \
    ${KAFKA_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent} \
    -Djava.awt.headless=true -Dlog4j2.shutdownHookEnabled=false "-Dlog4j2.configurationFile=$KAFKA_LOG4J" "-Dkafka.logs.dir=$LOG_DIR/kafka" \
    -cp "$(java_cp)" kafka.Kafka "$KAFKA_PROPS"
}

kafka_wait() {
  [[ -n ${WAIT[kafka]:-} ]] || return 0 # external or unmanaged: already checked in kafka_launch
  wait_healthy kafka "$KAFKA_MARKER" kafka_healthy "$KAFKA_LOCAL_BOOTSTRAP" ||
    { printf '[infra] kafka: full broker log (INFO): %s\n' "$LOG_DIR/kafka/server.log" >&2; return 1; }
}

# ---------------------------------------------------------------------------------------------
# FerretDB
# ---------------------------------------------------------------------------------------------

FERRETDB_MARKER="$FERRETDB_BIN"

ferretdb_launch() {
  if ! ferretdb_is_local; then
    if [[ $MONGODB_URL == mongodb+srv://* ]]; then
      warn "ferretdb: external $MONGODB_URL uses SRV; reachability not checked"
      return 0
    fi
    mongo_ping "$MONGO_HOST" "$MONGO_PORT" || die "ferretdb: external MongoDB $MONGO_HOST:$MONGO_PORT does not answer ping"
    log "ferretdb: using external MongoDB $MONGO_HOST:$MONGO_PORT (answers ping; not started locally)"
    return 0
  fi
  if pid_of ferretdb "$FERRETDB_MARKER" >/dev/null; then
    log "ferretdb: already running (pid $(pid_of ferretdb "$FERRETDB_MARKER"))"
    WAIT[ferretdb]=1
    return 0
  fi
  if port_open "$FERRETDB_HOST" "$FERRETDB_PORT"; then
    mongo_ping "$FERRETDB_HOST" "$FERRETDB_PORT" && { log "ferretdb: a MongoDB-compatible server not started by this script already serves :$FERRETDB_PORT; leaving it alone"; return 0; }
    die "ferretdb: port $FERRETDB_PORT is in use by something that does not answer MongoDB ping"
  fi
  [[ -x $FERRETDB_BIN ]] || die "ferretdb binary missing at $FERRETDB_BIN; run: $0 install"
  local debug_addr="$FERRETDB_DEBUG_ADDR"
  if [[ $debug_addr != - ]] && port_open "${debug_addr%:*}" "${debug_addr##*:}"; then
    warn "ferretdb: debug/metrics port $debug_addr is busy; starting without it"
    debug_addr=-
  fi
  mkdir -p "$VAR/ferretdb/data" "$VAR/ferretdb/state"
  rotate_log ferretdb
  log "ferretdb: starting on $FERRETDB_HOST:$FERRETDB_PORT (SQLite in $VAR/ferretdb/data)"
  # --state-dir: default is the cwd; --log-level=warn: INFO logs every client connection.
  start_bg ferretdb "$FERRETDB_MARKER" "$FERRETDB_BIN" --handler=sqlite --sqlite-url="file:$VAR/ferretdb/data/" \
    --listen-addr="$FERRETDB_HOST:$FERRETDB_PORT" --state-dir="$VAR/ferretdb/state" \
    --debug-addr="$debug_addr" --telemetry=disable --log-level="${TONGXIN_FERRETDB_LOG_LEVEL:-warn}"
}

ferretdb_wait() {
  [[ -n ${WAIT[ferretdb]:-} ]] || return 0 # external or unmanaged: already checked in ferretdb_launch
  wait_healthy ferretdb "$FERRETDB_MARKER" mongo_ping "$FERRETDB_HOST" "$FERRETDB_PORT"
}

# ---------------------------------------------------------------------------------------------
# Prometheus (optional; never part of the default `up`)
# ---------------------------------------------------------------------------------------------

PROM_MARKER="$PROM_CONFIG"

prometheus_launch() {
  if pid_of prometheus "$PROM_MARKER" >/dev/null; then
    log "prometheus: already running (pid $(pid_of prometheus "$PROM_MARKER"))"
    WAIT[prometheus]=1
    return 0
  fi
  [[ -x $PROM_BIN ]] || die "prometheus not found at $PROM_BIN; run: $0 install"
  port_open "$PROM_HOST" "$PROM_PORT" && die "prometheus: port $PROM_PORT is already in use (Debian's prometheus.service?)"
  mkdir -p "$PROM_DATA"
  rotate_log prometheus
  log "prometheus: starting on $PROM_HOST:$PROM_PORT"
  start_bg prometheus "$PROM_MARKER" "$PROM_BIN" --config.file="$PROM_CONFIG" --storage.tsdb.path="$PROM_DATA" \
    --storage.tsdb.retention.time=7d --web.listen-address="$PROM_HOST:$PROM_PORT"
}

prometheus_wait() {
  [[ -n ${WAIT[prometheus]:-} ]] || return 0
  wait_healthy prometheus "$PROM_MARKER" http_ok "http://$PROM_HOST:$PROM_PORT/-/ready"
}

# ---------------------------------------------------------------------------------------------
# Gateway (nginx; started by `make run` and the browser tests, never part of the default `up`)
# ---------------------------------------------------------------------------------------------

GATEWAY_MARKER="$GATEWAY_DIR/nginx.conf"

cmd_gateway_conf() {
  local listen="$GATEWAY_HOST:$GATEWAY_PORT"
  mkdir -p "$GATEWAY_DIR/tmp" "$LOG_DIR"
  sed -e "s|\${GATEWAY_LISTEN}|$listen|g" \
    -e "s|\${WEB_ROOT}|$WEB_DIST|g" \
    -e "s|\${GATEWAY_CONF_DIR}|$GATEWAY_TEMPLATE_DIR|g" \
    -e "s|\${GATEWAY_ACCESS_LOG}|$LOG_DIR/gateway.access.log|g" \
    -e "s|\${IDENTITY_UPSTREAM}|${TONGXIN_IDENTITY_UPSTREAM:-127.0.0.1:8005}|g" \
    -e "s|\${NEEDS_UPSTREAM}|${TONGXIN_NEEDS_UPSTREAM:-127.0.0.1:8001}|g" \
    -e "s|\${VOLUNTEERS_UPSTREAM}|${TONGXIN_VOLUNTEERS_UPSTREAM:-127.0.0.1:8002}|g" \
    -e "s|\${NOTIFY_UPSTREAM}|${TONGXIN_NOTIFY_UPSTREAM:-127.0.0.1:8003}|g" \
    -e "s|\${METRICS_UPSTREAM}|${TONGXIN_METRICS_UPSTREAM:-127.0.0.1:8004}|g" \
    "$GATEWAY_TEMPLATE_DIR/tongxin.conf.template" >"$GATEWAY_DIR/tongxin.conf"
  cat >"$GATEWAY_DIR/nginx.conf" <<CONF
# Rendered by deploy/local/infra.sh from deploy/gateway/; edit those, not this.
worker_processes 1;
error_log $LOG_DIR/gateway.log warn;
pid $GATEWAY_DIR/nginx.pid;
events { worker_connections 1024; }
http {
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  client_body_temp_path $GATEWAY_DIR/tmp/body;
  proxy_temp_path $GATEWAY_DIR/tmp/proxy;
  fastcgi_temp_path $GATEWAY_DIR/tmp/fastcgi;
  uwsgi_temp_path $GATEWAY_DIR/tmp/uwsgi;
  scgi_temp_path $GATEWAY_DIR/tmp/scgi;
  include $GATEWAY_DIR/tongxin.conf;
}
CONF
  "$NGINX_BIN" -t -q -e "$LOG_DIR/gateway.log" -p "$GATEWAY_DIR" -c "$GATEWAY_DIR/nginx.conf" ||
    die "gateway: nginx rejects $GATEWAY_DIR/nginx.conf"
  echo "$GATEWAY_DIR/nginx.conf"
}

gateway_launch() {
  if pid_of gateway "$GATEWAY_MARKER" >/dev/null; then
    log "gateway: already running (pid $(pid_of gateway "$GATEWAY_MARKER"))"
    WAIT[gateway]=1
    return 0
  fi
  [[ -x $NGINX_BIN ]] || die "nginx not found at $NGINX_BIN; run: $0 install"
  [[ -f $WEB_DIST/index.html ]] || warn "gateway: $WEB_DIST has no built apps (make web)"
  port_open "$GATEWAY_HOST" "$GATEWAY_PORT" && die "gateway: port $GATEWAY_PORT is already in use"
  cmd_gateway_conf >/dev/null
  rotate_log gateway
  log "gateway: starting on $GATEWAY_HOST:$GATEWAY_PORT"
  start_bg gateway "$GATEWAY_MARKER" "$NGINX_BIN" -e "$LOG_DIR/gateway.log" -p "$GATEWAY_DIR" \
    -c "$GATEWAY_MARKER" -g "daemon off;"
}

gateway_wait() {
  [[ -n ${WAIT[gateway]:-} ]] || return 0
  wait_healthy gateway "$GATEWAY_MARKER" http_ok "http://$GATEWAY_HOST:$GATEWAY_PORT/healthz"
}

# ---------------------------------------------------------------------------------------------
# Topics
# ---------------------------------------------------------------------------------------------

cmd_topics() {
  local start meta wanted=() missing=() t parts
  start="$(now)"
  command -v kcat >/dev/null || die "kcat not found; run: $0 install"
  meta="$(kcat -b "$KAFKA_BOOTSTRAP" -L -m 5 2>/dev/null)" || die "topics: Kafka at $KAFKA_BOOTSTRAP is not reachable"
  mapfile -t wanted < <(topic_names)
  for t in "${wanted[@]}"; do
    parts="$(sed -n "s/^  topic \"${t//./\\.}\" with \([0-9]*\) partitions:\$/\1/p" <<<"$meta")"
    if [[ -z $parts ]]; then
      missing+=("$t")
    elif ((parts < TOPIC_PARTITIONS)); then
      warn "topic $t has $parts partitions (< TONGXIN_TOPIC_PARTITIONS=$TOPIC_PARTITIONS); not changed"
    fi
  done
  if ((${#missing[@]} == 0)); then
    log "topics: all ${#wanted[@]} present on $KAFKA_BOOTSTRAP"
    return 0
  fi
  compile_topic_tool
  # One JVM for all topics; "already exists" (e.g. a service racing us) counts as success.
  java "${TOOL_JVM_OPTS[@]}" -cp "$(java_cp)" CreateTopics "$KAFKA_BOOTSTRAP" "$TOPIC_PARTITIONS" "${missing[@]}" |
    sed 's/^/[infra] topics: /' || die "topics: creation failed (see $LOG_DIR/kafka/tools.log)"
  log "topics: done in $(elapsed "$start")"
}

# ---------------------------------------------------------------------------------------------
# up / down / status
# ---------------------------------------------------------------------------------------------

select_components() { # default list, then user args -> global COMPS
  local default=$1 c
  shift
  # shellcheck disable=SC2086 # the default list is space-separated on purpose
  (($# == 0)) && set -- $default
  for c in "$@"; do
    case $c in
      kafka | ferretdb | prometheus | gateway) ;;
      *) die "unknown component '$c' (expected kafka, ferretdb, prometheus or gateway)" ;;
    esac
  done
  COMPS=("$@")
}

cmd_up() {
  local comps c start rc=0
  select_components "kafka ferretdb" "$@"
  comps=("${COMPS[@]}")
  start="$(now)"
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  # Launch everything first, then wait, so slow JVM startup overlaps with the rest.
  for c in "${comps[@]}"; do "${c}_launch"; done
  # FerretDB first: it is ready in well under a second while Kafka takes several.
  for c in ferretdb kafka prometheus gateway; do
    [[ " ${comps[*]} " == *" $c "* ]] || continue
    "${c}_wait" || rc=1
  done
  ((rc == 0)) || die "up: some components did not come up (see above)"
  if [[ " ${comps[*]} " == *" kafka "* ]]; then
    cmd_topics
  fi
  log "up: ${comps[*]} ready in $(elapsed "$start")"
}

cmd_down() {
  local comps c
  select_components "gateway prometheus ferretdb kafka" "$@"
  comps=("${COMPS[@]}")
  for c in "${comps[@]}"; do
    case $c in
      kafka) stop_component kafka "$KAFKA_MARKER" 30 ;;
      # FerretDB holds idle client connections for a fixed 3s drain; a second SIGTERM (after 1s,
      # when in-flight requests are long done) makes it exit at once. SQLite is crash-safe anyway.
      ferretdb) stop_component ferretdb "$FERRETDB_MARKER" 10 10 ;;
      prometheus) stop_component prometheus "$PROM_MARKER" 15 ;;
      gateway) stop_component gateway "$GATEWAY_MARKER" 10 ;;
    esac
  done
}

status_line() { # name state pid endpoint log
  printf '%-11s %-26s %-12s %-34s %s\n' "$1" "$2" "$3" "$4" "$5"
}

cmd_status() {
  local pid st rc=0
  status_line COMPONENT STATE PID ENDPOINT LOG
  if ! kafka_is_local; then
    if kafka_healthy "$KAFKA_BOOTSTRAP"; then status_line kafka "external, reachable" - "$KAFKA_BOOTSTRAP" -
    else status_line kafka "external, UNREACHABLE" - "$KAFKA_BOOTSTRAP" - && rc=3; fi
  elif pid="$(pid_of kafka "$KAFKA_MARKER")"; then
    st=running
    kafka_healthy "$KAFKA_LOCAL_BOOTSTRAP" || { st="running, not answering"; rc=3; }
    status_line kafka "$st" "$pid" "$KAFKA_LOCAL_BOOTSTRAP (ctrl :$KAFKA_CONTROLLER_PORT)" "$LOG_DIR/kafka.log"
  elif kafka_healthy "$KAFKA_LOCAL_BOOTSTRAP"; then
    status_line kafka "running (not ours)" - "$KAFKA_LOCAL_BOOTSTRAP" -
  else
    status_line kafka stopped - "$KAFKA_LOCAL_BOOTSTRAP (ctrl :$KAFKA_CONTROLLER_PORT)" "$LOG_DIR/kafka.log"
    rc=3
  fi
  if ! ferretdb_is_local; then
    if [[ $MONGODB_URL == mongodb+srv://* ]] || mongo_ping "$MONGO_HOST" "$MONGO_PORT"; then
      status_line ferretdb "external" - "$MONGO_HOST:$MONGO_PORT" -
    else status_line ferretdb "external, UNREACHABLE" - "$MONGO_HOST:$MONGO_PORT" - && rc=3; fi
  elif pid="$(pid_of ferretdb "$FERRETDB_MARKER")"; then
    st=running
    mongo_ping "$FERRETDB_HOST" "$FERRETDB_PORT" || { st="running, not answering"; rc=3; }
    status_line ferretdb "$st" "$pid" "$FERRETDB_HOST:$FERRETDB_PORT" "$LOG_DIR/ferretdb.log"
  elif mongo_ping "$FERRETDB_HOST" "$FERRETDB_PORT"; then
    status_line ferretdb "running (not ours)" - "$FERRETDB_HOST:$FERRETDB_PORT" -
  else
    status_line ferretdb stopped - "$FERRETDB_HOST:$FERRETDB_PORT" "$LOG_DIR/ferretdb.log"
    rc=3
  fi
  if pid="$(pid_of prometheus "$PROM_MARKER")"; then
    status_line prometheus running "$pid" "$PROM_HOST:$PROM_PORT" "$LOG_DIR/prometheus.log"
  else
    status_line prometheus "stopped (optional)" - "$PROM_HOST:$PROM_PORT" "$LOG_DIR/prometheus.log"
  fi
  if pid="$(pid_of gateway "$GATEWAY_MARKER")"; then
    status_line gateway running "$pid" "$GATEWAY_HOST:$GATEWAY_PORT" "$LOG_DIR/gateway.log"
  else
    status_line gateway "stopped (optional)" - "$GATEWAY_HOST:$GATEWAY_PORT" "$LOG_DIR/gateway.log"
  fi
  return "$rc"
}

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

main() {
  local cmd="${1:-}"
  (($# > 0)) && shift
  case $cmd in
    install) cmd_install ;;
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    status) cmd_status ;;
    topics) cmd_topics ;;
    gateway-conf) cmd_gateway_conf ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
