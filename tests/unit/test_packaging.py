"""The import root (pyproject.toml, [tool.setuptools]): every package folder of service/ and
slack_app/ is listed under recovery_ops, and nothing is installed as a top-level ``service`` or
``slack_app`` (the names a team's own repository may use)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_package_folder_is_listed_under_the_import_root() -> None:
    # Given the folders of service/ and slack_app/ that are packages
    folders = {
        "recovery_ops." + ".".join(init.parent.relative_to(ROOT).parts)
        for package in ("service", "slack_app")
        for init in (ROOT / package).rglob("__init__.py")
    }

    # When the packages the wheel installs are read, Then each folder is one of them
    listed = set(SETUPTOOLS["packages"])
    assert folders - listed == set()
    assert listed - folders == {"recovery_ops", "recovery_ops.infra", "recovery_ops.infra.example"}


def test_nothing_is_installed_outside_recovery_ops() -> None:
    # Given the packages and the folders they come from
    packages, mapped = SETUPTOOLS["packages"], SETUPTOOLS["package-dir"]

    # Then every one is under recovery_ops, mapped onto this directory, with the template beside the code
    assert all(name == "recovery_ops" or name.startswith("recovery_ops.") for name in packages)
    assert mapped == {"recovery_ops": "."}
    assert SETUPTOOLS["package-data"]["recovery_ops"] == ["template.yaml"]
    assert {p.parent.name for p in (ROOT / "infra").rglob("*.asl.json")} == {"infra", "example"}
