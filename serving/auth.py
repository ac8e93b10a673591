"""Bearer-key auth (CASEBANK_USER_KEYS, CASEBANK_ADMIN_KEYS). Off when no key is configured; otherwise
every route but /healthz and OPTIONS needs a key, and routes that change the bank or read the quarantine
need an admin key (401: missing or unknown key; 403: user key on admin). An admin key is also a user key."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from serving.config import ServerSettings
from serving.errors import APIError

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer <key>`.")
CHALLENGE = {"WWW-Authenticate": "Bearer"}


@dataclass(frozen=True)
class Principal:
    key_id: str | None  # a hash of the key (conversations remember who started them); None without auth
    admin: bool


def _known(key: str, keys: list[str]) -> bool:
    # Compare against every key, in constant time per key, so timing says nothing about which matched.
    found = False
    for candidate in keys:
        found |= hmac.compare_digest(key.encode(), candidate.encode())
    return found


def authenticate(settings: ServerSettings, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    if not settings.auth_enabled:
        return Principal(key_id=None, admin=True)
    if credentials is None or not credentials.credentials:
        raise APIError(401, "Missing API key: send 'Authorization: Bearer <key>'.", code="missing_api_key", headers=CHALLENGE)
    key = credentials.credentials
    admin = _known(key, settings.admin_keys)
    if not admin and not _known(key, settings.user_keys):
        raise APIError(401, "Incorrect API key provided.", code="invalid_api_key", headers=CHALLENGE)
    return Principal(key_id=hashlib.sha256(key.encode()).hexdigest()[:16], admin=admin)


async def require_key(request: Request, credentials: HTTPAuthorizationCredentials | None = Security(bearer)) -> Principal:
    return authenticate(request.app.state.settings, credentials)


async def require_admin(principal: Principal = Depends(require_key)) -> Principal:
    if not principal.admin:
        raise APIError(403, "This operation needs an admin key.", code="admin_key_required")
    return principal
