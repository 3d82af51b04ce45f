"""The grid and layer data ship inside the built wheel and load from there."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_ships_the_schemas_and_loads_them(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
    )
    (wheel,) = tmp_path.glob("ospack-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "ospack/schemas/tms/OSBritishNationalGrid.json" in names
    assert "ospack/schemas/tms/WebMercatorQuad.json" in names
    assert "ospack/schemas/layers.json" in names
    unpacked = tmp_path / "unpacked"
    zipfile.ZipFile(wheel).extractall(unpacked)
    probe = (
        "import ospack, ospack.resources as r, ospack.layers as l;"
        "print(ospack.__file__); print(r.schemas_dir()); print(len(l.list_layers()))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, "PYTHONPATH": str(unpacked)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert out[0].startswith(str(unpacked))
    assert out[1] == str(unpacked / "ospack" / "schemas")
    assert out[2] == "7"
