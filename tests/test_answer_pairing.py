"""Pairing Halo's save answer with what was sent: by identity, never by position (sync/answers.py)."""

from __future__ import annotations

import random

from sync.answers import agrees, halo_id, pair_answer

SENT_CREATES = [{"name": f"Customer {n}", "accountsid": f"C{n}"} for n in range(6)]
SAVED = [{"id": 100 + n, "name": f"Customer {n}", "accountsid": f"C{n}"} for n in range(6)]


def test_an_answer_in_the_order_sent_pairs_every_record():
    assert pair_answer("Client", SENT_CREATES, SAVED) == SAVED


def test_reversed_shuffled_and_truncated_answers_never_pair_a_record_with_another():
    rng = random.Random(11)
    shuffled = list(SAVED)
    rng.shuffle(shuffled)
    for answer in (SAVED[::-1], shuffled, SAVED[:-2], SAVED[1:]):
        paired = pair_answer("Client", SENT_CREATES, answer)
        for sent, record in zip(SENT_CREATES, paired, strict=True):
            assert record is None or record["accountsid"] == sent["accountsid"]
        assert sum(record is not None for record in paired) == len(answer)


def test_an_answer_of_the_right_length_without_keys_pairs_nothing():
    """Position alone never links: the same count of records, none carrying a key, pairs none."""
    bare = [{"id": 100 + n} for n in range(6)]
    assert pair_answer("Client", SENT_CREATES, bare) == [None] * 6


def test_an_update_pairs_by_id_and_never_with_a_record_naming_another_key():
    sent = [{"id": 7, "name": "Acme", "accountsid": "ACME01"}, {"id": 8, "name": "Zed", "accountsid": "ZED"}]
    answer = [
        {"id": 8, "name": "Zed"},  # lean: id only, no key -> still this update
        {"id": 7, "accountsid": "OTHER"},  # right id, another key -> not ours
    ]
    assert pair_answer("Client", sent, answer) == [None, answer[0]]
    assert pair_answer("Client", sent, [{"id": 9, "accountsid": "ACME01"}]) == [None, None]


def test_ids_and_numbers_answered_as_text_still_pair():
    sent = [{"id": 7, "client_id": 3, "accountsid": "ACME01"}]
    answer = [{"id": "7", "client_id": "3", "accountsid": "acme01 "}]
    assert pair_answer("Site", sent, answer) == answer
    assert halo_id({"id": "12"}) == 12 and halo_id({"id": True}) is None and halo_id({"id": "x"}) is None


def test_a_site_or_invoice_answered_on_another_client_is_not_ours():
    sent = {"id": 5, "client_id": 3, "accountsid": "ACME01"}
    assert agrees("Site", sent, {"id": 5, "client_id": 4}) is False
    invoice = {"accountsid": "1001", "thirdpartyinvoicenumber": "1001", "client_id": 3}
    assert agrees("Invoice", invoice, {"id": 1, "accountsid": "1001", "client_id": 9}) is False
    assert agrees("Invoice", invoice, {"id": 1, "thirdpartyinvoicenumber": "1001"}) is True


def test_payments_without_their_key_pair_by_invoice_amount_and_date_only_when_unambiguous():
    sent = [
        {"invoice_id": 1, "amount": 12.5, "date": "2024-05-02T10:00:00+01:00", "thirdpartyid": "P1"},
        {"invoice_id": 1, "amount": 20, "date": "2024-05-03T10:00:00+01:00", "thirdpartyid": "P2"},
    ]
    answer = [
        {"id": 41, "invoice_id": 1, "amount": "20.00", "date": "2024-05-03T09:00:00Z"},
        {"id": 40, "invoice_id": 1, "amount": 12.5, "date": "2024-05-02T09:00:00Z"},
    ]
    assert pair_answer("InvoicePayment", sent, answer) == [answer[1], answer[0]]
    twins = [dict(sent[0], thirdpartyid="P3"), dict(sent[0], thirdpartyid="P4")]
    same = [{"id": 50, "invoice_id": 1, "amount": 12.5, "date": "2024-05-02"}]
    assert pair_answer("InvoicePayment", twins, same) == [None, None]  # which of the two? neither


def test_one_answered_record_never_pairs_twice():
    sent = [{"name": "A", "accountsid": "DUP"}, {"name": "A again", "accountsid": "DUP"}]
    assert pair_answer("Client", sent, [{"id": 1, "accountsid": "DUP"}]) == [None, None]
