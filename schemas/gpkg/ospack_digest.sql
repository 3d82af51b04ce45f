-- ospack's tile digests, in both GeoPackage and MBTiles outputs (not part of either standard; like
-- ospack_state, a plain table that GeoPackage readers ignore): the first 16 bytes of the SHA-256 of each
-- tile's exact stored bytes, keyed like ospack_absent (XYZ rows). `ospack verify` and a resumed `ospack package`
-- compare every tile with it, so a changed pixel, a changed byte or two swapped tiles are found.
-- Separate from the tile tables: their DDL is the formats' own, which readers compare exactly.
CREATE TABLE IF NOT EXISTS ospack_digest (
  layer TEXT NOT NULL,
  zoom_level INTEGER NOT NULL,
  tile_row INTEGER NOT NULL,
  tile_column INTEGER NOT NULL,
  digest BLOB NOT NULL,
  PRIMARY KEY (layer, zoom_level, tile_row, tile_column)
);
