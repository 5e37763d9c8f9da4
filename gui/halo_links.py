"""The address of a record's own page in Halo's web app, for "Open in Halo".

Halo's API description documents the REST API, not the web app's addresses, so these forms come from public
material that links to records of real Halo instances (see docs/halo-web-links.md): customers
``/customers?clientid=N``, sites ``/customers?mainview=site&siteid=N``, items ``/items?itemid=N``, invoices
``/invoices?mainview=invoices&selid=-1&sellevel=1&invoiceid=N``. Tax rates and payments have no page of their
own that we know of, so they offer none rather than a guess. The web app is on the resource server's host
(the API is its ``/api``).
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

WEB_PATHS = {
    "customers": "/customers?clientid={id}",
    "sites": "/customers?mainview=site&siteid={id}",
    "items": "/items?itemid={id}",
    "invoices": "/invoices?mainview=invoices&selid=-1&sellevel=1&invoiceid={id}",
    "posting": "/invoices?mainview=invoices&selid=-1&sellevel=1&invoiceid={id}",  # a Halo invoice posted
}


def web_base(resource_server: str) -> str:
    """``https://acme.halopsa.com/api/`` -> ``https://acme.halopsa.com``."""
    parts = urlsplit(resource_server.strip())
    path = parts.path.rstrip("/")
    if path.lower().endswith("/api"):
        path = path[: -len("/api")]
    return urlunsplit((parts.scheme, parts.netloc, path, "", "")).rstrip("/")


def halo_web_url(resource_server: str, entity: str, halo_id: int | None) -> str | None:
    """The record's page in Halo, or None when it has no known page (or is not in Halo yet)."""
    form = WEB_PATHS.get(entity)
    if form is None or not halo_id or not resource_server.strip():
        return None
    return web_base(resource_server) + form.format(id=int(halo_id))
