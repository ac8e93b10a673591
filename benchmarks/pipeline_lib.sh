# The helpers of the resumable result pipelines (benchmarks/results_pipeline.sh, benchmarks/pipeline_1.5b.sh),
# sourced after they set ROOT, CB, URL, STOP and CONCURRENCY.

log() { echo "[$(date -u +%H:%M:%S)] $*"; }
stopped() { [[ -e $STOP ]]; }

worktree() {  # DIR COMMIT PATCH_COMMIT...: a worktree of COMMIT with the PATCH_COMMITs' lab/ablate changes
    local dir=$1 commit=$2
    shift 2
    [[ -d $dir ]] && return 0
    git -C "$ROOT" worktree add -f "$dir" "$commit" >/dev/null || return 1
    for patch in "$@"; do git -C "$ROOT" show "$patch" -- lab/ablate | git -C "$dir" apply || return 1; done
}

serve() {  # LORA_ARGS...: (re)start vLLM with these adapters; waits until it answers
    stop_server
    log "vLLM: starting $*"
    (cd "$ROOT" && nohup "$CB" llm serve "$@" > /tmp/casebank-vllm.out 2>&1 &)
    for _ in $(seq 1 120); do
        curl -sf "$URL/models" > /dev/null && return 0
        sleep 5
    done
    log "vLLM did not come up: /tmp/casebank-vllm.out"
    return 1
}

stop_server() {
    pkill -f "casebank llm serve" 2>/dev/null
    pkill -f vllm.entrypoints 2>/dev/null
    while pgrep -f vllm.entrypoints > /dev/null; do sleep 2; done
}

served() {  # NAMES...: true when vLLM serves every name
    local models
    models=$(curl -sf "$URL/models") || return 1
    for name in "$@"; do grep -q "\"id\":\"$name\"" <<< "$models" || return 1; done
}

pending() {  # WORKTREE GRID OUT [ABLATE_ARGS...]: episodes not yet run
    (cd "$1" && PYTHONPATH=$1 "$CB" ablate -c "$2" --out "$3" "${@:4}" --dry-run 2>/dev/null) | sed -n 's/.* \([0-9]*\) not yet run.*/\1/p'
}

ablate() {  # WORKTREE GRID OUT [ABLATE_ARGS...]: run until nothing is pending (at most 3 passes) or the stop file appears
    local wt=$1 grid=$2 out=$3 left pid
    local extra=("${@:4}")
    for pass in 1 2 3; do
        left=$(pending "$wt" "$grid" "$out" "${extra[@]}")
        [[ $left == 0 ]] && { log "$(basename "$out"): complete"; return 0; }
        stopped && return 1
        log "$(basename "$out"): $left episodes to run (pass $pass)"
        (cd "$wt" && PYTHONPATH=$wt exec "$CB" ablate -c "$grid" --out "$out" --llm-url "$URL" \
            --concurrency "$CONCURRENCY" --request-timeout 1800 "${extra[@]}") &
        pid=$!
        while kill -0 "$pid" 2>/dev/null; do
            if stopped; then  # one check: SIGTERM, then wait (a stop seen only after the sleep was never sent)
                kill -TERM "$pid"
                log "stop: waiting for the running episodes"
                wait "$pid"
                return 1
            fi
            sleep 10
        done
        wait "$pid"
    done
    [[ $(pending "$wt" "$grid" "$out" "${extra[@]}") == 0 ]]
}
