"""TRL's SFTTrainer with a cheaper loss where TRL's fused LM head cannot skip the prompt positions.

TRL 1.x computes the loss through its fused LM head: the vocabulary projection in tiles, never the
whole logits. On a GPU with Triton it projects only the positions whose next token is trained. Elsewhere
(CPU) it projects *every* position, in a Python loop over tiles, computes entropy and top-1 hits beside
the log-probabilities, and projects everything again in the backward pass: on a CPU that made the
LM head a fifth of the step and ``evolcoder train`` slower than a plain padded Trainer.

So where Triton is missing, ``compute_loss`` asks the model for the logits of the trained positions
only (transformers' ``logits_to_keep`` with a boolean mask, meant for packed training) and takes the
cross-entropy over them: the same loss, normalised the same way (by the trained tokens of the whole
accumulated batch when the Trainer passes ``num_items_in_batch``), and the same logged metrics. On a
GPU with Triton, TRL's fused head runs unchanged: it also keeps the logits out of GPU memory.
"""

from __future__ import annotations

import importlib.util
import inspect
from typing import Any

import torch
import torch.nn.functional as F
from trl import SFTTrainer


def fused_head_compacts(device: torch.device) -> bool:
    """Whether TRL's fused LM head projects only the trained positions on this device (it needs Triton)."""
    return device.type in ("cuda", "xpu") and importlib.util.find_spec("triton") is not None


def keeps_logits_by_mask(model: Any) -> bool:
    """Whether the model's forward takes ``logits_to_keep`` (transformers' causal LMs do; a boolean mask since 5.x)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "logits_to_keep" in inspect.signature(type(base).forward).parameters


def response_logits_loss(
    model: Any, inputs: dict[str, Any], num_items_in_batch: int | torch.Tensor | None
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Next-token cross-entropy over the positions whose label is not -100, projecting only those.

    Returns the loss (summed, over ``num_items_in_batch`` when given, else over this batch's trained
    tokens) and detached sums for the metrics: trained tokens, top-1 hits and entropy.
    """
    labels = inputs["labels"]
    targets = labels[:, 1:]
    trained = targets != -100
    keep = torch.zeros_like(labels, dtype=torch.bool)
    keep[:, :-1] = trained  # the logits at position t predict the label at t + 1
    forward = {key: value for key, value in inputs.items() if key != "labels"}
    logits = model(**forward, use_cache=False, logits_to_keep=keep).logits
    if logits.dim() != 2 or logits.size(0) != int(trained.sum()):
        raise RuntimeError(
            f"{type(model).__name__} ignored the boolean logits_to_keep mask (logits {tuple(logits.shape)});"
            " train it with the TRL loss instead"
        )
    log_probs = F.log_softmax(logits.float(), dim=-1)
    wanted = targets[trained]
    loss_sum = F.nll_loss(log_probs, wanted, reduction="sum")
    count = wanted.numel() if num_items_in_batch is None else num_items_in_batch
    loss = loss_sum / torch.as_tensor(count, device=loss_sum.device).clamp(min=1)
    with torch.no_grad():
        detached = log_probs.detach()
        sums = {
            "tokens": torch.tensor(wanted.numel(), device=loss.device),
            "top1": (detached.argmax(dim=-1) == wanted).sum(),
            "entropy": -(detached.exp() * detached).sum(),
        }
    return loss, sums


class EvolcoderSFTTrainer(SFTTrainer):
    """SFTTrainer whose loss projects only the trained positions where TRL's fused head would project all."""

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # noqa: ANN001, ANN201
        if (
            return_outputs
            or fused_head_compacts(self.args.device)
            or self.compute_loss_func is not None
            or self.label_smoother is not None
            or self.args.loss_type != "nll"
            or getattr(self, "aux_loss_enabled", False)
            or not keeps_logits_by_mask(model)
        ):
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        loss, sums = response_logits_loss(model, inputs, num_items_in_batch)
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            loss = loss * self.accelerator.num_processes  # DDP averages the gradients across ranks, like TRL
        self._log_metrics(inputs, sums)
        return loss

    def _log_metrics(self, inputs: dict[str, Any], sums: dict[str, torch.Tensor]) -> None:
        """The metrics TRL's ``compute_loss`` logs: entropy, mean_token_accuracy and num_tokens."""
        mode = "train" if self.model.training else "eval"
        gather = self.accelerator.gather_for_metrics
        tokens = gather(sums["tokens"]).sum()
        if tokens > 0:
            self._metrics[mode]["entropy"].append((gather(sums["entropy"]).sum() / tokens).item())
            self._metrics[mode]["mean_token_accuracy"].append((gather(sums["top1"]).sum() / tokens).item())
        if mode == "train":
            if "attention_mask" in inputs:
                seen = inputs["attention_mask"].sum()
            else:
                seen = torch.tensor(inputs["input_ids"].numel(), device=inputs["input_ids"].device)
            self._total_train_tokens += gather(seen).sum().item()
        self._metrics[mode]["num_tokens"] = [self._total_train_tokens]
