"""Print the lowest versions pyproject.toml declares, as pip requirements, one a line.

    python .ci/lowest.py runtime            # pytest==8.4, httpx==0.27, respx==0.22
    python .ci/lowest.py test --except mypy ruff

Each ``name>=X`` (with or without an upper bound) becomes ``name==X``, so that
CI installs exactly the versions the project says it works with; a
requirement without a lower bound is printed as it is. ``runtime`` is
``[project] dependencies``, any other name an optional-dependency group.
Needs Python 3.11 or later (tomllib).
"""

from __future__ import annotations

import argparse
import re
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).parent.parent / "pyproject.toml"
_REQUIREMENT = re.compile(r"^\s*(?P<name>[A-Za-z0-9._-]+)(?P<extras>\[[^\]]*\])?(?P<rest>[^;]*)(?P<marker>;.*)?$")
_LOWER = re.compile(r">=\s*(?P<version>[^,\s]+)")


def lowest(requirement: str) -> str:
    """``requirement`` pinned to its lower bound."""
    match = _REQUIREMENT.match(requirement)
    if match is None:
        raise SystemExit(f"lowest.py: cannot read the requirement {requirement!r}")
    lower = _LOWER.search(match["rest"])
    if lower is None:
        return requirement
    return f"{match['name']}{match['extras'] or ''}=={lower['version']}{match['marker'] or ''}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("group", help="'runtime', or the name of an optional-dependency group")
    parser.add_argument("--except", dest="excluded", nargs="*", default=[], metavar="NAME")
    args = parser.parse_args()
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    if args.group == "runtime":
        requirements = project["dependencies"]
    else:
        requirements = project["optional-dependencies"][args.group]
    excluded = {name.lower() for name in args.excluded}
    for requirement in requirements:
        match = _REQUIREMENT.match(requirement)
        if match is not None and match["name"].lower() in excluded:
            continue
        print(lowest(requirement))


if __name__ == "__main__":
    main()
