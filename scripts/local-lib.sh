# The parts of the local topology that are started more than once: by local-up, and by the
# fault suite bringing back what it killed. Sourced after common.sh, not run.
# Settings are those local-up saved in .run/local/env, so a restart is the same process.

LOCAL_RUN="$ROOT/.run/local"

# replica_port SERVICE N: the public port of replica N; its admin port is 1000 above.
replica_port() {
  if [ "$1" = issuer ]; then echo $((18080 + $2)); else echo $((18180 + $2)); fi
}

# start_replica SERVICE N: replica N in the background, its pid recorded, its log appended.
start_replica() {
  local service=$1 i=$2 port
  port=$(replica_port "$service" "$i")
  (
    set -a
    source "$LOCAL_RUN/env"
    LISTEN_ADDR="127.0.0.1:$port" ADMIN_ADDR="127.0.0.1:$((port + 1000))"
    exec ${CPUSET:+taskset -c "$CPUSET"} "$ROOT/target/$PROFILE/$service"
  ) >>"$LOCAL_RUN/$service-$i.log" 2>&1 &
  echo $! >"$LOCAL_RUN/pids/$service-$i.pid"
  # Its own process from now on: the shell neither waits for it nor reports its death.
  disown $!
}

# start_database: SecantusDB on DB_PORT with its data in .run/local/db, kept across restarts.
# The Rust build when installed (make secantus-rs): ~8x faster on writes, so a load run
# measures our services, not the stand-in.
start_database() {
  (
    set -a
    source "$LOCAL_RUN/env"
    pin=(${CPUSET:+taskset -c "$CPUSET"})
    if [ -x "$ROOT/.tools/bin/secantusd-rs" ]; then
      exec "${pin[@]}" "$ROOT/.tools/bin/secantusd-rs" --host 127.0.0.1 --port "$DB_PORT" \
        --storage-path "$LOCAL_RUN/db" --log-file-max 16MB
    else
      exec "${pin[@]}" "$VENV/bin/secantusd-py" --host 127.0.0.1 --port "$DB_PORT" \
        --storage-path "$LOCAL_RUN/db" --log-level WARNING
    fi
  ) >>"$LOCAL_RUN/db.log" 2>&1 &
  echo $! >"$LOCAL_RUN/pids/db.pid"
  disown $!
}

# database_build: which SecantusDB start_database runs.
database_build() {
  if [ -x "$ROOT/.tools/bin/secantusd-rs" ]; then echo "Rust build"; else echo "Python build"; fi
}
