"""The batch's first look at a CSV: Arrow's UTF-8 check agrees with Python's decoder wherever a block ends."""

from __future__ import annotations

import random

import pytest

from siting.batch import files

ALPHABET = ["a", "\n", '"', "é", "中", "😀", "\u0800", ","]


def _samples(count: int) -> list[bytes]:
    rng = random.Random(20261206)
    samples = []
    for _ in range(count):
        text = bytearray("".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 40))).encode())
        if text and rng.random() < 0.4:  # a stray byte: continuation, lead without its tail, or never UTF-8
            text[rng.randrange(len(text))] = rng.choice([0x80, 0xC3, 0xE4, 0xF0, 0xFF])
        if text and rng.random() < 0.2:  # cut inside the last character
            text = text[:-1]
        samples.append(bytes(text))
    return samples


@pytest.mark.parametrize("block", [1, 2, 3, 7, 1 << 20])
def test_utf8_scan_agrees_with_the_decoder_at_every_block_size(tmp_path, monkeypatch, block):
    monkeypatch.setattr(files, "_BLOCK", block)
    path = tmp_path / "sites.csv"
    invalid = 0
    for text in _samples(1500):
        path.write_bytes(text)
        try:
            text.decode("utf-8")
        except UnicodeDecodeError:
            invalid += 1
            assert files._scan_utf8(path) is None, text
            assert files._scan(path, "utf-8")[2] is not None, text  # the decoder still says where
        else:
            assert files._scan_utf8(path) == (text.count(b"\n"), b'"' in text, None), text
    assert 300 < invalid < 1200  # both kinds were tried
