"""A Case as a Chroma record: the metadata the bank stores beside its embedding, and back.

The whole case goes in as JSON (`CASE_JSON`); the fields retrieval filters on go beside it (family, source,
success, ...; each tag as a `TAG_PREFIX`+tag key set to True); usage counters are kept apart from the JSON so
they can change without rewriting it. The bank writes these records, the retriever reads them.
"""

from __future__ import annotations

from typing import Any

from casebank.models import STORED, Case, Usage

__all__ = ["CASE_JSON", "TAG_PREFIX", "case_from_record", "case_metadata"]

CASE_JSON = "case_json"
TAG_PREFIX = "tag:"


def case_metadata(case: Case) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "cid": case.id,
        "family": case.family,
        "source": case.source,
        "success": case.outcome.success,
        "verified_by": case.outcome.verified_by,
        "model": case.model or "",
        "task_id": case.task_id or "",
        "created_at": case.created_at.isoformat(),
        "steps": case.stats.steps,
        "tool_calls": case.stats.tool_calls,
        "approx_tokens": case.stats.approx_tokens,
        "retrieved": case.usage.retrieved,
        "retrieved_in_success": case.usage.retrieved_in_success,
        CASE_JSON: case.model_dump_json(exclude={"usage"}),
    }
    meta.update({f"{TAG_PREFIX}{t}": True for t in case.tags})
    return meta


def case_from_record(meta: dict[str, Any]) -> Case:
    """The case a record holds. Its text is not scanned again (`STORED`: the bank checked every string when it
    wrote the record); its id is still recomputed from the content, so a record edited behind the bank's back
    fails here, as does one whose `cid` is not its case's id."""
    case = Case.model_validate_json(meta[CASE_JSON], context=STORED)
    if meta.get("cid", case.id) != case.id:
        raise ValueError(f"record {meta.get('cid')!r} holds case {case.id!r}")
    case.usage = Usage(retrieved=int(meta.get("retrieved", 0)), retrieved_in_success=int(meta.get("retrieved_in_success", 0)))
    return case
