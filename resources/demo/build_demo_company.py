"""Build the demo company: a small UK managed-service provider's Sage 50 UK books, as a SQLite file.

Why: ``ledgerbridge --demo`` and the first-run tour need books that look like a real MSP's (forty customers,
a price list across the usual VAT codes, a year of invoices, a few credit notes, receipts, a handful of
suppliers) without anyone's real data. The tables are Sage 50 UK's (same DDL as the test stand-in), so the
demo runs the real Sage 50 UK connector. The content is seeded: the same ``today`` always gives the same file.

Run ``python -m resources.demo.build_demo_company PATH`` to write one by hand.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from resources.demo.sage50uk_schema import SageLedger, create_schema, insert_rows, sage_timestamp

DEMO_SEED = 50
COMPANY_NAME = "Brightwire IT Services Ltd"

TAX_CODES = [
    ("T0", 0, "Zero rated", 0.0),
    ("T1", 1, "Standard rate", 20.0),
    ("T2", 2, "Exempt", 0.0),
    ("T5", 5, "Reduced rate", 5.0),
    ("T9", 9, "Outside the scope of VAT", 0.0),
]

# The MSP's suppliers (PURCHASE_LEDGER): (ref, name, town, postcode, contact, purchase nominal, inactive).
SUPPLIERS = [
    ("NORTHD01", "Northern Distribution plc", "Sheffield", "S1 2HE", "Priya Shah", "5000", 0),
    ("CLOUDS01", "CloudSeat Licensing Ltd", "London", "EC2A 4NE", "Tom Whitaker", "5010", 0),
    ("FIBREL01", "FibreLink Connectivity", "Warrington", "WA1 1GG", "Aled Morgan", "7502", 0),
    ("OFFICE01", "Office Essentials Direct", "Stockport", "SK1 3AZ", "Jo Kettering", "7500", 0),
    ("OLDHWR01", "Old Hardware Wholesale", "Bolton", "BL1 1AA", "", "5000", 1),
]

# (name, town, county, postcode prefix) — realistic small-business names, apostrophes and accents included.
CUSTOMERS = [
    ("Harrington & Co Solicitors", "York", "North Yorkshire", "YO1"),
    ("O'Neill's Bakery Ltd", "Belfast", "County Antrim", "BT1"),
    ("Café Rouge Deli", "Bath", "Somerset", "BA1"),
    ("St. Andrew's Dental Practice", "Norwich", "Norfolk", "NR2"),
    ("Bryn Mawr Veterinary Surgery", "Aberystwyth", "Ceredigion", "SY23"),
    ("Whitfield Architects LLP", "Leeds", "West Yorkshire", "LS1"),
    ("Kettleby Farm Shop", "Melton Mowbray", "Leicestershire", "LE13"),
    ("Náttúra Wellness Studio", "Brighton", "East Sussex", "BN1"),
    ("Pembroke Estate Agents", "Cambridge", "Cambridgeshire", "CB2"),
    ("Greenhalgh Haulage Ltd", "Bolton", "Greater Manchester", "BL1"),
    ("The Crown & Anchor", "Whitby", "North Yorkshire", "YO21"),
    ("Mackenzie Joinery", "Inverness", "Highland", "IV1"),
    ("Løvstad Scandinavian Imports", "Hull", "East Riding of Yorkshire", "HU1"),
    ("Ashworth Accountancy Services", "Preston", "Lancashire", "PR1"),
    ("Riverside Primary Academy Trust", "Reading", "Berkshire", "RG1"),
    ("D'Arcy Opticians", "Cheltenham", "Gloucestershire", "GL50"),
    ("Fenwick & Daughters Florists", "Durham", "County Durham", "DH1"),
    ("Polperro Pottery", "Looe", "Cornwall", "PL13"),
    ("Sandhu Pharmacy Group", "Leicester", "Leicestershire", "LE1"),
    ("Thistle Property Management", "Edinburgh", "City of Edinburgh", "EH1"),
    ("Brontë Country Holidays", "Haworth", "West Yorkshire", "BD22"),
    ("Marchetti's Ice Cream Parlour", "Llandudno", "Conwy", "LL30"),
    ("Okafor Engineering Ltd", "Coventry", "West Midlands", "CV1"),
    ("Halden Physiotherapy Clinic", "Oxford", "Oxfordshire", "OX1"),
    ("Blackthorn Brewery", "Tetbury", "Gloucestershire", "GL8"),
    ("Zielinski Building Services", "Slough", "Berkshire", "SL1"),
    ("Hollybush Care Home", "Shrewsbury", "Shropshire", "SY1"),
    ("Nguyen & Partners Surveyors", "Nottingham", "Nottinghamshire", "NG1"),
    ("Cartwright Print & Design", "Stoke-on-Trent", "Staffordshire", "ST1"),
    ("The Old Rectory B&B", "Ludlow", "Shropshire", "SY8"),
    ("Penhaligon Marine Supplies", "Falmouth", "Cornwall", "TR11"),
    ("Ravensworth Golf Club", "Gateshead", "Tyne and Wear", "NE9"),
    ("Achterberg Dutch Flowers UK", "Spalding", "Lincolnshire", "PE11"),
    ("Sullivan's Garage", "Swindon", "Wiltshire", "SN1"),
    ("Clearwater Swimming School", "Bournemouth", "Dorset", "BH1"),
    ("Fitzgerald Recruitment", "Birmingham", "West Midlands", "B1"),
    ("Evergreen Landscapes", "Guildford", "Surrey", "GU1"),
    ("Müller & Webb Chartered Surveyors", "London", "Greater London", "EC1"),
    ("Kingfisher Nursery School", "Chester", "Cheshire", "CH1"),
    ("ACME Widgets Limited", "Sheffield", "South Yorkshire", "S1"),
]

STREETS = [
    "High Street",
    "Station Road",
    "Church Lane",
    "Market Place",
    "Mill Road",
    "Victoria Street",
    "The Parade",
    "King's Road",
    "Queen Street",
    "Riverside Walk",
]
FIRST_NAMES = ["Sarah", "James", "Aoife", "Rhys", "Priya", "Tom", "Siobhán", "Oluwaseun", "Zoë", "Callum"]
LAST_NAMES = ["Patel", "Jones", "O'Connor", "Williams", "Nowak", "MacLeod", "Brown", "Evans", "Chen", "Ahmed"]

# (stock code, description, price, tax code, nominal, cost)
ITEMS = [
    ("MS-M365-BP", "Microsoft 365 Business Premium (per user/month)", 18.10, "T1", "4000", 16.50),
    ("MS-M365-BS", "Microsoft 365 Business Standard (per user/month)", 10.30, "T1", "4000", 9.40),
    ("MSP-ESS", "Managed IT Essentials (per device/month)", 25.00, "T1", "4010", None),
    ("MSP-PRO", "Managed IT Pro (per device/month)", 42.00, "T1", "4010", None),
    ("MSP-SRV", "Managed server (per server/month)", 95.00, "T1", "4010", None),
    ("BACKUP-1TB", "Cloud backup 1 TB (per month)", 35.00, "T1", "4010", 12.00),
    ("EDR-AGENT", "Endpoint detection & response (per device/month)", 4.50, "T1", "4010", 2.10),
    ("SUPPORT-HR", "Remote support (per hour)", 75.00, "T1", "4020", None),
    ("ONSITE-HR", "On-site engineer (per hour)", 95.00, "T1", "4020", None),
    ("ONSITE-DAY", "On-site engineer (day rate)", 650.00, "T1", "4020", None),
    ("PROJECT-DAY", "Project consultancy (day rate)", 750.00, "T1", "4020", None),
    ("LAPTOP-14", 'Dell Latitude 14" laptop', 949.00, "T1", "4030", 780.00),
    ("DESKTOP-SFF", "Dell OptiPlex small form factor PC", 689.00, "T1", "4030", 560.00),
    ("MONITOR-24", '24" monitor', 159.00, "T1", "4030", 118.00),
    ("FW-SMB", "Firewall appliance (SMB)", 499.00, "T1", "4030", 365.00),
    ("SWITCH-24P", "24-port PoE switch", 389.00, "T1", "4030", 290.00),
    ("CABLE-CAT6", "Cat6 patch lead 2 m", 3.50, "T1", "4030", 0.90),
    ("DOMAIN-UK", "Domain registration .co.uk (per year)", 12.00, "T1", "4040", 5.50),
    ("SSL-CERT", "SSL certificate (per year)", 59.00, "T1", "4040", 25.00),
    ("TRAINING-BK", "Cyber security handbook (printed)", 14.99, "T0", "4050", 6.00),
    ("CHARITY-DISC", "Charity licence (Microsoft, per user/month)", 2.60, "T0", "4000", 2.30),
    ("INSURE-DEV", "Device insurance (per device/year)", 48.00, "T2", "4060", 30.00),
    ("ENERGY-HOME", "Home-worker energy surcharge", 5.00, "T5", "4070", None),
    ("RECHARGE-EXP", "Recharged expenses (outside scope)", 25.00, "T9", "4080", None),
    ("DISPOSAL", "WEEE equipment disposal", 20.00, "T1", "4090", 8.00),
]
_RATES = {code: rate for code, _, _, rate in TAX_CODES}

POSTCODE_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # the letters a UK inward postcode may end with
INVOICE_COUNT = 300
CREDIT_NOTES = 6


def _account_ref(name: str, used: set[str]) -> str:
    """Sage-style refs: up to 8 of A-Z0-9 from the name, made unique with a digit suffix."""
    letters = "".join(ch for ch in name.upper() if "A" <= ch <= "Z")[:6] or "CUST"
    for n in range(1, 100):
        ref = f"{letters}{n:02d}"[:8]
        if ref not in used:
            used.add(ref)
            return ref
    raise RuntimeError(f"no free account reference for {name!r}")


def build_demo_company(path: Path, *, today: date | None = None, seed: int = DEMO_SEED) -> Path:
    """Write the demo company to ``path`` (replacing it) and return the path."""
    today = today or date.today()
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".building")
    temporary.unlink(missing_ok=True)
    connection = sqlite3.connect(temporary)
    try:
        create_schema(connection)
        start = datetime.combine(today - timedelta(days=365), time(9, 0))
        insert_rows(
            connection,
            "COMPANY",
            [
                {
                    "NAME": COMPANY_NAME,
                    "ADDRESS_1": "3 Canal Wharf",
                    "ADDRESS_3": "Manchester",
                    "ADDRESS_5": "M1 3LD",
                    "VAT_REG_NUMBER": "GB284519731",
                    "TELEPHONE": "0161 496 0123",
                    "E_MAIL": "accounts@brightwire.example.co.uk",
                }
            ],
        )
        insert_rows(
            connection,
            "TAX_CODE",
            [
                {
                    "TAX_CODE": code,
                    "TAX_CODE_ID": code_id,
                    "DESCRIPTION": text,
                    "TAX_RATE": rate,
                    "VAT_INCLUDE": 1,  # "included in the VAT return" (normally 1), not prices-include-tax
                }
                for code, code_id, text, rate in TAX_CODES
            ],
        )
        refs = _write_customers(connection, rng, start)
        _write_items(connection, start)
        _write_invoices(connection, rng, refs, start, today)
        _write_suppliers(connection, start)
        connection.commit()
    finally:
        connection.close()
    os.replace(temporary, path)  # never leave a half-built company where the demo looks for it
    return path


def _write_customers(connection: sqlite3.Connection, rng: random.Random, start: datetime) -> list[str]:
    used: set[str] = set()
    rows: list[dict[str, Any]] = []
    for index, (name, town, county, prefix) in enumerate(CUSTOMERS):
        ref = _account_ref(name, used)
        contact = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        domain = "".join(ch for ch in name.lower() if ch.isascii() and ch.isalnum())[:18] + ".example.co.uk"
        street = f"{rng.randint(1, 220)} {rng.choice(STREETS)}"
        postcode = f"{prefix} {rng.randint(1, 9)}{rng.choice(POSTCODE_LETTERS)}{rng.choice(POSTCODE_LETTERS)}"
        modified = start + timedelta(days=rng.randint(0, 360), minutes=rng.randint(0, 600))
        rows.append(
            {
                "ACCOUNT_REF": ref,
                "NAME": name,
                "ADDRESS_1": street,
                "ADDRESS_2": None,
                "ADDRESS_3": town,
                "ADDRESS_4": county,
                "ADDRESS_5": postcode,
                "DEL_ADDRESS_1": street if index % 7 else "Goods In, Rear Entrance",
                "DEL_ADDRESS_3": town,
                "DEL_ADDRESS_5": postcode,
                "CONTACT_NAME": contact[:30],
                "TELEPHONE": f"0{rng.randint(1130, 1999)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
                "E_MAIL": f"accounts@{domain}",
                "WEB_ADDRESS": f"https://www.{domain}",
                "DEF_TAX_CODE": "T0" if "Trust" in name or "Nursery" in name else "T1",
                "DEF_NOM_CODE": "4000",
                "VAT_REG_NUMBER": f"GB{rng.randint(100000000, 999999999)}" if index % 4 else None,
                "COUNTRY_CODE": "GB",
                "CURRENCY": 0,
                "BALANCE": 0.0,
                "CREDIT_LIMIT": float(rng.choice((1000, 2500, 5000, 10000))),
                "PAYMENT_DUE_DAYS": 30,
                "TERMS": "30 days net",
                "INACTIVE_FLAG": 1 if index == 33 else 0,
                "RECORD_CREATE_DATE": sage_timestamp(start - timedelta(days=rng.randint(30, 2000))),
                "RECORD_MODIFY_DATE": sage_timestamp(modified),
                "RECORD_DELETED": 0,
            }
        )
    insert_rows(connection, "SALES_LEDGER", rows)
    return [row["ACCOUNT_REF"] for row in rows]


def _write_suppliers(connection: sqlite3.Connection, start: datetime) -> None:
    """A few suppliers with fixed details (no draw from the seeded stream: customers and invoices stay)."""
    rows = [
        {
            "ACCOUNT_REF": ref,
            "NAME": name,
            "ADDRESS_1": f"Unit {index + 2}, Trade Park",
            "ADDRESS_3": town,
            "ADDRESS_5": postcode,
            "CONTACT_NAME": contact or None,
            "TELEPHONE": f"0161 496 07{index:02d}",
            "E_MAIL": f"sales@{ref.lower()}.example.co.uk",
            "DEF_TAX_CODE": "T1",
            "DEF_NOM_CODE": nominal,
            "COUNTRY_CODE": "GB",
            "CURRENCY": 0,
            "BALANCE": 0.0,
            "TERMS": "30 days net",
            "INACTIVE_FLAG": inactive,
            "RECORD_CREATE_DATE": sage_timestamp(start - timedelta(days=400)),
            "RECORD_MODIFY_DATE": sage_timestamp(start + timedelta(days=index)),
            "RECORD_DELETED": 0,
        }
        for index, (ref, name, town, postcode, contact, nominal, inactive) in enumerate(SUPPLIERS)
    ]
    insert_rows(connection, "PURCHASE_LEDGER", rows)


def _write_items(connection: sqlite3.Connection, start: datetime) -> None:
    insert_rows(
        connection,
        "STOCK",
        [
            {
                "STOCK_CODE": code,
                "DESCRIPTION": description,
                "SALES_PRICE": price,
                "NOMINAL_CODE": nominal,
                "PURCHASE_NOMINAL_CODE": "5000",
                "TAX_CODE": tax_code,
                "UNIT_OF_SALE": "Each",
                "AVERAGE_COST_PRICE": cost,
                "LAST_PURCHASE_PRICE": cost,
                "INACTIVE_FLAG": 0,
                "RECORD_CREATE_DATE": sage_timestamp(start - timedelta(days=200)),
                "RECORD_MODIFY_DATE": sage_timestamp(start + timedelta(days=index)),
                "RECORD_DELETED": 0,
            }
            for index, (code, description, price, tax_code, nominal, cost) in enumerate(ITEMS)
        ],
    )


def _write_invoices(
    connection: sqlite3.Connection, rng: random.Random, refs: list[str], start: datetime, today: date
) -> None:
    ledger = SageLedger(connection)
    credit_slots = set(rng.sample(range(40, INVOICE_COUNT), CREDIT_NOTES))
    active_refs = [ref for index, ref in enumerate(refs) if index != 33]
    for offset in range(INVOICE_COUNT):
        number = 10001 + offset
        is_credit = offset in credit_slots
        when = start + timedelta(days=offset * 365 // INVOICE_COUNT, minutes=rng.randint(0, 480))
        ref = rng.choice(active_refs)
        picks = rng.sample(ITEMS, rng.randint(1, 1 if is_credit else 4))
        lines = []
        for item_number, (code, description, price, tax_code, nominal, _cost) in enumerate(picks, start=1):
            quantity = (
                float(rng.choice((1, 1, 2, 3, 5, 10, 12, 25))) if price < 100 else float(rng.randint(1, 3))
            )
            if code.endswith("-HR"):
                quantity = rng.choice((0.5, 1.0, 1.5, 2.0, 3.25))
            net = round(price * quantity, 2)
            tax = round(net * _RATES[tax_code] / 100, 2)
            lines.append((item_number, code, description, quantity, price, net, tax, tax_code, nominal))
        net = round(sum(line[5] for line in lines), 2)
        tax = round(sum(line[6] for line in lines), 2)
        gross = round(net + tax, 2)
        # The last fortnight's invoices are still drafts in the invoicing module (not posted to the ledger).
        posted = (today - when.date()).days > 14
        insert_rows(
            connection,
            "INVOICE",
            [
                {
                    "INVOICE_NUMBER": number,
                    "INVOICE_TYPE_CODE": 1 if is_credit else 0,
                    "INVOICE_TYPE": "Product",
                    "INVOICE_OR_CREDIT": "Credit" if is_credit else "Invoice",
                    "INVOICE_DATE": sage_timestamp(datetime.combine(when.date(), time())),
                    "ACCOUNT_REF": ref,
                    "CUST_ORDER_NUMBER": f"PO-{rng.randint(1000, 9999)}" if rng.random() < 0.4 else None,
                    "ITEMS_NET": net,
                    "ITEMS_TAX": tax,
                    "ITEMS_GROSS": gross,
                    "INVOICE_NET": net,
                    "INVOICE_TAX": tax,
                    "INVOICE_GROSS": gross,
                    "POSTED": "Posted" if posted else "Not posted",
                    "POSTED_CODE": 1 if posted else 0,
                    "PAYMENT_DUE_DATE": sage_timestamp(
                        datetime.combine(when.date() + timedelta(days=30), time())
                    ),
                    "RECORD_CREATE_DATE": sage_timestamp(when),
                    "RECORD_MODIFY_DATE": sage_timestamp(when),
                    "RECORD_DELETED": 0,
                }
            ],
        )
        insert_rows(
            connection,
            "INVOICE_ITEM",
            [
                {
                    "INVOICE_NUMBER": number,
                    "ITEM_NUMBER": item_number,
                    "STOCK_CODE": code,
                    "DESCRIPTION": description[:60],
                    "SERVICE_FLAG": 0,
                    "QUANTITY": quantity,
                    "UNIT_PRICE": price,
                    "NOMINAL_CODE": nominal,
                    "TAX_CODE": tax_code,
                    "TAX_RATE": _RATES[tax_code],
                    "FULL_NET_AMOUNT": line_net,
                    "NET_AMOUNT": line_net,
                    "TAX_AMOUNT": line_tax,
                    "GROSS_AMOUNT": round(line_net + line_tax, 2),
                    "RECORD_MODIFY_DATE": sage_timestamp(when),
                }
                for (
                    item_number,
                    code,
                    description,
                    quantity,
                    price,
                    line_net,
                    line_tax,
                    tax_code,
                    nominal,
                ) in (lines)
            ],
        )
        if not posted:
            continue
        split = ledger.post_document(
            invoice_number=number,
            is_credit=is_credit,
            account_ref=ref,
            when=when,
            due=when.date() + timedelta(days=30),
            net=net,
            tax=tax,
            gross=gross,
            tax_code=lines[0][7],
        )
        age = (today - when.date()).days
        if is_credit or age < 20 or rng.random() < 0.15:
            continue  # credit notes, recent invoices and a few slow payers stay unpaid
        paid_on = when + timedelta(days=rng.randint(7, min(age - 1, 45)))
        if rng.random() < 0.12 and gross > 50:
            first = round(gross / 2, 2)
            ledger.add_receipt(
                invoice_split=split,
                account_ref=ref,
                when=paid_on,
                amount=first,
                reference=f"BACS {number} 1/2",
            )
            if rng.random() < 0.6:
                later = paid_on + timedelta(days=14)
                if later.date() < today:
                    ledger.add_receipt(
                        invoice_split=split,
                        account_ref=ref,
                        when=later,
                        amount=round(gross - first, 2),
                        reference=f"BACS {number} 2/2",
                    )
        else:
            method = rng.choice(("BACS", "BACS", "BACS", "Card", "Cheque"))
            ledger.add_receipt(
                invoice_split=split,
                account_ref=ref,
                when=paid_on,
                amount=gross,
                reference=f"{method} {number}",
            )


def ensure_demo_company(path: Path) -> Path:
    """The demo company at ``path``, built on first use (an existing file is kept as it is)."""
    if not path.is_file():
        build_demo_company(path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the LedgerBridge demo company (Sage 50 UK tables).")
    parser.add_argument("path", type=Path)
    parser.add_argument("--today", type=date.fromisoformat, default=None, help="anchor date (YYYY-MM-DD)")
    args = parser.parse_args(argv)
    build_demo_company(args.path, today=args.today)
    print(f"Demo company written to {args.path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
