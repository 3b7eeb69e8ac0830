"""/docs and /redoc render with the network off: the page and every asset it names come from
the app itself (the Swagger UI and ReDoc files installed with fastapi-offline), none from a CDN."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlparse

import httpx
import pytest

#: Every URL a page names: src/href attributes, and the strings its inline script loads.
URL_ATTR = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")
SCRIPT_URL = re.compile(r"""(?:url|spec-url)\s*[:=]\s*["']([^"']+)["']""")


@pytest.mark.parametrize(("page", "asset_kinds"), [("/docs", 3), ("/redoc", 2)])
async def test_the_docs_page_and_every_asset_it_names_come_from_the_app(
    client: httpx.AsyncClient, page: str, asset_kinds: int
) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    named = set(URL_ATTR.findall(response.text)) | set(SCRIPT_URL.findall(response.text))
    # The JavaScript (and Swagger's CSS), the favicon and the OpenAPI document at least.
    assert len(named) >= asset_kinds, named
    base = str(client.base_url) + page
    for url in sorted(named):
        absolute = urljoin(base, url)
        assert urlparse(absolute).hostname == client.base_url.host, f"{page} loads {url} from afar"
        asset = await client.get(absolute)
        assert asset.status_code == 200, f"{page}: {url} answered {asset.status_code}"
        assert len(asset.content) > 100, url
    assert "/openapi.json" in named
    # Swagger UI's validator badge would call validator.swagger.io: switched off.
    assert "validator.swagger.io" not in response.text
    if page == "/docs":
        assert '"validatorUrl": null' in response.text
