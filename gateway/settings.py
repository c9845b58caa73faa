"""Configuration from the environment (prefix XIETONG_): embedded defaults, production by settings."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_DIR = Path(__file__).resolve().parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="XIETONG_", env_file=None)

    data_dir: Path = Path("var")
    database_url: str | None = None  # default: SQLite file under data_dir
    documents_dir: Path | None = None  # default: data_dir/documents
    # AMQP URL of the broker, or of every member of a cluster comma-separated: each process
    # connects to the first that answers and moves to another when its node goes away.
    # Default: a private RabbitMQ node under data_dir/rabbitmq.
    broker_url: str | None = None
    routing_rules: Path = PACKAGE_DIR / "rules" / "routing"  # a folder of *.yaml, merged
    deadline_rules: Path = PACKAGE_DIR / "rules" / "deadlines.yaml"  # which message opens which obligation
    person_key_secret: str = "change-me-in-production"  # HMAC key that turns an ID into a person key
    # Signs the web console's session cookie. In production set XIETONG_CONSOLE_SECRET to a long
    # random value (e.g. `python -c "import secrets; print(secrets.token_urlsafe(48))"`), the same
    # for every API process: whoever knows it can sign in as any unit.
    console_secret: str = "change-me-in-production"

    host: str = "127.0.0.1"
    port: int = 8000

    max_document_bytes: int = 5 * 1024 * 1024  # the native document itself
    max_attachment_bytes: int = 512 * 1024 * 1024  # each attachment
    max_attachments: int = 50

    # Threads of one API process preparing submissions (gateway/admission.py): documents may hold all but one, kept
    # for alerts, so at least two. They need not be many, since none waits for its commit; each one more shares the GIL.
    accept_threads: int = Field(3, ge=2)
    # Documents of one API process waiting for one of those threads; one more is answered 503 with Retry-After (alerts never
    # are): overload then costs a sender a retry, rather than the API its memory and every waiting document its latency.
    accept_waiting_documents: int = Field(200, ge=1)
    relay_max_in_flight: int = 1000
    relay_poll_seconds: float = 0.02
    live_poll_seconds: float = 0.02  # how often the live alert streams look for new alerts (one read per API process, none while nothing was committed)
    watch_seconds: float = 60.0  # how often the watcher looks for newly overdue obligations
    consumer_prefetch: int = 100
    delivery_attempts: int = 5  # then the delivery is parked in the dead-letter queue
    retry_delays_ms: tuple[int, ...] = (1000, 5000, 30000, 120000)
    webhook_timeout_seconds: float = 10.0

    log_format: str = "auto"  # auto | json | console
    log_level: str = "info"

    @cached_property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'xietong.db').resolve()}"

    @cached_property
    def documents_path(self) -> Path:
        return (self.documents_dir or self.data_dir / "documents").resolve()

    @property
    def broker_dir(self) -> Path:
        return (self.data_dir / "rabbitmq").resolve()
