"""Which packages can take Halo's invoices, and for the rest the sentence that says why not.

Why one place: the app greys out "Halo to the books" for a package without a route in, the CLI refuses to
post there, and the README's table says the same; all three read this.
"""

from __future__ import annotations

from connectors import sage50ca_writer

# kind -> "" (LedgerBridge can post invoices into it) or what to tell the user instead.
_ROUTES: dict[str, str] = {
    "quickbooks": "",
    "sage50uk": "",
    "sage50ca": f"{sage50ca_writer.MESSAGE} {sage50ca_writer.WHAT_TO_DO_INSTEAD}",
    "odbc": ("A generic ODBC source is read only: LedgerBridge cannot know how your package takes invoices."),
    "demo": "The demo company is read only: posting Halo's invoices needs QuickBooks Desktop or Sage 50 UK.",
}


def posting_route(kind: str) -> str:
    """'' when Halo's invoices can be posted into ``kind``; otherwise the reason, for a person."""
    return _ROUTES.get(kind, "Choose the accounting package first.")
