"""One settings object, read from the environment once.

Every other module receives a :class:`Settings` (or the values it needs) from its caller;
no other module reads ``os.environ``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _default_database_url() -> str:
    return f"sqlite:///{PROJECT_ROOT / 'var' / 'shop.db'}"


@dataclass(frozen=True)
class Settings:
    """Runtime configuration of the personalization package and the action server."""

    database_url: str = field(default_factory=_default_database_url)
    # Random seed of the demo data generator; the same seed and as-of date give the same data.
    seed: int = 20261122
    # Demo data size.
    demo_members: int = 2000
    demo_orders: int = 22000
    # How many products a recommendation reply shows.
    recommend_k: int = 5
    # Days before expiry when points count as "expiring soon".
    points_expiry_warning_days: int = 60
    log_level: str = "INFO"
    # Processes of `make run` (all bind 127.0.0.1).
    rasa_port: int = 5005
    action_server_port: int = 5055
    # Token for Rasa's HTTP API; empty means "generate one into var/rasa_token on first run".
    rasa_token: str = ""
    rasa_model: str = str(PROJECT_ROOT / "models" / "member-assistant.tar.gz")
    rasa_tracker_db: str = str(PROJECT_ROOT / "var" / "rasa_tracker.db")
    rasa_events_db: str = str(PROJECT_ROOT / "var" / "rasa_events.db")
    var_dir: str = str(PROJECT_ROOT / "var")
    # Hugging Face text-classification model directory of the sentiment tagger.
    sentiment_model: str = str(PROJECT_ROOT / "models" / "sentiment")
    # Web app (`python -m web`): bind address, signing secret ("" means "generate one into
    # var/web_secret on first run") and whether the demo shop may mint member tokens.
    web_host: str = "127.0.0.1"
    web_port: int = 8000
    web_secret: str = ""
    web_demo: bool = True
    # Seconds between the web app's incremental analytics pipeline runs (0 = off).
    analytics_interval_s: float = 15.0
    # RabbitMQ feed of Rasa's Pika event broker (`analytics --from-rabbitmq`; "" = not configured),
    # e.g. amqp://guest:guest@127.0.0.1:5672/%2F, and the queue Rasa publishes to.
    analytics_broker_url: str = ""
    analytics_broker_queue: str = "rasa_events"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """Build settings from environment variables (``DATABASE_URL``, ``SHOP_SEED``, ...)."""
        env = os.environ if environ is None else environ
        defaults = cls()
        return cls(
            database_url=env.get("DATABASE_URL") or defaults.database_url,
            seed=int(env.get("SHOP_SEED", defaults.seed)),
            demo_members=int(env.get("SHOP_DEMO_MEMBERS", defaults.demo_members)),
            demo_orders=int(env.get("SHOP_DEMO_ORDERS", defaults.demo_orders)),
            recommend_k=int(env.get("SHOP_RECOMMEND_K", defaults.recommend_k)),
            points_expiry_warning_days=int(
                env.get("SHOP_POINTS_EXPIRY_WARNING_DAYS", defaults.points_expiry_warning_days)
            ),
            log_level=env.get("LOG_LEVEL", defaults.log_level),
            rasa_port=int(env.get("RASA_PORT", defaults.rasa_port)),
            action_server_port=int(env.get("ACTION_SERVER_PORT", defaults.action_server_port)),
            rasa_token=env.get("RASA_TOKEN", defaults.rasa_token),
            rasa_model=env.get("RASA_MODEL", defaults.rasa_model),
            rasa_tracker_db=env.get("RASA_TRACKER_DB", defaults.rasa_tracker_db),
            rasa_events_db=env.get("RASA_EVENTS_DB", defaults.rasa_events_db),
            var_dir=env.get("SHOP_VAR_DIR", defaults.var_dir),
            sentiment_model=env.get("SENTIMENT_MODEL") or defaults.sentiment_model,
            web_host=env.get("WEB_HOST", defaults.web_host),
            web_port=int(env.get("WEB_PORT", defaults.web_port)),
            web_secret=env.get("WEB_SECRET", defaults.web_secret),
            web_demo=env.get("WEB_DEMO", "1").strip().lower() not in ("0", "false", "no", "off"),
            analytics_interval_s=max(0.0, float(env.get("ANALYTICS_INTERVAL_S", defaults.analytics_interval_s))),
            analytics_broker_url=env.get("ANALYTICS_BROKER_URL", defaults.analytics_broker_url).strip(),
            analytics_broker_queue=env.get("ANALYTICS_BROKER_QUEUE", "").strip() or defaults.analytics_broker_queue,
        )
