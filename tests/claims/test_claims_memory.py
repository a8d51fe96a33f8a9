"""Claims 19, 20 (bytes per parameter) and 35 (8-bit Adam): the evidence criteria and the verdicts."""

from optimlab.claims import CAVEAT, CLAIMS, HOLDS, NOT_HERE, memory


def test_claim_19_measured_bytes_per_parameter():
    e = memory.bytes_per_parameter()
    total = e["total_bytes"]
    for name in ("AdamW", "Lion", "SophiaG", "Muon"):
        assert abs(total[name] - memory.CLAIMED_BYTES[name]) <= 0.5, name
    assert total["Shampoo"] >= 16 and e["shampoo_32x512"] > 100  # (32² + 512²)·2·4 bytes / (32·512) = 128.5
    assert 8 <= total["AdamMini"] < 8.1  # m in full, v one float per row of 256: not 6
    assert total["AdamWScheduleFree"] == 12 and total["SGDScheduleFree"] == 8
    assert abs(e["torch_adamw_state_bytes"] - e["state_bytes"]["AdamW"]) < 1e-4  # torch's step tensor: 4 bytes
    assert abs(e["eight_bit_saving"] - 0.75) <= 0.03  # 1 byte + 4/256 per moment vs 4 bytes
    assert CLAIMS[19].verdict().status == CAVEAT


def test_claim_20_seven_billion_parameters_need_56_not_28_gb_of_adam_state():
    e = memory.seven_billion_adam()
    assert e["adam_state_bytes_per_parameter"] == 8
    assert abs(e["adam_states_gb"] - 2 * e["weights_gb"]) < 1e-9  # two fp32 moments per fp32 weight
    assert abs(e["adam_states_gb"] / 28 - 1) > 0.05
    assert CLAIMS[20].verdict().status == NOT_HERE


def test_claim_35_eight_bit_adam_stays_close_to_32_bit():
    e = memory.eight_bit_adam_trajectory()
    assert e["max_error_over_absmax"] <= 0.02
    assert e["max_loss_gap"] < 0.02 and e["param_gap_over_travel"] < 0.2
    assert e["final_loss_8bit"] < 0.5 and e["final_loss_32bit"] < 0.5  # both train (start ≈ ln 10 ≈ 2.3)
    assert CLAIMS[35].verdict().status == HOLDS
