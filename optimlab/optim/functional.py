"""Functional forms of every optimizer, as ``torch.optim`` exports ``adamw`` beside ``AdamW``.

Each ``name(param, grad, state, **hyperparameters)`` updates ``param`` and ``state`` in place,
choosing the fused kernel for GPU arrays and the NumPy reference otherwise; ``name_update`` is the
reference and ``name_fused`` the kernel, callable directly.
"""

from optimlab.optim.adam import adam, adam_fused, adam_init, adam_update, adamw
from optimlab.optim.sgd import sgd, sgd_fused, sgd_init, sgd_update

__all__ = [
    "adam", "adam_fused", "adam_init", "adam_update", "adamw",
    "sgd", "sgd_fused", "sgd_init", "sgd_update",
]
