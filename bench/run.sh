#!/usr/bin/env bash
# make bench: every figure measured in one run on this machine, printed as a
# table and written to build/bench/results.json. Ratios compare runs made
# here, alternately, so they hold on a noisy shared machine.
#   protocol overhead  wrk against the handler's trivial Health invocation and
#                      against a minimal libmicrohttpd server answering the same
#                      bytes (bench/mhd_baseline.c): same client, threads, connections
#   the rest           bench/bench.c (start-up, memory, commands, round trips, projector,
#                      handler CPU per warm command by list size, projector on the rig
#                      with 5 ms per request: before, in parallel, and with the view cache;
#                      handler rebuild there too, one request at a time and in parallel)
#   soak               a BENCH_SOAK_SECONDS (20) soak: commands/s, projection lag p50/p99,
#                      and how long clients were held back for the read side
#   baseline ratios    the original sample's algorithm (bench/baseline, Node.js on the
#                      official Cosmos SDK) measured by the same client on the same rig;
#                      every ratio is written so that above 1 means ours does better
# `bench/run.sh protocol` runs the protocol-overhead part alone.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build}
OUT=$B/bench
SECS=${BENCH_SECONDS:-5}
mkdir -p "$OUT"
: >"$OUT/metrics.jsonl"
pids=()
cleanup() { for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

free_port() {
  local p
  for p in $(seq 20000 20999 | shuf); do
    if ! (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
}
wait_up() { for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0; sleep 0.02; done; return 1; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # user + system
hz=$(getconf CLK_TCK)
wrk_run() { # port pid -> "requests/s server-CPU-us-per-request" from one wrk run
  local t0 t1
  t0=$(cpu_ticks "$2")
  ENVELOPE_FILE="$OUT/envelope.json" wrk -t2 -c32 -d"${SECS}s" -s bench/post.lua \
    "http://127.0.0.1:$1/Health" >"$OUT/wrk.txt"
  t1=$(cpu_ticks "$2")
  awk -v t="$((t1 - t0))" -v hz="$hz" '/requests in/ {n = $1} /Requests\/sec:/ {r = $2}
    END {printf "%s %.2f\n", r, t * 1e6 / hz / n}' "$OUT/wrk.txt"
}

# ---- protocol overhead ----
cat >"$OUT/envelope.json" <<'JSON'
{"Data":{"req":{"Url":"http://localhost:7071/api/health","Method":"GET","Query":{},"Headers":{"Accept":["*/*"],"Host":["localhost:7071"],"User-Agent":["curl/8.5.0"]},"Params":{},"Identities":[{"AuthenticationType":null,"IsAuthenticated":false,"Actor":null,"BootstrapContext":null,"Claims":[],"Label":null,"Name":null,"NameClaimType":"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name","RoleClaimType":"http://schemas.microsoft.com/ws/2008/06/identity/claims/role"}]}},"Metadata":{"Query":{},"Headers":{"Accept":"*/*","Host":"localhost:7071","User-Agent":"curl/8.5.0"},"sys":{"MethodName":"Health","UtcNow":"2026-11-28T19:30:00.1230000Z","RandGuid":"3e4ea15e-30cf-408b-8e72-58409d33e9c4"}}}
JSON
hp=$(free_port)
FUNCTIONS_CUSTOMHANDLER_PORT=$hp EVENT_STORE_PATH="$OUT/health.db" HANDLER_LOG_LEVEL=warn \
  "$B/app/handler" >"$OUT/handler.log" 2>&1 &
hpid=$!
pids+=($hpid)
wait_up "$hp"
curl -s -X POST --data-binary @"$OUT/envelope.json" "http://127.0.0.1:$hp/Health" >"$OUT/reply.json"
bp=$(free_port)
"$B/bench/mhd_baseline" "$bp" "$OUT/reply.json" "$(nproc)" &
bpid=$!
pids+=($bpid)
wait_up "$bp"
# Best of three alternating rounds: the most invocations/s and the least CPU each.
handler_best=0 baseline_best=0 handler_cpu=1e9 baseline_cpu=1e9
best() { awk -v a="$1" -v b="$2" -v op="$3" 'BEGIN {print (op == "max" ? b > a : b < a) ? b : a}'; }
for round in 1 2 3; do
  read -r b bc < <(wrk_run "$bp" "$bpid")
  read -r h hc < <(wrk_run "$hp" "$hpid")
  echo "round $round: baseline $b req/s ($bc us CPU each), handler $h req/s ($hc us CPU each)" >&2
  baseline_best=$(best "$baseline_best" "$b" max) handler_best=$(best "$handler_best" "$h" max)
  baseline_cpu=$(best "$baseline_cpu" "$bc" min) handler_cpu=$(best "$handler_cpu" "$hc" min)
done
ratio=$(awk -v h="$handler_best" -v b="$baseline_best" 'BEGIN {printf "%.3f", h / b}')
cpu_ratio=$(awk -v h="$handler_cpu" -v b="$baseline_cpu" 'BEGIN {printf "%.3f", h / b}')
{
  echo "{\"metric\":\"protocol_baseline_per_s\",\"value\":$baseline_best,\"unit\":\"invocations/s\"}"
  echo "{\"metric\":\"protocol_handler_per_s\",\"value\":$handler_best,\"unit\":\"invocations/s\"}"
  echo "{\"metric\":\"protocol_handler_vs_baseline\",\"value\":$ratio,\"unit\":\"ratio (target 0.8)\"}"
  echo "{\"metric\":\"protocol_baseline_cpu_us\",\"value\":$baseline_cpu,\"unit\":\"us CPU per invocation\"}"
  echo "{\"metric\":\"protocol_handler_cpu_us\",\"value\":$handler_cpu,\"unit\":\"us CPU per invocation\"}"
  echo "{\"metric\":\"protocol_cpu_handler_vs_baseline\",\"value\":$cpu_ratio,\"unit\":\"ratio\"}"
} >>"$OUT/metrics.jsonl"
cleanup
pids=()

if [ "${1:-}" != protocol ]; then
  # ---- the rest ----
  for args in "startup" "commands sqlite" "commands cosmos" "commands baseline" \
    "roundtrips sqlite" "roundtrips cosmos" "roundtrips baseline" "projector" \
    "cpu sqlite" "cpu cosmos" "projector_rig cosmos" "rebuild_rig cosmos"; do
    echo "es_bench $args" >&2
    # shellcheck disable=SC2086
    "$B/bench/es_bench" $args | grep '^{"metric"' >>"$OUT/metrics.jsonl"
  done

  # ---- a short soak: throughput, and how far the read side trails it ----
  soak_s=${BENCH_SOAK_SECONDS:-20}
  echo "es_soak ($soak_s s)" >&2
  if ! SOAK_SECONDS=$soak_s "$B/tests/soak/es_soak" >"$OUT/soak.txt" 2>&1; then
    tail -n 40 "$OUT/soak.txt" >&2
    exit 1
  fi
  awk '
    /^  throughput / { printf "{\"metric\":\"soak_commands_per_s\",\"value\":%s,\"unit\":\"commands/s\"}\n", $2 }
    /^  projection lag / {
      printf "{\"metric\":\"soak_projection_lag_p50_ms\",\"value\":%s,\"unit\":\"ms\"}\n", $4
      printf "{\"metric\":\"soak_projection_lag_p99_ms\",\"value\":%s,\"unit\":\"ms\"}\n", $7 }
    /^  feed lag / && match($0, /held back [0-9.]+%/) {
      v = substr($0, RSTART + 10, RLENGTH - 11)
      printf "{\"metric\":\"soak_clients_held_back\",\"value\":%s,\"unit\":\"%% of the time\"}\n", v }
  ' "$OUT/soak.txt" >>"$OUT/metrics.jsonl"

  # ---- ratios to the baseline ----
  val() { sed -n "s/^{\"metric\":\"$1\",\"value\":\([^,]*\),.*/\1/p" "$OUT/metrics.jsonl"; }
  ratio() { # name numerator-metric denominator-metric unit
    awk -v a="$(val "$2")" -v b="$(val "$3")" -v n="$1" -v u="$4" 'BEGIN {
      if (a == "" || b == "" || b + 0 <= 0) exit
      printf "{\"metric\":\"%s\",\"value\":%.3f,\"unit\":\"%s\"}\n", n, a / b, u }' \
      >>"$OUT/metrics.jsonl"
  }
  ratio baseline_ratio_commands_per_s commands_cosmos_per_s commands_baseline_per_s \
    "ratio, ours (Cosmos) / baseline"
  ratio baseline_ratio_commands_p50 commands_baseline_p50 commands_cosmos_p50 \
    "ratio, baseline / ours (Cosmos)"
  for len in 10 1000 10000; do
    for phase in cold warm; do
      ratio "baseline_ratio_roundtrips_${phase}_len$len" "roundtrips_baseline_${phase}_len$len" \
        "roundtrips_cosmos_${phase}_len$len" "ratio, baseline / ours (Cosmos)"
    done
    ratio "baseline_ratio_command_ms_len$len" "command_ms_baseline_len$len" \
      "command_ms_cosmos_len$len" "ratio, baseline / ours (Cosmos)"
  done
fi

# ---- report ----
machine="$(nproc) CPUs, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//'), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
{
  echo "{\"date\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\",\"machine\":\"$machine\",\"metrics\":["
  sed '$!s/$/,/' "$OUT/metrics.jsonl"
  echo "]}"
} >"$OUT/results.json"
echo
echo "bench $(date -u +%Y-%m-%d), $machine"
printf '%-40s %14s  %s\n' metric value unit
sed -E 's/^\{"metric":"([^"]*)","value":([^,]*),"unit":"([^"]*)"\}$/\1 \2 \3/' "$OUT/metrics.jsonl" |
  while read -r name value unit; do printf '%-40s %14s  %s\n' "$name" "$value" "$unit"; done
echo "(written to $OUT/results.json)"
