"""Chat turn latency through Rasa's REST channel with the custom actions, 10 concurrent members.

Run with ``make bench-chat``. Starts the real stack twice, side by side in one run:
- the product default: SQL tracker store + SQL event broker on SQLite (``endpoints.yml``);
- the floor: in-memory tracker store, no event broker (same model, same actions).
Each configuration serves one member alone (p50), then 10 members at once, every member
sending a script of personalized questions. Figures go to stdout and ``bench/results/chat_latency.json``.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import select
from tqdm import tqdm

from launcher.rest_client import RestChannelClient
from launcher.stack import Stack
from personalization.db import make_engine, session_factory
from personalization.models import Member
from personalization.settings import PROJECT_ROOT, Settings

RESULTS = PROJECT_ROOT / "bench" / "results" / "chat_latency.json"
SCRIPT = (
    "你好",
    "我还有多少积分",
    "有什么适合我的推荐吗",
    "我有哪些优惠券可以用",
    "我的快递到哪了",
    "我是什么会员等级",
    "How many points do I have?",
    "谢谢",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def _member_ids(settings: Settings, count: int) -> list[str]:
    engine = make_engine(settings)
    with session_factory(engine)() as session:
        ids = list(session.scalars(select(Member.member_id).order_by(Member.member_id).limit(count)))
    engine.dispose()
    return ids


def _conversation(client: RestChannelClient, sender: str, member_id: str, rounds: int) -> list[float]:
    latencies = []
    for _ in range(rounds):
        for text in SCRIPT:
            started = time.perf_counter()
            client.send(sender, text, member_id=member_id)
            latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def _measure(name: str, settings: Settings, endpoints: Path, members: list[str], rounds: int,
             log_dir: Path, progress: tqdm) -> dict[str, Any]:
    with Stack(settings, log_dir / name, endpoints=endpoints) as stack:
        stack.wait_ready()
        warmup = RestChannelClient(stack.rasa_url)
        for text in SCRIPT:  # load every code path once
            warmup.send("warmup", text, member_id=members[0])
        single = _conversation(warmup, f"single-{name}", members[0], rounds)
        warmup.close()
        progress.update()

        clients = [RestChannelClient(stack.rasa_url) for _ in members]
        started = time.perf_counter()
        with ThreadPoolExecutor(len(members)) as pool:
            futures = [pool.submit(_conversation, client, f"{name}-{member}", member, rounds)
                       for client, member in zip(clients, members)]
            concurrent = [latency for future in futures for latency in future.result()]
        elapsed = time.perf_counter() - started
        for client in clients:
            client.close()
        progress.update()
    return {
        "single_p50_ms": round(statistics.median(single), 1),
        "concurrent_members": len(members),
        "turns": len(concurrent),
        "p50_ms": round(_percentile(concurrent, 50), 1),
        "p95_ms": round(_percentile(concurrent, 95), 1),
        "throughput_turns_per_s": round(len(concurrent) / elapsed, 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="times each member plays the script")
    args = parser.parse_args(argv)

    base = Settings.from_env()
    members = _member_ids(base, args.members)
    results: dict[str, Any] = {"script": list(SCRIPT), "rounds": args.rounds}
    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        in_memory = tmp_dir / "endpoints-in-memory.yml"
        in_memory.write_text('action_endpoint:\n  url: http://127.0.0.1:${ACTION_SERVER_PORT}/webhook\n',
                             encoding="utf-8")
        configs = (
            ("default_sql_tracker_sqlite", PROJECT_ROOT / "endpoints.yml"),
            ("in_memory_tracker_no_broker", in_memory),
        )
        progress = tqdm(total=2 * len(configs), desc="chat latency", unit="phase")
        for name, endpoints in configs:
            settings = replace(
                base,
                rasa_port=_free_port(),
                action_server_port=_free_port(),
                rasa_tracker_db=str(tmp_dir / f"{name}-tracker.db"),
                rasa_events_db=str(tmp_dir / f"{name}-events.db"),
            )
            results[name] = _measure(name, settings, endpoints, members, args.rounds, tmp_dir, progress)
        progress.close()

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    default, floor = results["default_sql_tracker_sqlite"], results["in_memory_tracker_no_broker"]
    print(f"\nChat turn latency, REST channel + custom actions ({args.members} concurrent members)")
    print(f"{'configuration':<32}{'1 member p50':>14}{'p50':>9}{'p95':>9}{'turns/s':>9}")
    for name, row in (("SQL tracker+broker (default)", default), ("in-memory tracker (floor)", floor)):
        print(f"{name:<32}{row['single_p50_ms']:>12.0f}ms{row['p50_ms']:>7.0f}ms{row['p95_ms']:>7.0f}ms"
              f"{row['throughput_turns_per_s']:>9.1f}")
    print(f"p95 ratio default/floor: {default['p95_ms'] / floor['p95_ms']:.2f}; "
          f"target p95 <= 150 ms: default {'met' if default['p95_ms'] <= 150 else 'NOT met'}, "
          f"floor {'met' if floor['p95_ms'] <= 150 else 'NOT met'}")
    print(f"written to {RESULTS.relative_to(PROJECT_ROOT)}")


if __name__ == "__main__":
    main()
