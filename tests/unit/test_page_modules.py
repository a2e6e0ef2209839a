"""The page's native ES modules (frontend/js/, no build step), checked without a browser: index.html
loads the one entry module, every import names a file and a name that file exports, every export
is used by another module, and the devserver serves each module as JavaScript (what a browser
needs to run a module at all)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bootstrap.package import ROOT

FRONTEND = ROOT / "frontend"
MODULES = sorted((FRONTEND / "js").glob("*.js"))
STATIC_IMPORT = re.compile(r'^import \{([^}]*)\} from "(\.{1,2}/[^"]+)";$', re.MULTILINE)
DYNAMIC_IMPORT = re.compile(r'\bimport\("(\.{1,2}/[^"]+)"\)')
EXPORT = re.compile(r"^export (?:async )?(?:function|class|let|const) ([\w$]+)", re.MULTILINE)


def imports_of(module: Path) -> list[tuple[Path, list[str]]]:
    return [
        ((module.parent / source).resolve(), [name.strip() for name in names.split(",") if name.strip()])
        for names, source in STATIC_IMPORT.findall(module.read_text())
    ]


def exports_of(module: Path) -> set[str]:
    return set(EXPORT.findall(module.read_text()))


def test_index_loads_the_entry_module_and_no_other_script():
    scripts = re.findall(r"<script\b[^>]*>", (FRONTEND / "index.html").read_text())
    assert scripts == ['<script type="module" src="js/main.js">']
    assert (FRONTEND / "js" / "main.js") in MODULES


def test_index_asks_for_the_whole_module_graph_and_config_at_once():
    """On a slow network each import level costs a round trip: index.html preloads every module the
    entry module reaches (a new one missing here still loads, a round trip later) and config.json."""
    html = (FRONTEND / "index.html").read_text()
    listed = re.findall(r'<link rel="modulepreload" href="([^"]+)">', html)
    assert len(listed) == len(set(listed)), "a module preloaded twice"
    preloaded = {FRONTEND / href for href in listed}
    reached, todo = set(), [(FRONTEND / "js" / "main.js").resolve()]
    while todo:
        module = todo.pop()
        for source, _ in imports_of(module):
            if source not in reached:
                reached.add(source)
                todo.append(source)
    assert sorted(m.name for m in reached - preloaded) == [], "add a <link rel=modulepreload> to index.html"
    assert sorted(m.name for m in preloaded if not m.is_file()) == []
    assert '<link rel="preload" href="config.json" as="fetch" crossorigin>' in html


def test_every_import_is_an_export_of_a_module_that_exists():
    for module in MODULES:
        for source, names in imports_of(module):
            assert source.is_file(), f"{module.name} imports {source}, which is not there"
            missing = set(names) - exports_of(source)
            assert not missing, f"{module.name} imports {sorted(missing)} from {source.name}, which does not export it"


def test_every_export_is_used_by_another_module():
    used = {(source, name) for module in MODULES for source, names in imports_of(module) for name in names}
    unused = [f"{m.name}: {name}" for m in MODULES for name in sorted(exports_of(m)) if (m.resolve(), name) not in used]
    assert not unused


def test_the_vendored_code_is_imported_from_the_vendored_files():
    """Relative to the importing module: a module moved to another folder must move its path too."""
    found = [(m, source) for m in MODULES for source in DYNAMIC_IMPORT.findall(m.read_text())]
    assert sorted((m.name, (m.parent / source).resolve()) for m, source in found) == [
        ("lightbox.js", (FRONTEND / "vendor" / "photoswipe-lightbox.esm.min.js").resolve()),
        ("lightbox.js", (FRONTEND / "vendor" / "photoswipe.esm.min.js").resolve()),
        ("picture.js", (FRONTEND / "vendor" / "thumbhash.js").resolve()),
    ]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.name)
def test_the_devserver_serves_each_module_as_javascript(module):
    from devserver.app import create_app

    served = create_app().test_client().get("/" + module.relative_to(FRONTEND).as_posix())
    assert served.status_code == 200 and served.data == module.read_bytes()
    assert served.mimetype in ("text/javascript", "application/javascript")
