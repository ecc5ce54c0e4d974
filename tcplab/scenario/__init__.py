"""Scenario files: the documented TOML format, the built-in set, and running them."""

from __future__ import annotations

from pathlib import Path

from tcplab.resources import resources_dir
from tcplab.scenario.spec import Scenario, ScenarioError, load_file, loads


def scenarios_dir() -> Path:
    return resources_dir() / "scenarios"


def builtin_scenarios() -> dict[str, Path]:
    """Built-in scenario name -> file, sorted by name."""
    return {p.stem: p for p in sorted(scenarios_dir().glob("*.toml"))}


def load(name_or_path: str, overrides: list[str] | None = None) -> Scenario:
    """Load a built-in scenario by name, or a scenario file by path."""
    builtin = builtin_scenarios()
    if name_or_path in builtin:
        return load_file(builtin[name_or_path], overrides)
    path = Path(name_or_path)
    if path.suffix or path.exists() or "/" in name_or_path:
        return load_file(path, overrides)
    raise ScenarioError(f"unknown scenario {name_or_path!r}; built-in scenarios: "
                        f"{', '.join(builtin)} (or give a path to a .toml file)")


__all__ = ["Scenario", "ScenarioError", "load", "load_file", "loads", "builtin_scenarios",
           "scenarios_dir"]
