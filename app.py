from gevent import monkey

monkey.patch_all()

"""Confab's entry point: the bootstrap order (docs/architecture.md) and nothing else, or a management
command (``python app.py <command>``, ``manage``).

config → logging → statsd → database → broker → documents → chat → auth, e-mail, push → singleton jobs →
gateway → HTTP server → signal handlers.
"""
import os  # noqa: E402
import sys  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable  # noqa: E402

from gevent.pywsgi import WSGIServer  # noqa: E402

from actors import runtime  # noqa: E402
from actors.broker import start_broker  # noqa: E402
from actors.documents import start_documents  # noqa: E402
from actors.chat import start_chat  # noqa: E402
from actors.cluster import SingletonJob, live_instances, start_cluster  # noqa: E402
from actors.digests import DigestJob  # noqa: E402
from actors.gateway import start_gateway  # noqa: E402
from actors.limits import start_limits  # noqa: E402
from actors.lifecycle import shutdown  # noqa: E402
from actors.mailer import Mailer  # noqa: E402
from actors.push import dispatch_job as push_job  # noqa: E402
from actors.revocations import start_revocations  # noqa: E402
from actors.session import FrameLimits, Router  # noqa: E402
from actors.storage import start_storage  # noqa: E402
from actors.supervisor import Supervisor, stop_supervision  # noqa: E402
from domain import logs, unsubscribe  # noqa: E402
from domain.config import AppConfig, ConfigError  # noqa: E402
from domain.config_sources import cli_parser, config_from_args  # noqa: E402
from domain.file_links import FileLinks  # noqa: E402
from domain.metrics import create_metrics  # noqa: E402
from domain.ratelimit import RateLimiter  # noqa: E402
from domain.unsubscribe import UnsubscribeLinks  # noqa: E402
from storage import audit, files  # noqa: E402
from storage.auth import create_auth_service  # noqa: E402
from storage.blob_gc import BlobCollector  # noqa: E402
from storage.blob_backends import create_blob_store  # noqa: E402
from storage.db import StorageUnavailable, close_database  # noqa: E402
from storage.folder_sharing import require_shared_folder  # noqa: E402
from web import create_app  # noqa: E402
from web.server import create_server, serve_until_signalled  # noqa: E402
from web.services import Services  # noqa: E402
import manage  # noqa: E402

ROOT = Path(__file__).resolve().parent


@dataclass
class Confab:
    services: Services
    server: WSGIServer
    stop: Callable[[], None]


def bootstrap(config: AppConfig) -> Confab:
    """Start every component in order and bind the HTTP socket (not yet serving)."""
    logs.configure(config.logging.level, config.logging.format)
    metrics = create_metrics(config.statsd)
    supervisor = Supervisor.start()
    try:
        start_storage(supervisor, config)
        messaging = start_broker(supervisor, config, metrics)
        broker = messaging.broker
        documents = start_documents(supervisor, config, metrics, broker)
        limiters = start_limits(supervisor, config, messaging.shared)
        chat = start_chat(supervisor, config, metrics, broker, messaging.shared, limiters)
        blobs = create_blob_store(config, runtime.run_blocking)
        if messaging.shared is not None:
            require_shared_folder(config, *messaging.shared, others_alive=bool(live_instances(*messaging.shared)))
        collect_blobs = SingletonJob("files.gc", config.files.gc_interval_s, BlobCollector(blobs).run)
        auth = create_auth_service(config, runtime.run_blocking)
        mailer = Mailer(config.email, metrics)
        unsubscribe_links = UnsubscribeLinks(auth.derived_key(unsubscribe.PURPOSE), config.email.base_url)
        digest = DigestJob(mailer, chat.service.presence, unsubscribe_links, config.email.digest_after_s)
        start_cluster(supervisor, messaging.shared, broker.instance_id,
                      [*messaging.jobs, *documents.jobs, *chat.jobs, collect_blobs,
                       SingletonJob("email.digest", config.email.digest_interval_s, digest.run),
                       push_job(config, chat.service.presence, metrics),
                       SingletonJob("audit.retention", config.audit.retention_interval_s,
                                    lambda: audit.apply_retention(config.audit.retention_days))])
        gateway = start_gateway(supervisor, metrics, config.server.ws_max_sockets_per_user)
        files.configure_links(FileLinks(auth.derived_key("file links"), config.files.url_ttl_s))
        start_revocations(supervisor, gateway, auth.revoked, config.auth.access_token_ttl_s)
        limits = FrameLimits(RateLimiter(config.server.ws_frame_rate_per_s, config.server.ws_frame_burst),
                             config.chat.rate_limit_close_after)
        router = Router([chat.session, documents.session])  # every frame a /ws session understands
        services = Services(config, metrics, auth, supervisor, gateway, blobs, broker, chat=chat.service,
                            documents=documents.service, frame_limits=limits, router=router, limiters=limiters,
                            mailer=mailer, unsubscribe_links=unsubscribe_links)
        server = create_server(create_app(services), config)
    except BaseException:
        stop_supervision(supervisor)
        raise

    def stop() -> None:
        shutdown(supervisor, gateway, config.server.shutdown_grace_s, hand_over=[broker.hand_over],
                 drain=[broker.close], release=[chat.service.close, close_database])

    return Confab(services, server, stop)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in manage.COMMANDS:
        return manage.main(argv, ROOT / "config.ini")
    try:
        config = config_from_args(cli_parser(manage.summary()).parse_args(argv), default_path=ROOT / "config.ini")
    except ConfigError as exc:
        print(f"confab: configuration error: {logs.redact_urls(str(exc))}", file=sys.stderr)
        return 2
    try:
        confab = bootstrap(config)
    except (StorageUnavailable, OSError, ValueError) as exc:  # a driver's message may quote the URL it was given
        print(f"confab: cannot start: {logs.redact_urls(str(exc))}", file=sys.stderr)
        return 1
    runtime.tune_process()
    if not serve_until_signalled(confab.server, confab.stop, config.server.shutdown_grace_s):
        logs.flush()
        os._exit(1)  # an actor is stuck: exiting normally would wait for it forever
    return 0


if __name__ == "__main__":
    sys.exit(main())
