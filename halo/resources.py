"""Halo's side of every resource LedgerBridge writes: one table the client, errors, engine and sandbox read.

Why one table: a resource's path, list key, key and name fields, index parameters, whether its list can be
ordered, its permission area and the words used in messages were spread over six modules, so adding a
resource (suppliers) meant finding them all. Every fact here comes from Halo's published OpenAPI description
(../shared/reference/halo-openapi.json) or the public material cited in docs/halo.md; where a fact is only
assumed, the comment says so and the sandbox can be switched to behave otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class HaloResource:
    """One Halo resource as LedgerBridge uses it."""

    name: str  # the path segment: /api/{name}, /api/{name}/{id}
    list_key: str  # the array in a GET list answer: {"record_count": n, "<list_key>": [...]}
    key_field: str  # where the books' key is kept (accountsid and its kin)
    name_field: str = "name"  # what the index matches names on
    index_params: Mapping[str, str] = field(default_factory=dict)  # sent with every index read
    orderable: bool = True  # GET takes order/orderdesc (a reconcile then reads newest first)
    permission_area: str = ""  # the Halo API permission area that guards it (read:X / edit:X)
    singular: str = ""  # "the customer", for messages about one record
    plural: str = ""  # "customers", for messages about many
    words: str = ""  # what the client calls them in its operations: "reading tax rates", "saving customers"
    parent: tuple[str, str] | None = None  # (field, parent resource) the record hangs from
    has_inactive: bool = False  # the schema has an `inactive` flag
    needs_admin: bool = False  # a 403 means the API application lacks admin rights, not one permission area


def _frozen(params: dict[str, str]) -> Mapping[str, str]:
    return MappingProxyType(params)


RESOURCES: Mapping[str, HaloResource] = MappingProxyType(
    {
        resource.name: resource
        for resource in (
            HaloResource(
                "Tax",
                "taxes",
                "third_party_id",
                orderable=False,  # the OpenAPI's GET /Tax takes no order parameters
                permission_area="tax rates (admin rights for the first import)",
                needs_admin=True,  # Halo's Accounts Integrator guide: admin rights for the first tax import
                singular="the tax",
                plural="taxes",
                words="tax rates",
            ),
            HaloResource(
                "Client",
                "clients",
                "accountsid",
                index_params=_frozen({"includeinactive": "true"}),
                permission_area="customers",
                singular="the customer",
                plural="customers",
                words="customers",
                has_inactive=True,
            ),
            HaloResource(
                "Site",
                "sites",
                "accountsid",
                permission_area="customers",
                singular="the site of customer",
                plural="sites",
                words="customer sites",
                parent=("client_id", "Client"),
                has_inactive=True,
            ),
            HaloResource(
                "Item",
                "items",
                "accountsid",
                permission_area="items",
                singular="the item",
                plural="items",
                words="items",
            ),
            HaloResource(
                "Invoice",
                "invoices",
                "accountsid",
                name_field="thirdpartyinvoicenumber",
                permission_area="invoices",
                singular="the invoice",
                plural="invoices",
                words="invoices",
                parent=("client_id", "Client"),
            ),
            HaloResource(
                "InvoicePayment",
                "payments",
                "thirdpartyid",
                name_field="thirdpartyid",
                permission_area="invoices",
                singular="the payment",
                plural="invoice payments",
                words="invoice payments",
                parent=("invoice_id", "Invoice"),
            ),
            HaloResource(
                # POST /Supplier takes an array of the OpenAPI's `Company` schema; the books' key goes in its
                # `accounts_id` (halo-api.md: "accounts_id (suppliers)"); GET /Supplier takes includeinactive,
                # order and orderdesc, and answers {"suppliers": [...]} (halo-api.md §2.2).
                "Supplier",
                "suppliers",
                "accounts_id",
                index_params=_frozen({"includeinactive": "true"}),
                permission_area="suppliers",
                singular="the supplier",
                plural="suppliers",
                words="suppliers",
                has_inactive=True,
            ),
        )
    }
)


def resource(name: str) -> HaloResource:
    """The table's row for ``name`` (KeyError for a resource LedgerBridge does not write)."""
    return RESOURCES[name]
