"""What is installed is what was declared: the lock files agree with pyproject.toml, and every
package the code imports is declared where the code ships."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


def pins(lock: str) -> dict[str, str]:
    return {canonicalize_name(name): version for name, version in _PIN.findall((ROOT / lock).read_text())}


def declared(*groups: str) -> list[Requirement]:
    found = [Requirement(r) for r in PROJECT["dependencies"]]
    for group in groups:
        found += [Requirement(r) for r in PROJECT["optional-dependencies"][group]]
    return [r for r in found if canonicalize_name(r.name) != canonicalize_name(PROJECT["name"])]


@pytest.mark.parametrize(
    ("lock", "groups"), [("requirements.lock", ()), ("requirements-dev.lock", ("local", "dev"))]
)
def test_every_declared_requirement_is_pinned_in_the_lock_at_a_version_it_allows(lock, groups) -> None:
    pinned = pins(lock)

    problems = [
        f"{r}: locked {pinned.get(canonicalize_name(r.name), 'nowhere')}"
        for r in declared(*groups)
        if canonicalize_name(r.name) not in pinned
        or not r.specifier.contains(pinned[canonicalize_name(r.name)], prereleases=True)
    ]

    assert problems == [], f"run `make lock`: {problems}"


def test_every_pin_carries_hashes_and_the_layer_ships_no_local_only_package() -> None:
    for lock in ("requirements.lock", "requirements-dev.lock"):
        entries = re.split(r"^(?=[A-Za-z0-9])", (ROOT / lock).read_text(), flags=re.MULTILINE)
        unhashed = [e.split()[0] for e in entries if e.strip() and "--hash=sha256:" not in e]
        assert unhashed == [], f"{lock}: entries without a hash"
    runtime = pins("requirements.lock")
    assert {"flask", "werkzeug", "jinja2", "click", "moto", "pyyaml"}.isdisjoint(runtime)
    shared = {name: v for name, v in runtime.items() if name in pins("requirements-dev.lock")}
    assert shared == {name: pins("requirements-dev.lock")[name] for name in shared}  # tested = deployed


def third_party_imports(paths: list[Path]) -> set[str]:
    modules: set[str] = set()
    for path in paths:
        tree = ast.parse(path.read_text())
        type_only = {  # `if TYPE_CHECKING:` blocks: stubs for the type checker, never imported at run time
            id(inner)
            for block in ast.walk(tree)
            if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
            for statement in block.body
            for inner in ast.walk(statement)
        }
        for node in ast.walk(tree):
            if id(node) in type_only:
                continue
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules.add(node.module.split(".")[0])
    return {m for m in modules if m not in sys.stdlib_module_names and m != "recovery_ops"}


def distributions_of(modules: set[str]) -> set[str]:
    known = packages_distributions()
    return {canonicalize_name(known[m][0]) for m in modules if m in known}


def test_every_package_the_shipped_code_imports_is_a_runtime_dependency() -> None:
    shipped = [p for p in (ROOT / "service").rglob("*.py") if not {"local", "durable"} & set(p.parts)]
    shipped += list((ROOT / "slack_app").rglob("*.py"))
    imported = distributions_of(third_party_imports(shipped) - {"flask"})  # flask: `serve` only, lazily

    missing = {d for d in imported if d not in pins("requirements.lock")}

    assert missing == set(), f"declare in pyproject.toml dependencies: {missing}"


def test_every_package_the_local_stack_imports_is_declared_in_the_local_extra() -> None:
    imported = distributions_of(third_party_imports(list((ROOT / "service" / "local").rglob("*.py"))))
    declared_names = {canonicalize_name(r.name) for r in declared("local")}

    missing = imported - declared_names - set(pins("requirements.lock"))

    assert missing == set(), f"declare in pyproject.toml's local extra: {missing}"


def test_every_package_the_durable_code_imports_is_declared_in_the_durable_extra() -> None:
    # The helper and the example's durable function run inside a team's durable function, which
    # installs recovery-ops[durable]: the durable-execution SDK is declared there, not in the layer
    durable = [p for p in (ROOT / "service").rglob("*.py") if "durable" in p.parts]
    imported = distributions_of(third_party_imports(durable))
    declared_names = {canonicalize_name(r.name) for r in declared("durable")}

    missing = imported - declared_names - set(pins("requirements.lock"))

    assert durable and missing == set(), f"declare in pyproject.toml's durable extra: {missing}"
