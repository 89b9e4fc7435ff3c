"""Render an Excel export to PNG pictures, to look at it as a person would (run by hand).

::

    python scripts/render_xlsx.py OUT_DIR [--records N] [--xlsx FILE]

Without ``--xlsx`` it first writes ``OUT_DIR/ims.xlsx`` from simulator data (``N`` records in
each of ``b2b`` and ``b2bcn``, 240 by default, and a few amended invoices). Then LibreOffice
(headless) prints the workbook to ``OUT_DIR/ims.pdf`` with the workbook's own print setup
(landscape, one page wide, header rows repeated), and ``pdftoppm`` turns the first pages into
``OUT_DIR/ims-<page>.png``. It prints the number of PDF pages (printed pages are a check of
the print setup) and the PNG paths.

Needs ``soffice`` (LibreOffice Calc) and ``pdftoppm`` (poppler), for example
``apt-get install libreoffice-calc poppler-utils fonts-dejavu``. Not run in CI.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from flynn_async import export
from flynn_async.ims._decoding import structure_invoices
from flynn_async.testing import _data

GSTIN = "24AAAPI3182M002"


def write_sample(path: Path, records: int) -> None:
    """A workbook from simulator data: b2b and b2bcn with ``records`` each, a few b2ba."""
    data = {
        "b2b": _data.ims_records(7, GSTIN, "b2b", records),
        "b2ba": _data.ims_records(7, GSTIN, "b2ba", 12),
        "b2bcn": _data.ims_records(7, GSTIN, "b2bcn", records),
    }
    info = {
        "GSTIN": GSTIN,
        "Sections": "B2B, B2BA, B2BCN",
        "Status": "all",
        "Downloaded": "2026-12-06 12:40 +0530",
    }
    export.write_xlsx(structure_invoices(data), path, info=info)


def render(xlsx: Path, out_dir: Path, pages: int) -> list[Path]:
    """``xlsx`` to a PDF (LibreOffice) to PNGs of the first ``pages`` pages (pdftoppm)."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    pdftoppm = shutil.which("pdftoppm")
    if soffice is None or pdftoppm is None:
        sys.exit("needs soffice (LibreOffice Calc) and pdftoppm (poppler-utils) on the PATH")
    with tempfile.TemporaryDirectory() as profile:  # a private LibreOffice profile
        subprocess.run(
            [
                soffice,
                f"-env:UserInstallation=file://{profile}",
                "--headless",
                "--convert-to",
                "pdf",
                "--outdir",
                str(out_dir),
                str(xlsx),
            ],
            check=True,
            timeout=300,
        )
    pdf = out_dir / f"{xlsx.stem}.pdf"
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=False)
    found = re.search(r"^Pages:\s+(\d+)", info.stdout, re.M)
    print(f"{pdf}: {found.group(1) if found else '?'} pages")
    prefix = out_dir / xlsx.stem
    subprocess.run(
        [pdftoppm, "-png", "-r", "110", "-f", "1", "-l", str(pages), str(pdf), str(prefix)],
        check=True,
        timeout=300,
    )
    return sorted(out_dir.glob(f"{xlsx.stem}-*.png"))


def main() -> None:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--records", type=int, default=240)
    parser.add_argument("--xlsx", type=Path, help="render this workbook instead of a sample")
    parser.add_argument("--pages", type=int, default=4, help="pages to turn into PNG")
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    xlsx = args.xlsx
    if xlsx is None:
        xlsx = args.out_dir / "ims.xlsx"
        write_sample(xlsx, args.records)
    for png in render(xlsx, args.out_dir, args.pages):
        print(png)


if __name__ == "__main__":
    main()
