"""pyproject.toml, requirements.lock and what the Airflow image installs agree (issue 17).

The runtime dependencies are pyproject's ``dependencies``; the test tooling is its ``dev`` extra. The lock
pins both (``make install``); the image installs ``dependencies`` alone at the lock's versions
(include/docker/Dockerfile, checked in tests/dags/test_compose.py), so it carries test tooling only if a
runtime dependency requires it. Requirements are read from the installed packages' metadata, which
``make install`` takes from the lock.
"""

from __future__ import annotations

import tomllib
from importlib.metadata import PackageNotFoundError, distribution

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import REPO

PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
EXTRAS: dict[str, list[str]] = PROJECT.get("optional-dependencies", {})
TEST_TOOLING = {"pytest", "pytest-xdist", "execnet", "check-jsonschema"}


def _locked() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        name, _, version = line.partition("==")
        if version:
            pins[canonicalize_name(name.strip())] = version.strip()
    return pins


def closure(requirements: list[str]) -> set[str]:
    """Every distribution ``requirements`` pull in on this interpreter (environment markers and extras
    applied), by the installed metadata; a required distribution that is not installed fails."""
    found: set[str] = set()
    seen: set[tuple[str, frozenset[str]]] = set()
    pending = [Requirement(text) for text in requirements]
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        key = (name, frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        found.add(name)
        try:
            requires = distribution(name).requires or []
        except PackageNotFoundError:
            raise AssertionError(f"{requirement} is required but not installed (is it in requirements.lock?)") from None
        for text in requires:
            child = Requirement(text)
            extras = requirement.extras or {""}
            if child.marker is None or any(child.marker.evaluate({"extra": extra}) for extra in extras):
                pending.append(child)
    return found


def test_test_tooling_is_the_dev_extra_and_no_runtime_dependency_requires_it():
    dev = {canonicalize_name(Requirement(text).name) for text in EXTRAS.get("dev", [])}
    assert {"pytest", "pytest-xdist"} <= dev
    runtime = closure(PROJECT["dependencies"])
    assert {"apache-airflow", "dbt-core", "great-expectations"} <= runtime
    assert not runtime & (TEST_TOOLING | dev), sorted(runtime & (TEST_TOOLING | dev))


def test_every_pin_in_pyproject_is_the_locked_version():
    locked = _locked()
    pins = [*PROJECT["dependencies"], *(text for extra in EXTRAS.values() for text in extra)]
    for text in pins:
        requirement = Requirement(text)
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"{text}: pin it exactly"
        assert locked.get(canonicalize_name(requirement.name)) == specifier.version, f"{text} vs requirements.lock"


def test_the_lock_is_the_runtime_set_and_the_extras_nothing_else():
    """What the image leaves out of the lock is exactly what the extras bring (so the lock holds no
    stray pin, and every package the runtime needs is locked)."""
    locked = set(_locked())
    runtime = closure(PROJECT["dependencies"])
    extras = closure([text for extra in EXTRAS.values() for text in extra])
    assert runtime <= locked, sorted(runtime - locked)
    assert locked == runtime | extras, sorted(locked ^ (runtime | extras))
