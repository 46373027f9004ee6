"""Tiny synthetic shop: three tastes (lipsticks, running shoes, tea), popular items, a switcher."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest

NOW = datetime(2026, 10, 1, 12, 0, 0)
TASTES = {
    "lip": ["口红 丝绒 哑光", "口红 滋润 显白", "唇釉 口红 持久", "口红 礼盒 限定", "润唇膏 口红", "口红 正红 经典"],
    "run": ["跑鞋 缓震 轻量", "跑鞋 竞速 碳板", "运动袜 跑步", "跑步 短裤 速干", "跑鞋 越野 防滑", "运动 腰包"],
    "tea": ["绿茶 龙井 明前", "红茶 正山小种", "乌龙茶 铁观音", "普洱 熟茶 饼", "白茶 白毫银针", "茶具 盖碗"],
}
CATEGORY = {"lip": "beauty", "run": "sports", "tea": "food"}


def item_id(taste: str, n: int) -> str:
    return f"{taste}{n}"


def catalog() -> dict[str, dict]:
    text = {item_id(t, n): title for t, titles in TASTES.items() for n, title in enumerate(titles)}
    category = {item_id(t, n): CATEGORY[t] for t, titles in TASTES.items() for n in range(len(titles))}
    return {"item_text": text, "item_category": category}


def make_interactions(seed: int = 7) -> list[tuple[str, str, float, datetime]]:
    rnd = random.Random(seed)
    rows: list[tuple[str, str, float, datetime]] = []
    user = 0
    for taste, share in (("lip", 12), ("run", 10), ("tea", 8)):
        for _ in range(share):
            user += 1
            picks = rnd.sample(range(6), rnd.randint(3, 5))
            for n in picks:
                at = NOW - timedelta(days=rnd.uniform(1, 300))
                rows.append((f"u{user}", item_id(taste, n), rnd.choice((1.0, 1.0, 0.3)), at))
            # Lipstick and running fans also buy the shop-wide best sellers (run0, lip0); tea fans seldom do.
            often = 0.1 if taste == "tea" else 0.7
            if rnd.random() < often:
                rows.append((f"u{user}", "lip0", 1.0, NOW - timedelta(days=rnd.uniform(1, 300))))
            if rnd.random() < often:
                rows.append((f"u{user}", "run0", 1.0, NOW - timedelta(days=rnd.uniform(1, 300))))
    return rows


@pytest.fixture(scope="session")
def interactions() -> list[tuple[str, str, float, datetime]]:
    return make_interactions()


@pytest.fixture(scope="session")
def features() -> dict[str, dict]:
    return catalog()


@pytest.fixture(scope="session")
def now() -> datetime:
    return NOW
