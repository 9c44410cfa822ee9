"""Vendored front-end files: integrity, pinned versions, and "pages never load a CDN".

The files under ``static/vendor/`` are produced by ``tools/vendor_js.py`` from the
exact pins in ``tools/frontend/package.json``. No Node is needed to run these tests.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "static" / "vendor"
MANIFEST = VENDOR / "MANIFEST.json"
FRONTEND = ROOT / "tools" / "frontend"

EXPECTED_PINS = {
    "htmx.org": "2.0.11",
    "socket.io-client": "4.8.4",
    "vega": "6.4.0",
    "vega-lite": "6.4.3",
    "vega-embed": "7.3.0",
}
SKIP_DIRS = {".venv", "venv", "node_modules", ".git", "build", "instance", "test-artifacts"}
TEMPLATE_SUFFIXES = {".html", ".htm", ".jinja", ".jinja2", ".j2", ".svg"}


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _manifest_entries() -> list[dict]:
    return _json(MANIFEST)["files"]


def _manifest_entries_for_params() -> list[dict]:
    """Entries for parametrize; empty if there is no manifest (test_manifest_lists_files fails)."""
    return _manifest_entries() if MANIFEST.is_file() else []


def _package_json_deps() -> dict[str, str]:
    return _json(FRONTEND / "package.json")["dependencies"]


def _walk(base: Path):
    """Yield files under base, skipping virtualenvs, node_modules and VCS dirs."""
    if not base.is_dir():
        return
    for path in sorted(base.iterdir()):
        if path.is_dir():
            if path.name not in SKIP_DIRS:
                yield from _walk(path)
        elif path.is_file():
            yield path


def _template_files() -> list[Path]:
    """Every file inside any ``templates/`` directory of the project (root or package)."""
    found = []
    for path in _walk(ROOT):
        rel = path.relative_to(ROOT)
        if "templates" in rel.parts[:-1] and path.suffix.lower() in TEMPLATE_SUFFIXES:
            found.append(path)
    return found


def test_manifest_lists_files():
    assert MANIFEST.is_file(), "static/vendor/MANIFEST.json is missing (run tools/vendor_js.py)"
    entries = _manifest_entries()
    assert entries, "MANIFEST.json lists no files"
    paths = [e["path"] for e in entries]
    assert len(paths) == len(set(paths)), "duplicate paths in MANIFEST.json"


@pytest.mark.parametrize("entry", _manifest_entries_for_params(), ids=lambda e: e["path"])
def test_manifest_file_exists_with_recorded_sha256(entry):
    path = VENDOR / entry["path"]
    assert path.is_file(), f"{path} listed in MANIFEST.json is missing (run tools/vendor_js.py)"
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == entry["sha256"], f"{path} was modified"
    assert len(data) == entry["bytes"]


def test_no_unlisted_files_in_vendor():
    listed = {e["path"] for e in _manifest_entries()} | {"MANIFEST.json"}
    extra = [
        p.relative_to(VENDOR).as_posix()
        for p in VENDOR.rglob("*")
        if p.is_file() and p.relative_to(VENDOR).as_posix() not in listed
    ]
    assert not extra, f"files in static/vendor/ not recorded in MANIFEST.json: {extra}"


def test_package_json_pins_are_exact_and_expected():
    deps = _package_json_deps()
    assert deps == EXPECTED_PINS
    for name, version in deps.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} is not pinned exactly: {version}"


def test_package_lock_matches_package_json():
    deps = _package_json_deps()
    packages = _json(FRONTEND / "package-lock.json")["packages"]
    assert packages[""]["dependencies"] == deps
    for name, version in deps.items():
        assert packages[f"node_modules/{name}"]["version"] == version


def test_manifest_versions_match_package_json():
    deps = _package_json_deps()
    entries = _manifest_entries()
    for entry in entries:
        assert entry["package"] in deps, f"{entry['path']}: {entry['package']} not in package.json"
        assert entry["version"] == deps[entry["package"]], entry["path"]
    # Every pinned package is vendored: at least one script plus its LICENSE.
    for name in deps:
        paths = [e["path"] for e in entries if e["package"] == name]
        assert any(p.endswith(".js") for p in paths), f"no script vendored for {name}"
        assert any(p.endswith("/LICENSE") for p in paths), f"no LICENSE vendored for {name}"


def test_vendored_files_match_expected_layout():
    paths = {e["path"] for e in _manifest_entries()}
    for expected in (
        "htmx/htmx.min.js",
        "socket.io/socket.io.min.js",
        "vega/vega.min.js",
        "vega-lite/vega-lite.min.js",
        "vega-embed/vega-embed.min.js",
    ):
        assert expected in paths


# --- pages never load a CDN -------------------------------------------------------

_TAG = re.compile(r"<\s*(script|link)\b[^>]*>", re.IGNORECASE | re.DOTALL)
_ATTR = re.compile(r"""\b(src|href)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE | re.DOTALL)
_REMOTE = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)


def remote_asset_refs(html: str) -> list[str]:
    """Return script/link src/href values that point off-site.

    >>> remote_asset_refs('<script src="https://cdn.example/x.js"></script>')
    ['https://cdn.example/x.js']
    >>> remote_asset_refs("<link rel=stylesheet href='//cdn.example/a.css'>")
    ['//cdn.example/a.css']
    >>> remote_asset_refs('<script src="{{ url_for(\\'static\\', filename=\\'x.js\\') }}">')
    []
    >>> remote_asset_refs('<a href="https://example.com">docs</a>')
    []
    """
    refs = []
    for tag in _TAG.finditer(html):
        for attr in _ATTR.finditer(tag.group(0)):
            value = next(v for v in attr.groups()[1:] if v is not None)
            if _REMOTE.match(value):
                refs.append(value)
    return refs


def test_remote_ref_detector():
    assert remote_asset_refs('<SCRIPT defer\n  src="http://x/y.js">') == ["http://x/y.js"]
    assert remote_asset_refs('<link rel="icon" href="/static/img/favicon.svg">') == []


def test_templates_load_no_cdn():
    templates = _template_files()
    if not templates:
        pytest.skip("no templates yet")
    offenders = {}
    for path in templates:
        refs = remote_asset_refs(path.read_text(encoding="utf-8"))
        if refs:
            offenders[path.relative_to(ROOT).as_posix()] = refs
    assert not offenders, f"templates load assets from another origin: {offenders}"


def test_stylesheets_load_nothing_remote():
    remote = re.compile(r"""(@import\s+(url\()?\s*["']?|url\(\s*["']?)\s*(https?:)?//""", re.I)
    offenders = [
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "static").rglob("*.css")
        if remote.search(p.read_text(encoding="utf-8"))
    ]
    assert not offenders, f"stylesheets import remote resources: {offenders}"
