"""Detection census: what `detect` calls each file of a corpus, and what changed since last time.

    .venv/bin/python bench/detect_census.py [--dataset PATH] [--save census.json]
                                            [--compare census.json]

Walks every file under the dataset (default ../shared/datasets/mixed_formats, skipped with a
message when absent), runs `detect` only (no extraction), prints how many files got each format
("+encrypted" when flagged, "error:<code>" when refused), and with --compare lists every file
whose answer differs from a census saved earlier (say, with the previous commit checked out).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from docflow.pipeline import detect  # noqa: E402
from docflow.pipeline.errors import DocumentError  # noqa: E402

DEFAULT_DATASET = REPO.parent / "shared" / "datasets" / "mixed_formats"


def census(root: Path) -> dict[str, str]:
    answers = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        try:
            found = detect(path.read_bytes(), path.name)
            answer = found.format + ("+encrypted" if found.encrypted else "")
        except DocumentError as error:
            answer = f"error:{error.code}"
        answers[str(path.relative_to(root))] = answer
    return answers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--save", type=Path)
    parser.add_argument("--compare", type=Path)
    args = parser.parse_args()
    if not args.dataset.is_dir():
        print(f"{args.dataset} is absent; nothing to count.")
        return 0
    answers = census(args.dataset)
    for answer, count in Counter(answers.values()).most_common():
        print(f"{count:6d}  {answer}")
    print(f"{len(answers):6d}  files")
    if args.save:
        args.save.write_text(json.dumps(answers, indent=1, sort_keys=True))
    if args.compare:
        earlier = json.loads(args.compare.read_text())
        changed = [(name, earlier.get(name), now) for name, now in answers.items()
                   if earlier.get(name) != now]
        for name, before, now in changed:
            print(f"changed: {name}: {before} -> {now}")
        print(f"{len(changed)} of {len(answers)} files changed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
