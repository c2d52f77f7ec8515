from __future__ import annotations

import pytest

from imagehost.resolvers.filenames import clean_filename


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("cat.png", "cat.png"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\shot.png", "shot.png"),
        ("evil\x07\x1b[31mname.png", "evil[31mname.png"),
        ("right\u202eto-left.png", "rightto-left.png"),
        ("  spaced \t out .png ", "spaced out .png"),
        ("", "image.png"),
        (None, "image.png"),
        ("..", "image.png"),
        ("dir/", "image.png"),
        ("Grüße 写真.png", "Grüße 写真.png"),
    ],
)
def test_clean_filename(raw: str | None, expected: str) -> None:
    assert clean_filename(raw, "png") == expected


def test_long_names_keep_their_extension() -> None:
    cleaned = clean_filename("x" * 400 + ".jpeg", "jpg")
    assert len(cleaned) == 255 and cleaned.endswith(".jpeg")
