"""The helper's loop: read a request line, answer it, until ``close`` or the end of stdin.

    python -c <boot> <folder holding sdo_helper> [--factory module:function] [--path DIR]

``--factory`` names the SDO engine factory (default: the real COM binding, ``sdo_helper.com:dispatch``);
the tests name a fake one, found through ``--path``. stdout carries replies only: anything else a library
prints goes to stderr, which the app keeps (scrubbed) for the log.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from typing import Any, BinaryIO

from .protocol import OPS, HelperError, decode, encode
from .sdo import EngineFactory, SdoSession, unexpected_error


def load_factory(spec: str) -> EngineFactory:
    module_name, _, function = spec.partition(":")
    factory: EngineFactory = getattr(importlib.import_module(module_name), function)
    return factory


def answer(session: SdoSession, request: dict[str, Any]) -> Any:
    """The result of one request; raises HelperError for what the app must hear about."""
    op = request.get("op")
    args = request.get("args") or {}
    if op not in OPS:
        raise HelperError("bug", f"The helper does not know the request {op!r}.")
    if op == "open":
        return {
            "progid": session.open(
                args["data_path"],
                args["username"],
                args["password"],
                args.get("progid", ""),
                args["unique_name"],
            )
        }
    if op == "find_posted":
        return session.find_posted(list(args["references"]))
    if op == "post":
        return session.post(args["document"])
    if op == "has_customer":
        return session.has_customer(args["key"])
    if op == "create_customer":
        return session.create_customer(args["customer"])
    if op == "has_item":
        return session.has_item(args["key"])
    if op == "create_item":
        return session.create_item(args["item"])
    session.close()
    return None


def serve(session: SdoSession, requests: BinaryIO, replies: BinaryIO) -> None:
    for line in requests:
        if not line.strip():
            continue
        request_id: Any = None
        op = ""
        try:
            request = decode(line)
            request_id, op = request.get("id"), str(request.get("op"))
            reply = {"id": request_id, "ok": True, "result": answer(session, request)}
        except HelperError as error:
            reply = {"id": request_id, "ok": False, "error": error.as_dict()}
        except Exception as exc:  # say what happened, never the request (it may hold the password)
            traceback.print_exc(file=sys.stderr)
            reply = {"id": request_id, "ok": False, "error": unexpected_error(exc, op).as_dict()}
        replies.write(encode(reply))
        replies.flush()
        if op == "close":
            return
    session.close()  # the app went away without saying so


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sdo_helper")
    parser.add_argument("--factory", default="sdo_helper.com:dispatch")
    parser.add_argument("--path", action="append", default=[])
    args = parser.parse_args(argv)
    sys.path[:0] = args.path
    replies = sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but replies may reach the pipe
    try:
        factory = load_factory(args.factory)
    except Exception as exc:
        error = HelperError("bug", f"The Sage helper could not load its COM binding {args.factory}: {exc}")
        replies.write(encode({"id": None, "ok": False, "error": error.as_dict()}))
        replies.flush()
        return 2
    serve(SdoSession(factory), sys.stdin.buffer, replies)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
