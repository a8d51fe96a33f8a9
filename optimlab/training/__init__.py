"""Training tools: gradient clipping, accumulation and the non-finite guard; mixed precision with
fp32 master weights and a dynamic loss scaler; parameter averaging (SWA, EMA); parameter-group
helpers (no decay for 1-D parameters, layer-wise learning-rate decay); a small trainer loop with
a metric history and a terminal-only progress bar."""

from optimlab.training.averaging import EMA, SWA, AveragedParameters
from optimlab.training.gradients import (StepResult, accumulate_gradients, clip_grad_norm_, clip_grad_value_,
                                         clip_grads_with_norm_, get_total_norm, global_grad_norm, grads_are_finite,
                                         guarded_step, split_batch, step_if_finite)
from optimlab.training.mixed_precision import GradScaler, MasterWeights
from optimlab.training.param_groups import layer_decay_groups, uses_weight_decay, weight_decay_groups
from optimlab.training.progress import Progress
from optimlab.training.trainer import History, Trainer
from optimlab.training.lr_finder import LRRangeTest, lr_range_test, plot_lr_range_test

__all__ = [
    "clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm", "global_grad_norm",
    "grads_are_finite", "step_if_finite", "guarded_step", "StepResult", "split_batch", "accumulate_gradients",
    "GradScaler", "MasterWeights", "AveragedParameters", "SWA", "EMA",
    "uses_weight_decay", "weight_decay_groups", "layer_decay_groups", "Progress", "History", "Trainer",
]
