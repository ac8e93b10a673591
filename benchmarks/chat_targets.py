"""The chat targets on the real model, through the real API (default profile `casebank`), each asked
N times in fresh conversations:

- "Create hello.py that prints 'hello from casebank', run it, and tell me what it printed." succeeds
  when the answer contains the printed text and hello.py in the conversation's workspace prints it;
- "What is 17 * 23?" succeeds when the answer contains 391, and is counted within 2 model calls or not.

    python benchmarks/chat_targets.py --llm-url http://127.0.0.1:8001/v1 -n 3
    python benchmarks/chat_targets.py --only multiply --harness copy_guard_short=true   # a lever switched on

The API runs in-process on a free port, over a temp data dir seeded with the bundled seeds; write-back
goes to that temp bank, never to yours.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

import seeds
from agent.harness import Harness
from casebank.bank import CaseBank
from casebank.casefile import load_cases
from casebank.config import Settings
from casebank.llm.endpoints import DEFAULT_LLM_URL
from lab.ablate.cli import _scalar
from serving.app import create_app
from serving.config import ServerSettings
from serving.service import default_agent_factory
from serving.testing import serve

HELLO = "Create hello.py that prints 'hello from casebank', run it, and tell me what it printed."
MULTIPLY = "What is 17 * 23?"


def chat(url: str, text: str, profile: str = "casebank") -> dict:
    r = httpx.post(f"{url}/v1/chat/completions", json={"model": profile, "messages": [{"role": "user", "content": text}]}, timeout=1800)
    r.raise_for_status()
    return r.json()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--llm-url", default=DEFAULT_LLM_URL)
    parser.add_argument("-n", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/chat_targets.json"))
    parser.add_argument("--profile", default="casebank", help="The API profile (model name) to chat with.")
    parser.add_argument("--only", choices=["hello", "multiply"], help="Ask only one of the two prompts.")
    parser.add_argument("--harness", action="append", default=[], metavar="NAME=VALUE",
                        help="A harness lever for every chat, e.g. copy_guard_short=true (repeatable).")
    args = parser.parse_args()
    raw = {name.strip(): _scalar(value) for name, _, value in (item.partition("=") for item in args.harness)}
    # validated once: an unknown lever or a bad value stops here, and the chats get the validated values
    levers = Harness.model_validate(raw).model_dump(include=set(raw))

    def agent_factory(config, bank, checkpointer):  # noqa: ANN001, ANN202
        return default_agent_factory(config.model_copy(update={"harness": config.harness.model_copy(update=levers)}), bank, checkpointer)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        bank = CaseBank(settings)
        bank.upsert(load_cases(seeds.default_seed_file(), "casebank"))
        # A busy CPU server can take minutes for a first reply; the stuck-server bound is not what is measured.
        app = create_app(ServerSettings(llm_url=args.llm_url, first_token_timeout_s=600), agent_factory, bank=bank)
        with serve(app) as url:
            prompts = {"hello": [HELLO], "multiply": [MULTIPLY], None: [HELLO, MULTIPLY]}[args.only]
            for prompt in prompts:
                for i in range(args.n):
                    body = chat(url, prompt, args.profile)
                    ext = body["casebank"]
                    answer = body["choices"][0]["message"]["content"] or ""
                    if prompt == HELLO:
                        ws = Path(tmp) / "workspaces" / ext["conversation_id"]
                        printed = ""
                        if (ws / "hello.py").is_file():
                            printed = subprocess.run([sys.executable, "hello.py"], cwd=ws, capture_output=True, text=True, timeout=30).stdout
                        ok = "hello from casebank" in answer and printed.strip() == "hello from casebank"
                    else:
                        ok = "391" in re.findall(r"\d+", answer)
                    rows.append({"prompt": prompt, "try": i, "ok": ok, "model_calls": ext["model_calls"], "answer": answer[:200],
                                 "tools": [s["tool"] for s in ext["steps"]], "elapsed_s": ext["elapsed_s"],
                                 "steps": [{"tool": s["tool"], "args": s["args"], "observation": s["observation"][:300]} for s in ext["steps"]]})  # fmt: skip
                    print(json.dumps({k: v for k, v in rows[-1].items() if k != "steps"}))
    hello = [r for r in rows if r["prompt"] == HELLO]
    mult = [r for r in rows if r["prompt"] == MULTIPLY]
    summary = {
        "profile": args.profile,
        "harness": levers,
        "hello_success": f"{sum(r['ok'] for r in hello)}/{len(hello)}",
        "multiply_success": f"{sum(r['ok'] for r in mult)}/{len(mult)}",
        "multiply_within_2_calls": f"{sum(r['ok'] and r['model_calls'] <= 2 for r in mult)}/{len(mult)}",
        "rows": rows,
    }
    print({k: v for k, v in summary.items() if k != "rows"})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
