"""Build jieba's user dictionary for the Rasa tokenizer from the product catalog.

Brands, category names and their synonyms become single tokens ("雅诗兰黛", "纸尿裤"), so
the NLU sees them whole instead of jieba's default segmentation. Written by ``make`` to
``var/jieba/catalog.txt`` (the ``dictionary_path`` in config.yml).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Iterable

from personalization.catalog_data import BRANDS, CATEGORIES, PRODUCT_LINES

_HAS_CJK = re.compile(r"[\u4e00-\u9fff]")
# Frequency high enough that jieba keeps the word whole; tag nz = proper noun, n = noun.
_FREQ = 2000


def dictionary_entries() -> list[tuple[str, int, str]]:
    """Sorted, unique ``(word, frequency, tag)`` entries of Chinese catalog words."""
    words: dict[str, str] = {}

    def add(candidates: Iterable[str], tag: str) -> None:
        for word in candidates:
            word = word.strip()
            if word and " " not in word and _HAS_CJK.search(word):
                words.setdefault(word, tag)

    add((brand.zh for brand in BRANDS), "nz")
    for category in CATEGORIES:
        add([category.zh, *category.synonyms], "n")
    for lines in PRODUCT_LINES.values():
        for _title_zh, _title_en, _price, tags in lines:
            add(tags, "n")
    return [(word, _FREQ, tag) for word, tag in sorted(words.items())]


def write_dictionary(path: Path) -> int:
    """Write the dictionary file; returns the number of entries."""
    entries = dictionary_entries()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{w} {f} {t}\n" for w, f, t in entries), encoding="utf-8")
    return len(entries)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="dictionary file to write")
    args = parser.parse_args(argv)
    count = write_dictionary(args.output)
    print(f"wrote {count} entries to {args.output}")


if __name__ == "__main__":
    main()
