"""Training examples: case files -> chat records with tool schemas -> token ids and an assistant-only mask.

How the loss mask is built. Qwen2.5's chat template has no `{% generation %}` markers, so neither
`return_assistant_tokens_mask` nor TRL's `assistant_only_loss` can find the assistant turns. The whole
conversation is rendered once, tool schemas included (`tokenizer.apply_chat_template(messages,
tools=...)`, exactly what vLLM renders at inference), and the assistant spans are found by token ids:
every `<|im_start|>` followed by the `assistant` token opens a turn; the header's `\\n` token is skipped
(when the reply itself starts with a newline the tokenizer merges the two, and the merged token is kept
in the loss); the turn runs up to and including the next `<|im_end|>`. So an assistant turn's text, its
`<tool_call>` JSON and the closing `<|im_end|>` (the stop token vLLM waits for) carry loss; the system
prompt, the tool schemas, user turns and tool results (rendered as `<|im_start|>user <tool_response>`)
and the `\\n` after each `<|im_end|>` do not. tests/test_finetune.py checks this against an independent
oracle: rendering the conversation prefix by prefix and diffing the texts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from casebank.casefile import fixed_subset, load_cases, sft_record

IM_START, IM_END, ASSISTANT = "<|im_start|>", "<|im_end|>", "assistant"


def load_records(path: Path, fmt: Literal["casebank", "limi"] = "casebank", limit: int | None = None,
                 subset: int | None = None, subset_seed: int = 0) -> list[dict[str, Any]]:
    """Chat+tools records (`casefile.sft_record`) of a case file, validated whole (CaseFileError names the line).
    `subset`: a fixed random subset of that many cases (`casefile.fixed_subset`, the one an ablation's
    `seed_subset` banks with the same seed); `limit`: the first N records after that.

    A record without tool schemas gets casebank's tools: the served agent always sends them, so the model
    is trained on the prompt it will see."""
    from casebank.sandbox.tools import TOOLS

    tools = [t.model_dump(mode="json", exclude_none=True) for t in TOOLS]
    cases = load_cases(path, fmt)
    if subset is not None:
        if subset > len(cases):
            raise ValueError(f"{path}: subset {subset} is larger than the file's {len(cases)} cases")
        cases = fixed_subset(cases, subset, subset_seed)
    records = [sft_record(c) for c in cases]
    for r in records:
        r["tools"] = r["tools"] or tools
    return records[:limit] if limit else records


@dataclass(frozen=True)
class MaskTokens:
    """The token ids the mask looks for, read from the tokenizer (never hard-coded)."""

    im_start: int
    im_end: int
    assistant: list[int]
    newline: int

    @classmethod
    def of(cls, tokenizer: Any) -> MaskTokens:
        im_start, im_end = tokenizer.convert_tokens_to_ids([IM_START, IM_END])
        if im_start is None or im_end is None or im_start == tokenizer.unk_token_id:
            raise ValueError(f"the tokenizer has no {IM_START}/{IM_END} tokens: not a ChatML (Qwen) chat template")
        return cls(im_start, im_end, tokenizer.encode(ASSISTANT, add_special_tokens=False),
                   tokenizer.encode("\n", add_special_tokens=False)[0])


def assistant_mask(ids: list[int], tokens: MaskTokens) -> list[int]:
    """1 for each token of an assistant turn (its text, tool calls and closing <|im_end|>), 0 elsewhere."""
    mask = [0] * len(ids)
    n = len(tokens.assistant)
    i = 0
    while i < len(ids):
        if ids[i] == tokens.im_start and ids[i + 1:i + 1 + n] == tokens.assistant:
            j = i + 1 + n
            if j < len(ids) and ids[j] == tokens.newline:
                j += 1
            while j < len(ids):
                mask[j] = 1
                if ids[j] == tokens.im_end:
                    break
                j += 1
            i = j
        i += 1
    return mask


def encode(tokenizer: Any, record: dict[str, Any], tokens: MaskTokens | None = None) -> dict[str, list[int]]:
    """Token ids of the rendered conversation and its assistant mask (TRL's `assistant_masks` column)."""
    ids = tokenizer.apply_chat_template(record["messages"], tools=record["tools"] or None, tokenize=True, return_dict=False)
    if isinstance(ids, dict) or hasattr(ids, "keys"):  # some tokenizers return a BatchEncoding regardless
        ids = ids["input_ids"]
    ids = list(ids)
    return {"input_ids": ids, "assistant_masks": assistant_mask(ids, tokens or MaskTokens.of(tokenizer))}


def encode_all(tokenizer: Any, records: list[dict[str, Any]]) -> list[dict[str, list[int]]]:
    tokens = MaskTokens.of(tokenizer)
    return [encode(tokenizer, r, tokens) for r in records]
