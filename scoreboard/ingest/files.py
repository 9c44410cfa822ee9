"""Reading CRM export files: CSV (any common encoding and delimiter) and XLSX (first sheet).

:func:`read_table` returns the header and the rows as dicts; row numbers are the spreadsheet's
(the header is row 1, so the first record is row 2), which is what a person looks up in Excel.
XLSX is read with python-calamine (Rust's calamine: fast, maintained, no formulas evaluated).
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_COLUMNS = 500


class FileProblem(ValueError):
    """The file cannot be read as a table (not CSV/XLSX, no header, undecodable)."""


@dataclass
class Table:
    columns: list[str]
    rows: list[dict[str, Any]]
    numbers: list[int]  # the spreadsheet row number of each row (blank rows are left out)


def sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_table(path: str | Path) -> Table:
    """The first table of ``path`` (``.csv``/``.txt`` or ``.xlsx``/``.xlsm``/``.xls``/``.ods``)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".xls", ".ods"):
        return _read_spreadsheet(path)
    data = path.read_bytes()
    if data[:4] == b"PK\x03\x04":
        return _read_spreadsheet(path)
    return read_csv_bytes(data)


def read_csv_bytes(data: bytes) -> Table:
    """A CSV export: UTF-8 (with or without BOM), UTF-16 (Excel's "Unicode text") or Windows-1252;
    comma, semicolon or tab separated."""
    if b"\x00" in data[:4096] and data[:2] not in (b"\xff\xfe", b"\xfe\xff"):
        raise FileProblem("this is not a CSV file (binary content)")
    for encoding in (
        ("utf-16", "utf-8-sig", "cp1252")
        if data[:2] in (b"\xff\xfe", b"\xfe\xff")
        else ("utf-8-sig", "cp1252")
    ):
        try:
            content = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - cp1252 decodes almost anything; kept for clarity
        raise FileProblem("cannot decode the file (save it as UTF-8 CSV)")
    if "\x00" in content:
        raise FileProblem("the file contains NUL bytes")
    sample = content[:65536]
    try:
        delimiter = csv.Sniffer().sniff(sample.split("\n", 1)[0], delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise FileProblem("the file is empty") from None
    return _table(header, reader)


def _read_spreadsheet(path: Path) -> Table:
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_path(str(path))
        rows = workbook.get_sheet_by_index(0).to_python(skip_empty_area=True)
    except Exception as exc:  # noqa: BLE001 - calamine raises its own error types for bad files
        raise FileProblem(f"cannot read the spreadsheet: {exc}") from None
    if not rows:
        raise FileProblem("the first sheet is empty")
    header = ["" if c is None else str(c) for c in rows[0]]
    return _table(header, iter(rows[1:]))


def _table(header: list[Any], rows: Any) -> Table:
    columns = [str(c).strip() for c in header]
    if not any(columns):
        raise FileProblem("the first row must hold the column names")
    if len(columns) > MAX_COLUMNS:
        raise FileProblem(f"{len(columns)} columns (at most {MAX_COLUMNS})")
    out, numbers = [], []
    width = len(columns)
    for index, row in enumerate(rows):
        cells = list(row)
        if not any(c not in (None, "") for c in cells):
            continue
        cells = (cells + [None] * width)[:width]
        out.append(dict(zip(columns, cells, strict=True)))
        numbers.append(index + 2)
    return Table(columns, out, numbers)
