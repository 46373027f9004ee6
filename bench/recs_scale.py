"""Recommender at shop scale: fit time, ``recommend`` latency and peak memory on synthetic data.

Run with ``make bench-recs-scale`` (``python -m bench.recs_scale [--members N --products N
--interactions N]``). A deterministic generator makes 100,000 members, 10,000 products in 40
categories and 2,000,000 interactions with a realistic skew (Zipf-like product popularity,
log-normal member activity, each member shopping mostly in 2-3 favourite categories, 70 % views
and 30 % purchases over two years). The HybridRecommender picks the sparse item-kNN above 3,000
products. The popularity baseline is timed beside it. Figures go to stdout and
``bench/results/recs_scale.json``; targets (fit <= 120 s, p95 <= 10 ms, peak RSS <= 2 GB) are
reported, not asserted.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
from tqdm import tqdm

from personalization.recommender import HybridRecommender, PopularityRecommender, Recommender
from personalization.settings import PROJECT_ROOT

RESULTS = PROJECT_ROOT / "bench" / "results" / "recs_scale.json"
SEED = 20261122
N_CATEGORIES = 40
START = 1_730_000_000.0  # seconds since the epoch
SPAN_DAYS = 730
TARGETS = {"fit_s": 120.0, "p95_ms": 10.0, "peak_rss_mb": 2048.0}


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def catalog(n_products: int, seed: int = SEED) -> dict[str, dict[str, Any]]:
    rng = np.random.default_rng(seed)
    words = [f"词{n}" for n in range(600)]
    category = rng.integers(0, N_CATEGORIES, size=n_products)
    text, cats, tags = {}, {}, {}
    for p in range(n_products):
        c = int(category[p])
        # Titles share words within a category (its vocabulary) plus a few general ones.
        own = rng.choice(15, size=3, replace=False) + c * 15
        text[f"P{p:05d}"] = " ".join(words[int(w)] for w in own) + f" 系列{int(rng.integers(50))}"
        cats[f"P{p:05d}"] = f"C{c:02d}"
        tags[f"P{p:05d}"] = [f"T{int(rng.integers(100))}"]
    return {"item_text": text, "item_category": cats, "item_tags": tags}


def interactions(
    n_members: int, n_products: int, n_interactions: int, features: dict[str, dict[str, Any]], seed: int = SEED
) -> Iterator[tuple[str, str, float, float]]:
    """Deterministic skewed interactions, generated in chunks (never all in memory as tuples)."""
    rng = np.random.default_rng(seed + 1)
    product_category = np.array([int(features["item_category"][f"P{p:05d}"][1:]) for p in range(n_products)])
    popularity = 1.0 / np.arange(1, n_products + 1) ** 0.9
    rng.shuffle(popularity)
    by_category = [np.flatnonzero(product_category == c) for c in range(N_CATEGORIES)]
    cumulative = [np.cumsum(popularity[idx] / popularity[idx].sum()) for idx in by_category]
    activity = rng.lognormal(0.0, 1.0, size=n_members)
    counts = rng.multinomial(n_interactions - n_members, activity / activity.sum()) + 1
    favourites = rng.integers(0, N_CATEGORIES, size=(n_members, 3))
    chunk = 5_000
    for start in range(0, n_members, chunk):
        for m in range(start, min(start + chunk, n_members)):
            n = int(counts[m])
            own = favourites[m, rng.integers(0, 3, size=n)]
            cats = np.where(rng.random(n) < 0.85, own, rng.integers(0, N_CATEGORIES, size=n))
            times = START + np.sort(rng.uniform(0, SPAN_DAYS, size=n)) * 86_400.0
            purchase = rng.random(n) < 0.3
            draws = rng.random(n)
            member = f"M{m:06d}"
            for c, t, buy, u in zip(cats.tolist(), times.tolist(), purchase.tolist(), draws.tolist()):
                idx = by_category[c]
                p = int(idx[min(int(np.searchsorted(cumulative[c], u)), idx.size - 1)]) if idx.size else 0
                yield (member, f"P{p:05d}", 1.0 if buy else 0.25, t)


def latency(model: Recommender, users: list[str], k: int = 10) -> dict[str, float]:
    for user in users[:50]:  # warm-up
        model.recommend(user, k=k)
    times = []
    for user in tqdm(users, desc=f"recommend {type(model).__name__}", unit="user", leave=False):
        started = time.perf_counter()
        model.recommend(user, k=k)
        times.append((time.perf_counter() - started) * 1000.0)
    arr = np.asarray(times)
    return {
        "users": len(users),
        "p50_ms": round(float(np.percentile(arr, 50)), 3),
        "p95_ms": round(float(np.percentile(arr, 95)), 3),
        "p99_ms": round(float(np.percentile(arr, 99)), 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Recommender scale benchmark")
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--interactions", type=int, default=2_000_000)
    parser.add_argument("--latency-users", type=int, default=2_000)
    args = parser.parse_args(argv)
    if args.interactions < args.members:
        parser.error("--interactions must be at least --members (every member has one)")

    rss_start = peak_rss_mb()
    features = catalog(args.products)
    started = time.perf_counter()
    rows = list(
        tqdm(
            interactions(args.members, args.products, args.interactions, features),
            total=args.interactions,
            desc="generating interactions",
            unit="row",
            unit_scale=True,
        )
    )
    generate_s = time.perf_counter() - started
    rss_data = peak_rss_mb()
    rng = np.random.default_rng(SEED + 2)
    users = [f"M{int(m):06d}" for m in rng.choice(args.members, size=args.latency_users, replace=False)]

    report: dict[str, Any] = {
        "members": args.members,
        "products": args.products,
        "interactions": len(rows),
        "generate_s": round(generate_s, 1),
        "peak_rss_mb_after_data": round(rss_data, 1),
        "peak_rss_mb_at_start": round(rss_start, 1),
        "models": {},
    }
    for name, model, extra in (
        ("PopularityRecommender", PopularityRecommender(half_life_days=30.0), {}),
        ("HybridRecommender", HybridRecommender(), features),
    ):
        print(f"fitting {name} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        model.fit(rows, **extra)
        fit_s = time.perf_counter() - started
        figures = {"fit_s": round(fit_s, 2), **latency(model, users), "peak_rss_mb": round(peak_rss_mb(), 1)}
        if isinstance(model, HybridRecommender):
            figures["cf"] = model.cf_kind_
            figures["knn_nonzeros"] = int(model.cf_sparse_.nnz) if model.cf_sparse_ is not None else 0
        report["models"][name] = figures
    hybrid = report["models"]["HybridRecommender"]
    report["targets"] = {
        name: {"target": target, "measured": hybrid[name], "met": hybrid[name] <= target}
        for name, target in TARGETS.items()
    }
    print(f"\nsynthetic shop: {args.members:,} members, {args.products:,} products, {len(rows):,} interactions")
    print(f"{'model':<24} {'fit s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'peak RSS MB':>12}")
    for name, f in report["models"].items():
        latencies = f"{f['p50_ms']:>8.3f} {f['p95_ms']:>8.3f} {f['p99_ms']:>8.3f}"
        print(f"{name:<24} {f['fit_s']:>8.2f} {latencies} {f['peak_rss_mb']:>12.1f}")
    print(f"(peak RSS with the data loaded, before fitting: {rss_data:.1f} MB)")
    for name, t in report["targets"].items():
        print(f"target {name} <= {t['target']}: {t['measured']} -> {'met' if t['met'] else 'NOT met'}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2))
    print(f"wrote {RESULTS.relative_to(PROJECT_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
