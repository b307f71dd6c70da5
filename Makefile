# eexit — every target lists itself in `make help`.
VENV ?= .venv
PY := $(VENV)/bin/python
RUN_STAMP := $(VENV)/.installed-run   # eexit and what running an experiment needs
STAMP := $(VENV)/.installed           # plus the dev extra: tests, benchmarks' peers, launchers, ONNX
ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install run test test-all clean clean-outputs

help: ## list the targets
	@grep -E '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  %-25s %s\n", $$1, $$2}'

$(RUN_STAMP): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e .
	touch $(RUN_STAMP)

$(STAMP): $(RUN_STAMP)
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## create .venv (if missing) and install eexit with the dev extra and the tested pins

run: $(RUN_STAMP) ## install what running needs, then run the default experiment (digits, CPU, minutes); ARGS="key=value ..."
	$(VENV)/bin/eexit $(ARGS)

test: $(STAMP) ## install, then run the fast test suite (< 10 min on 2 cores), one worker per core
	WANDB_MODE=disabled $(PY) -m pytest -m "not slow" -q -n auto --dist loadgroup $(ARGS)

test-all: $(STAMP) ## the fast suite plus the slow tests
	WANDB_MODE=disabled $(PY) -m pytest -q -n auto --dist loadgroup $(ARGS)

clean-outputs: ## delete run outputs (outputs/, multirun/)
	rm -rf outputs multirun

clean: clean-outputs ## also delete the backbone cache and the venv
	rm -rf .cache $(VENV)

# ---- BTS-EE -------------------------------------------------------------------------------
SMOKE := data=digits backbone=resnet20 data.batch_size=128 pretrain.epochs=15 \
         method.epochs=5 method.batch_size=128 trainer.accelerator=cpu \
         trainer.enable_progress_bar=false group=bts64-smoke
.PHONY: bts64 bts64-smoke bts-optuna-smoke reproduce-bts bench-launchers bench-latency bench export bench-rehearsal gpu-check bench-risk \
        bench-survivors bench-augment

bts64: $(RUN_STAMP) ## BTS-EE 64-configuration sweep on CINIC-10 / ResNet18 (needs the data and a GPU)
	$(VENV)/bin/eexit -m sweep=bts64 $(ARGS)

bts64-smoke: $(RUN_STAMP) ## the same 64 configurations on digits / ResNet20 with small budgets (CPU)
	$(VENV)/bin/eexit -m sweep=bts64 $(SMOKE) $(ARGS)

bts-optuna-smoke: $(STAMP) ## Optuna search over BTS-EE on digits, 8 trials; run again to continue the same study
	$(VENV)/bin/eexit -m sweep=bts_optuna $(SMOKE) group=bts-optuna-smoke hydra.sweeper.n_trials=8 $(ARGS)

reproduce-bts: $(RUN_STAMP) ## BTS-EE paper setting: one run, CINIC-10 ResNet18, boosted vs non-boosted (GPU)
	$(VENV)/bin/eexit experiment=bts_cinic10 $(ARGS)

export: $(RUN_STAMP) ## standalone per-stage programs + exits.json: make export CKPT=<run>/checkpoints/boosted.pt OUT=exported
	@test -n "$(CKPT)" -a -n "$(OUT)" || { echo "error: give CKPT=<run>/checkpoints/<regime>.pt and OUT=<folder>" >&2; exit 2; }
	$(PY) -m eexit.deploy.export $(CKPT) $(OUT) $(ARGS)

bench-launchers: $(STAMP) ## the same 8-job sweep on each installed Hydra launcher from an empty cache -> benchmarks/local/RESULTS-launchers.md
	$(PY) benchmarks/launchers.py $(ARGS)

bench-latency: $(STAMP) ## real-skip inference vs the plain backbone, measured against the FLOP prediction
	$(PY) benchmarks/latency.py $(ARGS)

bench-rehearsal: $(STAMP) ## CINIC-shaped store at 10 % of CINIC-10 vs the plan and the old store -> benchmarks/local/RESULTS-rehearsal.md
	$(PY) benchmarks/rehearsal.py $(ARGS)

gpu-check: $(STAMP) ## on a GPU machine: bts64 plan + 4 CINIC-sized bts64 jobs, per-phase time and peak memory (< 8 min)
	bash benchmarks/gpu_check.sh

bench-risk: $(STAMP) ## certified exits on 200 re-splits of the default run's test images, and under a shift -> benchmarks/local/RESULTS-risk.md
	$(PY) benchmarks/risk.py --shift $(ARGS)

bench-survivors: $(STAMP) ## BTS-EE survivor rules x 3 datasets x 3 seeds, boosted vs non-boosted (~40 min) -> benchmarks/local/survivors/survivors.md
	$(PY) benchmarks/survivors.py $(ARGS)

bench-augment: $(STAMP) ## heads on augmented vs stored features, distorted digits, 3 seeds (~20 min) -> benchmarks/local/RESULTS-augment.md
	$(PY) benchmarks/feature_augment.py $(ARGS)

bench: $(STAMP) ## framework vs plain PyTorch: training, all-exit eval, real skip, bts64 wall time -> benchmarks/local/RESULTS.md (ARGS=--record: the tracked one)
	$(PY) benchmarks/bench.py $(ARGS)

# ---- PTEENet / EENets / all regimes side by side --------------------------------------------
PTEENET := experiment=pteenet_cifar10_resnet110,pteenet_cifar10_vgg19,pteenet_svhn_densenet121
EENETS := experiment=eenets_cifar10_resnet20,eenets_cifar10_resnet110,eenets_svhn_resnet20
DIGITS := data=digits backbone=resnet20 data.batch_size=128 pretrain.epochs=15 placement.num_exits=3 \
          trainer.accelerator=cpu trainer.enable_progress_bar=false
.PHONY: reproduce-pteenet reproduce-pteenet-smoke reproduce-eenets reproduce-eenets-smoke compare-smoke

reproduce-pteenet: $(RUN_STAMP) ## PTEENet's three settings (CIFAR-10 ResNet-110 / VGG19-BN, SVHN DenseNet121; data + GPU)
	$(VENV)/bin/eexit -m $(PTEENET) $(ARGS)

reproduce-pteenet-smoke: $(RUN_STAMP) ## the same three experiments on digits / ResNet20, CPU, minutes
	$(VENV)/bin/eexit -m $(PTEENET) $(DIGITS) placement.rule=linear ++head.depth=1 method.epochs=20 \
	  ++method.loss.two_stage_epochs=10 group=pteenet-smoke $(ARGS)

reproduce-eenets: $(RUN_STAMP) ## EENets' three settings (CIFAR-10 ResNet-20 / 110, SVHN ResNet-20; data + GPU)
	$(VENV)/bin/eexit -m $(EENETS) $(ARGS)

reproduce-eenets-smoke: $(RUN_STAMP) ## the same three experiments on digits / ResNet20, CPU, minutes
	$(VENV)/bin/eexit -m $(EENETS) $(DIGITS) method.epochs=15 group=eenets-smoke $(ARGS)

compare-smoke: $(RUN_STAMP) ## every method (BTS-EE + non-boosted, PTEENet, EENets, SDN, patience, linear) on digits in one figure
	$(VENV)/bin/eexit -m sweep=compare $(DIGITS) $(ARGS)
