#!/usr/bin/env bash
# The runs behind benchmarks/results (the ladder of issue 8; the four-way table of issue 9; the
# data-efficiency curve of issue 9; the harness levers of issue 8; the ladder on the levers' default), in
# order. Every stage resumes: run the script again after a stop and it goes on where it was; a finished
# stage is skipped.
#
#   nohup bash benchmarks/results_pipeline.sh > pipeline.log 2>&1 &
#   touch "$STOP"        # stop: the running ablation gets SIGTERM, records its running episodes, exits
#
# One agent for every table that compares with the ladder: the ladder began on the agent code of commit
# 3945c3e (harness fingerprint ef22b9af2c08), so the ladder, the four-way table and the data-efficiency
# grid run from a worktree of that commit, with two later fixes to lab/ablate applied (d60a985: SIGTERM
# stops a run; 617dcfa: --request-timeout). The levers grid compares configs within itself, so it runs on
# this checkout's agent (its default: dense k=4, the ladder's pick). Serving (vLLM) and fine-tuning come
# from this checkout. Heavy jobs run one at a time: vLLM is stopped while adapters train.
set -uo pipefail

ROOT=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
CB=$ROOT/.venv/bin/casebank
PY=$ROOT/.venv/bin/python
RESULTS=$ROOT/benchmarks/results
GRIDS=$ROOT/benchmarks/grids
PIN=${PIN:-$ROOT/../ladder-wt}
STOP=${STOP:-/tmp/casebank-results.stop}
ADAPTERS=${ADAPTERS:-$RESULTS/data_efficiency/adapters}
URL=http://127.0.0.1:8001/v1
CONCURRENCY=${CONCURRENCY:-8}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

# log, stopped, worktree, serve, stop_server, served, pending, ablate: benchmarks/pipeline_lib.sh
source "$ROOT/benchmarks/pipeline_lib.sh"

worktree "$PIN" 3945c3e d60a985 617dcfa || { log "cannot make $PIN"; exit 1; }

# 1. The ladder: four configs on the whole held-out ladder (issue 8).
if [[ $(pending "$PIN" "$GRIDS/ladder.yaml" "$RESULTS/ladder") != 0 ]]; then
    served qwen2.5-coder-0.5b-instruct || serve || exit 1
    ablate "$PIN" "$GRIDS/ladder.yaml" "$RESULTS/ladder" || exit 0
fi

# 2. Base/best in-context: the ladder's best on its dev split (git diff shows the grids' change).
"$PY" "$ROOT/benchmarks/pick_best.py" "$RESULTS/ladder" --candidate hybrid-k4 --candidate dense-k4 --candidate bm25-k4 \
    --rewrite "$GRIDS/fourway.yaml" --rewrite "$GRIDS/data_efficiency.yaml" || exit 1

# 3. The four-way table (issue 9): the base configs come from the ladder.
"$PY" "$ROOT/benchmarks/reuse_episodes.py" "$RESULTS/ladder" "$RESULTS/fourway" -c "$GRIDS/fourway.yaml" || exit 1
if [[ $(pending "$PIN" "$GRIDS/fourway.yaml" "$RESULTS/fourway") != 0 ]]; then
    served casebank-ft || serve --lora casebank-ft=casebank/adapters/casebank-ft || exit 1
    ablate "$PIN" "$GRIDS/fourway.yaml" "$RESULTS/fourway" || exit 0
fi

# 4. Adapters on 10, 20 and 40 seeds (vLLM stopped: training takes both cores). Each resumes from its checkpoints.
for n in 10 20 40; do
    [[ -f $ADAPTERS/casebank-ft-$n/casebank-manifest.json ]] && continue
    stopped && exit 0
    stop_server
    log "finetune: $n seeds"
    (cd "$ROOT" && "$CB" finetune --preset cpu --subset "$n" --out "$ADAPTERS/casebank-ft-$n") || exit 1
done

# 5. The data-efficiency curve: the 78-seed and 0-seed points come from the four-way table.
"$PY" "$ROOT/benchmarks/reuse_episodes.py" "$RESULTS/fourway" "$RESULTS/data_efficiency" -c "$GRIDS/data_efficiency.yaml" || exit 1
if [[ $(pending "$PIN" "$GRIDS/data_efficiency.yaml" "$RESULTS/data_efficiency") != 0 ]]; then
    loras=(--lora casebank-ft=casebank/adapters/casebank-ft)
    for n in 10 20 40; do loras+=(--lora "casebank-ft-$n=$ADAPTERS/casebank-ft-$n"); done
    served casebank-ft casebank-ft-10 casebank-ft-20 casebank-ft-40 || serve "${loras[@]}" || exit 1
    ablate "$PIN" "$GRIDS/data_efficiency.yaml" "$RESULTS/data_efficiency" || exit 0
fi

# 6. The harness levers on the dev split's levels 1-2 (issue 8; its own run dir). Last: at about 306 episodes it
# is the longest stage and spans sessions; the fine-tuned road's stages, shorter, finish first.
served qwen2.5-coder-0.5b-instruct || serve || exit 1
ablate "$ROOT" "$GRIDS/levers.yaml" "$RESULTS/levers" || exit 0

# 7. The ladder again on this checkout's agent, with the default the levers picked on dev (cases as chat turns):
# first the one other candidate default (the workflow primer on top) against the default on levels 1-2, decided
# on dev; then none and the default on every level, both splits (the issue's targets are read on its test split),
# then bm25 and hybrid (k=4, cases as turns too), levels 1-2 first.
ablate "$ROOT" "$GRIDS/ladder_turns_workflow.yaml" "$RESULTS/ladder_turns_workflow" || exit 0
ablate "$ROOT" "$GRIDS/ladder_turns.yaml" "$RESULTS/ladder_turns" || exit 0
log "all stages complete"
