"""The case bank over HTTP: search and read (any key), add and delete (admin key)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from casebank.bank import CaseBank
from casebank.casefile import case_from_limi
from casebank.config import Strategy
from casebank.models import Case, Outcome
from casebank.retrieval import RetrievalFilters
from serving.auth import require_admin, require_key
from serving.errors import APIError, error_responses, field_path
from serving.schemas import CaseDeleted, CaseHit, CaseList, CasesAdded

router = APIRouter(prefix="/v1/cases", tags=["cases"], dependencies=[Depends(require_key)])

CaseId = Annotated[str, Path(min_length=1, max_length=256, description="A case id, e.g. case-0123456789abcdef.")]


def bank_of(request: Request) -> CaseBank:
    return request.app.state.bank


def timed_bank(request: Request) -> Any:
    return request.app.state.service.agent_bank  # retrieval latency lands in the same histogram as the agent's


@router.get("", response_model=CaseList, responses=error_responses(401, 422), summary="Search or list cases.")
def list_cases(
    request: Request,
    query: Annotated[str | None, Query(max_length=4000, description="Retrieve cases for this text; omit to list.")] = None,
    k: Annotated[int, Query(ge=1, le=50, description="How many cases to retrieve.")] = 4,
    strategy: Annotated[Strategy | None, Query(description="Retrieval strategy; default: the bank's.")] = None,
    family: Annotated[list[str], Query(description="Only these families.")] = [],  # noqa: B006 - FastAPI copies it
    tag: Annotated[list[str], Query(description="Require these tags.")] = [],  # noqa: B006
    quarantined: Annotated[bool, Query(description="Search or list the quarantine too (with a query) / instead (without).")] = False,
    limit: Annotated[int, Query(ge=1, le=1000, description="Listing only: page size.")] = 100,
    offset: Annotated[int, Query(ge=0, description="Listing only: cases to skip.")] = 0,
) -> CaseList:
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
def get_case(request: Request, case_id: CaseId) -> CaseHit:
    bank = bank_of(request)
    for quarantined in (False, True):
        case = bank.get(case_id, quarantined=quarantined)
        if case is not None:
            return CaseHit(id=case.id, quarantined=quarantined, case=case)
    raise APIError(404, f"No case {case_id!r}.", param="case_id", code="case_not_found")


def parse_cases(items: list[dict[str, Any]], fmt: str, curated: bool) -> list[Case]:
    """Validate the whole batch before anything is written; the first bad item is named with its field."""
    cases: list[Case] = []
    for i, item in enumerate(items):
        try:
            if fmt == "limi":
                if "messages" not in item:
                    raise APIError(422, f"[{i}].messages: Field required", param=f"[{i}].messages", code="invalid_case")
                case = case_from_limi(item)
            else:
                case = Case.model_validate(item)
        except ValidationError as e:
            first = e.errors()[0]
            param = f"[{i}]" + ("." + field_path(first["loc"]) if first["loc"] else "")
            raise APIError(422, f"case {i}: field '{field_path(first['loc']) if first['loc'] else '<record>'}': {first['msg']}",
                           param=param, code="invalid_case") from None
        except (TypeError, ValueError) as e:
            raise APIError(422, f"case {i}: {e}", param=f"[{i}]", code="invalid_case") from None
        if curated:
            case = case.model_copy(update={"outcome": Outcome(success=True, verified_by="seed"), "source": "seed"})
        cases.append(case)
    return list({c.id: c for c in cases}.values())  # one record per id: the last one wins


@router.post("", status_code=201, response_model=CasesAdded, dependencies=[Depends(require_admin)],
             responses=error_responses(401, 403, 413, 422), summary="Add cases (admin).")
def add_cases(
    request: Request,
    items: Annotated[list[dict[str, Any]], Body(description="Cases in casebank format, or LIMI `{messages, tools}` records.")],
    format: Annotated[Literal["casebank", "limi"], Query(description="Record format.")] = "casebank",  # noqa: A002
    curated: Annotated[bool, Query(description="Trust the records as curated successes (verified_by=seed).")] = False,
) -> JSONResponse:
    """Verified successes become retrievable; the rest (e.g. LIMI records unless `curated`) go to quarantine.
    Upserts by id, so adding the same cases twice changes nothing."""
    if not items:
        raise APIError(422, "No cases: send a JSON array of case records.", param="body", code="invalid_case")
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
