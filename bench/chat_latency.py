"""Chat turn latency through Rasa's REST channel with the custom actions, 10 concurrent members.

Run with ``make bench-chat``. Starts the real stack twice, side by side in one run:
- the product default: SQL tracker store + SQL event broker on SQLite (``endpoints.yml``);
- the floor: in-memory tracker store, no event broker (same model, same actions).
Each configuration serves one member alone (p50), then 10 members at once, every member
sending a script of personalized questions, twice: as members really chat (a pause of 1-3 s
to read and type between messages) and flat out (no pause: the throughput ceiling, where
latency is mostly queueing). Figures go to stdout and ``bench/results/chat_latency.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import select
from tqdm import tqdm

from launcher.rest_client import RestChannelClient
from launcher.stack import Stack, isolated_settings
from personalization.db import make_engine, session_factory
from personalization.models import Member
from personalization.settings import PROJECT_ROOT, Settings

RESULTS = PROJECT_ROOT / "bench" / "results" / "chat_latency.json"
# Seconds a member takes to read the answer and type the next message (uniform range).
THINK_SECONDS = (1.0, 3.0)
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


def _conversation(client: RestChannelClient, sender: str, member_id: str, rounds: int,
                  think: tuple[float, float] | None = None) -> list[float]:
    pause = random.Random(sender)
    latencies = []
    for _ in range(rounds):
        for text in SCRIPT:
            if think:
                time.sleep(pause.uniform(*think))
            started = time.perf_counter()
            client.send(sender, text, member_id=member_id)
            latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def _concurrent(stack: Stack, name: str, members: list[str], rounds: int,
                think: tuple[float, float] | None) -> dict[str, Any]:
    clients = [RestChannelClient(stack.rasa_url) for _ in members]
    started = time.perf_counter()
    with ThreadPoolExecutor(len(members)) as pool:
        futures = [pool.submit(_conversation, client, f"{name}-{member}", member, rounds, think)
                   for client, member in zip(clients, members)]
        latencies = [latency for future in futures for latency in future.result()]
    elapsed = time.perf_counter() - started
    for client in clients:
        client.close()
    return {
        "turns": len(latencies),
        "p50_ms": round(_percentile(latencies, 50), 1),
        "p95_ms": round(_percentile(latencies, 95), 1),
        "throughput_turns_per_s": round(len(latencies) / elapsed, 1),
    }


def _measure(name: str, settings: Settings, endpoints: Path, members: list[str], rounds: int,
             log_dir: Path, progress: tqdm) -> dict[str, Any]:
    with Stack(settings, log_dir / name, endpoints=endpoints, with_web=False) as stack:
        stack.wait_ready()
        warmup = RestChannelClient(stack.rasa_url)
        for text in SCRIPT:  # load every code path once
            warmup.send("warmup", text, member_id=members[0])
        single = _conversation(warmup, f"single-{name}", members[0], rounds)
        warmup.close()
        progress.update()

        chatting = _concurrent(stack, f"{name}-think", members, rounds, think=THINK_SECONDS)
        progress.update()
        flat_out = _concurrent(stack, f"{name}-flat", members, rounds, think=None)
        progress.update()
    return {
        "single_p50_ms": round(statistics.median(single), 1),
        "concurrent_members": len(members),
        "with_pauses": chatting,
        "flat_out": flat_out,
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
        progress = tqdm(total=3 * len(configs), desc="chat latency", unit="phase")
        for name, endpoints in configs:
            settings = isolated_settings(base, tmp_dir, name)
            results[name] = _measure(name, settings, endpoints, members, args.rounds, tmp_dir, progress)
        progress.close()

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    default, floor = results["default_sql_tracker_sqlite"], results["in_memory_tracker_no_broker"]
    print(f"\nChat turn latency, REST channel + custom actions ({args.members} concurrent members)")
    print(f"{'configuration':<30}{'1 member':>10}{'pauses p50':>12}{'p95':>8}{'flat-out p50':>14}{'p95':>8}{'turns/s':>9}")
    for name, row in (("SQL tracker+broker (default)", default), ("in-memory tracker", floor)):
        chatting, flat = row["with_pauses"], row["flat_out"]
        print(f"{name:<30}{row['single_p50_ms']:>8.0f}ms{chatting['p50_ms']:>10.0f}ms{chatting['p95_ms']:>6.0f}ms"
              f"{flat['p50_ms']:>12.0f}ms{flat['p95_ms']:>6.0f}ms{flat['throughput_turns_per_s']:>9.1f}")
    ratio = default["with_pauses"]["p95_ms"] / floor["with_pauses"]["p95_ms"]
    met = default["with_pauses"]["p95_ms"] <= 150
    print(f"p95 with pauses, default/in-memory: {ratio:.2f}; target p95 <= 150 ms (members chatting): "
          f"{'met' if met else 'NOT met'}")
    print(f"written to {RESULTS.relative_to(PROJECT_ROOT)}")


if __name__ == "__main__":
    main()
