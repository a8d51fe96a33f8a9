"""Named variants: where libraries give one name different definitions, each definition is a flag of
an optimlab optimizer, named here, and checked against the library that uses it.

``VARIANTS`` is the registry the book prints. Each entry says which optimizer and which arguments
(``selector``) select the convention, what it computes (one line), which library defines it
(``library``), and how it is checked: ``example`` is a configuration that ``optimlab verify`` runs
against ``oracle`` (``"torch"`` for ``torch.optim``, else the oracle package of
``optimlab.verify.oracle_cases``), and ``contrast`` the arguments of the competing convention, which
must give a different trajectory on the same configuration (so the check tells them apart).
``tests/optim/test_variants.py`` runs every entry both ways.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Variant:
    """One named convention (see the module docstring)."""

    name: str
    topic: str
    optimizer: str
    selector: dict
    description: str
    library: str
    oracle: str
    example: dict
    contrast: dict = field(default_factory=dict)

    @property
    def config(self) -> dict:
        """The example with the selecting arguments applied: what our optimizer runs."""
        return {**self.example, **self.selector}


VARIANTS = [
    # AMSGrad: where the maximum is taken
    Variant("amsgrad_max_raw", "AMSGrad", "Adam", {"amsgrad": True, "amsgrad_max": "raw"},
            "v̂ₜ = max(v̂ₜ₋₁, vₜ) of the raw second moment, bias-corrected afterwards: √v̂ₜ/√(1 − β₂ᵗ) + ε",
            "torch.optim.Adam(amsgrad=True)", "torch",
            {"amsgrad": True, "betas": (0.3, 0.5), "eps": 0.001, "lr": 0.01, "weight_decay": 0.05},
            {"amsgrad_max": "corrected"}),
    Variant("amsgrad_max_corrected", "AMSGrad", "Adam", {"amsgrad": True, "amsgrad_max": "corrected"},
            "v̂ₜ = max(v̂ₜ₋₁, vₜ/(1 − β₂ᵗ)): the maximum of the bias-corrected second moment, then √v̂ₜ + ε",
            "optax.amsgrad", "optax",
            {"lr": 0.01, "betas": (0.3, 0.5), "eps": 1e-3, "amsgrad": True, "amsgrad_max": "corrected"},
            {"amsgrad_max": "raw"}),
    # NAdam: two methods under one name
    Variant("nadam_dozat", "NAdam", "NAdam", {"form": "dozat"},
            "Dozat's schedule μₜ = β₁(1 − ½·0.96^{tψ}); steps (1 − μₜ)/(1 − Πₜ) on g and μₜ₊₁/(1 − Πₜμₜ₊₁) on m",
            "torch.optim.NAdam", "torch", {"weight_decay": 0.1}, {"form": "nesterov_adam"}),
    Variant("nadam_nesterov_adam", "NAdam", "NAdam", {"form": "nesterov_adam"},
            "constant β₁ with Adam's bias corrections: β₁m/(1 − β₁ᵗ⁺¹) + (1 − β₁)g/(1 − β₁ᵗ) over √v̂ + ε",
            "optax.nadam / optax.nadamw (scale_by_adam(nesterov=True))", "optax",
            {"lr": 0.01, "form": "nesterov_adam"}, {"form": "dozat"}),
    # weight decay: where λθ enters and what scales it
    Variant("decay_l2", "weight decay", "Adam", {"decoupled_weight_decay": False},
            "L2: g ← g + λθ before the moments, so the decay is divided by √v̂ like the gradient",
            "torch.optim.Adam(weight_decay=λ)", "torch", {"weight_decay": 0.1}, {"decoupled_weight_decay": True}),
    Variant("decay_decoupled_lr_scaled", "weight decay", "Adam", {"decoupled_weight_decay": True},
            "decoupled, scaled by the learning rate: θ ← (1 − ηλ)θ, then the Adam step without λ",
            "torch.optim.AdamW, optax.adamw", "torch",
            {"decoupled_weight_decay": True, "lr": 0.01, "weight_decay": 0.1}, {"decoupled_weight_decay": False}),
    Variant("lion_decay_lr_scaled", "weight decay", "Lion", {"decoupled_weight_decay": False},
            "Lion's default, the paper's Algorithm 2: θ ← (1 − ηₜλ)θ, λ scaled by the current lr",
            "lion_pytorch.Lion", "lion-pytorch", {"lr": 0.01, "betas": (0.95, 0.98), "weight_decay": 0.1},
            {"decoupled_weight_decay": True}),
    Variant("decay_fully_decoupled", "weight decay", "Lion", {"decoupled_weight_decay": True},
            "fully decoupled (Loshchilov & Hutter): θ ← (1 − (ηₜ/η₀)λ)θ, only the schedule's multiplier scales λ",
            "lion_pytorch.Lion(decoupled_weight_decay=True)", "lion-pytorch",
            {"lr": 0.01, "weight_decay": 0.5, "decoupled_weight_decay": True}, {"decoupled_weight_decay": False}),
    Variant("schedule_free_decay_at_y", "weight decay", "AdamWScheduleFree", {"decay_at_z": False},
            "Schedule-Free AdamW adds λy, the decay at the gradient point y, to the normalised direction",
            "schedulefree.AdamWScheduleFreeReference", "schedulefree",
            {"lr": 0.02, "betas": (0.5, 0.9), "weight_decay": 0.1, "warmup_steps": 10, "memory_saving": False},
            {"decay_at_z": True}),
    Variant("schedule_free_decay_at_z", "weight decay", "AdamWScheduleFree", {"decay_at_z": True},
            "Schedule-Free AdamW adds λz, the decay at the base sequence z, to the normalised direction",
            "schedulefree.AdamWScheduleFreeReference(decay_at_z=True)", "schedulefree",
            {"lr": 0.01, "weight_decay": 0.1, "decay_at_z": True, "warmup_steps": 3, "memory_saving": False},
            {"decay_at_z": False}),
    # ε: outside or inside the square root
    Variant("eps_outside_sqrt", "epsilon", "Adam", {"eps_root": 0.0},
            "ε added after the square root of the bias-corrected second moment only: m̂/(√v̂ + ε)",
            "torch.optim.Adam", "torch", {"lr": 0.01}, {"eps_root": 1e-3}),
    Variant("eps_inside_sqrt", "epsilon", "Adam", {"eps_root": 1e-3},
            "ε_root inside the root as well (ε stays outside): m̂/(√(v̂ + ε_root) + ε)",
            "optax.adam(eps_root=...), also optax.lamb", "optax", {"lr": 0.01, "eps_root": 1e-3}, {"eps_root": 0.0}),
    # LAMB: which bias correction
    Variant("lamb_bias_corrected_moments", "LAMB bias correction", "LAMB", {"bias_correction": "moments"},
            "m̂ = m/(1 − β₁ᵗ) and v̂ = v/(1 − β₂ᵗ) inside the direction r = m̂/(√v̂ + ε) + λθ",
            "optax.lamb", "optax", {"lr": 0.01}, {"bias_correction": "none"}),
    Variant("lamb_no_bias_correction", "LAMB bias correction", "LAMB", {"bias_correction": "none"},
            "raw moments in r = m/(√v + ε) + λθ, trust ratio clamped at clamp_value",
            "torch_optimizer.Lamb (debias=False, its default)", "torch-optimizer",
            {"lr": 0.01, "bias_correction": "none", "clamp_value": 10.0}, {"bias_correction": "moments"}),
    Variant("lamb_bias_corrected_step", "LAMB bias correction", "LAMB", {"bias_correction": "step_size"},
            "raw moments in r, the step size scaled by √(1 − β₂ᵗ)/(1 − β₁ᵗ) (Adam's folded correction)",
            "torch_optimizer.Lamb(debias=True)", "torch-optimizer",
            {"lr": 0.02, "bias_correction": "step_size", "clamp_value": 1.5}, {"bias_correction": "none"}),
    # Lookahead: when the slow weights start
    Variant("lookahead_sync_first_step", "Lookahead", "Lookahead", {"slow_start": "first_step"},
            "slow weights copied after the first inner step and synchronised after steps 1 + k, 1 + 2k, ...",
            "torch_optimizer.Lookahead", "torch-optimizer",
            {"inner": "SGD", "inner_kwargs": {"lr": 0.05}}, {"slow_start": "initial"}),
    Variant("lookahead_sync_initial", "Lookahead", "Lookahead", {"slow_start": "initial"},
            "slow weights are the initial parameters; synchronised after steps k, 2k, ...",
            "optax.lookahead", "optax",
            {"inner": "SGD", "inner_kwargs": {"lr": 0.05, "momentum": 0.9}, "slow_start": "initial"},
            {"slow_start": "first_step"}),
    # Adafactor: torch's form or T5/optax's
    Variant("adafactor_torch", "Adafactor", "Adafactor", {"convention": "torch"},
            "ε₁ floors mean(R) and √V̂; step min(η, 1/√t)·max(ε₂, RMS θ); the last two dims factored; "
            "decay (1 − ηλ)θ", "torch.optim.Adafactor", "torch", {}, {"convention": "optax"}),
    Variant("adafactor_optax", "Adafactor", "Adafactor", {"convention": "optax"},
            "T5/optax: ε₁ added to G²; step η·max(ε₂, RMS θ), no 1/√t cap; the two largest dims factored when "
            "the smaller has ≥ min_dim_size_to_factor; fixed decay θ − λθ, not scaled by η",
            "optax.adafactor", "optax",
            {"lr": 0.05, "weight_decay": 0.01, "convention": "optax", "min_dim_size_to_factor": 2},
            {"convention": "torch", "min_dim_size_to_factor": 128}),
    # Shampoo: the inverse root
    Variant("shampoo_torch_optimizer", "Shampoo", "Shampoo", {"convention": "torch_optimizer"},
            "inverse roots H^(−1/k) (the paper's −1/(2k) is the default) with sequentially preconditioned statistics",
            "torch_optimizer.Shampoo", "torch-optimizer", {"lr": 0.1, "convention": "torch_optimizer"},
            {"convention": "paper"}),
    # Muon: how the learning rate is adjusted to the matrix shape
    Variant("muon_lr_original", "Muon learning rate", "Muon", {"adjust_lr_fn": "original"},
            "η·√max(1, rows/cols) (Keller Jordan's Muon)",
            "torch.optim.Muon(adjust_lr_fn='original')", "torch",
            {"adjust_lr_fn": "original", "lr": 0.02, "momentum": 0.5, "ns_dtype": None, "weight_decay": 0.0},
            {"adjust_lr_fn": "match_rms_adamw"}),
    Variant("muon_lr_match_rms_adamw", "Muon learning rate", "Muon", {"adjust_lr_fn": "match_rms_adamw"},
            "η·0.2·√max(rows, cols), so the update's RMS matches AdamW's (Moonshot's Muon)",
            "torch.optim.Muon(adjust_lr_fn='match_rms_adamw')", "torch",
            {"adjust_lr_fn": "match_rms_adamw", "lr": 0.02, "nesterov": False, "ns_dtype": None},
            {"adjust_lr_fn": "original"}),
]

VARIANT_NAMES = tuple(variant.name for variant in VARIANTS)


def variants_markdown(optimizers=None) -> str:
    """The registry (or the entries of the named ``optimizers``) as a Markdown table, for the book."""
    lines = ["| convention | optimizer and arguments | what it computes | used by |", "|---|---|---|---|"]
    for variant in VARIANTS:
        if optimizers is None or variant.optimizer in optimizers:
            arguments = ", ".join(f"{key}={value!r}" for key, value in variant.selector.items())
            lines.append(f"| `{variant.name}` | `{variant.optimizer}({arguments})` | {variant.description} | "
                         f"{variant.library} |")
    return "\n".join(lines)
