-- ospack's own bookkeeping, in both GeoPackage and MBTiles outputs (not part of either standard):
-- the job the file holds, whether it is complete, and tiles the API said do not exist (XYZ rows, so a
-- resume skips them). Rows are ordered (row, column) to match the packager's merge-join.
CREATE TABLE ospack_state (name TEXT NOT NULL PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE ospack_absent (
  layer TEXT NOT NULL,
  zoom_level INTEGER NOT NULL,
  tile_row INTEGER NOT NULL,
  tile_column INTEGER NOT NULL,
  PRIMARY KEY (layer, zoom_level, tile_row, tile_column)
);
