"""Digests for pinning outputs (tests/metrics/test_*_pinned.py): floats to 10 significant digits,
so a pin ignores the last bits of sums whose order a CPU's vector width or BLAS may change, and
catches any change a reader could see."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd


def plain(value: object) -> object:
    """``value`` with every float written to 10 significant digits."""
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.10g}"
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f":
            return np.char.mod("%.10g", value).tolist()
        return value.tolist() if value.dtype == object else value
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    return value


def hash_frame(h: hashlib._Hash, frame: pd.DataFrame, list_cells: bool = False) -> None:
    """Add a frame to ``h``: dtypes, column names, values (floats to 10 digits), order and index;
    with ``list_cells``, object columns holding lists are hashed by their plain repr."""
    h.update(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
    frame = frame.copy()
    for col in frame.columns:
        if frame[col].dtype.kind == "f":
            frame[col] = np.char.mod("%.10g", frame[col].to_numpy())
        elif (
            list_cells and frame[col].dtype == object and frame[col].map(lambda v: isinstance(v, list)).any()
        ):
            frame[col] = frame[col].map(lambda v: repr(plain(v)))
    h.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
