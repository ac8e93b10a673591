"""POST /v1/chat/completions (JSON or SSE) and POST /v1/feedback."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, StreamingResponse
from langchain_core.messages import AIMessage, ToolMessage

from agent.runner import CONVERSATION_ID, EpisodeResult, new_conversation_id
from agent.trajectory import steps_of
from casebank.models import approx_tokens
from serving.auth import Principal, require_key
from serving.config import absent_profile_reason
from serving.errors import APIError, error_responses
from serving.schemas import ChatCompletion, ChatCompletionRequest, FeedbackRequest, FeedbackResponse
from serving.service import ChatService, Turn, TurnStream

log = logging.getLogger("casebank.serving")
router = APIRouter(prefix="/v1", tags=["chat"])

LIMIT_PREFIXES = ("step limit", "token budget", "time limit")
CONVERSATION_HEADER = "X-Conversation-Id"
# One server-sent event (OpenAPI before 3.2 describes each event of a stream with `schema`).
SSE_EVENT = {
    "type": "object",
    "properties": {
        "data": {"type": "string", "description": "A chat.completion.chunk as JSON; the last event is `[DONE]`."},
        "event": {"type": "string"},
    },
    "required": ["data"],
}


def service_of(request: Request) -> ChatService:
    return request.app.state.service


# ---- building the turn ------------------------------------------------------------------------------------
def make_turn(request: Request, body: ChatCompletionRequest, header_conversation: str | None, principal: Principal) -> Turn:
    settings = service_of(request).settings
    profile = settings.profiles.get(body.model)
    if profile is None:
        why = absent_profile_reason(body.model)
        raise APIError(404, f"The model '{body.model}' does not exist{f' here ({why})' if why else ''}; available: "
                       f"{', '.join(settings.profiles)}.", param="model", code="model_not_found", type="invalid_request_error")
    if len(body.messages) > settings.max_messages:
        raise APIError(422, f"Too many messages: {len(body.messages)}, the limit is {settings.max_messages}.", param="messages",
                       code="too_many_messages")
    for i, message in enumerate(body.messages):
        if len(message.text()) > settings.max_message_chars:
            raise APIError(422, f"messages[{i}].content is too long: {len(message.text())} characters, the limit is "
                           f"{settings.max_message_chars}.", param=f"messages[{i}].content", code="message_too_long")
    users = [i for i, m in enumerate(body.messages) if m.role == "user"]
    if not users:
        raise APIError(422, "messages: no user message; the last user message is the turn.", param="messages", code="no_user_message")
    text = body.messages[users[-1]].text()
    if not text.strip():
        raise APIError(422, f"messages[{users[-1]}].content: the user message has no text.",
                       param=f"messages[{users[-1]}].content", code="empty_message")

    options = body.casebank
    conversation_id = (options.conversation_id if options else None) or header_conversation  # both validated already
    return Turn(
        model=body.model,
        profile=profile,
        conversation_id=conversation_id or new_conversation_id(),
        text=text,
        owner=principal.key_id,
        admin=principal.admin,
        max_steps=options.max_steps if options else None,
        max_tokens=body.max_completion_tokens or body.max_tokens,
        temperature=body.temperature,
    )


def api_error(exc: BaseException, request: Request) -> APIError:
    """What a failed turn means to the client. Nothing of the turn was recorded."""
    if isinstance(exc, APIError):
        return exc
    url = service_of(request).settings.llm_url
    if isinstance(exc, openai.APIConnectionError | httpx.TransportError):
        return APIError(503, f"The language model backend at {url} is unavailable ({exc}); the message was not recorded, "
                        "please retry later.", code="llm_unavailable", headers={"Retry-After": "5"})
    if isinstance(exc, openai.NotFoundError):  # the backend does not serve this profile's model (e.g. no adapter loaded)
        return APIError(503, f"The language model backend at {url} does not serve the model this profile needs "
                        f"({exc.message}); for the fine-tuned profiles start vLLM with `casebank llm serve --lora "
                        "casebank-ft=DIR`. The message was not recorded.", code="model_not_served", headers={"Retry-After": "30"})
    if isinstance(exc, openai.APIStatusError):
        return APIError(502, f"The language model backend at {url} answered {exc.status_code}: {exc.message}", code="llm_error")
    log.error("chat turn failed", exc_info=exc)
    return APIError(500, f"The turn failed: {type(exc).__name__}; the message was not recorded.", code="internal_error")


# ---- responses ----------------------------------------------------------------------------------------------
def answer_of(result: EpisodeResult) -> tuple[str, str]:
    """(content, finish_reason) of a finished turn."""
    if result.answer is not None:
        return result.answer, "stop"
    reason = "length" if result.outcome.detail.startswith(LIMIT_PREFIXES) else "stop"
    return f"I could not finish this turn: {result.outcome.detail}", reason


def extension(result: EpisodeResult) -> dict[str, Any]:
    return {
        "conversation_id": result.conversation_id,
        "status": result.status,
        "outcome": result.outcome.model_dump(mode="json"),
        "retrieved": [{"id": cid, "score": score} for cid, score in result.retrieved],
        "steps": [step.model_dump(mode="json") for step in result.steps],
        "trajectory_id": result.trajectory.id,
        "write_back": result.write_back.model_dump(mode="json") if result.write_back else None,
        "model_calls": result.model_calls,
        "elapsed_s": round(result.elapsed_s, 4),
    }


def usage_of(result: EpisodeResult, content: str) -> dict[str, int]:
    completion = min(approx_tokens(content), result.tokens) if result.tokens else approx_tokens(content)
    total = max(result.tokens, completion)
    return {"prompt_tokens": total - completion, "completion_tokens": completion, "total_tokens": total}


def completion_body(result: EpisodeResult, model: str, completion_id: str, created: int) -> dict[str, Any]:
    content, finish = answer_of(result)
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish, "logprobs": None}],
        "usage": usage_of(result, content),
        "system_fingerprint": None,
        "casebank": extension(result),
    }


class ChunkWriter:
    """Turns node updates into `chat.completion.chunk` SSE events. Tool steps and retrieval go in the
    `casebank` extension of chunks with an empty delta; the answer goes in content deltas."""

    def __init__(self, model: str, completion_id: str, created: int, conversation_id: str, include_usage: bool):
        self.model, self.id, self.created = model, completion_id, created
        self.conversation_id, self.include_usage = conversation_id, include_usage
        self._last_ai: AIMessage | None = None

    def chunk(self, delta: dict[str, Any], finish_reason: str | None = None, **extra: Any) -> str:
        body: dict[str, Any] = {
            "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
            "system_fingerprint": None,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
        }
        body.update(extra)
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    def event(self, **casebank: Any) -> str:
        return self.chunk({}, casebank={"conversation_id": self.conversation_id, **casebank})

    def start(self) -> str:
        return self.chunk({"role": "assistant", "content": ""}, casebank={"conversation_id": self.conversation_id, "event": "start"})

    def update(self, node: str, update: dict[str, Any]) -> list[str]:
        out: list[str] = []
        if node == "retrieve":
            found = [{"id": cid, "score": score} for cid, score in update.get("retrieved") or []]
            out.append(self.event(event="retrieved", retrieved=found))
        for message in update.get("messages") or []:
            if isinstance(message, AIMessage):
                self._last_ai = message
                if message.content:
                    out.append(self.event(event="thought", text=str(message.content)))
        if node == "tools" and self._last_ai is not None:
            results = [m for m in update.get("messages") or [] if isinstance(m, ToolMessage)]
            for step in steps_of([self._last_ai, *results]):
                out.append(self.event(event="step", step=step.model_dump(mode="json")))
        return out

    def finish(self, result: EpisodeResult) -> list[str]:
        content, finish = answer_of(result)
        out = [self.chunk({"content": piece}) for piece in re.findall(r"\S+\s*|\s+", content)]
        out.append(self.chunk({}, finish, casebank={"event": "done", **extension(result)}))
        if self.include_usage:
            usage = usage_of(result, content)
            out.append(f"data: {json.dumps({'id': self.id, 'object': 'chat.completion.chunk', 'created': self.created, 'model': self.model, 'choices': [], 'usage': usage})}\n\n")
        return out

    @staticmethod
    def error(err: APIError) -> str:
        return f"data: {json.dumps(err.body(), ensure_ascii=False)}\n\n"


async def sse(writer: ChunkWriter, head: list[tuple[str, dict[str, Any]]], run: TurnStream, request: Request,
              finished: bool) -> AsyncIterator[str]:
    yield writer.start()
    for node, update in head:
        for text in writer.update(node, update):
            yield text
    try:
        while not finished:
            item = await run.next()
            if item is None:
                break
            for text in writer.update(*item):
                yield text
        for text in writer.finish(await run.result()):
            yield text
    except Exception as e:  # headers are sent: report it the way OpenAI-compatible servers do, in the stream
        yield writer.error(api_error(e, request))
    yield "data: [DONE]\n\n"


# ---- routes -------------------------------------------------------------------------------------------------
@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={
        200: {"content": {"text/event-stream": {"schema": SSE_EVENT}},
              "description": "A chat completion, or with `stream: true` a stream of chat.completion.chunk events."},
        **error_responses(401, 403, 404, 413, 422, 500, 502, 503, 504),
    },
    summary="Chat with the agent (OpenAI chat completions).",
)
async def chat_completions(
    body: ChatCompletionRequest,
    request: Request,
    principal: Principal = Depends(require_key),
    x_conversation_id: str | None = Header(None, alias=CONVERSATION_HEADER, max_length=128, pattern=CONVERSATION_ID.pattern),
) -> Any:
    """The last user message is this turn. The conversation (its history and workspace) is kept by the
    server: continue one with `casebank.conversation_id` or the `X-Conversation-Id` header; without either
    a new conversation starts. The response's `casebank` object says what the agent did."""
    service = service_of(request)
    turn = make_turn(request, body, x_conversation_id, principal)
    completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    headers = {CONVERSATION_HEADER: turn.conversation_id}
    # Hold the response until the first model call is back (at most first_token_timeout_s), so a backend
    # that is down or stuck is a plain 503 or 504, streaming or not, rather than an error inside a 200 stream.
    run = service.start(turn)
    try:
        head, finished = await run.head()
        if not body.stream:
            result = await run.result()
            return JSONResponse(completion_body(result, body.model, completion_id, created), headers=headers)
    except Exception as e:
        raise api_error(e, request) from e
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    writer = ChunkWriter(body.model, completion_id, created, turn.conversation_id, include_usage)
    return StreamingResponse(sse(writer, head, run, request, finished), media_type="text/event-stream",
                             headers={**headers, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.post("/feedback", response_model=FeedbackResponse, responses=error_responses(401, 404, 409, 413, 422),
             summary="Verify the last turn of a conversation.")
async def feedback(body: FeedbackRequest, request: Request, principal: Principal = Depends(require_key)) -> FeedbackResponse:
    """`success: true` makes the turn's trajectory a verified case (retrievable by later chats);
    `success: false` keeps it in quarantine, marked as failed."""
    service = service_of(request)
    last, written = await asyncio.get_running_loop().run_in_executor(
        service.executor, service.feedback, body.conversation_id, body.success, body.note, body.trajectory_id,
        principal.key_id, principal.admin)
    return FeedbackResponse(conversation_id=body.conversation_id, trajectory_id=last.trajectory.id, success=body.success,
                            action=written.action, case_id=written.case_id)

