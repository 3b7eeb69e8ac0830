"""The current principal from ``Authorization: Bearer <key>``, and role guards."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param

from app.auth import repository
from app.auth.cache import PRINCIPALS
from app.auth.keys import hash_key
from app.auth.principal import Principal
from app.core.database import SessionDep
from app.core.errors import Forbidden, Unauthorized
from app.core.settings import settings_of


class ApiKeyBearer(HTTPBearer):
    """Every operation but health needs a live key of an active owner.

    FastAPI's ``HTTPBearer`` itself, so the API document declares the scheme on every operation
    that takes a principal, but one dependency instead of two: it reads the header and answers
    the principal in one solve, not a bearer dependency solved beneath this one on every request
    (issue 14). The settings come from ``settings_of(request)``, not ``SettingsDep``, for the
    same reason.
    """

    async def __call__(  # type: ignore[override]
        self, request: Request, session: SessionDep
    ) -> Principal:
        scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("Send an API key as 'Authorization: Bearer <key>'.")
        if len(token) > 200:
            raise Unauthorized("The API key is not valid.")
        key_hash = hash_key(settings_of(request).secret_key.get_secret_value(), token)
        principal = PRINCIPALS.get(key_hash)
        if principal is None:
            principal = await repository.principal_for_key_hash(session, key_hash)
            if principal is None:
                raise Unauthorized("The API key is unknown or has been revoked.")
            PRINCIPALS.put(key_hash, principal)
        return principal


#: Named as FastAPI names its own ``HTTPBearer()``: the API document's scheme is unchanged.
current_principal = ApiKeyBearer(scheme_name="HTTPBearer", description="An API key: `cnd_…`")


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def require_admin(principal: CurrentPrincipal) -> Principal:
    if not principal.is_admin:
        raise Forbidden("Only an admin may do this.")
    return principal


async def require_staff_or_integration(principal: CurrentPrincipal) -> Principal:
    """Admins and integrations: operations on agency-wide records recruiters don't own."""
    if principal.is_recruiter:
        raise Forbidden("A recruiter key may not do this; ask an admin.")
    return principal


AdminPrincipal = Annotated[Principal, Depends(require_admin)]
IntegrationPrincipal = Annotated[Principal, Depends(require_staff_or_integration)]
