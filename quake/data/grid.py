"""The spatial grid: the paper's equirectangular projection and square cells.

The Japan protocol (PROTOCOL.md) projects latitude/longitude around an origin
(27.0 N, 127.0 E) with R = 6373 km::

    x = (lon - lon0) * pi/180 * R * cos(lat * pi/180)
    y = (lat - lat0) * pi/180 * R

and cuts [0, 2000) x [0, 2500) km into 200 x 250 cells of 10 x 10 km. Cells are
numbered row-major from the south-west corner: ``cell = iy * nx + ix``; dense
maps have shape ``(ny, nx)`` with row 0 in the south.

Longitudes are wrapped about the origin: ``lon - lon0`` is taken in [-180, 180), so
179.5 and -179.5 are 1 degree apart and a grid across the date line (Tonga, Fiji) is as
compact as anywhere else, whichever way the catalog writes its longitudes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

EARTH_RADIUS_KM = 6373.0
_DEG = np.pi / 180.0


@dataclass(frozen=True)
class Grid:
    """A regular grid of square cells in the paper's projection.

    Attributes:
        lat0, lon0: projection origin (degrees).
        cell_km: cell side (km).
        nx, ny: number of cells along x (east) and y (north).
        x0_km, y0_km: projected coordinates of the grid's south-west corner (km).
        radius_km: Earth radius used by the projection (km).
    """

    lat0: float = 27.0
    lon0: float = 127.0
    cell_km: float = 10.0
    nx: int = 200
    ny: int = 250
    x0_km: float = 0.0
    y0_km: float = 0.0
    radius_km: float = EARTH_RADIUS_KM

    @property
    def shape(self) -> tuple[int, int]:
        """Dense map shape ``(ny, nx)``."""
        return (self.ny, self.nx)

    @property
    def n_cells(self) -> int:
        return self.nx * self.ny

    def project(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Degrees -> projected ``(x_km, y_km)``; longitudes wrapped about ``lon0``."""
        lat = np.asarray(lat, dtype=np.float64)
        lon = np.asarray(lon, dtype=np.float64)
        x = wrap_lon(lon - self.lon0) * _DEG * self.radius_km * np.cos(lat * _DEG)
        y = (lat - self.lat0) * _DEG * self.radius_km
        return x, y

    def unproject(self, x_km: np.ndarray, y_km: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Projected ``(x_km, y_km)`` -> ``(lat, lon)`` in degrees.

        Longitudes run on from ``lon0`` without a jump at the date line (a cell east of
        180 E has a longitude above 180), so a cell's polygon never spans the globe.
        """
        lat = self.lat0 + np.asarray(y_km, dtype=np.float64) / (_DEG * self.radius_km)
        lon = self.lon0 + np.asarray(x_km, dtype=np.float64) / (
            _DEG * self.radius_km * np.cos(lat * _DEG)
        )
        return lat, lon

    def cell_index(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Cell number of each point, or -1 for points outside the grid. Shape of ``lat``."""
        x, y = self.project(lat, lon)
        ix = np.floor((x - self.x0_km) / self.cell_km)
        iy = np.floor((y - self.y0_km) / self.cell_km)
        inside = (ix >= 0) & (ix < self.nx) & (iy >= 0) & (iy < self.ny)
        cell = np.full(ix.shape, -1, dtype=np.int64)
        cell[inside] = iy[inside].astype(np.int64) * self.nx + ix[inside].astype(np.int64)
        return cell

    def cell_centers(self) -> tuple[np.ndarray, np.ndarray]:
        """``(lat, lon)`` of every cell centre, each of shape ``(ny, nx)``."""
        xs = self.x0_km + (np.arange(self.nx) + 0.5) * self.cell_km
        ys = self.y0_km + (np.arange(self.ny) + 0.5) * self.cell_km
        xx, yy = np.meshgrid(xs, ys)
        return self.unproject(xx, yy)

    def cell_corners(self, cells: np.ndarray) -> np.ndarray:
        """Lon/lat polygon of each cell: shape ``(len(cells), 4, 2)``, counter-clockwise."""
        cells = np.asarray(cells, dtype=np.int64)
        iy, ix = np.divmod(cells, self.nx)
        x = self.x0_km + ix[:, None] * self.cell_km + np.array([0, 1, 1, 0]) * self.cell_km
        y = self.y0_km + iy[:, None] * self.cell_km + np.array([0, 0, 1, 1]) * self.cell_km
        lat, lon = self.unproject(x, y)
        return np.stack([lon, lat], axis=-1)

    def coarsen(self, factor: int) -> Grid:
        """The grid with cells ``factor`` times larger (partial edge cells are kept)."""
        if factor < 1:
            raise ValueError("coarsening factor must be >= 1")
        return Grid(
            lat0=self.lat0,
            lon0=self.lon0,
            cell_km=self.cell_km * factor,
            nx=-(-self.nx // factor),
            ny=-(-self.ny // factor),
            x0_km=self.x0_km,
            y0_km=self.y0_km,
            radius_km=self.radius_km,
        )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Grid:
        return cls(**d)

    @classmethod
    def for_bounds(
        cls,
        lat_min: float,
        lat_max: float,
        lon_min: float,
        lon_max: float,
        cell_km: float = 10.0,
    ) -> Grid:
        """A grid covering a lat/lon box, projected about its south-west corner.

        The box runs east from ``lon_min`` to ``lon_max`` (which may exceed 180 for a box
        across the date line: 179 .. 181). A box wider than 180 degrees is projected about
        its middle meridian instead, where the wrapped longitudes stay continuous.
        """
        lon0 = float(lon_min)
        if lon_max - lon_min > 180.0:
            lon0 = float(wrap_lon((lon_min + lon_max) / 2.0))
        grid = cls(lat0=float(lat_min), lon0=lon0, cell_km=cell_km, nx=1, ny=1)
        lats = np.linspace(lat_min, lat_max, 64)
        if lat_min < 0.0 < lat_max:  # the box is widest at the equator
            lats = np.append(lats, 0.0)
        lons = np.linspace(lon_min, lon_max, 64)
        la, lo = np.meshgrid(lats, lons)
        x, y = grid.project(la, lo)
        x0 = np.floor(x.min() / cell_km) * cell_km
        y0 = np.floor(y.min() / cell_km) * cell_km
        nx = max(1, int(np.floor((x.max() - x0) / cell_km)) + 1)
        ny = max(1, int(np.floor((y.max() - y0) / cell_km)) + 1)
        return cls(
            lat0=float(lat_min),
            lon0=lon0,
            cell_km=cell_km,
            nx=nx,
            ny=ny,
            x0_km=float(x0),
            y0_km=float(y0),
        )


def wrap_lon(dlon: np.ndarray | float) -> np.ndarray:
    """Longitude differences (degrees) wrapped into [-180, 180).

    Values already in range are returned bit for bit (the Japan grid's cells do not move
    by a rounding error); only the others are wrapped.
    """
    d = np.asarray(dlon, dtype=np.float64)
    out = (d < -180.0) | (d >= 180.0)
    return np.where(out, np.mod(d + 180.0, 360.0) - 180.0, d)


def compact_lon_range(lon: np.ndarray) -> tuple[float, float]:
    """``(west, east)`` of longitudes as the narrower of two branches.

    Either [-180, 180) or [0, 360): a catalog across the date line (179.5 and -179.5)
    spans 1 degree in the second and 359 in the first. ``east`` may exceed 180; ``west``
    is in [-180, 180). Input in degrees, any branch.
    """
    lon = np.asarray(lon, dtype=np.float64)
    a = wrap_lon(lon)  # [-180, 180)
    b = np.mod(a, 360.0)  # [0, 360)
    west, east = float(a.min()), float(a.max())
    if float(b.max() - b.min()) < east - west:
        # The ends are the events' own longitudes (a[i] in [-180, 180)), never b - 360:
        # that is off by a rounding error, and the westernmost event fell off the grid.
        i, j = int(b.argmin()), int(b.argmax())
        west = float(a[i])
        east = float(a[j]) if a[j] >= west else float(a[j]) + 360.0
    return west, east


JAPAN_GRID = Grid()
"""The paper's grid of the Japan protocol: 200 x 250 cells of 10 km."""
