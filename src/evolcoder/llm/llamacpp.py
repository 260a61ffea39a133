"""llama.cpp through llama-cpp-python: the default backend, on CPU with the embedded GGUF.

llama-cpp-python's high-level ``Llama`` decodes one sequence at a time. On a small model that leaves
most of each matrix multiply idle, so this backend drives llama.cpp's own batch API instead: up to
``parallel`` sequences share every ``llama_decode`` call, each in its own KV stream with its own sampler
chain (continuous batching: a finished sequence's slot takes the next prompt at once). The high-level
object still does what it does well: tokenizing, detokenizing and rendering the GGUF's chat template.
"""

from __future__ import annotations

import ctypes
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from evolcoder.errors import UserError
from evolcoder.llm.base import Generation, Message, SamplingParams
from evolcoder.llm.models import resolve_gguf
from evolcoder.system import usable_cpus


@dataclass
class _Job:
    """One continuation to produce: request ``request`` of the call, sample ``sample``."""

    request: int
    sample: int
    prompt: list[int]
    seed: int
    stop: tuple[str, ...]


@dataclass
class _Slot:
    """A sequence being decoded in KV stream ``seq_id``."""

    seq_id: int
    job: _Job
    sampler: Any
    fed: int = 0  # prompt tokens already in the KV cache
    out: list[int] = field(default_factory=list)
    text: bytes = b""
    finish: str | None = None


class LlamaCppBackend:
    name = "llamacpp"

    def __init__(
        self,
        model: str = "default",
        n_ctx: int = 4096,
        n_threads: int | None = None,
        parallel: int = 8,
        n_batch: int = 1024,
        flash_attn: bool = False,
        repack: bool = False,
    ) -> None:
        """``n_ctx`` is the context of each sequence; ``parallel`` sequences decode together."""
        try:
            import llama_cpp
            from llama_cpp import Llama, llama_chat_format
        except ImportError:
            raise UserError("--backend llamacpp needs llama-cpp-python: pip install llama-cpp-python") from None
        if parallel < 1:
            raise UserError("--parallel must be at least 1")
        self._lib = llama_cpp
        self.model_path = resolve_gguf(model)
        threads = n_threads or usable_cpus()
        # The high-level object keeps a tiny context of its own: only its tokenizer and template are used.
        self._llm = Llama(model_path=str(self.model_path), n_ctx=64, n_threads=threads, verbose=False)
        self.parallel = parallel
        self.n_ctx = n_ctx
        self.n_batch = n_batch
        self._model = self._load_model(repack)
        self._ctx = self._new_context(parallel, n_ctx, n_batch, threads, flash_attn)
        self._batch = llama_cpp.llama_batch_init(n_batch, 0, 1)
        self._vocab = llama_cpp.llama_model_get_vocab(self._llm._model.model)
        self._chat_module = llama_chat_format
        self._chat_format: Any = None  # built on first chat(): a base-model GGUF may have no template

    def _load_model(self, repack: bool) -> Any:
        params = self._lib.llama_model_default_params()
        params.use_extra_bufts = repack
        model = self._lib.llama_model_load_from_file(str(self.model_path).encode(), params)
        if not model:
            raise UserError(f"llama.cpp could not load {self.model_path}")
        return model

    def _new_context(self, parallel: int, n_ctx: int, n_batch: int, threads: int, flash_attn: bool) -> Any:
        lib = self._lib
        params = lib.llama_context_default_params()
        # Off by default, as in llama-cpp-python's Llama: the same kernels give the same greedy text.
        params.flash_attn_type = lib.LLAMA_FLASH_ATTN_TYPE_ENABLED if flash_attn else lib.LLAMA_FLASH_ATTN_TYPE_DISABLED
        params.n_ctx = n_ctx * parallel
        params.n_batch = n_batch
        params.n_ubatch = n_batch
        params.n_seq_max = parallel
        params.kv_unified = False  # one KV stream per sequence: prompts share no prefix worth pooling
        params.n_threads = threads
        params.n_threads_batch = threads
        ctx = self._lib.llama_init_from_model(self._model, params)
        if not ctx:
            raise UserError(f"llama.cpp could not allocate {parallel} x {n_ctx} tokens of context; lower --parallel")
        return ctx

    def close(self) -> None:
        if getattr(self, "_ctx", None):
            self._lib.llama_batch_free(self._batch)
            self._lib.llama_free(self._ctx)
            self._lib.llama_model_free(self._model)
            self._ctx = None
        if getattr(self, "_llm", None) is not None:
            self._llm.close()
            self._llm = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    # ---- the interface -------------------------------------------------------------------------

    def complete(self, prompts: list[str], params: SamplingParams) -> list[list[Generation]]:
        tokenized = [self._llm.tokenize(p.encode("utf-8"), add_bos=True, special=True) for p in prompts]
        return self._generate(tokenized, params, extra_stop=())

    def chat(self, conversations: list[list[Message]], params: SamplingParams) -> list[list[Generation]]:
        if self._chat_format is None:
            self._chat_format = _chat_formatter(self._llm, self._chat_module)
        tokenized, extra_stop = [], ()
        for messages in conversations:
            rendered = self._chat_format(messages=messages)
            prompt = rendered.prompt.encode("utf-8")
            tokenized.append(self._llm.tokenize(prompt, add_bos=not rendered.added_special, special=True))
            if rendered.stop:
                extra_stop = tuple([rendered.stop] if isinstance(rendered.stop, str) else rendered.stop)
        return self._generate(tokenized, params, extra_stop=extra_stop)

    # ---- the decoding loop ---------------------------------------------------------------------

    def _generate(
        self, prompts: list[list[int]], params: SamplingParams, extra_stop: tuple[str, ...]
    ) -> list[list[Generation]]:
        stop = tuple(params.stop) + tuple(s for s in extra_stop if s not in params.stop)
        for i, prompt in enumerate(prompts):
            if len(prompt) >= self.n_ctx:
                raise UserError(f"prompt {i} has {len(prompt)} tokens, more than the context ({self.n_ctx})")
        # Longest prompts first: they set the pace, short ones fill the gaps they leave.
        jobs = [
            _Job(r, j, prompts[r], params.seed + j, stop)
            for r in sorted(range(len(prompts)), key=lambda r: -len(prompts[r]))
            for j in range(params.n)
        ]
        results: list[list[Generation | None]] = [[None] * params.n for _ in prompts]
        pending = deque(jobs)
        free = list(range(self.parallel))[::-1]
        active: list[_Slot] = []
        while pending or active:
            while pending and free:
                job = pending.popleft()
                active.append(_Slot(free.pop(), job, self._sampler(params, job.seed)))
            for slot in self._step(active, params):
                results[slot.job.request][slot.job.sample] = self._finish(slot)
                self._lib.llama_memory_seq_rm(self._lib.llama_get_memory(self._ctx), slot.seq_id, -1, -1)
                self._lib.llama_sampler_free(slot.sampler)
                active.remove(slot)
                free.append(slot.seq_id)
        return results  # type: ignore[return-value]

    def _step(self, active: list[_Slot], params: SamplingParams) -> list[_Slot]:
        """One ``llama_decode`` over every active sequence; returns the sequences that finished."""
        batch, budget = self._batch, self.n_batch
        batch.n_tokens = 0
        wants_logits: list[tuple[_Slot, int]] = []
        # Sequences already generating go first: one token each keeps their latency flat.
        for slot in sorted(active, key=lambda s: s.fed < len(s.job.prompt)):
            prompt = slot.job.prompt
            if slot.fed < len(prompt):
                take = min(len(prompt) - slot.fed, budget - batch.n_tokens)
                for k in range(take):
                    self._add(slot.seq_id, prompt[slot.fed + k], slot.fed + k, False)
                slot.fed += take
                if slot.fed == len(prompt):
                    batch.logits[batch.n_tokens - 1] = True
                    wants_logits.append((slot, batch.n_tokens - 1))
            elif batch.n_tokens < budget:
                self._add(slot.seq_id, slot.out[-1], len(prompt) + len(slot.out) - 1, True)
                wants_logits.append((slot, batch.n_tokens - 1))
            if batch.n_tokens >= budget:
                break
        code = self._lib.llama_decode(self._ctx, batch)
        if code != 0:
            raise RuntimeError(f"llama_decode failed with code {code}")
        done = []
        for slot, index in wants_logits:
            token = self._lib.llama_sampler_sample(slot.sampler, self._ctx, index)
            self._accept(slot, token, params)
            if slot.finish:
                done.append(slot)
        return done

    def _add(self, seq_id: int, token: int, pos: int, logits: bool) -> None:
        batch, i = self._batch, self._batch.n_tokens
        batch.token[i] = token
        batch.pos[i] = pos
        batch.n_seq_id[i] = 1
        batch.seq_id[i][0] = seq_id
        batch.logits[i] = logits
        batch.n_tokens = i + 1

    def _accept(self, slot: _Slot, token: int, params: SamplingParams) -> None:
        if self._lib.llama_vocab_is_eog(self._vocab, token):
            slot.finish = "stop"
            return
        slot.out.append(token)
        slot.text += self._llm.detokenize([token], prev_tokens=slot.job.prompt + slot.out[:-1])
        if slot.job.stop and _find_stop(slot.text, slot.job.stop) is not None:
            slot.finish = "stop"
        elif len(slot.out) >= params.max_new_tokens or len(slot.job.prompt) + len(slot.out) >= self.n_ctx:
            slot.finish = "length"

    def _finish(self, slot: _Slot) -> Generation:
        text = slot.text
        cut = _find_stop(text, slot.job.stop) if slot.job.stop else None
        if cut is not None:
            text = text[:cut]
        return Generation(
            text=text.decode("utf-8", errors="ignore"),
            prompt_tokens=len(slot.job.prompt),
            completion_tokens=len(slot.out),
            finish_reason=slot.finish or "length",
        )

    def _sampler(self, params: SamplingParams, seed: int) -> Any:
        lib = self._lib
        chain = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
        if params.temperature == 0:
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_greedy())
        else:
            # Temperature before nucleus, as transformers, vLLM and the OpenAI API order them.
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_temp(params.temperature))
            if params.top_p < 1:
                lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_top_p(params.top_p, 1))
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_dist(ctypes.c_uint32(seed).value))
        return chain


def _find_stop(text: bytes, stops: tuple[str, ...]) -> int | None:
    """Byte offset of the earliest stop sequence in ``text``."""
    hits = [text.find(s.encode("utf-8")) for s in stops]
    hits = [h for h in hits if h >= 0]
    return min(hits) if hits else None


def _chat_formatter(llm: Any, llama_chat_format: Any) -> Any:
    """The GGUF's own chat template, rendered the way llama-cpp-python's default chat handler does."""
    template = llm.metadata.get("tokenizer.chat_template")
    if not template:
        raise UserError(f"{llm.model_path} has no chat template; use --prompt-style base or paper")
    model = llm._model
    eos, bos = model.token_eos(), model.token_bos()
    return llama_chat_format.Jinja2ChatFormatter(
        template=template,
        eos_token=model.token_get_text(eos) if eos != -1 else "",
        bos_token=model.token_get_text(bos) if bos != -1 else "",
        stop_token_ids=[eos],
    )
