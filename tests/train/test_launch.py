"""Every shipped accelerate config goes through ``accelerate launch``'s parsing and environment set-up (a dry run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evolcoder.train.launch import CONFIG_DIR, dry_run

MULTI_NODE = ("--num_machines", "2", "--num_processes", "16", "--machine_rank", "1")
MULTI_NODE += ("--main_process_ip", "10.0.0.1", "--main_process_port", "29500")


def test_the_configs_are_shipped() -> None:
    names = {path.name for path in CONFIG_DIR.glob("*.yaml")}
    assert {"deepspeed_zero3_offload.yaml", "fsdp.yaml", "multi_gpu.yaml"} <= names


def test_deepspeed_zero3_with_cpu_offload() -> None:
    plan = dry_run(CONFIG_DIR / "deepspeed_zero3_offload.yaml")
    assert (plan.engine, plan.num_processes, plan.mixed_precision) == ("DEEPSPEED", 8, "bf16")
    zero = plan.details["deepspeed_config"]["zero_optimization"]
    assert zero["stage"] == 3
    assert zero["offload_param"]["device"] == zero["offload_optimizer"]["device"] == "cpu"
    assert zero["stage3_gather_16bit_weights_on_model_save"]  # the final model is saved whole
    # batch sizes and accumulation are left to `evolcoder train`
    assert plan.details["deepspeed_config"]["gradient_accumulation_steps"] == "auto"


def test_fsdp() -> None:
    plan = dry_run(CONFIG_DIR / "fsdp.yaml")
    assert plan.engine == "FSDP"
    assert plan.details["fsdp_version"] == 2
    assert plan.details["state_dict_type"].endswith("FULL_STATE_DICT")  # the final save gathers the weights
    assert plan.details["auto_wrap_policy"] == "transformer_auto_wrap_policy"


@pytest.mark.parametrize("name", ["deepspeed_zero3_offload.yaml", "fsdp.yaml", "multi_gpu.yaml"])
def test_multi_node_launch_line(name: str) -> None:
    """The README's two-machine line: the flags override the file's single-machine values."""
    plan = dry_run(CONFIG_DIR / name, MULTI_NODE)
    assert (plan.num_machines, plan.num_processes) == (2, 16)


def test_a_broken_config_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text((CONFIG_DIR / "fsdp.yaml").read_text() + "fsdp_sharding: maybe\n")
    with pytest.raises(ValueError, match="fsdp_sharding"):
        dry_run(broken)
