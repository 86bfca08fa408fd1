# The two quickstart commands (README): `make run` and `make test`. Each builds its own virtual
# environment on first use, so they work on a fresh machine with only python3 installed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench clean translations

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@ $(VENV)/.installed-run

## run: set up and start the demo data center on http://127.0.0.1:8080 (SQLite)
run: $(VENV)/.installed-run
	$(BIN)/dutydesk demo

## test: set up and run the whole test suite (SQLite, plus PostgreSQL and Chromium when present)
test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/lint-imports

bench: $(VENV)/.installed-test
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

## translations: extract messages into dutydesk/translations/messages.pot, merge them into the
## ru and uk catalogs (new strings arrive untranslated, changed ones fuzzy) and compile the .mo files
LOCALES := ru uk
I18N := dutydesk/translations
translations: $(VENV)/.installed-run
	$(BIN)/pybabel -q extract -F babel.cfg --no-wrap --sort-by-file \
		-k _ -k gettext -k ngettext:1,2 -k lazy_gettext -k N_ -k NP_:1,2 \
		--project=DutyDesk --version=0.1.0 --copyright-holder="DutyDesk contributors" \
		--ignore-dirs=".* _* __pycache__ node_modules" -o $(I18N)/messages.pot .
	@for l in $(LOCALES); do \
		$(BIN)/pybabel -q update --no-wrap --previous --ignore-obsolete --init-missing \
			-i $(I18N)/messages.pot -d $(I18N) -l $$l || exit 1; \
	done
	$(BIN)/pybabel compile --statistics -d $(I18N)

clean:
	rm -rf $(VENV) instance test-output .pytest_cache
