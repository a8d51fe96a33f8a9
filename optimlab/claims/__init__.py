"""The claims ledger: every claim of CLAIMS.md with its evidence, criterion and verdict.

``CLAIMS`` maps a claim number to its ``Claim``; importing this package registers all of them.
``Claim.evidence()`` computes the numbers (cached), ``Claim.verdict()`` applies the stated criterion.
"""

from optimlab.claims import adam_family, momentum  # noqa: F401  (registers the claims)
from optimlab.claims import adaptive, cosine_schedule, memory, numerics, sign_and_matrix, weight_decay  # noqa: F401
from optimlab.claims import batch_size, generalisation, learning_rates, lr_schedules, speed  # noqa: F401  (X)
from optimlab.claims.registry import CAVEAT, CLAIMS, HOLDS, NOT_HERE, STATUSES, Claim, Verdict

__all__ = ["CLAIMS", "Claim", "Verdict", "HOLDS", "CAVEAT", "NOT_HERE", "STATUSES"]
