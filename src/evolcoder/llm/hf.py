"""Hugging Face transformers: batched generation in PyTorch, on CPU or GPU, from any causal LM folder.

This is the backend for models that llama.cpp cannot run yet (a freshly fine-tuned checkpoint) and
for GPUs. Prompts are sorted by length and generated ``batch_size`` at a time with left padding.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from evolcoder.errors import UserError
from evolcoder.llm.base import Generation, Message, SamplingParams
from evolcoder.llm.convert import hub_error, resolve_hf_model

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class HFBackend:
    name = "hf"

    def __init__(
        self, model: str = "default", batch_size: int = 8, dtype: str = "auto", device: str | None = None
    ) -> None:
        if batch_size < 1:
            raise UserError("--batch-size must be at least 1")
        self.batch_size = batch_size
        self.device = pick_device(device)
        self.dtype = pick_dtype(dtype, self.device)
        self.tokenizer, self.model = load_model(model, self.dtype, self.device)
        self.model_name = model
        self.eos_ids = _eos_ids(self.model.generation_config.eos_token_id, self.tokenizer.eos_token_id)
        self.pad_id = self.tokenizer.pad_token_id

    def complete(self, prompts: list[str], params: SamplingParams) -> list[list[Generation]]:
        return self._generate([self._encode(p, special_tokens=True) for p in prompts], params)

    def chat(self, conversations: list[list[Message]], params: SamplingParams) -> list[list[Generation]]:
        if not self.tokenizer.chat_template:
            raise UserError(f"--model {self.model_name!r} has no chat template; it can only complete text")
        texts = [
            self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            for messages in conversations
        ]
        # The rendered template already holds any BOS token: adding special tokens again would double it.
        return self._generate([self._encode(text, special_tokens=False) for text in texts], params)

    def _encode(self, text: str, special_tokens: bool) -> list[int]:
        """Token ids of ``text``; an empty prompt becomes BOS (else the pad token): generate needs one token."""
        ids = self.tokenizer(text, add_special_tokens=special_tokens)["input_ids"]
        if not ids:
            start = self.tokenizer.bos_token_id
            ids = [start if start is not None else self.pad_id]
        return list(ids)

    def _generate(self, prompts: list[list[int]], params: SamplingParams) -> list[list[Generation]]:
        """``params.n`` generations per prompt; sample j of each batch is drawn after seeding ``seed + j``.

        Prompts are batched longest first so a batch wastes little on padding (and an out-of-memory
        error shows up in the first batch); results come back in the caller's order. Greedy decoding
        is run once and repeated ``n`` times, since every sample would be the same.
        """
        greedy = params.temperature == 0
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]), reverse=True)
        results: list[list[Generation]] = [[] for _ in prompts]
        for j in range(1 if greedy else params.n):
            for start in range(0, len(order), self.batch_size):
                chunk = order[start : start + self.batch_size]
                batch = self._generate_batch([prompts[i] for i in chunk], params, seed=params.seed + j)
                for i, generation in zip(chunk, batch, strict=True):
                    results[i].append(generation)
        return [outs * params.n for outs in results] if greedy else results

    def _generate_batch(self, prompts: list[list[int]], params: SamplingParams, seed: int) -> list[Generation]:
        """One ``model.generate`` call over left-padded prompts, decoded and cut at stop strings."""
        input_ids, attention_mask = left_pad(prompts, self.pad_id)
        if params.temperature > 0:
            torch.manual_seed(seed)  # seeds CUDA too; a batch's samples depend only on that batch
        with torch.inference_mode():
            output = self.model.generate(
                input_ids=input_ids.to(self.device),
                attention_mask=attention_mask.to(self.device),
                **self._generate_args(params),
            )
        new_tokens = output[:, input_ids.shape[1] :].tolist()
        return [self._decode(row, len(prompt), params.stop) for row, prompt in zip(new_tokens, prompts, strict=True)]

    def _generate_args(self, params: SamplingParams) -> dict[str, Any]:
        """Keyword arguments for ``generate``: every sampling knob set, so the model's defaults cannot leak in."""
        args: dict[str, Any] = {
            "max_new_tokens": params.max_new_tokens,
            "pad_token_id": self.pad_id,
            "eos_token_id": sorted(self.eos_ids),
            "num_beams": 1,
            "repetition_penalty": 1.0,
        }
        if params.temperature == 0:
            args.update(do_sample=False, temperature=1.0, top_p=1.0, top_k=50)  # the values greedy ignores
        else:
            # top_k=0 turns the top-k filter off (generate's default keeps 50), as llama.cpp does.
            args.update(do_sample=True, temperature=params.temperature, top_p=params.top_p, top_k=0)
        if params.stop:
            # Ends a row early; the text is still cut at the stop string below, whatever the tokens.
            args.update(stop_strings=list(params.stop), tokenizer=self.tokenizer)
        return args

    def _decode(self, tokens: list[int], prompt_tokens: int, stop: tuple[str, ...]) -> Generation:
        """A Generation from the new tokens of one row: text up to EOS (or padding) and the first stop string."""
        ends = self.eos_ids | {self.pad_id}
        end = next((k for k, token in enumerate(tokens) if token in ends), len(tokens))
        text = self.tokenizer.decode(tokens[:end], skip_special_tokens=True)
        text, stopped = cut_at_stop(text, stop)
        return Generation(
            text=text,
            prompt_tokens=prompt_tokens,
            completion_tokens=end,
            finish_reason="stop" if stopped or end < len(tokens) else "length",
        )


def pick_device(device: str | None) -> torch.device:
    """The named device, else the GPU when there is one (generation is many times faster there)."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except RuntimeError:
        raise UserError(f"--device {device!r} is not a torch device (try cpu or cuda)") from None


def pick_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """``auto``: bfloat16 on a GPU that supports it (half the memory, same range), else float32.

    CPUs get float32 because their half-precision matmuls are slow or missing.
    """
    if dtype == "auto":
        bf16 = device.type == "cuda" and torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        return torch.bfloat16 if bf16 else torch.float32
    if dtype not in _DTYPES:
        raise UserError(f"--dtype {dtype!r} is unknown; choose one of: auto, {', '.join(_DTYPES)}")
    return _DTYPES[dtype]


def load_model(model: str, dtype: torch.dtype, device: torch.device) -> tuple[Any, Any]:
    """Tokenizer (left padding, with a pad token) and model (eval mode, on ``device``) for ``--model``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path, options = resolve_hf_model(model)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, **options)
        network = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, **options)
    except (OSError, ValueError) as error:
        if isinstance(error, OSError) and not Path(path).exists():  # a hub id that could not be fetched
            raise hub_error(model) from None
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise UserError(f"--model {model!r} could not be loaded: {reason}") from None
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    network.to(device)
    network.eval()
    return tokenizer, network


def left_pad(prompts: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Input ids and attention mask with padding on the left, so every row's next token lines up at the end."""
    width = max(len(p) for p in prompts)
    ids = torch.tensor([[pad_id] * (width - len(p)) + p for p in prompts], dtype=torch.long)
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], dtype=torch.long)
    return ids, mask


def cut_at_stop(text: str, stop: Iterable[str]) -> tuple[str, bool]:
    """``text`` up to its earliest stop string (excluded), and whether one was found."""
    hits = [i for i in (text.find(s) for s in stop if s) if i >= 0]
    return (text[: min(hits)], True) if hits else (text, False)


def _eos_ids(*values: int | list[int] | None) -> set[int]:
    """Every end-of-sequence id, from the generation config (an id or a list) and the tokenizer."""
    ids: set[int] = set()
    for value in values:
        if isinstance(value, int):
            ids.add(value)
        elif value:
            ids.update(int(v) for v in value)
    return ids
