#!/usr/bin/env python3
"""fuzz/Cargo.lock must pin the same versions as the root Cargo.lock for shared dependencies.

The fuzz crate is its own workspace with its own lockfile. Every registry package in it whose name
also appears in the root Cargo.lock must be locked at one of the root's versions of that package,
so the fuzzers exercise the same dependency code that the tests do. Packages only the fuzz crate
uses (libfuzzer-sys, arbitrary, ...) are free.

To repair: cp Cargo.lock fuzz/Cargo.lock && cargo update -w --manifest-path fuzz/Cargo.toml
Usage: python3 .ci/lockfiles.py [ROOT_LOCK [FUZZ_LOCK]]
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path


def registry_versions(path: Path) -> dict[str, set[str]]:
    with path.open("rb") as f:
        lock = tomllib.load(f)
    versions: dict[str, set[str]] = {}
    for package in lock.get("package", []):
        if "source" not in package:  # path packages: the workspaces' own crates
            continue
        versions.setdefault(package["name"], set()).add(package["version"])
    return versions


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    root_lock = Path(sys.argv[1]) if len(sys.argv) > 1 else root / "Cargo.lock"
    fuzz_lock = Path(sys.argv[2]) if len(sys.argv) > 2 else root / "fuzz" / "Cargo.lock"
    main_versions = registry_versions(root_lock)
    fuzz_versions = registry_versions(fuzz_lock)

    shared = sorted(set(main_versions) & set(fuzz_versions))
    offenders = [
        f"{name}: fuzz locks {', '.join(sorted(fuzz_versions[name] - main_versions[name]))}, "
        f"root locks {', '.join(sorted(main_versions[name]))}"
        for name in shared
        if not fuzz_versions[name] <= main_versions[name]
    ]
    only_fuzz = sorted(set(fuzz_versions) - set(main_versions))
    print(f"lockfiles: {len(shared)} shared packages, fuzz-only: {', '.join(only_fuzz) or 'none'}")
    if offenders:
        print(f"lockfiles: {fuzz_lock} disagrees with {root_lock}:", file=sys.stderr)
        for line in offenders:
            print(f"  - {line}", file=sys.stderr)
        print("  repair: cp Cargo.lock fuzz/Cargo.lock && "
              "cargo update -w --manifest-path fuzz/Cargo.toml", file=sys.stderr)
        return 1
    print("lockfiles: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
