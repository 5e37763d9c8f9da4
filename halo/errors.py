"""Turn Halo's answers and network failures into LedgerBridge errors a person can act on.

Why one place: the engine decides what to do from the error's class alone (stop, reconnect, back off, skip the
record), so every status code, OAuth error and socket failure is classified here and nowhere else.
Nothing here sees a credential: messages are built from URLs, status codes and the server's own words.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3.exceptions

from core.errors import AuthError, ConfigError, LedgerBridgeError, RecordError, TransientError
from halo.resources import RESOURCES
from halo.retry import parse_retry_after

SETTINGS_HINT = "Settings > Halo"
URL_ACTION = (
    f"Check the resource server URL in {SETTINGS_HINT}: use the Resource Server shown in Halo under "
    "Configuration > Integrations > Halo API."
)
SECRET_ACTION = (
    f"Re-enter them in {SETTINGS_HINT} (the secret is shown only once in Halo: create a new one if you no "
    "longer have it)."
)

# The resource a path names, whatever its case (/api/client/7): its permission area is in the table.
_RESOURCE_BY_LOWER = {name.lower(): row for name, row in RESOURCES.items()}
OAUTH_ERROR_CODES = frozenset(
    {
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
        "access_denied",
    }
)
BODY_SNIPPET = 300


class HaloRecordError(RecordError):
    """Halo refused a record; ``record_index`` is its position in the POSTed batch when Halo said which."""

    def __init__(
        self,
        message: str,
        *,
        action: str = "",
        detail: str = "",
        field: str = "",
        record_index: int | None = None,
    ) -> None:
        super().__init__(message, action=action, detail=detail, field=field)
        self.record_index = record_index


def error_from_response(response: requests.Response, *, operation: str) -> LedgerBridgeError:
    """Classify an HTTP answer that could not be used (an error status, or a 2xx that is not Halo's JSON).

    ``operation`` says what we were doing in words ("reading customers", "signing in") for the message.
    """
    status = response.status_code
    method = (response.request.method if response.request is not None else "") or ""
    url = _url_without_query(
        response.url or (response.request.url if response.request is not None else "") or ""
    )
    path = urlsplit(url).path
    body = _json_body(response)
    detail = f"HTTP {status} {method} {path}: {_snippet(response)}"
    oauth_code = _oauth_code(body)

    if _is_token_path(path) or oauth_code:
        token_error = _token_error(status, oauth_code, body, url, detail)
        if token_error is not None:
            return token_error

    if 200 <= status < 300:
        if _looks_like_html(response) or not response.content.strip():
            return ConfigError(
                f"{_origin(url)} answered {operation} with a web page, not the Halo API.",
                action=URL_ACTION,
                detail=detail,
            )
        return TransientError(
            f"Halo's answer to {operation} could not be read.",
            action="LedgerBridge will try again; if it keeps happening, send the log to support.",
            detail=detail,
        )
    if 300 <= status < 400:
        location = response.headers.get("Location", "")
        return ConfigError(
            f"{_origin(url)} redirected {operation} to {_url_without_query(location) or 'another address'}.",
            action=URL_ACTION,
            detail=detail,
        )
    if status == 400:
        return _bad_request(body, operation, detail)
    if status == 401:
        return AuthError(
            f"Halo did not accept LedgerBridge's sign-in while {operation}.",
            action=f"Check the client ID and secret in {SETTINGS_HINT}, then connect again.",
            detail=detail,
        )
    if status == 403:
        return AuthError(
            f"Halo refused permission for {operation}.",
            action=_permission_action(method, path),
            detail=detail,
        )
    if status == 404:
        if _is_record_path(path):
            return HaloRecordError(
                f"Halo has no such record ({path}).",
                action="It may have been deleted in Halo; the next sync will look it up again.",
                detail=detail,
            )
        return ConfigError(f"No Halo API at {_origin(url)}.", action=URL_ACTION, detail=detail)
    if status in (408, 429) or status >= 500:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if status == 429:
            message = "Halo asked LedgerBridge to slow down (too many requests)."
        elif _looks_like_html(response):
            message = f"Halo, or a proxy in between, answered {operation} with an error page (HTTP {status})."
        else:
            message = f"Halo had a problem while {operation} (HTTP {status})."
        return TransientError(
            message,
            action="LedgerBridge will try again shortly; nothing needs doing unless it keeps happening.",
            detail=detail,
            retry_after=retry_after,
        )
    if status in (409, 422):
        return _bad_request(body, operation, detail)
    if status == 413:
        return ConfigError(
            f"Halo refused {operation}: the request was too large.",
            action=f"Lower the batch size in {SETTINGS_HINT}.",
            detail=detail,
        )
    return ConfigError(
        f"Halo refused {operation} (HTTP {status}).",
        action=URL_ACTION,
        detail=detail,
    )


def shape_error(operation: str, problem: str, *, maybe_written: bool = False) -> TransientError:
    """Halo answered JSON, but not the shape the API documents (e.g. a list where an object was expected)."""
    return TransientError(
        f"Halo's answer to {operation} was not in the expected form.",
        action=(
            "LedgerBridge will look the records up in Halo before sending them again."
            if maybe_written
            else "LedgerBridge will try again; if it keeps happening, send the log to support."
        ),
        detail=problem,
        maybe_written=maybe_written,
    )


# --- network failures ------------------------------------------------------------------------------------

FAILURE_TLS = "tls"
FAILURE_INVALID = "invalid"  # the URL or proxy setting cannot be used at all
FAILURE_DNS = "dns"
FAILURE_PROXY = "proxy"
FAILURE_CONNECT = "connect"  # nothing was sent: always safe to send again
FAILURE_TIMEOUT = "timeout"  # sent, no answer in time: the server may have processed it
FAILURE_DROPPED = "dropped"  # sent, connection closed: the server may have processed it


def classify_failure(exc: requests.RequestException) -> str:
    """Which kind of network failure ``exc`` is; decides whether a create may be sent again."""
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.InvalidSchema):
        return FAILURE_INVALID
    if isinstance(exc, requests.exceptions.SSLError):
        return FAILURE_TLS
    if isinstance(exc, requests.exceptions.ProxyError):
        return FAILURE_PROXY
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return FAILURE_CONNECT
    if isinstance(exc, requests.exceptions.ReadTimeout | requests.exceptions.Timeout):
        return FAILURE_TIMEOUT
    reason = _root_reason(exc)
    if isinstance(reason, urllib3.exceptions.NameResolutionError):
        return FAILURE_DNS
    if isinstance(reason, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError):
        return FAILURE_CONNECT
    if isinstance(reason, urllib3.exceptions.SSLError):
        return FAILURE_TLS
    return FAILURE_DROPPED


def error_from_failure(
    exc: requests.RequestException,
    *,
    url: str,
    operation: str,
    timeout: float,
    maybe_written: bool = False,
    server_seen: bool = False,
) -> LedgerBridgeError:
    """A network failure as an error naming the host and what to check.

    ``server_seen``: the server has answered before, so a name that no longer resolves is an outage (retry
    later), not a wrong URL.
    """
    kind = classify_failure(exc)
    host = urlsplit(url).hostname or url
    detail = f"{type(exc).__name__}: {_safe_exception_text(exc)}"
    if kind == FAILURE_INVALID:
        return ConfigError(
            f"The address for {operation} cannot be used ({_safe_exception_text(exc)}).",
            action=f"Check the resource server, authorisation server and proxy in {SETTINGS_HINT}.",
            detail=detail,
        )
    if kind == FAILURE_DNS and server_seen:
        return TransientError(
            f"The Halo server name {host} could not be looked up just now.",
            action="Check this PC's internet connection; LedgerBridge will try again.",
            detail=detail,
        )
    if kind == FAILURE_TLS:
        return ConfigError(
            f"The certificate of {host} was not trusted, so LedgerBridge did not connect.",
            action=(
                "If this network uses an inspecting proxy or firewall, install its CA certificate into "
                "Windows' certificate store (Trusted Root Certification Authorities) or set its file as the "
                f"CA bundle in {SETTINGS_HINT}; otherwise check the resource server URL. Verification is "
                "never switched off."
            ),
            detail=detail,
        )
    if kind == FAILURE_DNS:
        return ConfigError(
            f"The Halo server {host} could not be found.",
            action=f"{URL_ACTION} Also check that this PC is connected to the internet.",
            detail=detail,
        )
    if kind == FAILURE_PROXY:
        return TransientError(
            f"LedgerBridge could not reach {host} through the proxy.",
            action=f"Check the proxy in {SETTINGS_HINT} (blank uses the Windows proxy settings).",
            detail=detail,
        )
    if kind == FAILURE_CONNECT:
        return TransientError(
            f"LedgerBridge could not connect to {host}.",
            action=f"{URL_ACTION} LedgerBridge will try again; check this PC's internet connection.",
            detail=detail,
        )
    written_action = (
        "LedgerBridge will look the records up in Halo before sending them again."
        if maybe_written
        else "LedgerBridge will try again shortly."
    )
    if kind == FAILURE_TIMEOUT:
        return TransientError(
            f"{host} did not answer {operation} within {timeout:g} seconds.",
            action=written_action,
            detail=detail,
            maybe_written=maybe_written,
        )
    return TransientError(
        f"The connection to {host} was closed before Halo answered {operation}.",
        action=written_action,
        detail=detail,
        maybe_written=maybe_written,
    )


# --- helpers ---------------------------------------------------------------------------------------------


def _token_error(status: int, oauth_code: str, body: Any, url: str, detail: str) -> LedgerBridgeError | None:
    description = _oauth_description(body)
    if oauth_code in ("invalid_client", "unauthorized_client") or (status == 401 and not oauth_code):
        return AuthError("The client ID or secret was rejected by Halo.", action=SECRET_ACTION, detail=detail)
    if oauth_code == "invalid_request" and "tenant" in description.lower():
        return ConfigError(
            f"Halo does not know the tenant set in {SETTINGS_HINT} ({description}).",
            action=f"Correct the Tenant in {SETTINGS_HINT}: copy it from Halo's API details page.",
            detail=detail,
        )
    if oauth_code == "invalid_scope":
        return ConfigError(
            f"Halo refused the scope set in {SETTINGS_HINT}.",
            action=f"Set the scope in {SETTINGS_HINT} to 'all' (or space-separated read:/edit: permissions).",
            detail=detail,
        )
    if oauth_code in ("unsupported_grant_type", "invalid_grant"):
        return ConfigError(
            "Halo's API application does not allow signing in with a client ID and secret.",
            action=(
                "In Halo, set the API application's authentication method to "
                "'Client ID and Secret (Services)'."
            ),
            detail=detail,
        )
    if oauth_code == "access_denied":
        return AuthError(
            "Halo refused the sign-in.",
            action="Check in Halo that the API application is active and has an agent to log in as.",
            detail=detail,
        )
    if oauth_code:
        return ConfigError(
            f"Halo refused the sign-in ({oauth_code}: {description}).",
            action=f"Check the authorisation server, tenant and client ID in {SETTINGS_HINT}.",
            detail=detail,
        )
    if status == 404:
        return ConfigError(
            f"No Halo sign-in service at {_origin(url)}{urlsplit(url).path}.",
            action=f"Check the authorisation server in {SETTINGS_HINT}, or leave it blank to discover it.",
            detail=detail,
        )
    return None


def _bad_request(body: Any, operation: str, detail: str) -> LedgerBridgeError:
    message = ""
    field = ""
    record_index: int | None = None
    if isinstance(body, dict):
        for key in ("error", "message", "Message", "title", "error_description"):
            if isinstance(body.get(key), str) and body[key].strip():
                message = body[key].strip()
                break
        if isinstance(body.get("field"), str):
            field = body["field"]
        index = body.get("record_index")
        if isinstance(index, int) and not isinstance(index, bool):
            record_index = index
    elif isinstance(body, str):
        message = body.strip()
    if not message:
        message = f"Halo refused {operation}."
    elif not message.endswith("."):
        message += "."
    action = "Correct the record in the accounting package (or the field mapping); it will be sent again."
    return HaloRecordError(message, action=action, detail=detail, field=field, record_index=record_index)


def _permission_action(method: str, path: str) -> str:
    resource = _RESOURCE_BY_LOWER.get(_resource_from_path(path))
    if resource is not None and resource.needs_admin:
        needed = "admin"
    elif resource is not None and resource.permission_area:
        needed = ("read:" if method == "GET" else "edit:") + resource.permission_area
    else:
        needed = ""
    where = "the API application (Configuration > Integrations > Halo API > Permissions) and its agent"
    if needed == "admin":  # the resource table: Halo's guide asks admin rights for the first tax import
        return (
            f"In Halo, give {where} the 'admin' permission: Halo needs admin rights on the API application "
            "for the first tax import. Then sync again."
        )
    if needed:
        return f"In Halo, give {where} the '{needed}' permission, then sync again."
    return f"In Halo, check the permissions of {where}, then sync again."


def _resource_from_path(path: str) -> str:
    parts = [p for p in path.split("/") if p]
    if "api" in (p.lower() for p in parts):
        index = [p.lower() for p in parts].index("api")
        rest = parts[index + 1 :]
        return rest[0].lower() if rest else ""
    return ""


def _is_record_path(path: str) -> bool:
    parts = [p for p in path.split("/") if p]
    lowered = [p.lower() for p in parts]
    if "api" not in lowered:
        return False
    rest = parts[lowered.index("api") + 1 :]
    return len(rest) >= 2 and rest[0].lower() != "authinfo"


def _is_token_path(path: str) -> bool:
    return path.rstrip("/").lower().endswith("/token")


def _json_body(response: requests.Response) -> Any:
    if _looks_like_html(response):
        return None
    try:
        return json.loads(response.content or b"null")
    except (ValueError, UnicodeDecodeError):
        return None


def _oauth_code(body: Any) -> str:
    code = body.get("error") if isinstance(body, dict) else None
    return code if isinstance(code, str) and code in OAUTH_ERROR_CODES else ""


def _oauth_description(body: Any) -> str:
    description = body.get("error_description") if isinstance(body, dict) else None
    return description if isinstance(description, str) else ""


def _looks_like_html(response: requests.Response) -> bool:
    content_type = response.headers.get("Content-Type", "").lower()
    if "html" in content_type:
        return True
    start = response.content[:200].lstrip().lower()
    return start.startswith((b"<!doctype", b"<html", b"<head", b"<body"))


def _snippet(response: requests.Response) -> str:
    text = response.content[:BODY_SNIPPET].decode("utf-8", errors="replace")
    return " ".join(text.split()) or "(empty body)"


def _url_without_query(url: str) -> str:
    parts = urlsplit(url)
    if not parts.scheme:
        return url
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme else url


def _root_reason(exc: BaseException) -> BaseException | None:
    """The urllib3 error under requests' wrapper (ConnectionError(MaxRetryError(reason=...)))."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, urllib3.exceptions.MaxRetryError) and current.reason is not None:
            return current.reason
        if isinstance(current, urllib3.exceptions.HTTPError) and not isinstance(
            current, urllib3.exceptions.MaxRetryError
        ):
            return current
        nested = current.args[0] if current.args and isinstance(current.args[0], BaseException) else None
        current = nested or current.__cause__ or current.__context__
    return None


def _safe_exception_text(exc: BaseException) -> str:
    """The exception's text with query strings cut (they are ours, but keep logs tidy)."""
    return " ".join(str(exc).split())[:BODY_SNIPPET]
