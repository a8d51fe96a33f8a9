r"""L-BFGS (torch's ``LBFGS``): a quasi-Newton method that rebuilds an inverse-Hessian estimate from
the last ``history_size`` pairs of parameter and gradient changes; every ``step(closure)`` runs up
to ``max_iter`` iterations, re-evaluating the loss through the closure.

.. math::
    s_k &= \theta_{k+1} - \theta_k = t_k d_k, \qquad y_k = g_{k+1} - g_k, \qquad
    \rho_k = 1/(y_k^\top s_k) \quad(\text{kept only when } y_k^\top s_k > 10^{-10}) \\
    q &\leftarrow -g;\quad \text{for } i = k, \dots, k-m+1:\ a_i = \rho_i s_i^\top q,\ q \leftarrow q - a_i y_i \\
    r &\leftarrow \gamma q,\ \gamma = \frac{y_k^\top s_k}{y_k^\top y_k};\quad
    \text{for } i = k-m+1, \dots, k:\ b_i = \rho_i y_i^\top r,\ r \leftarrow r + (a_i - b_i) s_i;
    \quad d = r = -H g \\
    \theta &\leftarrow \theta + t\, d, \qquad t = \begin{cases}
        \eta \min(1, 1/\|g\|_1) & \text{first iteration ever} \\ \eta & \text{otherwise (or a strong-Wolfe line search from } \eta) \end{cases}

The two-loop recursion (Nocedal, 1980) applies the BFGS inverse-Hessian estimate built from the stored
pairs to :math:`-g` without forming a matrix; :math:`\gamma` scales the initial estimate
:math:`H_0 = \gamma I`. Without a line search the step is fixed (:math:`t = \eta`); with
``line_search_fn="strong_wolfe"``, :math:`t` satisfies :math:`f(\theta + td) \le f + c_1 t\, g^\top d`
and :math:`|g(\theta+td)^\top d| \le c_2 |g^\top d|` (:math:`c_1 = 10^{-4}`, :math:`c_2 = 0.9`), found
by bracketing and cubic interpolation (Nocedal & Wright, Algorithms 3.5–3.6). Conventions as torch
(which follows minFunc): the stopping tests on ``tolerance_grad`` (max-norm of :math:`g`) and
``tolerance_change`` (step and loss changes), the state on the first parameter with torch's keys,
one parameter group only. The closure is required. References: Nocedal (1980), "Updating
quasi-Newton matrices with limited storage"; Liu & Nocedal (1989); Nocedal & Wright (2006), ch. 3, 7.
"""

from __future__ import annotations

import math

from optimlab.backend import get_array_module, is_array
from optimlab.optim.base import Optimizer
from optimlab.optim.hyperparams import choice, integer, learning_rate, nonnegative

ARRAY_KEYS = ("d", "prev_flat_grad")
LIST_KEYS = ("old_dirs", "old_stps")
SCALAR_LIST_KEYS = ("ro", "al")
SCALAR_KEYS = ("t", "H_diag", "prev_loss")


def lbfgs_direction(flat_grad, old_dirs, old_stps, ro, h_diag, al):
    """The two-loop recursion: ``d = −H g`` from the stored pairs (``al`` receives the a_i)."""
    q = -flat_grad  # q = −g
    for i in range(len(old_dirs) - 1, -1, -1):
        al[i] = float(old_stps[i] @ q) * ro[i]  # a_i = ρ_i s_iᵀq
        q -= al[i] * old_dirs[i]  # q ← q − a_i y_i
    r = q * h_diag  # r = γq
    for i in range(len(old_dirs)):
        be_i = float(old_dirs[i] @ r) * ro[i]  # b_i = ρ_i y_iᵀr
        r += (al[i] - be_i) * old_stps[i]  # r ← r + (a_i − b_i)s_i
    return r


def cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None) -> float:
    """The minimiser of the cubic through (x1, f1, f1'), (x2, f2, f2'), clipped to ``bounds``
    (default: the interval between x1 and x2); the midpoint when the cubic has no minimiser."""
    low, high = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1**2 - g1 * g2
    if d2_square < 0:
        return (low + high) / 2.0
    d2 = math.sqrt(d2_square)
    if x1 <= x2:
        min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(min_pos, low), high)


def strong_wolfe(obj_func, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """A step ``t`` along ``d`` satisfying the strong Wolfe conditions (bracketing, then zoom);
    ``obj_func(t) -> (loss, flat_grad)``. Returns ``(loss, flat_grad, t, evaluations)``."""
    d_norm = float(abs(d).max())
    g = g.copy()
    f_new, g_new = obj_func(t)
    evals = 1
    gtd_new = float(g_new @ d)
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    while ls_iter < max_ls:  # bracketing: grow t until an interval contains a Wolfe point
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f, bracket_g, bracket_gtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f, bracket_g, bracket_gtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        min_step, max_step = t + 0.01 * (t - t_prev), t * 10
        t_prev, t = t, cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(min_step, max_step))
        f_prev, g_prev, gtd_prev = f_new, g_new.copy(), gtd_new
        f_new, g_new = obj_func(t)
        evals += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1
    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]
    insufficient_progress = False
    low, high = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:  # zoom: shrink the bracket by cubic interpolation
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1])
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:  # too close to an end: move away from it
            if insufficient_progress or t >= max(bracket) or t <= min(bracket):
                t = max(bracket) - eps if abs(t - max(bracket)) < abs(t - min(bracket)) else min(bracket) + eps
                insufficient_progress = False
            else:
                insufficient_progress = True
        else:
            insufficient_progress = False
        f_new, g_new = obj_func(t)
        evals += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1
        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low]:
            bracket[high], bracket_f[high], bracket_g[high], bracket_gtd[high] = t, f_new, g_new.copy(), gtd_new
            low, high = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:
                bracket[high], bracket_f[high] = bracket[low], bracket_f[low]
                bracket_g[high], bracket_gtd[high] = bracket_g[low], bracket_gtd[low]
            bracket[low], bracket_f[low], bracket_g[low], bracket_gtd[low] = t, f_new, g_new.copy(), gtd_new
    return bracket_f[low], bracket_g[low], bracket[low], evals


class LBFGS(Optimizer):
    """``torch.optim.LBFGS`` with the same arguments, defaults and update (see the module docstring).

    ``step(closure)`` needs the closure (it evaluates the loss several times per step); one
    parameter group only, as torch. Validation beyond torch's: every argument is checked.
    """

    hyperparameters = {
        "lr": learning_rate,
        "max_iter": integer(1),
        "max_eval": integer(1),
        "tolerance_grad": nonnegative,
        "tolerance_change": nonnegative,
        "history_size": integer(1),
        "line_search_fn": choice(None, "strong_wolfe"),
    }

    def __init__(self, params, lr=1.0, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
                 history_size=100, line_search_fn=None):
        if max_eval is None:
            max_eval = integer(1)("max_iter", max_iter) * 5 // 4
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change, history_size=history_size,
                                      line_search_fn=line_search_fn))

    def add_param_group(self, param_group: dict) -> None:
        if self.param_groups:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups): use one group")
        super().add_param_group(param_group)

    @property
    def _params(self):
        return self.param_groups[0]["params"]

    def _init_state(self, param, group):
        return {"func_evals": 0, "n_iter": 0}

    def _gather_flat_grad(self):
        xp = get_array_module(self._params[0].data)
        return xp.concatenate([xp.zeros(p.size, p.dtype) if p.grad is None else p.grad.ravel() for p in self._params])

    def _add_grad(self, step_size, update) -> None:
        offset = 0
        for p in self._params:
            p.data += step_size * update[offset:offset + p.size].reshape(p.shape)  # θ ← θ + t d
            offset += p.size

    def _directional_evaluate(self, closure, x, t, d):
        self._add_grad(t, d)
        loss = float(closure())
        flat_grad = self._gather_flat_grad()
        for p, saved in zip(self._params, x):
            p.data[...] = saved
        return loss, flat_grad

    def step(self, closure=None):
        """Up to ``max_iter`` L-BFGS iterations; returns the loss at the starting point."""
        if closure is None:
            raise TypeError("LBFGS.step() needs a closure that recomputes the loss and sets the gradients "
                            "(it evaluates the function several times per step): optimizer.step(closure)")
        group = self._resolve(self.param_groups[0])
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        state = self.state.setdefault(self._params[0], self._init_state(self._params[0], group))
        orig_loss = closure()
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._gather_flat_grad()
        self.step_count += 1
        if float(abs(flat_grad).max()) <= tolerance_grad:  # already optimal
            return orig_loss
        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        h_diag, prev_flat_grad, prev_loss = state.get("H_diag"), state.get("prev_flat_grad"), state.get("prev_loss")
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d, old_dirs, old_stps, ro, h_diag = -flat_grad, [], [], [], 1.0  # steepest descent
            else:
                y = flat_grad - prev_flat_grad  # y = g_{k+1} − g_k
                s = d * t  # s = t d
                ys = float(y @ s)
                if ys > 1e-10:  # keep the pair only where the curvature condition holds
                    if len(old_dirs) == group["history_size"]:
                        old_dirs.pop(0), old_stps.pop(0), ro.pop(0)
                    old_dirs.append(y), old_stps.append(s), ro.append(1.0 / ys)  # ρ = 1/(yᵀs)
                    h_diag = ys / float(y @ y)  # γ = yᵀs/yᵀy
                al = state.setdefault("al", [None] * group["history_size"])
                d = lbfgs_direction(flat_grad, old_dirs, old_stps, ro, h_diag, al)
            prev_flat_grad = flat_grad.copy()
            prev_loss = loss
            t = min(1.0, 1.0 / float(abs(flat_grad).sum())) * lr if state["n_iter"] == 1 else lr
            gtd = float(flat_grad @ d)  # directional derivative gᵀd
            if gtd > -tolerance_change:
                break
            evals = 0
            if group["line_search_fn"] == "strong_wolfe":
                x_init = [p.data.copy() for p in self._params]
                loss, flat_grad, t, evals = strong_wolfe(
                    lambda step: self._directional_evaluate(closure, x_init, step, d),
                    t, d, loss, flat_grad, gtd, max_ls=max_eval - current_evals,
                )
                self._add_grad(t, d)
                optimal = float(abs(flat_grad).max()) <= tolerance_grad
            else:
                self._add_grad(t, d)
                optimal = False
                if n_iter != max_iter:
                    loss = float(closure())
                    flat_grad = self._gather_flat_grad()
                    optimal = float(abs(flat_grad).max()) <= tolerance_grad
                    evals = 1
            current_evals += evals
            state["func_evals"] += evals
            if n_iter == max_iter or current_evals >= max_eval or optimal:
                break
            if float(abs(d * t).max()) <= tolerance_change or abs(loss - prev_loss) < tolerance_change:
                break
        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=h_diag,
                     prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return orig_loss

    def _load_param_state(self, param, group, saved, key):
        where = f"LBFGS state of parameter {key}"
        if param is not self._params[0]:
            raise ValueError(f"{where}: LBFGS keeps its state on the first parameter only")
        known = {"func_evals", "n_iter", *ARRAY_KEYS, *LIST_KEYS, *SCALAR_LIST_KEYS, *SCALAR_KEYS}
        unexpected = set(saved) - known
        if unexpected or not {"func_evals", "n_iter"} <= set(saved):
            raise ValueError(f"{where} has unexpected entries {sorted(unexpected)} or lacks func_evals/n_iter")
        size, dtype = sum(p.size for p in self._params), param.dtype
        xp = get_array_module(param.data)
        loaded = {}
        for name, value in saved.items():
            arrays = value if name in LIST_KEYS else [value] if name in ARRAY_KEYS else []
            for array in arrays:
                if not is_array(array) or array.shape != (size,) or array.dtype != dtype:
                    got = f"shape {tuple(array.shape)}, dtype {array.dtype}" if is_array(array) else type(array).__name__
                    raise ValueError(f"{where}: {name!r} must hold flat arrays of shape ({size},), dtype {dtype}; "
                                     f"got {got}")
            if name in LIST_KEYS:
                loaded[name] = [xp.array(a, copy=True) for a in value]
            elif name in ARRAY_KEYS:
                loaded[name] = xp.array(value, copy=True)
            elif name in SCALAR_LIST_KEYS:
                loaded[name] = [None if v is None else float(v) for v in value]
            elif name in SCALAR_KEYS:
                loaded[name] = float(value)
            else:
                loaded[name] = integer(0)(name, value)
        return loaded

