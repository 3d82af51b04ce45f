"""``import ospack`` stays light: the heavy dependencies load only when a function needs them.

Each check runs in a fresh interpreter, since this test process has long imported everything.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: what ``import ospack`` must not pull in (the geometry stack, the HTTP clients, the imaging library)
HEAVY = {"numpy", "shapely", "pyproj", "morecantile", "pydantic", "httpx", "aiohttp", "PIL", "click"}


def _python(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)


def test_import_ospack_imports_none_of_the_heavy_dependencies():
    timed = _python("-X", "importtime", "-c", "import ospack")
    imported = {
        line.rsplit("|", 1)[-1].strip().split(".")[0]
        for line in timed.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "ospack" in imported, timed.stderr[-2000:]  # the measurement saw the import itself
    assert not imported & HEAVY, sorted(imported & HEAVY)


def test_after_import_ospack_no_heavy_module_is_loaded():
    code = "import sys, ospack; print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    loaded = set(_python("-c", code).stdout.split())
    assert not loaded & HEAVY, sorted(loaded & HEAVY)


def test_a_heavy_name_loads_its_module_on_first_use():
    code = "import sys, ospack; ospack.read_area; print('shapely' in sys.modules)"
    assert _python("-c", code).stdout.strip() == "True"


def test_functions_named_like_their_module_stay_functions_when_the_module_is_imported_first():
    # a fresh interpreter: importing the submodule first is what would bind the module over the function
    code = (
        "import types, ospack.cover, ospack.estimate, ospack\n"
        "from ospack import cover\n"
        "import ospack.cover as aliased\n"
        "for value in (ospack.cover, ospack.count, ospack.estimate, cover, aliased):\n"
        "    assert callable(value) and not isinstance(value, types.ModuleType), value\n"
        "import sys\n"
        "assert isinstance(sys.modules['ospack.cover'], types.ModuleType)\n"
        "print('ok')"
    )
    assert _python("-c", code).stdout.strip() == "ok"
