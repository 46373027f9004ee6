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
    # Hardening of the web app (web/guards.py, web/ratelimit.py): request bodies over this many KB
    # get 413; token-bucket limits per minute (0 = that limit off; WEB_RATE_LIMITS=0 = all off),
    # counted per web process (each replica counts on its own); cookies marked Secure (serve over
    # https); X-Forwarded-For/-Proto honoured only behind a trusted proxy; member token lifetime.
    web_max_body_kb: int = 64
    web_rate_limits: bool = True
    web_rate_api_per_min: int = 600
    web_rate_messages_per_min: int = 30
    web_rate_tokens_per_min: int = 60
    web_rate_logins_per_min: int = 20
    web_secure_cookies: bool = False
    web_trusted_proxy: bool = False
    web_member_token_ttl_s: int = 86400
    # Seconds between the web app's incremental analytics pipeline runs (0 = off).
    analytics_interval_s: float = 15.0
    # RabbitMQ feed of Rasa's Pika event broker (`analytics --from-rabbitmq`; "" = not configured),
    # e.g. amqp://guest:guest@127.0.0.1:5672/%2F, and the queue Rasa publishes to.
    analytics_broker_url: str = ""
    analytics_broker_queue: str = "rasa_events"
    # Key of the encrypted member fields (phone, birthday): 32 random bytes in base64url, or a
    # passphrase of 16+ characters; "" means "generate one into var/data_key on first use".
    # Every process of one deployment needs the same key (personalization.privacy.crypto).
    data_key: str = field(default="", repr=False)
    # How the web app's socket events reach the other web replicas (web/fanout.py): "local" (one
    # process, the default) or "postgres" (LISTEN/NOTIFY on DATABASE_URL, for several replicas).
    web_fanout: str = "local"
    # Kafka feed of Rasa's Kafka event broker (`analytics --from-kafka`; "" = not configured):
    # bootstrap servers "host:port[,host:port]" and the topic Rasa publishes to.
    analytics_kafka_bootstrap: str = ""
    analytics_kafka_topic: str = "rasa_core_events"

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
            web_max_body_kb=max(1, int(env.get("WEB_MAX_BODY_KB", defaults.web_max_body_kb))),
            web_rate_limits=env.get("WEB_RATE_LIMITS", "1").strip().lower() not in ("0", "false", "no", "off"),
            web_rate_api_per_min=int(env.get("WEB_RATE_API_PER_MIN", defaults.web_rate_api_per_min)),
            web_rate_messages_per_min=int(env.get("WEB_RATE_MESSAGES_PER_MIN", defaults.web_rate_messages_per_min)),
            web_rate_tokens_per_min=int(env.get("WEB_RATE_TOKENS_PER_MIN", defaults.web_rate_tokens_per_min)),
            web_rate_logins_per_min=int(env.get("WEB_RATE_LOGINS_PER_MIN", defaults.web_rate_logins_per_min)),
            web_secure_cookies=env.get("WEB_SECURE_COOKIES", "0").strip().lower() in ("1", "true", "yes", "on"),
            web_trusted_proxy=env.get("WEB_TRUSTED_PROXY", "0").strip().lower() in ("1", "true", "yes", "on"),
            # Bounded: a member token lives 1 minute to 7 days (web.tokens.MAX_TTL_S).
            web_member_token_ttl_s=min(7 * 86400, max(60, int(env.get("WEB_MEMBER_TOKEN_TTL_S", defaults.web_member_token_ttl_s)))),
            analytics_interval_s=max(0.0, float(env.get("ANALYTICS_INTERVAL_S", defaults.analytics_interval_s))),
            analytics_broker_url=env.get("ANALYTICS_BROKER_URL", defaults.analytics_broker_url).strip(),
            analytics_broker_queue=env.get("ANALYTICS_BROKER_QUEUE", "").strip() or defaults.analytics_broker_queue,
            data_key=env.get("SHOP_DATA_KEY", defaults.data_key).strip(),
            web_fanout=env.get("WEB_FANOUT", "").strip().lower() or defaults.web_fanout,
            analytics_kafka_bootstrap=env.get("ANALYTICS_KAFKA_BOOTSTRAP", "").strip(),
            analytics_kafka_topic=env.get("ANALYTICS_KAFKA_TOPIC", "").strip() or defaults.analytics_kafka_topic,
        )
