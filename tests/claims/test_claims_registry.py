"""The ledger is complete: every claim of the project's list (38 rows) is registered, well-formed."""

from optimlab.claims import CLAIMS

KINDS = {"E", "N", "X", "E/N", "N/X", "E/X"}


def test_every_claim_of_the_list_is_registered():
    assert sorted(CLAIMS) == list(range(1, 39))


def test_every_claim_is_well_formed():
    for number, claim in CLAIMS.items():
        assert claim.number == number and claim.kind in KINDS, number
        assert claim.statement and claim.criterion and claim.scale and claim.topic, number
