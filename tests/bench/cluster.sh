# Sourced by the benchmark scripts that run a project-local store's cluster themselves (not executable).
#
#   bench_start <folder> [extra server options]   start <folder>/data as LocalPostgres would
#   bench_stop <folder>                           stop it (fast), if running
#   bench_scratch <store> <name>                  copy <store> to a new scratch folder; prints its path
#   bench_psql <folder> [psql args]               psql as postgres on the folder's socket, quiet, stop on error
#   bench_server_ticks <folder>                   CPU ticks of the cluster's processes that have exited so far
#   bench_cluster_ticks <folder>                  CPU ticks of the whole cluster so far (live processes and exited ones)
#   bench_builds                                  set $app and $loadgen ($APP, $LOADGEN, else the Release builds); stop if missing
#   bench_app_start <folder> <port> <log> [args]  start $app on the folder's running cluster for the collector
#                                                 benchmarks; wait for /readyz (pid in $bench_app_pid)
#
# One copy of the server settings for the scripts: those of LocalPostgres.StartAsync
# (src/UsageDashboard/Database/LocalPostgres.cs), which starts the cluster the app and CLI use. Options
# passed after them win (PostgreSQL takes the last -c of a setting), so a script can vary one.
bench_bin=$(ls -d /usr/lib/postgresql/*/bin | tail -1)

bench_start() {
  local folder=$1; shift
  local mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 4 ))
  [ "$mem_mb" -gt 2048 ] && mem_mb=2048
  [ "$mem_mb" -lt 256 ] && mem_mb=256
  mkdir -p "$folder/socket"
  chown -R postgres "$folder"
  rm -f "$folder/data/postmaster.pid"
  runuser -u postgres -- "$bench_bin/pg_ctl" -D "$folder/data" -l "$folder/postgres.log" -w -o "-c listen_addresses='' \
 -c unix_socket_directories='$folder/socket' -c max_connections=200 -c shared_buffers=${mem_mb}MB -c work_mem=32MB \
 -c maintenance_work_mem=256MB -c max_wal_size=8GB -c checkpoint_timeout=15min -c wal_level=minimal -c max_wal_senders=0 \
 -c jit=off $*" start >/dev/null
}

bench_stop() {
  runuser -u postgres -- "$bench_bin/pg_ctl" -D "$1/data" -m fast -w stop >/dev/null 2>&1 || true
}

bench_scratch() {
  local dir
  mkdir -p .data
  dir=$(mktemp -d "$PWD/.data/$2.XXXXXX")
  cp -a "$1/." "$dir/"
  # The copy leaves the store's gigabyte as dirty page cache, which the kernel writes back ~30 s later:
  # into the measured window, where every commit's WAL flush waited behind it (COMMIT 80-400 ms in the
  # server log of a single-event run). Written out now, before anything is measured.
  sync
  echo "$dir"
}

bench_psql() {
  local folder=$1; shift
  runuser -u postgres -- "$bench_bin/psql" -XAtq -v ON_ERROR_STOP=1 "host=$folder/socket dbname=usage user=postgres" "$@"
}

# A backend's CPU reaches the postmaster's counters for its children when it exits and is reaped: hence
# the pause. Long-lived background processes (checkpointer, WAL writer) are not in it.
bench_server_ticks() {
  sleep 0.5
  awk '{print $14 + $15 + $16 + $17}' "/proc/$(head -1 "$1/data/postmaster.pid")/stat"
}

# CPU ticks of the whole cluster so far: utime + stime of its live processes plus what its exited children used.
bench_cluster_ticks() {
  local sum=0 p
  for p in $(pgrep -u postgres); do sum=$((sum + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done
  echo $((sum + $(bench_server_ticks "$1")))
}

bench_builds() {
  app=${APP:-src/UsageDashboard/bin/Release/net10.0/UsageDashboard.dll}
  loadgen=${LOADGEN:-tests/UsageDashboard.LoadGen/bin/Release/net10.0/UsageDashboard.LoadGen.dll}
  [ -f "$app" ] && [ -f "$loadgen" ] || { echo "build first: dotnet build UsageDashboard.sln -c Release" >&2; exit 2; }
}

# No demo seeding and no health detection in the background, so the measured work is the collector's. The app
# runs from the repository root, as the README runs it. Up to 3 minutes for /readyz (the 10M store's cache load).
bench_app_start() {
  local folder=$1 port=$2 log=$3; shift 3
  # The app runs as Production, which has no write keys: the load generator's keys (native batches as dbt,
  # Jitsu bodies as evidently) are given here.
  env Database__LocalFolder="$folder" Demo__SeedLocalDatabase=false Health__RunInBackground=false Urls=http://127.0.0.1:$port \
    Tools__dbt__WriteKeys__0=dev-dbt-write-key Tools__evidently__WriteKeys__0=dev-evidently-write-key \
    Logging__LogLevel__Default=Warning dotnet "$app" "$@" >"$log" 2>&1 &
  bench_app_pid=$!
  for _ in $(seq 900); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "app did not start; see $log" >&2; exit 1
}
