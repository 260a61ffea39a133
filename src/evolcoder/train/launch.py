"""Scale-out through accelerate: the shipped launch configs and a dry run that validates one.

``accelerate launch --config_file $(evolcoder presets --path accelerate/<name>) -m evolcoder.cli train ...`` runs the
same ``evolcoder train`` on every process; the Trainer reads the engine (DDP, DeepSpeed ZeRO-3,
FSDP) from the environment the launcher sets. The dry run goes through accelerate's own launch
parsing and environment preparation, then builds the engine's plugin from that environment, all
without starting a process or needing a GPU (or DeepSpeed installed).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from evolcoder.presets import PRESET_ROOT

CONFIG_DIR = PRESET_ROOT / "accelerate"  # shipped inside the package


@dataclass
class LaunchPlan:
    engine: str  # DEEPSPEED, FSDP, MULTI_GPU or NO
    num_processes: int
    num_machines: int
    mixed_precision: str
    environment: dict[str, str]  # the ACCELERATE_* / FSDP_* variables each process would get
    details: dict  # the DeepSpeed config or the FSDP plugin's settings


def dry_run(
    config_file: Path, launch_args: tuple[str, ...] = (), script_args: tuple[str, ...] = ("train",)
) -> LaunchPlan:
    """Validate an accelerate config as ``accelerate launch [launch_args]`` would; return what it would launch.

    ``launch_args`` are the command-line overrides of a multi-node launch (``--num_machines 2
    --machine_rank 1 --main_process_ip ...``), checked together with the file.
    """
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils import patch_environment
    from accelerate.utils.launch import prepare_deepspeed_cmd_env, prepare_multi_gpu_env

    parser = launch_command_parser()
    args = parser.parse_args(["--config_file", str(config_file), *launch_args, "-m", "evolcoder.cli", *script_args])
    args, defaults, mixed_precision_from_config = _validate_launch_command(args)
    if args.use_deepspeed:
        fields = list(defaults.deepspeed_config) + (["mixed_precision"] if mixed_precision_from_config else [])
        args.deepspeed_fields_from_accelerate_config = ",".join(fields)
        _, env = prepare_deepspeed_cmd_env(args)
        engine = "DEEPSPEED"
    elif args.use_fsdp or args.multi_gpu:
        env = prepare_multi_gpu_env(args)
        engine = "FSDP" if args.use_fsdp else "MULTI_GPU"
    else:
        env, engine = {}, "NO"
    env = {k: v for k, v in env.items() if k.startswith(("ACCELERATE_", "FSDP_"))}
    with patch_environment(**env):
        details = _plugin_details(engine)
    return LaunchPlan(engine, args.num_processes, args.num_machines, args.mixed_precision, env, details)


def _plugin_details(engine: str) -> dict:
    """Build the plugin the Trainer would build from the launcher's environment (this is what checks values)."""
    if engine == "DEEPSPEED":
        from accelerate.utils import DeepSpeedPlugin

        plugin = DeepSpeedPlugin()
        return {"zero_stage": plugin.zero_stage, "deepspeed_config": plugin.deepspeed_config}
    if engine == "FSDP":
        from accelerate.utils import FullyShardedDataParallelPlugin

        plugin = FullyShardedDataParallelPlugin()
        return {
            "fsdp_version": plugin.fsdp_version,
            "reshard_after_forward": str(plugin.reshard_after_forward),
            "state_dict_type": str(plugin.state_dict_type),
            "auto_wrap_policy": getattr(plugin.auto_wrap_policy, "__name__", str(plugin.auto_wrap_policy)),
            "cpu_offload": str(plugin.cpu_offload),
        }
    return {}
