"""Train RecBole models on a prepared benchmark split and write their top-k lists (runs in ``.venv-bench``).

Called by ``bench/recs.py`` as a subprocess with ``.venv-bench/bin/python`` (RecBole 1.2.1 needs
numpy < 2 and its own torch; the app environment does not have it). Reads the atomic files
``<dir>/<name>/<name>.{train,valid,test}.inter`` that ``bench/recs.py`` wrote, so RecBole sees
exactly the benchmark's split (``benchmark_filename``: no re-splitting), and writes JSON:
``{"models": {model: {"topk": {user: [item, ...]}, "recbole_metrics": {...}, "fit_s": s}}}``.
The caller scores the lists with its own evaluator; RecBole's own full-sort metrics come along
so the two can be compared.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

# Checkpoints of RecBole 1.2.1 predate torch's weights-only loading.
os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")

# Per-model settings: modest BPR epochs so the CPU run stays short.
MODEL_CONFIG = {
    "Pop": {},
    "ItemKNN": {"k": 100, "shrink": 0.0},
    "BPR": {"epochs": 60, "learning_rate": 0.005, "embedding_size": 64, "train_batch_size": 2048},
}


def run_model(model_name: str, data_dir: Path, dataset: str, k: int, seed: int, workdir: Path) -> dict:
    import torch
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import get_model, get_trainer, init_seed
    from recbole.utils.case_study import full_sort_topk

    torch.set_num_threads(2)
    config_dict = {
        "data_path": str(data_dir),
        "benchmark_filename": ["train", "valid", "test"],
        "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
        "USER_ID_FIELD": "user_id",
        "ITEM_ID_FIELD": "item_id",
        "TIME_FIELD": "timestamp",
        "eval_args": {"order": "TO", "mode": "full", "group_by": "user"},
        "metrics": ["Recall", "NDCG", "Hit"],
        "topk": [k],
        "valid_metric": f"NDCG@{k}",
        "seed": seed,
        "reproducibility": True,
        "use_gpu": False,
        "device": "cpu",
        "show_progress": False,
        "checkpoint_dir": str(workdir / "checkpoints"),
        "save_dataset": False,
        "save_dataloaders": False,
        "log_wandb": False,
        "state": "WARNING",
        # The valid file is a subset of train (kept for RecBole's format); the models train on the
        # full training part with fixed settings, so no validation runs during training.
        "eval_step": 10_000,
        **MODEL_CONFIG[model_name],
    }
    config = Config(model=model_name, dataset=dataset, config_dict=config_dict)
    init_seed(config["seed"], config["reproducibility"])
    logging.getLogger().setLevel(logging.WARNING)
    data = create_dataset(config)
    train_data, _valid_data, test_data = data_preparation(config, data)
    init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
    model = get_model(config["model"])(config, train_data._dataset).to(config["device"])
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    started = time.perf_counter()
    trainer.fit(train_data, valid_data=None, saved=False, show_progress=False)
    fit_s = time.perf_counter() - started
    metrics = trainer.evaluate(test_data, load_best_model=False, show_progress=False)

    test_users = sorted(set(test_data._dataset.inter_feat[data.uid_field].tolist()))
    uid_series = torch.tensor(test_users, dtype=torch.long)
    topk: dict[str, list[str]] = {}
    model.eval()
    for start in range(0, len(test_users), 256):
        batch = uid_series[start : start + 256]
        _, items = full_sort_topk(batch, model, test_data, k=k, device=config["device"])
        tokens = data.id2token(data.iid_field, items.cpu().numpy())
        users = data.id2token(data.uid_field, batch.numpy())
        for user, row in zip(users, tokens):
            topk[str(user)] = [str(t) for t in row]
    return {
        "topk": topk,
        "recbole_metrics": {name: float(value) for name, value in metrics.items()},
        "fit_s": round(fit_s, 3),
        "config": MODEL_CONFIG[model_name],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="folder holding <dataset>/<dataset>.*.inter")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--models", nargs="+", default=list(MODEL_CONFIG))
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    # RecBole reads sys.argv itself and would complain about ours; its pandas/torch deprecation noise is not ours.
    sys.argv = sys.argv[:1]
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    results = {}
    with tempfile.TemporaryDirectory(prefix="recbole-") as tmp:
        for name in args.models:
            if name not in MODEL_CONFIG:
                print(f"unknown RecBole model {name!r} (known: {', '.join(MODEL_CONFIG)})", file=sys.stderr)
                return 2
            print(f"RecBole {name}: training", file=sys.stderr, flush=True)
            results[name] = run_model(name, args.data_dir, args.dataset, args.k, args.seed, Path(tmp))
            print(f"RecBole {name}: done in {results[name]['fit_s']} s", file=sys.stderr, flush=True)
    args.out.write_text(json.dumps({"models": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
