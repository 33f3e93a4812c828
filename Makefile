# Two commands (see README.md):
#   make course   set up .venv and open the course in JupyterLab
#   make test     set up .venv and run all tests (unit tests + every notebook under nbval)
# For maintainers:
#   make html     static HTML of the executed course into site/ (index.html + one page per notebook)
#   make student  regenerate notebooks/student/ from the full notebooks (tests/test_student.py checks it)
#   make slides   reveal.js slide decks of the executed course into site/slides/, working offline (lib/ beside them;
#                 reveal.js is fetched once with npm into $(VENV)/share/unet-course-slides by make setup)
#   make notebooks  the whole chain for the notebooks whose twin was edited or whose stored outputs are stale:
#                 twin → notebook → sync → execute → twins, student versions, instructor guide, README, CONTRIBUTING;
#                 NB="09 10" names notebooks to execute whatever their stamp says (tools/nbtools.py rebuild)
# TORCH picks the PyTorch to install when .venv has none: the default is the CPU build
# used in CI; pass e.g. TORCH=torch to take PyPI's default build for your machine.
# LAB_ARGS adds options to `jupyter lab`, e.g. LAB_ARGS=--allow-root when you work as root (a container).

PYTHON ?= python3
VENV   ?= .venv
TORCH  ?= torch==2.13.0
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LAB_ARGS ?=

.PHONY: course test setup html student slides notebooks clean

setup: $(STAMP)
	@$(BIN)/python tools/slides.py --install || echo "note: no offline reveal.js for make slides (it needs npm once)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[lab,test]"
	touch $(STAMP)

# Serve the whole checkout (so data/README.md and unet_lib/assets/README.md open from the file browser)
# and open notebook 00.
course: $(STAMP)
	$(BIN)/jupyter lab --ServerApp.root_dir=. $(LAB_ARGS) notebooks/00_welcome.ipynb

test: $(STAMP)
	$(BIN)/ruff check unet_lib tools tests conftest.py
	$(BIN)/ruff format --check unet_lib tools tests conftest.py
	$(BIN)/python -m pytest

html: $(STAMP)
	$(BIN)/python tools/export_html.py --out site

student: $(STAMP)
	$(BIN)/python tools/make_student.py

slides: $(STAMP)
	$(BIN)/python tools/slides.py --out site/slides

notebooks: $(STAMP)
	$(BIN)/python tools/nbtools.py rebuild $(NB)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
