"""bench/fuzz.py's harness, run without atheris: what it calls a finding, and a quiet reader."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from bench import fuzz


def mutations(seed: bytes, count: int) -> list[bytes]:
    """Byte flips, inserts and cuts of the seed, the same ones on every run."""
    rng = random.Random(11)
    inputs = []
    for _ in range(count):
        data = bytearray(seed)
        for _ in range(rng.randint(1, 8)):
            at = rng.randrange(len(data) + 1)
            choice = rng.random()
            if choice < 0.4 and at < len(data):
                data[at] = rng.randrange(256)
            elif choice < 0.7:
                data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
            else:
                del data[at:at + rng.randint(1, 16)]
        inputs.append(bytes(data))
    return inputs


@pytest.mark.parametrize("reader", ["html", "tar"])
def test_200_mutated_inputs_give_only_document_errors(reader: str) -> None:
    one_input = fuzz.make_harness(reader)
    seed = fuzz.generated_seeds(reader)[0][1]
    findings = [f for data in [seed, *mutations(seed, 200)] if (f := one_input(data))]
    assert findings == []


def test_an_exception_that_is_no_document_error_is_saved_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(data: bytes, detected: object, limits: object) -> object:
        raise KeyError("xref")

    monkeypatch.setattr("docflow.pipeline.extract", broken)
    finding = fuzz.make_harness("pdf")(b"%PDF-1.4 junk")
    assert finding is not None and finding.key.startswith("KeyError@test_fuzz.py:")
    saved = fuzz.save_finding(finding, tmp_path / "pdf")
    assert saved is not None and saved.read_bytes() == b"%PDF-1.4 junk"
    assert "KeyError" in saved.with_suffix(".txt").read_text()
    assert fuzz.save_finding(finding, tmp_path / "pdf") is None  # one input per key
