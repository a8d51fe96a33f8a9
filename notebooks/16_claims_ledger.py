# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Notebook 16: the claims ledger
#
# The executable companion of chapter 16. It computes the evidence of every claim registered in
# `optimlab.claims.CLAIMS`, applies each claim's stated criterion, checks that every verdict is
# well-formed, and builds the table the chapter shows. Nothing here is typed in: change a claim's
# evidence and this table (and its pytest test) changes with it.

# %%
import time
from collections import Counter
from pathlib import Path

from IPython.display import HTML, Markdown, display
from threadpoolctl import threadpool_limits

from optimlab.claims import CAVEAT, CLAIMS, HOLDS, NOT_HERE, STATUSES
from optimlab.claims.ledger import ledger_html, ledger_markdown
from optimlab.plots import glue

# %% [markdown]
# ## Every claim's evidence and verdict
#
# One BLAS thread (the experiments are many small matrix products, which threads only slow down);
# each evidence function is cached, so the table below reuses these computations. The exact
# identities and numeric probes take seconds; the experiments (kind X) take minutes, so they run in
# three cells, each well inside the book's per-cell time limit.

# %%
seconds, verdicts = {}, {}


def compute(numbers):
    """Evidence and verdict of the claims ``numbers``, timed."""
    with threadpool_limits(limits=1, user_api="blas"):
        for number in numbers:
            start = time.perf_counter()
            verdicts[number] = CLAIMS[number].verdict()
            seconds[number] = time.perf_counter() - start
    print("\n".join(f"claim {n}: {verdicts[n].status} ({seconds[n]:.1f} s)" for n in numbers))


experiments = sorted(n for n, c in CLAIMS.items() if "X" in c.kind)
compute(sorted(set(CLAIMS) - set(experiments)))

# %%
compute([n for n in experiments if n <= 20])

# %%
compute([n for n in experiments if 20 < n <= 28])

# %%
compute([n for n in experiments if n > 28])

# %% [markdown]
# Every claim has a verdict of one of the three kinds, a caveat or a failure says which, and the
# claims are numbered without gaps.

# %%
assert sorted(verdicts) == sorted(CLAIMS)
for number, verdict in verdicts.items():
    assert verdict.status in STATUSES, number
    assert verdict.status == HOLDS or verdict.note, f"claim {number}: a caveat or a failure must say which"
assert sorted(CLAIMS) == list(range(1, len(CLAIMS) + 1)), "claims are numbered 1, 2, … without gaps"

n_claims = glue("n_claims", len(CLAIMS))
counts = Counter(v.status for v in verdicts.values())
assert counts.most_common(1)[0][0] == CAVEAT  # the chapter's summary says so
glue("n_holds", counts[HOLDS])
glue("n_caveat", counts[CAVEAT])
glue("n_not_here", counts[NOT_HERE])
glue("n_exact", len(CLAIMS) - len(experiments))  # kinds E, N, E/N; those with an X part count as experiments
glue("total_seconds", round(sum(seconds.values())))
print(f"{n_claims} claims: {dict(counts)}; evidence computed in {sum(seconds.values()):.0f} s")

# %% [markdown]
# ## The table
#
# The chapter shows this table with a link to the chapter that treats each claim's topic, where one
# exists: the chapter whose file name is the topic (`06-weight-decay.md` for "weight decay"), or the
# one named below for topics whose chapter has another name.

# %%
CHAPTERS = {path.stem.split("-", 1)[1]: path.stem for path in Path("../chapters").glob("[0-9][0-9]-*.md")}
TOPIC_CHAPTERS = {"memory": "memory-efficient", "batch size": "large-batch", "learning rates": "finding-lr",
                  "second order": "curvature"}


def chapter_link(claim):
    """(text, href relative to the chapter's page) of the chapter treating the claim's topic, or None."""
    stem = CHAPTERS.get(TOPIC_CHAPTERS.get(claim.topic, claim.topic.replace(" ", "-")))
    return (f"chapter {int(stem[:2])}", f"{stem}.html") if stem else None


glue("ledger", HTML(ledger_html(CLAIMS, link=chapter_link)))
display(Markdown(ledger_markdown(CLAIMS, where=lambda c: c.topic)))

# %% [markdown]
# ## Criteria and cost
#
# Each verdict applies the criterion below to the evidence; `tests/claims/` asserts the same
# criterion and the verdict's status, claim by claim.

# %%
rows = [f"| {n} | {c.criterion} | {seconds[n]:.1f} |" for n, c in sorted(CLAIMS.items())]
display(Markdown("\n".join(["| # | criterion | seconds |", "|---|---|---|", *rows])))

# %% [markdown]
# ## Numbers the chapter quotes

# %%
memory, seven_b = CLAIMS[19].evidence(), CLAIMS[20].evidence()
glue("adam_7b_gb", seven_b["adam_states_gb"])
glue("weights_7b_gb", seven_b["weights_gb"])
glue("adam_mini_bytes", memory["total_bytes"]["AdamMini"])
glue("sf_adamw_bytes", memory["total_bytes"]["AdamWScheduleFree"])
glue("eight_bit_saving", 100 * memory["eight_bit_saving"])
assert seven_b["adam_states_gb"] == 2 * seven_b["weights_gb"]  # two fp32 moments per fp32 weight

fp16_eps = CLAIMS[26].evidence()
glue("fp16_eps_step", fp16_eps["max_step_over_lr_1e-6"])
rmsprop = CLAIMS[11].evidence()
glue("rmsprop_jump", rmsprop["near_start_rmsprop_peak"])
glue("adam_jump", rmsprop["near_start_adam_peak"])
adagrad = CLAIMS[10].evidence()
glue("adagrad_frozen", adagrad["adagrad_summable_late_ratio"])
ns = CLAIMS[33].evidence()
glue("ns_low", ns["map_min_above_1e-2"])
glue("ns_high", ns["map_max_above_1e-2"])
glue("ns_square_min", ns["square_sv_min"])
clip = CLAIMS[27].evidence()
glue("clip_wrong", clip["clip_then_unscale"][0])
print(f"7B Adam states {seven_b['adam_states_gb']:.0f} GB; fp16 Adam with eps = 1e-6: first step "
      f"{fp16_eps['max_step_over_lr_1e-6']:.0f} x lr; RMSprop near the minimum: loss x {rmsprop['near_start_rmsprop_peak']:.0f}")
