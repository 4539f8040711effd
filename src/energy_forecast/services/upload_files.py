"""Uploaded import files laid out as the directory ``energy-forecast import --data-dir`` reads.

The bulk HTTP import writes what it received (CSV files, or the CSV members of a zip) into a
private temporary directory and hands that to the same ingestion entry point as the CLI, so both
accept exactly the same files. Names are reduced to their last component (``initial_datasets/`` is
kept for the seed layout): nothing an upload names can land outside the directory.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from energy_forecast.errors import InputDataError

SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
SEED_DIR = "initial_datasets"
# What a zip may expand to: a ratio bomb is refused before it fills the disk.
MAX_UNPACKED_BYTES = 2 * 1024 * 1024 * 1024
CHUNK = 1024 * 1024


@dataclass
class UploadedFiles:
    """Where the files went, how many bytes they hold, and what was not a CSV file (ignored)."""

    directory: Path
    names: list[str] = field(default_factory=list)
    total_bytes: int = 0
    ignored: list[str] = field(default_factory=list)

    def target(self, name: str) -> Path | None:
        """The path for an uploaded file name, None for a non-CSV (ignored); refuses duplicates."""
        parts = [p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in {"", ".", ".."}]
        if not parts or not parts[-1].lower().endswith(".csv") or parts[-1].startswith("."):
            self.ignored.append(name)
            return None
        base = parts[-1]
        if not SAFE_NAME.fullmatch(base):
            raise InputDataError(
                f"file name {base!r} is not a plain name; use letters, digits, '.', '_' or '-'", source=name
            )
        relative = f"{SEED_DIR}/{base}" if SEED_DIR in parts[:-1] else base
        if relative in self.names:
            raise InputDataError(f"{relative} was sent twice; send each file once", source=name)
        self.names.append(relative)
        path = self.directory / relative
        path.parent.mkdir(mode=0o700, exist_ok=True)
        return path

    def add(self, name: str, stream: BinaryIO) -> None:
        """Store one uploaded file (a zip is unpacked); ``stream`` is read in chunks."""
        if name.lower().endswith(".zip"):
            self.add_zip(name, stream)
            return
        path = self.target(name)
        if path is None:
            return
        with path.open("wb") as out:
            while chunk := stream.read(CHUNK):
                out.write(chunk)
                self.total_bytes += len(chunk)

    def add_zip(self, name: str, stream: BinaryIO) -> None:
        try:
            archive = zipfile.ZipFile(stream)
        except (zipfile.BadZipFile, OSError):
            raise InputDataError("not a readable zip archive", source=name) from None
        with archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            if sum(m.file_size for m in members) > MAX_UNPACKED_BYTES:
                raise InputDataError(
                    f"the archive expands past {MAX_UNPACKED_BYTES} bytes; send the files in parts",
                    source=name,
                )
            for member in members:
                path = self.target(member.filename)
                if path is None:
                    continue
                try:
                    with archive.open(member) as src, path.open("wb") as out:
                        while chunk := src.read(CHUNK):
                            out.write(chunk)
                            self.total_bytes += len(chunk)
                except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as exc:
                    raise InputDataError(f"cannot unpack {member.filename}: {exc}", source=name) from None

    def require_some(self) -> None:
        if not self.names:
            ignored = f" (ignored: {', '.join(self.ignored[:10])})" if self.ignored else ""
            raise InputDataError(
                "no CSV file in the upload: send meters.csv, electricity.csv, water.csv, temperature.csv "
                f"(multipart files or a zip of them){ignored}"
            )
