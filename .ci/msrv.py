#!/usr/bin/env python3
"""MSRV check for the workspace (run by .ci/run; needs Python 3.11+ for tomllib).

The root Cargo.toml declares `rust-version` under `[workspace.package]`. This fails when
- a workspace member does not declare a rust-version, or declares one other than the workspace's;
- any package in the locked resolution (`cargo metadata --all-features --locked`: every
  dependency, dev-dependency and optional dependency, for every platform) needs a newer Rust
  than the declared one, so the declaration would be a lie;
- the installed rustc is older than the declared rust-version.
Our own code's use of newer std APIs is clippy's `incompatible_msrv` lint, not this script's job.

Usage: python3 .ci/msrv.py [path/to/Cargo.toml]   (default: the repository's root Cargo.toml)
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

Version = tuple[int, int, int]


def parse_version(text: str) -> Version:
    """'1.89' / '1.89.0' / '1.95.0-nightly' -> (1, 89, 0)."""
    match = re.fullmatch(r"\s*(\d+)\.(\d+)(?:\.(\d+))?(?:[-+].*)?\s*", text)
    if not match:
        raise ValueError(f"not a Rust version: {text!r}")
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


def show(version: Version) -> str:
    return ".".join(map(str, version))


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    manifest = Path(sys.argv[1]) if len(sys.argv) > 1 else root / "Cargo.toml"
    cargo = os.environ.get("CARGO", "cargo")
    rustc = os.environ.get("RUSTC", "rustc")

    with manifest.open("rb") as f:
        declared_text = tomllib.load(f).get("workspace", {}).get("package", {}).get("rust-version")
    if declared_text is None:
        print(f"msrv: {manifest} declares no [workspace.package] rust-version", file=sys.stderr)
        return 1
    declared = parse_version(str(declared_text))
    print(f"msrv: declared workspace rust-version = {declared_text}")

    metadata = json.loads(
        subprocess.run(
            [cargo, "metadata", "--format-version", "1", "--all-features", "--locked",
             "--manifest-path", str(manifest)],
            check=True, stdout=subprocess.PIPE,
        ).stdout
    )
    members = set(metadata["workspace_members"])
    problems: list[str] = []

    # Workspace members: each must declare exactly the workspace's rust-version
    # (`rust-version.workspace = true`), or clippy's incompatible_msrv has nothing to check against.
    for package in metadata["packages"]:
        if package["id"] not in members:
            continue
        rv = package.get("rust_version")
        if rv is None:
            problems.append(f"workspace member {package['name']} declares no rust-version "
                            "(use `rust-version.workspace = true`)")
        elif parse_version(rv) != declared:
            problems.append(f"workspace member {package['name']} declares rust-version {rv}, "
                            f"not the workspace's {declared_text}")

    # Every package in the resolution, members included.
    too_new: list[tuple[Version, str]] = []
    newest: tuple[Version, list[str]] = ((0, 0, 0), [])
    without = 0
    for package in metadata["packages"]:
        rv = package.get("rust_version")
        label = f"{package['name']} {package['version']}"
        if rv is None:
            without += 1
            continue
        version = parse_version(rv)
        if version > declared:
            too_new.append((version, f"{label} needs Rust {rv}"))
        if package["id"] not in members:
            if version > newest[0]:
                newest = (version, [label])
            elif version == newest[0]:
                newest[1].append(label)
    for _, line in sorted(too_new, key=lambda item: (tuple(-n for n in item[0]), item[1])):
        problems.append(f"{line} > declared {declared_text}")

    total = len(metadata["packages"])
    print(f"msrv: {total} packages in the locked resolution, {without} without a rust-version")
    if newest[1]:
        print(f"msrv: highest dependency rust-version = {show(newest[0])} "
              f"({', '.join(sorted(newest[1]))})")

    # The installed toolchain.
    verbose = subprocess.run([rustc, "-vV"], check=True, stdout=subprocess.PIPE, text=True).stdout
    release = next((line.split(":", 1)[1].strip() for line in verbose.splitlines()
                    if line.startswith("release:")), None)
    if release is None:
        problems.append(f"cannot read the release from `{rustc} -vV`")
    else:
        print(f"msrv: installed rustc = {release}")
        if parse_version(release) < declared:
            problems.append(f"installed rustc {release} is older than the declared "
                            f"rust-version {declared_text}")

    if problems:
        print(f"msrv: FAILED ({len(problems)} problem(s)):", file=sys.stderr)
        for line in problems:
            print(f"  - {line}", file=sys.stderr)
        return 1
    print("msrv: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
