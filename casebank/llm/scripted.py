"""A scripted OpenAI-compatible LLM server, for tests of the harness around the model (ablation runs,
resume after a kill, error accounting, API replicas): what is measured there is the machinery, so the
model's answers are a fixed function of the request.

Policy, read from the latest user message that is not an example:
- "Write the word W into F": first `write_file(F, W)`, then `run("cat F")`, then `submit`.
- "[server-error]" anywhere: HTTP 500 (an infrastructure error); "[not-found]": HTTP 404 (a run set up wrong).
- anything else: `submit` at once (the task then fails its checker).
A request whose `tool_choice` names a function gets that function. `--delay S` sleeps before each
answer (so a test can kill a run mid-flight and see requests overlap); GET /stats reports the request
count and the most requests in flight at once.

    python -m casebank.llm.scripted --port 8011 [--delay 0.2] [--model NAME]
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

WRITE = re.compile(r"Write the word (\S+) into (\S+?)\.?(?:\s|$)")


def _user_text(messages: list[dict[str, Any]]) -> tuple[str, int]:
    """The latest non-example user message and how many assistant turns follow it."""
    for i in range(len(messages) - 1, -1, -1):
        m = messages[i]
        if m.get("role") == "user" and not str(m.get("content") or "").startswith("[Example"):
            after = sum(1 for x in messages[i + 1 :] if x.get("role") == "assistant")
            return str(m.get("content") or ""), after
    return "", 0


def decide(messages: list[dict[str, Any]], tool_choice: Any) -> tuple[str, dict[str, Any]]:
    text, step = _user_text(messages)
    if isinstance(tool_choice, dict):
        return tool_choice["function"]["name"], {"summary": "forced"}
    if match := WRITE.search(text + " "):
        word, path = match.groups()
        script = [("write_file", {"path": path, "content": word}), ("run", {"command": f"cat {path}"})]
        if step < len(script):
            return script[step]
        return "submit", {"summary": f"wrote {word} into {path}"}
    return "submit", {"summary": "nothing to do"}


def create_app(model: str = "scripted", delay_s: float = 0.0, max_model_len: int = 8192) -> FastAPI:
    app = FastAPI()
    lock = threading.Lock()
    stats = {"requests": 0, "in_flight": 0, "max_in_flight": 0}

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": model, "object": "model", "max_model_len": max_model_len}]}

    @app.get("/stats")
    def get_stats() -> dict[str, int]:
        return dict(stats)

    @app.post("/v1/chat/completions")
    async def complete(request: Request) -> Any:
        body = await request.json()
        with lock:
            stats["requests"] += 1
            stats["in_flight"] += 1
            stats["max_in_flight"] = max(stats["max_in_flight"], stats["in_flight"])
        try:
            if delay_s:
                await asyncio.sleep(delay_s)
            text, _ = _user_text(body.get("messages", []))
            if "[server-error]" in text:
                return JSONResponse({"error": {"message": "scripted failure", "type": "server_error"}}, status_code=500)
            if "[not-found]" in text:
                return JSONResponse({"error": {"message": "scripted: no such model", "type": "NotFoundError"}}, status_code=404)
            name, args = decide(body.get("messages", []), body.get("tool_choice"))
            prompt_chars = len(json.dumps(body.get("messages", [])))
            return {
                "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", model),
                "choices": [{
                    "index": 0,
                    "finish_reason": "tool_calls",
                    "message": {"role": "assistant", "content": "", "tool_calls": [{
                        "id": f"call_{uuid.uuid4().hex[:8]}", "type": "function",
                        "function": {"name": name, "arguments": json.dumps(args)},
                    }]},
                }],
                "usage": {"prompt_tokens": prompt_chars // 4, "completion_tokens": 20, "total_tokens": prompt_chars // 4 + 20},
            }  # fmt: skip
        finally:
            with lock:
                stats["in_flight"] -= 1

    return app


def main() -> None:
    import argparse

    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8011)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--model", default="scripted")
    args = parser.parse_args()
    uvicorn.run(create_app(args.model, args.delay), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
