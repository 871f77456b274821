"""Known-harmless warnings of the kit's dependencies, silenced narrowly and in one place.

Imported first by `scoreutils/__init__.py`, so the filters are in place before the dependencies load.
Each filter matches one exact message of one library; nothing else is hidden. Listed here:

- tqdm's `TqdmWarning: IProgress not found` when `tqdm.auto` is imported in Jupyter without ipywidgets:
  tqdm then falls back to its plain text bar, which is what the kit wants on a CPU machine.
- transformers' `FutureWarning: is_gradient_checkpointing is deprecated`, raised when peft (0.21) reads the
  old property while wrapping a model in a LoRA adapter; nothing to change on the kit's side.
- bitsandbytes' log line "Failed to load CPU gemm_4bit_forward from kernels-community" on CPUs with
  AVX512-BF16 when the optional `kernels` package is absent: bitsandbytes falls back to its own CPU kernel.
Not here: the kit's own warnings (they say something the user should read).
"""
from __future__ import annotations

import logging
import warnings

_BNB_CPU_LOGGER = "bitsandbytes.backends.cpu.ops"
_BNB_MESSAGE = "Failed to load CPU gemm_4bit_forward from kernels-community"


class _DropMessage(logging.Filter):
    """Drops log records whose message starts with one known text; lets every other record through."""

    def __init__(self, prefix: str):
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)


def install() -> None:
    """Apply the filters listed in the module docstring (idempotent)."""
    from tqdm.std import TqdmWarning  # tqdm.std loads no notebook machinery

    warnings.filterwarnings("ignore", message=r"IProgress not found\. Please update jupyter and ipywidgets",
                            category=TqdmWarning)
    warnings.filterwarnings("ignore", message=r"`is_gradient_checkpointing` is deprecated", category=FutureWarning)
    logger = logging.getLogger(_BNB_CPU_LOGGER)
    if not any(isinstance(f, _DropMessage) for f in logger.filters):
        logger.addFilter(_DropMessage(_BNB_MESSAGE))


install()
