# mss: the two commands a newcomer runs are `make demo` (the main job) and `make test` (the test suite).
# Both install what they need first (`make install`).
SHELL := /bin/bash
PY ?= python
APT_PACKAGES := ffmpeg fluidsynth fluid-soundfont-gm musescore-general-soundfont-small timgm6mb-soundfont espeak-ng openttd-openmsx planetblupi-music-midi chromium
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1

.PHONY: install sysdeps pydeps demo test check clean-check sync-check readme-check lint nbtest docs pytest test-slow mutants

install: sysdeps pydeps

# system packages: musdb needs the ffmpeg program even for WAV trees; chromium runs tests/test_browser.py (driven by playwright,
# no browser download); the song generator needs the rest
sysdeps:
	@if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	  if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi; \
	else echo "not root or no apt-get: make sure these are installed: $(APT_PACKAGES)"; fi

# torch and torchaudio must be a matched pair (torchaudio 2.11 loads only with torch 2.11)
pydeps:
	$(PY) -m pip install -q torch==2.11.0 torchaudio==2.11.0 -e ".[dev,synth]"

# the main job: a generated song the shipped separator never heard, separated and scored (nbs/tutorials/separate_a_song.ipynb);
# `make demo SONG=path/to/song.wav` separates your own file instead (no scores: no true stems)
demo: install
	mkdir -p out
ifdef SONG
	OMP_NUM_THREADS=$$(nproc) mss-separate "$(SONG)" --out out/demo --overwrite
	@echo "wrote the stems under out/demo/"
else
	OMP_NUM_THREADS=$$(nproc) MSS_DEMO_OUT=$(CURDIR)/out/demo exec_nb nbs/tutorials/separate_a_song.ipynb --dest out/separate_a_song.ipynb
	@cat out/demo/scores.md
	@echo "wrote the stems under out/demo/ and the executed notebook out/separate_a_song.ipynb"
endif

test: install check

check: clean-check sync-check readme-check lint nbtest docs pytest

readme-check:
	$(PY) tools/readme.py --check

clean-check:
	nbdev_clean
	@if [ -n "$$(git status --porcelain -uno -- nbs)" ]; then git status --porcelain -uno -- nbs; echo "notebooks are not clean: run nbdev_clean and commit"; exit 1; fi

sync-check:
	nbdev_export
	@if [ -n "$$(git status --porcelain -- mss nbs)" ]; then git status --porcelain -- mss nbs; echo "library out of sync with the notebooks: run nbdev_export and commit"; exit 1; fi

lint:
	ruff check --select F mss

nbtest:
	nbdev_test --n_workers 2 --timing

docs:
	nbdev_proc_nbs

pytest:
	$(PY) -m pytest -q tests

# the notebooks' slow cells too (CI skips them: settings.ini tst_flags = slow gpu)
test-slow:
	nbdev_test --n_workers 2 --flags slow

# the mutation check: deliberate bugs planted in a temporary copy of the repository, each of which the tests must catch;
# prints a table and fails if one survives (minutes of CPU, not part of CI). `python tools/mutants.py --list` names them.
mutants:
	$(PY) tools/mutants.py
