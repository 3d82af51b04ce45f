"""Writer throughput against raw ``sqlite3.executemany`` of the same blobs, measured in one run.

Both sides write the same tiles (distinct ~15 KB PNGs, 256×256) into the same table DDL, with the
same session pragmas (WAL, synchronous=NORMAL) and the same batch size, one transaction per batch.
The writer additionally checks every tile (grid range, PNG/JPEG header and size) and keeps its
bookkeeping. Rounds alternate baseline/writer; medians are printed. Target: writer ≥ 70 % of raw.

    python benchmarks/write.py [--tiles 10000] [--batch 500] [--rounds 3]
"""

from __future__ import annotations

import argparse
import io
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from ospack.resources import read_text
from ospack.types import Tile
from ospack.writers import JobInfo, open_writer
from ospack.writers.base import SqliteTileWriter
from ospack.writers.mbtiles import flip_row

AREA = json.dumps(
    {"type": "Polygon", "coordinates": [[[-4.1, 53.0], [-4.0, 53.0], [-4.0, 53.1], [-4.1, 53.1], [-4.1, 53.0]]]}
)
CASES = {"gpkg": ("Outdoor_27700", 9, (700, 900)), "mbtiles": ("Road_3857", 14, (7990, 5390))}


def blobs(count: int) -> list[bytes]:
    """``count`` distinct, valid 256×256 PNGs of about 15 KB (one render, a counter stamped inside IDAT)."""
    image = Image.new("RGB", (256, 256), (230, 225, 200))  # flat land, plus a band of detail
    image.paste(Image.effect_noise((256, 106), 12).convert("RGB").point(lambda v: v // 16 * 16), (0, 0))
    out = io.BytesIO()
    image.save(out, "PNG")
    base = out.getvalue()
    middle = len(base) // 2
    return [base[:middle] + i.to_bytes(8, "big") + base[middle + 8 :] for i in range(count)]


def tiles(fmt: str, count: int) -> list[Tile]:
    _, z, (x0, y0) = CASES[fmt]
    side = int(count**0.5) + 1
    return [Tile(z, x0 + i % side, y0 + i // side) for i in range(count)]


def raw(path: Path, fmt: str, keys: list[Tile], data: list[bytes], batch: int) -> float:
    """The floor: executemany of prepared rows, nothing else, in the journal mode the writer writes in."""
    conn = SqliteTileWriter.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")  # connect() opens as the file is; a writing session is WAL
    conn.execute("PRAGMA synchronous=NORMAL")
    if fmt == "gpkg":
        conn.execute(read_text("gpkg/tile_table.sql").format(table="t"))
        sql = "INSERT INTO t (zoom_level, tile_column, tile_row, tile_data) VALUES (?, ?, ?, ?)"
        rows = [(z, x, y, d) for (z, x, y), d in zip(keys, data, strict=True)]
    else:
        conn.executescript(read_text("mbtiles/plain.sql"))
        sql = "INSERT INTO tiles (zoom_level, tile_column, tile_row, tile_data) VALUES (?, ?, ?, ?)"
        rows = [(z, x, flip_row(z, y), d) for (z, x, y), d in zip(keys, data, strict=True)]
    start = time.perf_counter()
    for i in range(0, len(rows), batch):
        conn.execute("BEGIN")
        conn.executemany(sql, rows[i : i + batch])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return len(rows) / elapsed


def writer(path: Path, fmt: str, keys: list[Tile], data: list[bytes], batch: int) -> float:
    layer, z, _ = CASES[fmt]
    job = JobInfo((layer,), (z,), AREA, "https://api.os.uk/maps/raster/v1/zxy", "2026-11-30T00:00:00Z")
    pairs = list(zip(keys, data, strict=True))
    with open_writer(path, job) as out:
        start = time.perf_counter()
        for i in range(0, len(pairs), batch):
            out.write(layer, pairs[i : i + batch])
        elapsed = time.perf_counter() - start
        assert out.tile_counts(layer) == {z: len(pairs)}
    return len(pairs) / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    data = blobs(args.tiles)
    print(
        f"{args.tiles} tiles of {len(data[0]):,} bytes, batches of {args.batch}, {args.rounds} rounds, "
        f"SQLite {sqlite3.sqlite_version}"
    )
    worst = 1.0
    for fmt in CASES:
        keys = tiles(fmt, args.tiles)
        rates: dict[str, list[float]] = {"raw": [], "writer": []}
        with tempfile.TemporaryDirectory() as tmp:
            for round_ in range(args.rounds):
                for name, run in (("raw", raw), ("writer", writer)):
                    path = Path(tmp) / f"{name}{round_}.{fmt}"
                    rates[name].append(run(path, fmt, keys, data, args.batch))
                    for side in Path(tmp).glob(f"{name}{round_}.{fmt}*"):
                        side.unlink()
        raw_rate, writer_rate = (statistics.median(rates[k]) for k in ("raw", "writer"))
        ratio = writer_rate / raw_rate
        worst = min(worst, ratio)
        mb = len(data[0]) / 1e6
        print(
            f"{fmt:8} raw executemany {raw_rate:9,.0f} rows/s ({raw_rate * mb:5.0f} MB/s)   "
            f"writer {writer_rate:9,.0f} rows/s ({writer_rate * mb:5.0f} MB/s)   writer/raw {ratio:6.1%}  "
            f"(rounds raw {[round(r) for r in rates['raw']]}, writer {[round(r) for r in rates['writer']]})"
        )
    print(f"target writer/raw >= 70 %: {'met' if worst >= 0.7 else 'NOT met'} (worst {worst:.1%})")
    return 0 if worst >= 0.7 else 1


if __name__ == "__main__":
    sys.exit(main())
