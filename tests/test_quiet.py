"""Clean lesson outputs: the known-harmless dependency warnings are silenced (each exact message only, every
other warning still shown), and a reused run is announced by its path under results/, not the machine's."""
import json
import logging
import warnings

from tqdm.std import TqdmWarning

from scoreutils import get_profile, config, runs


def _shown(category, message, module):
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        warnings.simplefilter("always")
        config.silence_known_warnings()
        warnings.warn_explicit(message, category, "x.py", 1, module=module)
    return [str(w.message) for w in caught]


def test_known_dependency_warnings_are_silenced_and_others_are_not():
    assert _shown(TqdmWarning, "IProgress not found. Please update jupyter and ipywidgets. See https://x", "tqdm.auto") == []
    assert _shown(TqdmWarning, "something else", "tqdm.auto") == ["something else"]
    assert _shown(FutureWarning, "`is_gradient_checkpointing` is deprecated and will be removed in v6.",
                  "transformers.modeling_utils") == []
    assert _shown(FutureWarning, "`other` is deprecated", "transformers.modeling_utils") == ["`other` is deprecated"]
    assert _shown(UserWarning, "IProgress not found. Please update jupyter and ipywidgets.", "mine") != []


def test_bitsandbytes_kernels_message_is_dropped_and_its_other_messages_kept(caplog):
    config.silence_known_warnings()
    config.silence_known_warnings()  # idempotent: one filter
    logger = logging.getLogger("bitsandbytes.backends.cpu.ops")
    assert sum(isinstance(f, config._DropMessage) for f in logger.filters) == 1
    with caplog.at_level(logging.WARNING, logger=logger.name):
        logger.warning("Failed to load CPU gemm_4bit_forward from kernels-community: %s. Please ...", "no kernels")
        logger.warning("another bitsandbytes problem")
    assert [r.getMessage() for r in caplog.records] == ["another bitsandbytes problem"]


def test_reused_runs_are_announced_relative_to_the_results_root(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SCORE_RESULTS", str(tmp_path))
    profile = get_profile("cpu")
    out = tmp_path / "demo" / "base.json"
    out.parent.mkdir()
    out.write_text(json.dumps({"profile": profile.to_dict(), "split": "test", "n": profile.n_eval,
                               "instruction": None, "label": "base"}))
    runs.load_or_eval(profile, "demo/base")
    line = capsys.readouterr().out
    assert line == "loaded the evaluation results/demo/base.json (made earlier with the same profile)\n"
    assert str(tmp_path) not in line
