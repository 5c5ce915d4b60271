"""The code's shape: domains import each other downhill only (import-linter's contracts
in pyproject.toml, which `make lint` runs), imports inside functions say why, and no
comment points at the tracker instead of saying what it means."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "marketplace"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def copy_of_the_code(tmp_path_factory) -> Path:
    """The package and its contracts in a folder of their own, to break on purpose."""
    where = tmp_path_factory.mktemp("code")
    shutil.copytree(PACKAGE, where / "marketplace",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", where / "pyproject.toml")
    return where


def test_the_contracts_hold_on_the_code(copy_of_the_code):
    result = _lint_imports(copy_of_the_code)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(("module", "wrong_import", "broken"), [
    ("orders/services.py", "from marketplace.wholesale import invoices",
     "Orders knows nothing of payments, wholesale or e-mails"),
    ("pickup/services.py", "from marketplace.orders import models",
     "Pickup never imports orders"),
    ("accounts/services.py", "from marketplace.producers import services",
     "Domains depend downhill"),
    ("payments/services/refunds.py", "from marketplace.payments import routes",
     "Services and models never import views"),
    ("geo/resolver.py", "from marketplace.geo import geocoders",
     "No import cycle between the modules of a package"),
])
def test_a_wrong_import_breaks_a_contract(copy_of_the_code, module, wrong_import, broken):
    path = copy_of_the_code / "marketplace" / module
    original = path.read_text()
    path.write_text(original + f"\n{wrong_import}  # noqa\n")
    try:
        result = _lint_imports(copy_of_the_code)
    finally:
        path.write_text(original)
    assert result.returncode != 0
    assert re.search(re.escape(broken) + r"[^\n]*BROKEN", result.stdout), result.stdout


def _inner_imports(path: Path):
    """(line, text, explained) of each import inside a function or class body. A run of
    imports is explained by a comment on the line above the run or on its own line."""
    source = path.read_text()
    lines = source.splitlines()
    tree = ast.parse(source)
    top = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom) or id(node) in top:
            continue
        number = node.lineno
        above = number - 2
        while above >= 0 and lines[above].strip().startswith(("from ", "import ")):
            above -= 1  # the run of imports this one belongs to
        explained = "#" in lines[number - 1] or (
            above >= 0 and lines[above].strip().startswith("#"))
        yield number, lines[number - 1].strip(), explained


def test_imports_inside_functions_say_why():
    unexplained = [
        f"{path.relative_to(ROOT)}:{number}: {text}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for number, text, explained in _inner_imports(path)
        if not explained
    ]
    assert unexplained == []


TRACKER = re.compile(r"\bissues? #?\d+|\(#\d+\)", re.IGNORECASE)


def test_no_comment_or_docstring_names_an_issue_number():
    places = [*PACKAGE.rglob("*.py"), *(ROOT / "tests").rglob("*.py"),
              *(ROOT / "templates").rglob("*.html"), *(ROOT / "docs").rglob("*.md"),
              ROOT / "README.md"]
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in places if path != Path(__file__)
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if TRACKER.search(line)
    ]
    assert found == []


# The boundary reads Flask's globals and the clock and passes them in: views, CLI
# commands, the jobs, the demo data, the app factory, the helpers that only views use,
# and models.py, where the clock (utcnow) and column defaults are defined.
BOUNDARY = re.compile(r"(routes|views|cli|forms|decorators|receivers)\.py$|/(web|demo)/|"
                      r"^marketplace/(__init__|jobs|forms|media|downloads|models)\.py$|"
                      r"^marketplace/notifications/__init__\.py$")
# Rendering e-mails needs the app (its templates, its URL map); these two modules take
# the site's address and languages from it too.
RENDERS_WITH_THE_APP = {"marketplace/notifications/orders.py",
                        "marketplace/notifications/services.py"}
GLOBALS = re.compile(r"\b(current_app|current_user|db\.session|has_app_context)\b|"
                     r"from flask import [^\n]*\b(request|session)\b|"
                     r"\butcnow\(\)|datetime\.now\(|date\.today\(")


def _docstring_lines(tree) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            lines.update(range(body[0].lineno, body[0].end_lineno + 1))
    return lines


def test_services_take_session_settings_and_clock_as_arguments():
    """No service reads Flask's globals, the global session or the clock."""
    readers = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = str(path.relative_to(ROOT))
        if BOUNDARY.search(name) or name in RENDERS_WITH_THE_APP:
            continue
        source = path.read_text()
        skip = _docstring_lines(ast.parse(source))
        readers += [
            f"{name}:{number}: {line.strip()}"
            for number, line in enumerate(source.splitlines(), 1)
            if number not in skip and GLOBALS.search(line.split("#")[0])
        ]
    assert readers == []
