"""Which packages can take Halo's invoices, and for the rest the sentence that says why not.

Why one place: the app greys out "Halo to the books" for a package without a route in, the CLI refuses to
post there, and the README's table says the same; all three read this.
"""

from __future__ import annotations

# kind -> "" (LedgerBridge can post invoices into it) or what to tell the user instead.
_ROUTES: dict[str, str] = {
    "quickbooks": "",
    "sage50uk": "",
    "sage50ca": (
        "Sage 50 Canada offers no supported way for another program to write invoices into it, so "
        "LedgerBridge only reads it. See docs/writing-sage.md for what to do instead."
    ),
    "odbc": ("A generic ODBC source is read only: LedgerBridge cannot know how your package takes invoices."),
    "demo": "The demo company is read only.",
}


def posting_route(kind: str) -> str:
    """'' when Halo's invoices can be posted into ``kind``; otherwise the reason, for a person."""
    return _ROUTES.get(kind, "Choose the accounting package first.")
