"""The README's commands are the ones CI runs, and the documented interface exists."""

from __future__ import annotations

import re

from conftest import ROOT


def readme_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)
    return [b.strip() for b in blocks]


def test_readme_opens_with_the_demo_and_the_test_command():
    demo, tests = readme_commands()[:2]
    assert "-m biogans.train" in demo and "pip install -c constraints.txt -e ." in demo
    assert "pytest" in tests and '".[test]"' in tests


def test_ci_runs_exactly_the_readme_test_command():
    test_command = readme_commands()[1]
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_command in ci_lines


def test_constraints_pin_pypi_torch_not_the_local_cpu_wheel():
    pins = dict(line.split("==") for line in (ROOT / "constraints.txt").read_text().splitlines() if "==" in line)
    assert "+cpu" not in pins["torch"]
    for package in ("torch", "torchvision", "hydra-core", "omegaconf", "submitit", "hydra-submitit-launcher"):
        assert package in pins, package


def test_every_subpackage_is_installed_by_pyproject():
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "biogans").rglob("__init__.py")}
    assert found <= listed, f"add {sorted(found - listed)} to [tool.setuptools] packages"
    assert "biogans.conf" in listed  # the Hydra configs travel with a wheel
