#!/usr/bin/env bash
# Both roads on Qwen2.5-Coder-1.5B-Instruct (issue 27), in order; every stage resumes (run the script again
# after a stop and it goes on; a finished stage is skipped). One heavy job at a time: vLLM is stopped while
# an adapter trains.
#
#   nohup bash benchmarks/pipeline_1.5b.sh > pipeline-1.5b.log 2>&1 &
#   touch "$STOP"        # stop: the running ablation gets SIGTERM, records its running episodes, exits
#   LAST_STAGE=1 bash benchmarks/pipeline_1.5b.sh   # stop after stage 1 (the machine is then free for benchmarks)
#
# 1. base/none and base/dense-k4 on the whole ladder (benchmarks/grids/fourway_1.5b.yaml --only ...);
# 2. the adapter on the 78 seeds (preset cpu-1.5b), then ft-none and ft-dense-k4 on the ladder;
# 3. adapters on 10, 20 and 40 seeds, then the data-efficiency grid (levels 1-2).
# All on this checkout's agent (cases as chat turns). The report of each run dir, and the two-model table
# beside the 0.5B (benchmarks/two_models.py), come after.
set -uo pipefail

ROOT=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
CB=$ROOT/.venv/bin/casebank
PY=$ROOT/.venv/bin/python
RESULTS=$ROOT/benchmarks/results
GRIDS=$ROOT/benchmarks/grids
STOP=${STOP:-/tmp/casebank-results.stop}
DATA_DIR=${CASEBANK_DATA_DIR:-$ROOT/.casebank}
ADAPTERS=${ADAPTERS:-$DATA_DIR/adapters}
URL=http://127.0.0.1:8001/v1
CONCURRENCY=${CONCURRENCY:-8}
MODEL=qwen2.5-coder-1.5b-instruct
LAST_STAGE=${LAST_STAGE:-3}
# One dtype for the whole run, whichever machine resumes it: the run began on a machine with avx512_bf16
# (1.5B decode there: bfloat16 8.4 tok/s at 1 request and 30.4 at 4, float32 6.0 and 18.8;
# benchmarks/results/dtype/vllm_throughput-1.5b-avx512bf16.json), so it serves and trains in bfloat16, and an
# AVX2-only machine resuming it keeps bfloat16 (slower there, but the same numerics in every row).
DTYPE=${DTYPE:-bfloat16}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
# log, stopped, serve, stop_server, served, pending, ablate: benchmarks/pipeline_lib.sh
source "$ROOT/benchmarks/pipeline_lib.sh"

FOURWAY=$RESULTS/fourway_1.5b
EFFICIENCY=$RESULTS/data_efficiency_1.5b

adapter() {  # N|all: train (or resume) the adapter on N seeds (all: the 78) into ADAPTERS/casebank-ft-1.5b[-N]
    local n=$1 out=$ADAPTERS/casebank-ft-1.5b subset=()
    [[ $n != all ]] && { out=$out-$n; subset=(--subset "$n"); }
    [[ -f $out/casebank-manifest.json ]] && return 0
    stopped && return 1
    stop_server
    log "finetune: $n seeds -> $out"
    (cd "$ROOT" && "$CB" finetune --preset cpu-1.5b --model "$MODEL" --dtype "$DTYPE" "${subset[@]}" --out "$out")
}

# 1. The base half of the four-way table.
if [[ $(pending "$ROOT" "$GRIDS/fourway_1.5b.yaml" "$FOURWAY" --only none --only dense-k4) != 0 ]]; then
    served "$MODEL" || serve --model "$MODEL" --dtype "$DTYPE" || exit 1
    ablate "$ROOT" "$GRIDS/fourway_1.5b.yaml" "$FOURWAY" --only none --only dense-k4 || exit 0
fi

(( LAST_STAGE < 2 )) && { log "stage 1 complete (LAST_STAGE=1)"; exit 0; }

# 2. The fine-tuned half.
adapter all || exit 1
if [[ $(pending "$ROOT" "$GRIDS/fourway_1.5b.yaml" "$FOURWAY") != 0 ]]; then
    served casebank-ft-1.5b || serve --model "$MODEL" --dtype "$DTYPE" --lora "casebank-ft-1.5b=$ADAPTERS/casebank-ft-1.5b" || exit 1
    ablate "$ROOT" "$GRIDS/fourway_1.5b.yaml" "$FOURWAY" || exit 0
fi

(( LAST_STAGE < 3 )) && { log "stage 2 complete (LAST_STAGE=2)"; exit 0; }

# 3. The data-efficiency curve: the 0- and 78-seed points come from the four-way table.
for n in 10 20 40; do adapter "$n" || exit 1; done
"$PY" "$ROOT/benchmarks/reuse_episodes.py" "$FOURWAY" "$EFFICIENCY" -c "$GRIDS/data_efficiency_1.5b.yaml" || exit 1
if [[ $(pending "$ROOT" "$GRIDS/data_efficiency_1.5b.yaml" "$EFFICIENCY") != 0 ]]; then
    loras=(--lora "casebank-ft-1.5b=$ADAPTERS/casebank-ft-1.5b")
    for n in 10 20 40; do loras+=(--lora "casebank-ft-1.5b-$n=$ADAPTERS/casebank-ft-1.5b-$n"); done
    served casebank-ft-1.5b casebank-ft-1.5b-10 casebank-ft-1.5b-20 casebank-ft-1.5b-40 \
        || serve --model "$MODEL" --dtype "$DTYPE" "${loras[@]}" || exit 1
    ablate "$ROOT" "$GRIDS/data_efficiency_1.5b.yaml" "$EFFICIENCY" || exit 0
fi
log "all stages complete"
