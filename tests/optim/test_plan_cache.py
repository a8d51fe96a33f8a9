"""``PlanCache``: a launch over the same arrays as the caller's last one skips the tensors' checks and
reuses the plan; whatever could make the kept plan wrong (a new array, a reassigned dtype, another
tensor) is seen, and the steps stay those of the reference, bit for bit."""

import copy
import gc
import pickle
import weakref

import numpy as np
import pytest

from optimlab import Parameter
from optimlab.kernels import cpu_compiler_available, cpu_kernels
from optimlab.kernels.blockwise import BlockwiseKernel, PlanCache
from optimlab.optim import AdamW8bit
from optimlab.optim.adam8bit import ADAM8BIT_KERNEL, adam8bit_fused_many, adam8bit_init, adam8bit_update
from eight_bit_checks import assert_identical_steps

pytestmark = pytest.mark.skipif(not cpu_compiler_available(), reason="needs a C++ compiler (g++)")

SIZES = (300, 1000, 64)  # three tensors: a short last block, several blocks, one block
HYPER = dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True, blocksize=64)


def _tensors(seed=0):
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(n).astype(np.float32) for n in SIZES]
    return params, [adam8bit_init(p, blocksize=64, min_8bit_size=1) for p in params]


@pytest.fixture
def checks(monkeypatch) -> list:
    """What ``BlockwiseKernel._check_tensor`` is asked to check, in order: (tensor, positions of the
    arrays, None for all)."""
    seen = []
    original = BlockwiseKernel._check_tensor

    def counting(self, arrays, blocksize, where, positions=None):
        seen.append((where, positions))
        return original(self, arrays, blocksize, where, positions)

    monkeypatch.setattr(BlockwiseKernel, "_check_tensor", counting)
    return seen


def test_kept_and_new_arrays_give_the_reference_steps_and_only_new_tensors_are_checked(checks):
    """Tensors 0 and 2 keep their gradient arrays (written in place), tensor 1 gets a new one each
    step: after the first launch only tensor 1's gradient is checked again, and every step equals the
    NumPy reference's per tensor (codes, maxima, parameters identical)."""
    params, states = _tensors()
    ref_params, ref_states = _tensors()
    grads = [np.empty_like(p) for p in params]
    plans = PlanCache()
    rng = np.random.default_rng(1)
    for step in range(6):
        for grad in grads:
            grad[...] = rng.standard_normal(grad.size)
        grads[1] = grads[1].copy()  # a new array with the same values
        checks.clear()
        adam8bit_fused_many(params, grads, states, **HYPER, plans=plans)
        assert checks == ([(f" of tensor {t}", None) for t in range(3)] if step == 0 else [(" of tensor 1", [0])])
        for param, grad, state in zip(ref_params, grads, ref_states):
            adam8bit_update(param, grad, state, **HYPER)
        assert_identical_steps(params, states, ref_params, ref_states)


def test_the_plan_is_reused_while_every_array_is_kept_and_equals_a_fresh_one():
    params, states = _tensors()
    grads = [np.ones_like(p) for p in params]
    plans = PlanCache()

    def fresh_plan():
        names = ADAM8BIT_KERNEL.per_tensor()[2:]
        arrays = [[g, p, *(s[n] for n in names)] for p, g, s in zip(params, grads, states)]
        return ADAM8BIT_KERNEL.plan(64, list(SIZES), arrays)

    adam8bit_fused_many(params, grads, states, **HYPER, plans=plans)
    plan = plans.plan
    adam8bit_fused_many(params, grads, states, **HYPER, plans=plans)
    assert plans.plan is plan and np.array_equal(plan, fresh_plan())
    grads[2] = grads[2].copy()
    adam8bit_fused_many(params, grads, states, **HYPER, plans=plans)
    assert plans.plan is not plan and np.array_equal(plans.plan, fresh_plan())
    assert plans.plan[2 * len(SIZES) + 1 + 2] == grads[2].ctypes.data  # g is each tensor's first array


def _swap_absmax(states):
    states[1]["exp_avg_absmax"] = np.zeros(3, dtype=np.float32)  # 1000 elements need 16 blocks of 64


def _reassign_dtype(states):
    states[0]["exp_avg_absmax"].dtype = np.int32  # the same object and memory, another dtype


@pytest.mark.parametrize("edit, message", [
    (_swap_absmax, r"'exp_avg_absmax' of tensor 1 has float32\(3,\), expected float32\(16,\)"),
    (_reassign_dtype, r"'exp_avg_absmax' of tensor 0 has int32\(5,\), expected float32\(5,\)"),
], ids=["new array", "dtype reassigned"])
def test_a_changed_array_is_checked_again(edit, message):
    params, states = _tensors()
    grads = [np.ones_like(p) for p in params]
    plans = PlanCache()
    adam8bit_fused_many(params, grads, states, **HYPER, plans=plans)
    edit(states)
    with pytest.raises(ValueError, match=message):
        adam8bit_fused_many(params, grads, states, **HYPER, plans=plans)
    assert [s["step"] for s in states] == [1, 1, 1]  # the refused launch counted no step


def test_numpy_refuses_to_resize_an_array_the_cache_watches():
    """Why sizes need no comparing: the weak reference makes NumPy refuse an in-place resize."""
    params, states = _tensors()
    watched = PlanCache()
    adam8bit_fused_many(params, [np.ones_like(p) for p in params], states, **HYPER, plans=watched)
    with pytest.raises(ValueError, match="cannot resize"):
        states[2]["exp_avg_sq_codes"].resize(200, refcheck=False)
    del watched
    states[2]["exp_avg_sq_codes"].resize(200, refcheck=False)  # unwatched, NumPy resizes it in place


def test_another_tensor_or_block_size_checks_everything_again(checks):
    params, states = _tensors()
    grads = [np.ones_like(p) for p in params]
    plans = PlanCache()
    adam8bit_fused_many(params[:2], grads[:2], states[:2], **HYPER, plans=plans)
    states[2]["step"] = 1  # one step count per launch
    checks.clear()
    adam8bit_fused_many(params, grads, states, **HYPER, plans=plans)
    assert checks == [(f" of tensor {t}", None) for t in range(3)]
    arrays = [[g, p, *(s[n] for n in ADAM8BIT_KERNEL.per_tensor()[2:])] for p, g, s in zip(params, grads, states)]
    assert plans.changed(64, arrays) == [] and plans.changed(128, arrays) is None
    assert plans.changed(64, arrays[:2]) is None and plans.changed(64, [a[:5] for a in arrays]) is None


def test_a_new_reference_array_checks_its_tensor_whole(checks):
    """A new parameter array (the first output, each tensor's reference) checks every array of its
    tensor against it; a new state array only itself."""
    params, states = _tensors()
    grads = [np.ones_like(p) for p in params]
    plans = PlanCache()
    adam8bit_fused_many(params, grads, states, **HYPER, plans=plans)
    params[0] = params[0].copy()
    states[2]["exp_avg_absmax"] = states[2]["exp_avg_absmax"].copy()
    checks.clear()
    adam8bit_fused_many(params, grads, states, **HYPER, plans=plans)
    assert checks == [(" of tensor 0", None), (" of tensor 2", [4])]


def test_the_cache_keeps_no_array_alive():
    params, states = _tensors()
    grads = [np.ones_like(p) for p in params]
    plans = PlanCache()
    adam8bit_fused_many(params, grads, states, **HYPER, plans=plans)
    gone = weakref.ref(grads[0])
    grads[0] = np.ones_like(params[0])
    gc.collect()
    assert gone() is None


def test_an_optimizer_pickles_and_copies_with_empty_caches_and_steps_on_alike():
    shapes = [(70, 80), (10,), (4099,)]
    params = [Parameter(np.random.default_rng(2).standard_normal(s).astype(np.float32)) for s in shapes]
    optimizer = AdamW8bit(params, lr=1e-2)
    with cpu_kernels():
        for step in range(2):
            for p in params:
                p.grad = np.asarray(np.random.default_rng([3, step]).standard_normal(p.shape), dtype=np.float32)
            optimizer.step()
        assert len(optimizer._plans) == 2 and all(c.plan is not None for c in optimizer._plans.values())
        copies = [pickle.loads(pickle.dumps((optimizer, params))), copy.deepcopy((optimizer, params))]
        for other, _ in copies:
            assert len(other._plans) == 2 and all(c.plan is None for c in other._plans.values())
        for step in range(2, 4):
            for opt, ps in [(optimizer, params), *copies]:
                for p in ps:
                    p.grad = np.asarray(np.random.default_rng([3, step]).standard_normal(p.shape), dtype=np.float32)
                opt.step()
    for _, ps in copies:
        for a, b in zip(params, ps):
            assert np.array_equal(a.data, b.data)


def test_gradients_accumulated_after_zero_grad_without_none_are_kept_arrays(checks):
    """The chapter's advice: with ``zero_grad(set_to_none=False)`` a backward pass accumulates into
    the same gradient arrays, so after the first step the optimizer's launches check nothing."""
    shapes = [(70, 80), (10,), (4099,)]
    params = [Parameter(np.ones(s, dtype=np.float32)) for s in shapes]
    optimizer = AdamW8bit(params, lr=1e-2)
    with cpu_kernels():
        for step in range(3):
            optimizer.zero_grad(set_to_none=False)
            for p in params:
                p.accumulate_grad(np.full(p.shape, 0.1 * (step + 1), dtype=np.float32))
            checks.clear()
            optimizer.step()
            assert (checks == []) == (step > 0), (step, checks)
