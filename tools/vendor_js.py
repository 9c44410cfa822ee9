#!/usr/bin/env python3
"""Vendor Matchday's front-end JavaScript into ``static/vendor/``.

Pages never load a CDN: every script the browser runs is served from ``static/``.
This script is the only supported way to refresh those files.

What it does:

1. Checks that every dependency in ``tools/frontend/package.json`` is pinned to an
   exact version and that ``package-lock.json`` agrees.
2. Runs ``npm ci --ignore-scripts`` in ``tools/frontend`` (``node_modules`` there is
   git-ignored). ``--skip-npm`` reuses an existing ``node_modules`` instead.
3. Copies each built file listed in ``VENDORED`` and the package's LICENSE into
   ``static/vendor/<dir>/``.
4. Writes ``static/vendor/MANIFEST.json`` with package, version, licence, npm
   integrity and sha256 for every copied file. The output is deterministic (no
   timestamps), so re-running it on the same lock file changes nothing.

``--check`` makes no changes: it only verifies the committed files against the
manifest and ``package.json`` (no Node needed), and exits 1 on any mismatch.

Node and npm are only needed to refresh the vendored files, never to run the app.
Standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FRONTEND = ROOT / "tools" / "frontend"
VENDOR = ROOT / "static" / "vendor"
MANIFEST = VENDOR / "MANIFEST.json"

# npm package -> (directory under static/vendor, files inside the package to copy).
# The package's LICENSE file is always copied as well.
VENDORED: dict[str, tuple[str, tuple[str, ...]]] = {
    "htmx.org": ("htmx", ("dist/htmx.min.js",)),
    "socket.io-client": ("socket.io", ("dist/socket.io.min.js",)),
    "vega": ("vega", ("build/vega.min.js",)),
    "vega-lite": ("vega-lite", ("build/vega-lite.min.js",)),
    "vega-embed": ("vega-embed", ("build/vega-embed.min.js",)),
}

LICENSE_NAMES = ("LICENSE", "LICENSE.md", "LICENSE.txt", "LICENCE", "license", "License")
EXACT_VERSION = re.compile(r"^\d+\.\d+\.\d+$")


class VendorError(RuntimeError):
    pass


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def pinned_versions() -> dict[str, str]:
    """Return {package: version} from package.json after checking the pins."""
    pkg = load_json(FRONTEND / "package.json")
    deps: dict[str, str] = dict(pkg.get("dependencies", {}))
    problems = []
    if set(deps) != set(VENDORED):
        problems.append(f"package.json dependencies {sorted(deps)} != vendored packages {sorted(VENDORED)}")
    for name, version in deps.items():
        if not EXACT_VERSION.match(version):
            problems.append(f"{name}: {version!r} is not an exact version")
    lock = load_json(FRONTEND / "package-lock.json")
    packages = lock.get("packages", {})
    if packages.get("", {}).get("dependencies", {}) != deps:
        problems.append("package-lock.json root dependencies differ from package.json (run npm install)")
    for name, version in deps.items():
        locked = packages.get(f"node_modules/{name}", {}).get("version")
        if locked != version:
            problems.append(f"{name}: package-lock.json has {locked!r}, package.json pins {version!r}")
    if problems:
        raise VendorError("\n".join(problems))
    return deps


def run_npm_ci() -> None:
    npm = os.environ.get("NPM") or shutil.which("npm")
    if not npm:
        raise VendorError("npm not found on PATH (set NPM=/path/to/npm)")
    cmd = [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"]
    print("+", " ".join(cmd), f"(in {FRONTEND.relative_to(ROOT)})", flush=True)
    subprocess.run(cmd, cwd=FRONTEND, check=True)


def find_license(pkg_dir: Path) -> Path:
    for name in LICENSE_NAMES:
        candidate = pkg_dir / name
        if candidate.is_file():
            return candidate
    raise VendorError(f"no LICENSE file in {pkg_dir}")


def vendor(versions: dict[str, str]) -> dict:
    lock_packages = load_json(FRONTEND / "package-lock.json")["packages"]
    files = []
    VENDOR.mkdir(parents=True, exist_ok=True)
    for name, (dest_name, sources) in sorted(VENDORED.items()):
        pkg_dir = FRONTEND / "node_modules" / name
        meta = load_json(pkg_dir / "package.json")
        if meta.get("version") != versions[name]:
            raise VendorError(
                f"{name}: node_modules has {meta.get('version')!r}, expected {versions[name]!r}"
            )
        dest_dir = VENDOR / dest_name
        if dest_dir.exists():
            shutil.rmtree(dest_dir)  # drop files from an older layout
        dest_dir.mkdir(parents=True)
        copies = [(pkg_dir / src, dest_dir / Path(src).name) for src in sources]
        copies.append((find_license(pkg_dir), dest_dir / "LICENSE"))
        for src, dst in copies:
            if not src.is_file():
                raise VendorError(f"{name}: missing {src}")
            shutil.copyfile(src, dst)
            files.append(
                {
                    "path": dst.relative_to(VENDOR).as_posix(),
                    "package": name,
                    "version": versions[name],
                    "license": meta.get("license"),
                    "source": f"{name}/{src.relative_to(pkg_dir).as_posix()}",
                    "integrity": lock_packages[f"node_modules/{name}"].get("integrity"),
                    "bytes": dst.stat().st_size,
                    "sha256": sha256_of(dst),
                }
            )
            print(f"  {dst.relative_to(ROOT)}  {files[-1]['bytes']:>8} B", flush=True)
    manifest = {
        "comment": "Generated by tools/vendor_js.py from tools/frontend/package-lock.json; do not edit.",
        "files": files,
    }
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {MANIFEST.relative_to(ROOT)} ({len(files)} files)")
    return manifest


def check(versions: dict[str, str]) -> list[str]:
    """Return a list of problems with the committed vendored files."""
    if not MANIFEST.is_file():
        return [f"{MANIFEST.relative_to(ROOT)} is missing"]
    problems = []
    entries = load_json(MANIFEST)["files"]
    for entry in entries:
        path = VENDOR / entry["path"]
        if not path.is_file():
            problems.append(f"missing {path.relative_to(ROOT)}")
        elif sha256_of(path) != entry["sha256"]:
            problems.append(f"sha256 mismatch for {path.relative_to(ROOT)}")
        if versions.get(entry["package"]) != entry["version"]:
            problems.append(
                f"{entry['path']}: manifest says {entry['package']}@{entry['version']}, "
                f"package.json pins {versions.get(entry['package'])!r}"
            )
    listed = {entry["path"] for entry in entries} | {MANIFEST.name}
    for path in sorted(VENDOR.rglob("*")):
        if path.is_file() and path.relative_to(VENDOR).as_posix() not in listed:
            problems.append(f"{path.relative_to(ROOT)} is not in the manifest")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="verify only; change nothing")
    mode.add_argument("--skip-npm", action="store_true", help="reuse tools/frontend/node_modules")
    args = parser.parse_args(argv)
    try:
        versions = pinned_versions()
        if args.check:
            problems = check(versions)
            for problem in problems:
                print("ERROR:", problem, file=sys.stderr)
            print("OK" if not problems else f"{len(problems)} problem(s)")
            return 1 if problems else 0
        if not args.skip_npm:
            run_npm_ci()
        vendor(versions)
        problems = check(versions)
        for problem in problems:
            print("ERROR:", problem, file=sys.stderr)
        return 1 if problems else 0
    except (VendorError, subprocess.CalledProcessError, OSError) as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
