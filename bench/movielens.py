"""MovieLens-100k for the recommender benchmark, from the RecBole 1.2.1 wheel (no other download).

The atomic files ``ml-100k.inter`` / ``.item`` ship inside the PyPI package ``recbole==1.2.1``
under ``recbole/dataset_example/ml-100k/``. They are taken, in this order, from
``var/datasets/ml-100k`` (already unpacked), the RecBole installed in ``.venv-bench``, a wheel in
``var/cache/pip``, or ``pip download recbole==1.2.1 --no-deps`` into that cache; only that folder
is unpacked into ``var/datasets/``.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
import zipfile
from collections import defaultdict
from collections.abc import Hashable, Iterable
from pathlib import Path

from personalization.settings import PROJECT_ROOT

RECBOLE = "recbole==1.2.1"
MEMBER = "recbole/dataset_example/ml-100k/"
FILES = ("ml-100k.inter", "ml-100k.item")

Row = tuple[str, str, float, float]


def ensure_ml100k(var_dir: Path = PROJECT_ROOT / "var") -> Path:
    """The folder holding ``ml-100k.inter`` and ``ml-100k.item`` (unpacked on first use)."""
    target = var_dir / "datasets" / "ml-100k"
    if all((target / f).is_file() for f in FILES):
        return target
    target.mkdir(parents=True, exist_ok=True)
    installed = next((PROJECT_ROOT / ".venv-bench" / "lib").glob("python3*/site-packages/" + MEMBER), None)
    if installed is not None and all((installed / f).is_file() for f in FILES):
        for f in FILES:
            shutil.copyfile(installed / f, target / f)
        return target
    cache = var_dir / "cache" / "pip"
    wheels = sorted(cache.glob("recbole-1.2.1-*.whl"))
    if not wheels:
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", RECBOLE, "--no-deps", "--quiet", "-d", str(cache)], check=True
        )
        wheels = sorted(cache.glob("recbole-1.2.1-*.whl"))
    if not wheels:
        raise FileNotFoundError(f"no RecBole 1.2.1 wheel in {cache}")
    with zipfile.ZipFile(wheels[0]) as wheel:
        for f in FILES:
            with wheel.open(MEMBER + f) as src, (target / f).open("wb") as dst:
                shutil.copyfileobj(src, dst)
    return target


def load_ml100k(folder: Path) -> tuple[list[Row], dict[str, list[str]], dict[str, str]]:
    """Interactions (every rating is an implicit positive, weight 1), genres and titles by item id."""
    rows: list[Row] = []
    with (folder / "ml-100k.inter").open(encoding="utf-8") as f:
        next(f)
        for line in f:
            user, item, _rating, timestamp = line.rstrip("\n").split("\t")
            rows.append((user, item, 1.0, float(timestamp)))
    genres: dict[str, list[str]] = {}
    titles: dict[str, str] = {}
    with (folder / "ml-100k.item").open(encoding="latin-1") as f:
        next(f)
        for line in f:
            item, title, _year, classes = (line.rstrip("\n").split("\t") + ["", "", ""])[:4]
            genres[item] = classes.split() or ["unknown"]
            titles[item] = title
    return rows, genres, titles


def split_per_user(rows: Iterable[Row], test_fraction: float = 0.2) -> tuple[list[Row], list[Row]]:
    """Temporal split per user: the last ``test_fraction`` of each user's interactions (by time) are held out.

    Ties in time are broken by item id, so the split is deterministic. Users with a single
    interaction keep it in training.
    """
    by_user: dict[Hashable, list[Row]] = defaultdict(list)
    for row in rows:
        by_user[row[0]].append(row)
    train: list[Row] = []
    test: list[Row] = []
    for user_rows in by_user.values():
        user_rows.sort(key=lambda r: (r[3], str(r[1])))
        n_test = min(len(user_rows) - 1, max(1, math.floor(len(user_rows) * test_fraction + 0.5)))
        cut = len(user_rows) - max(n_test, 0)
        train.extend(user_rows[:cut])
        test.extend(user_rows[cut:])
    return train, test


def write_atomic(path: Path, rows: Iterable[Row]) -> None:
    """A RecBole atomic ``.inter`` file (user, item, timestamp)."""
    with path.open("w", encoding="utf-8") as f:
        f.write("user_id:token\titem_id:token\ttimestamp:float\n")
        for user, item, _weight, timestamp in rows:
            f.write(f"{user}\t{item}\t{int(timestamp)}\n")
