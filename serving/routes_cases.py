"""The case bank over HTTP: search and read the bank (any key), add and delete cases and read the
quarantine (admin key). The quarantine holds every user's failed and unverified chats, prompts and
workspace content included, so a user key reads a quarantined case only as the last turn of one of its
own conversations (GET /v1/cases/{id}?conversation_id=...)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import StringConstraints, ValidationError

from agent.runner import CONVERSATION_ID
from casebank.bank import CaseBank
from casebank.casefile import case_from_limi
from casebank.config import Strategy
from casebank.models import Case, Outcome, TextError, check_value
from casebank.retrieval import RetrievalFilters
from serving.auth import Principal, require_admin, require_key
from serving.errors import APIError, error_responses, field_path
from serving.schemas import CaseDeleted, CaseHit, CaseList, CaseRecord, CasesAdded, api_field

router = APIRouter(prefix="/v1/cases", tags=["cases"], dependencies=[Depends(require_key)])

CaseId = Annotated[str, Path(min_length=1, max_length=256, description="A case id, e.g. case-0123456789abcdef.")]
# Families are short names (the seeds': `bugfix`, `log-analysis`); the filter takes only such, as its schema says.
NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]{0,127}$"
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
QUARANTINE_NEEDS_ADMIN = "Reading the quarantine needs an admin key: it holds every user's failed and unverified chats."


def bank_of(request: Request) -> CaseBank:
    return request.app.state.bank


def timed_bank(request: Request) -> Any:
    return request.app.state.service.agent_bank  # retrieval latency lands in the same histogram as the agent's


@router.get("", response_model=CaseList, responses=error_responses(401, 403, 422), summary="Search or list cases.")
def list_cases(
    request: Request,
    principal: Annotated[Principal, Depends(require_key)],
    query: Annotated[str | None, Query(max_length=4000, description="Retrieve cases for this text; omit to list.")] = None,
    k: Annotated[int, Query(ge=1, le=50, description="How many cases to retrieve.")] = 4,
    strategy: Annotated[Strategy | None, Query(description="Retrieval strategy; default: the bank's.")] = None,
    family: Annotated[list[Name], Query(description="Only these families.")] = [],  # noqa: B006 - FastAPI copies it
    tag: Annotated[list[str], Query(description="Require these tags.")] = [],  # noqa: B006
    quarantined: Annotated[bool, Query(description="Admin keys only: search the quarantine too (with a query) / list it "
                                                   "instead (without).")] = False,
    limit: Annotated[int, Query(ge=1, le=1000, description="Listing only: page size.")] = 100,
    offset: Annotated[int, Query(ge=0, description="Listing only: cases to skip.")] = 0,
) -> CaseList:
    if quarantined and not principal.admin:
        raise APIError(403, QUARANTINE_NEEDS_ADMIN, param="quarantined", code="admin_key_required")
    bank = bank_of(request)
    if query is not None and query.strip():
        filters = RetrievalFilters(success_only=not quarantined, families=family, tags=tag)
        found = timed_bank(request).retrieve(query, k, strategy, filters)
        hits = [CaseHit(id=r.case.id, quarantined=not r.case.outcome.verified_success, score=r.score, rank=r.rank, case=r.case)
                for r in found]
        return CaseList(data=hits)
    where = RetrievalFilters(families=family, tags=tag).where()
    cases = bank.all(quarantined=quarantined, where=where)[offset : offset + limit]
    return CaseList(data=[CaseHit(id=c.id, quarantined=quarantined, case=c) for c in cases])


@router.get("/{case_id}", response_model=CaseHit, responses=error_responses(401, 404, 422), summary="One case (bank or quarantine).")
def get_case(
    request: Request,
    case_id: CaseId,
    principal: Annotated[Principal, Depends(require_key)],
    conversation_id: Annotated[str | None, Query(pattern=CONVERSATION_ID.pattern, max_length=128, description=(
        "For a user key, a quarantined case is found only as the last turn of this conversation, "
        "which must be the key's own."))] = None,
) -> CaseHit:
    bank = bank_of(request)
    case = bank.get(case_id)
    if case is not None:
        return CaseHit(id=case.id, quarantined=False, case=case)
    if principal.admin or own_last_turn(request, principal, conversation_id, case_id):
        case = bank.get(case_id, quarantined=True)
        if case is not None:
            return CaseHit(id=case.id, quarantined=True, case=case)
    raise APIError(404, f"No case {case_id!r}.", param="case_id", code="case_not_found")  # as if absent: no leak


def own_last_turn(request: Request, principal: Principal, conversation_id: str | None, case_id: str) -> bool:
    if conversation_id is None:
        return False
    record = request.app.state.service.conversations.get(conversation_id)
    return record is not None and record.owner == principal.key_id and record.last.trajectory.id == case_id


def parse_cases(items: list[dict[str, Any]], fmt: str, curated: bool) -> list[Case]:
    """Validate the whole batch before anything is written; the first bad item is named with its field."""
    cases: list[Case] = []
    for i, item in enumerate(items):
        try:
            check_value(item)  # every string of the record, metadata and unknown LIMI keys included
            if fmt == "limi":
                if "messages" not in item:
                    raise APIError(422, f"[{i}].messages: Field required", param=f"[{i}].messages", code="invalid_case")
                case = case_from_limi(item)
            else:
                case = Case.model_validate(item)
        except TextError as e:
            raise invalid_case(i, api_field(e.field), e.problem) from None
        except ValidationError as e:
            first = e.errors()[0]
            field, problem = field_path(first["loc"]) if first["loc"] else "", first["msg"]
            cause = (first.get("ctx") or {}).get("error")
            if isinstance(cause, TextError):  # raised by a model validator: its path is below the location
                field, problem = api_field(cause.field, under=field), cause.problem
            raise invalid_case(i, field, problem) from None
        except (TypeError, ValueError) as e:
            raise APIError(422, f"case {i}: {e}", param=f"[{i}]", code="invalid_case") from None
        if curated:
            case = case.model_copy(update={"outcome": Outcome(success=True, verified_by="seed"), "source": "seed"})
        cases.append(case)
    return list({c.id: c for c in cases}.values())  # one record per id: the last one wins


def invalid_case(index: int, field: str, problem: str) -> APIError:
    param = f"[{index}]" + (field if field.startswith("[") else f".{field}" if field else "")
    return APIError(422, f"case {index}: field '{field or '<record>'}': {problem}", param=param, code="invalid_case")


@router.post("", status_code=201, response_model=CasesAdded, dependencies=[Depends(require_admin)],
             responses=error_responses(401, 403, 413, 422), summary="Add cases (admin).")
def add_cases(
    request: Request,
    items: Annotated[list[CaseRecord], Body(min_length=1, description="Cases in casebank format, or LIMI `{messages, tools}` records.")],
    format: Annotated[Literal["casebank", "limi"], Query(description="Record format.")] = "casebank",  # noqa: A002
    curated: Annotated[bool, Query(description="Trust the records as curated successes (verified_by=seed).")] = False,
) -> JSONResponse:
    """Verified successes become retrievable; the rest (e.g. LIMI records unless `curated`) go to quarantine.
    Upserts by id, so adding the same cases twice changes nothing."""
    cases = parse_cases(items, format, curated)
    added = bank_of(request).upsert(cases)
    body = CasesAdded(added=added, quarantined=len(cases) - added, ids=[c.id for c in cases])
    return JSONResponse(body.model_dump(), status_code=201)


@router.delete("/{case_id}", response_model=CaseDeleted, dependencies=[Depends(require_admin)],
               responses=error_responses(401, 403, 404, 422), summary="Delete a case (admin).")
def delete_case(request: Request, case_id: CaseId) -> CaseDeleted:
    if not bank_of(request).delete(case_id):
        raise APIError(404, f"No case {case_id!r}.", param="case_id", code="case_not_found")
    return CaseDeleted(id=case_id)
