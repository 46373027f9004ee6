"""Read Rasa NLU YAML files into plain ``(text, intent)`` pairs (for baselines and reports)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

import yaml

# [surface](entity) or [surface]{"entity": ...}
_ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


def strip_annotations(example: str) -> str:
    """The text a member typed, without Rasa's entity markup."""
    return _ANNOTATION.sub(r"\1", example)


def load_examples(paths: Iterable[Path]) -> list[tuple[str, str]]:
    """All intent examples from the given YAML files (other NLU blocks are skipped)."""
    pairs: list[tuple[str, str]] = []
    for path in sorted(paths):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in document.get("nlu") or []:
            intent = block.get("intent")
            if not intent:
                continue
            for line in str(block.get("examples", "")).splitlines():
                line = line.strip()
                if line.startswith("- "):
                    pairs.append((strip_annotations(line[2:].strip()), intent))
    return pairs
