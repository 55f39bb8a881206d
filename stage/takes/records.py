"""A take's analysis: one NumPy ``.npy`` file per player, appended row by row.

Why ``.npy``: it is appendable (fixed-size records after a header), a torn last record is
found by the file's size alone (it is not a whole record) and dropped, and it is read
without stage by ``numpy.load`` (in one line, or memory-mapped) and by the NPY readers of
other languages; 52 bytes a row against ~80 for CSV, and no text formatting in the writer
thread (1500 rows a second for 8 players at 48 kHz, hop 256). The header's shape is
rewritten in place at every sync (NumPy pads the header so the count can grow without
moving the data), so ``numpy.load`` reads a file being written at any moment: it sees the
rows up to the last sync.

Columns (``ANALYSIS_DTYPE``, little-endian, packed)::

    t_capture   f8   capture time of the hop's last sample, seconds of CLOCK_MONOTONIC_RAW
                     (the take's start is manifest["start"]["monotonic_raw"])
    film_s      f8   the film's position then, seconds from the film's first frame
    frame       i8   the film frame showing then (index from the file's first frame)
    timecode    S11  that frame's label in the film's timecode ("01:00:02:12", ";" drop-frame)
    loop_pass   i4   which pass of the loop (1 the first of the take)
    f0_hz       f4   pitch, 0 for none
    confidence  f4   0-1
    level_db    f4   dBFS after the player's gain
    onset       u1   1 where an onset was found

To CSV without stage::

    import numpy as np
    a = np.load("analysis/Trumpet.npy")
    np.savetxt("Trumpet.csv", a, fmt="%.6f,%.6f,%d,%s,%d,%.3f,%.4f,%.2f,%d",
               header=",".join(a.dtype.names), comments="")
"""

from __future__ import annotations

import io
import os

import numpy as np
from numpy.lib import format as npformat

ANALYSIS_DTYPE = np.dtype([
    ("t_capture", "<f8"), ("film_s", "<f8"), ("frame", "<i8"), ("timecode", "S11"), ("loop_pass", "<i4"),
    ("f0_hz", "<f4"), ("confidence", "<f4"), ("level_db", "<f4"), ("onset", "u1"),
])


class RecordFormatError(ValueError):
    """A file that is not an appendable .npy of records."""


def analysis_rows(n: int) -> np.ndarray:
    """``n`` zeroed rows to fill and hand to ``TakeFiles.write_analysis``."""
    return np.zeros(n, ANALYSIS_DTYPE)


def header(dtype: np.dtype, rows: int) -> bytes:
    """An NPY 1.0 header for ``rows`` records; its length does not depend on ``rows`` (NumPy
    leaves room for the count to grow to 21 digits), so it can be rewritten in place."""
    b = io.BytesIO()
    npformat.write_array_header_1_0(b, {"descr": npformat.dtype_to_descr(np.dtype(dtype)),
                                        "fortran_order": False, "shape": (int(rows),)})
    return b.getvalue()


def as_rows(rows, dtype: np.dtype = ANALYSIS_DTYPE) -> np.ndarray:
    """Rows as a contiguous array of ``dtype``: an array of it, a structured array with its
    field names (in any order, any compatible types), or a sequence of tuples in its order."""
    if isinstance(rows, np.ndarray) and rows.dtype == dtype:
        return np.ascontiguousarray(rows.reshape(-1))
    if isinstance(rows, np.ndarray) and rows.dtype.names:
        missing = [n for n in dtype.names if n not in rows.dtype.names]
        if missing:
            raise ValueError(f"analysis rows lack the fields {missing} (need {list(dtype.names)})")
        out = np.empty(rows.size, dtype)
        flat = rows.reshape(-1)
        for n in dtype.names:
            out[n] = flat[n]
        return out
    return np.array([tuple(r) for r in rows], dtype=dtype)


def read_info(path) -> tuple[np.dtype, int, int, int]:
    """(dtype, rows the header says, data offset, whole rows on disk)."""
    with open(path, "rb") as f:
        try:
            version = npformat.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = npformat.read_array_header_1_0(f)
            else:
                shape, fortran, dtype = npformat.read_array_header_2_0(f)
        except ValueError as e:
            raise RecordFormatError(f"{path}: not a .npy file ({e})") from None
        offset = f.tell()
        size = os.fstat(f.fileno()).st_size
    if len(shape) != 1 or fortran:
        raise RecordFormatError(f"{path}: shape {shape}: not a file of records")
    return dtype, shape[0], offset, (size - offset) // dtype.itemsize


def repair(path) -> list[str]:
    """Drop a torn last record and make the header count the whole records on disk."""
    name = os.path.join(os.path.basename(os.path.dirname(path)), os.path.basename(path))
    dtype, said, offset, rows = read_info(path)
    done = []
    size = os.path.getsize(path)
    torn = (size - offset) - rows * dtype.itemsize
    with open(path, "r+b") as f:
        if torn:
            f.truncate(offset + rows * dtype.itemsize)
            done.append(f"{name}: dropped a torn last record ({torn} of {dtype.itemsize} bytes)")
        if said != rows:
            new = header(dtype, rows)
            if len(new) != offset:
                raise RecordFormatError(f"{path}: header of {offset} bytes, cannot rewrite it in place")
            f.seek(0)
            f.write(new)
            done.append(f"{name}: the header said {said} rows; {rows} whole rows are on disk; header rewritten")
        if done:
            f.flush()
            os.fsync(f.fileno())
    return done
