"""`fintesk-mock serve|...`: every flag can also be set by an environment variable FINTESK_MOCK_<FLAG>."""

from __future__ import annotations

import functools
import gc
import importlib
import logging.config
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from mock_server import DEFAULT_FIXTURES, __version__
from mock_server.data.fixtures import FixtureError
from mock_server.data.store import StoreError
from mock_server.errors import FinteskError
from mock_server.http.limits import MAX_HEADER_BYTES
from mock_server.http.protocol import MockHttpProtocol
from mock_server.settings import Settings, is_loopback, parse_hosts, parse_origins, parse_tokens

if TYPE_CHECKING:
    import uvicorn


class LazyGroup(click.Group):
    """Commands named in `lazy` are imported when used (click's lazy subcommand pattern): `serve` does not pay
    for importing Schemathesis and Hypothesis, which only `check` needs (about a third of a second)."""

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy or {}

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """As click's, but a usage error is one line (the error, without the usage text above it)."""
        if not standalone_mode:
            return super().main(args, prog_name, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, standalone_mode=False, **extra)
        except click.UsageError as error:
            click.echo(f"Error: {error.format_message()}", err=True)
            sys.exit(error.exit_code)
        except click.ClickException as error:
            error.show()
            sys.exit(error.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.lazy:
            return super().get_command(ctx, cmd_name)
        module, _, name = self.lazy[cmd_name].partition(":")
        command = getattr(importlib.import_module(module), name)
        assert isinstance(command, click.Command)
        return command


# Every option of `serve` is also read from an environment variable; its help says which.
option = functools.partial(click.option, show_envvar=True)


@click.group(
    cls=LazyGroup,
    lazy={
        "check": "contract_tests.runner:check",
        "proxy": "contract_tests.proxy:proxy",
        "parity": "contract_tests.parity:parity",
    },
)
@click.version_option(__version__, prog_name="fintesk-mock")
def main() -> None:
    """Fintesk Mock: a stateful mock of the Fintesk CRM API v2."""


@main.command()
@option("--host", envvar="FINTESK_MOCK_HOST", default="127.0.0.1", show_default=True, help="Address to bind.")
@option("--port", envvar="FINTESK_MOCK_PORT", default=8080, show_default=True, type=click.IntRange(1, 65535),
              help="Port to bind.")  # fmt: skip
@option(
    "--fixtures",
    envvar="FINTESK_MOCK_FIXTURES",
    default=DEFAULT_FIXTURES,
    type=click.Path(file_okay=False, path_type=Path),
    help="Fixture folder to seed every tenant from (default: the bundled account).",
)
@option(
    "--tokens",
    envvar="FINTESK_MOCK_TOKENS",
    default="",
    help="Comma-separated API tokens to accept; empty accepts any token.",
)
@option(
    "--log-level",
    envvar="FINTESK_MOCK_LOG_LEVEL",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    help="Least severe messages logged; at info and debug, one line per request (but /__mock__ ones).",
)
@option("--log-format", envvar="FINTESK_MOCK_LOG_FORMAT", default="text", show_default=True,
        type=click.Choice(["text", "json"]), help="The log's lines: text, or one JSON object per line.")  # fmt: skip
@option("--seed", envvar="FINTESK_MOCK_SEED", default=0, show_default=True, type=click.IntRange(min=0),
              help="Seed of everything random (custom field keys, probabilistic faults).")  # fmt: skip
@option("--rate-limit", envvar="FINTESK_MOCK_RATE_LIMIT", default=0, show_default=True,
              type=click.IntRange(min=0), help="Requests per 2-second window per token; 0 = off.")  # fmt: skip
@option("--state", envvar="FINTESK_MOCK_STATE", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Start every tenant from this exported state (GET /__mock__/tenants/{token}/state).")  # fmt: skip
@option("--scenario", envvar="FINTESK_MOCK_SCENARIO", help="Apply a named scenario at start (see `scenarios`).")
@option("--generate-deals", envvar="FINTESK_MOCK_GENERATE_DEALS", default=0, type=click.IntRange(min=0),
              help="Serve a generated account of this many deals from --seed.")  # fmt: skip
@option("--cors/--no-cors", envvar="FINTESK_MOCK_CORS", default=True, show_default=True,
              help="Let browsers call /v1 and the docs from other origins.")  # fmt: skip
@option("--cors-origin", "cors_origins", envvar="FINTESK_MOCK_CORS_ORIGIN", multiple=True,
              callback=lambda _ctx, _param, values: _origins(values),
              help="Only this origin (scheme://host:port) may call cross-origin; repeat or comma-separate. "
                   "Default: any.")  # fmt: skip
@option(
    "--admin-token",
    envvar="FINTESK_MOCK_ADMIN_TOKEN",
    help="Token every /__mock__ route but GET /__mock__/health requires in the x-admin-token header.",
)
@option(
    "--open-control-plane",
    envvar="FINTESK_MOCK_OPEN_CONTROL_PLANE",
    is_flag=True,
    help="Serve a non-loopback --host without --admin-token: /__mock__ is open to the network.",
)
@option("--allowed-host", "allowed_hosts", envvar="FINTESK_MOCK_ALLOWED_HOST", multiple=True,
        help="Also answer requests whose Host is this name (repeat or comma-separate; * = any). Loopback names, "
             "--host and, for 0.0.0.0, this machine's names are always answered.")  # fmt: skip
@option(
    "--strict",
    envvar="FINTESK_MOCK_STRICT",
    is_flag=True,
    help="Refuse (400) a body field the operation does not define, instead of ignoring it with a warning.",
)
@option("--data-dir", envvar="FINTESK_MOCK_DATA_DIR", type=click.Path(file_okay=False, path_type=Path),
              help="Keep every tenant in this folder (SQLite): writes survive a restart or a kill.")  # fmt: skip
@option("--max-body-mb", envvar="FINTESK_MOCK_MAX_BODY_MB", default=10, show_default=True,
              type=click.IntRange(min=1), help="Largest request body, in MB; bigger ones answer 413.")  # fmt: skip
@option("--max-import-mb", envvar="FINTESK_MOCK_MAX_IMPORT_MB", default=256, show_default=True,
              type=click.IntRange(min=1), help="Largest state import (PUT of a tenant state), in MB.")  # fmt: skip
@option("--max-tenants", envvar="FINTESK_MOCK_MAX_TENANTS", default=256, show_default=True,
              type=click.IntRange(min=1), help="Live tenants kept; past it the least recently used goes.")  # fmt: skip
@option("--webhook-host", "webhook_hosts", envvar="FINTESK_MOCK_WEBHOOK_HOST", multiple=True,
              help="Also deliver webhooks to this host name (loopback addresses always); repeat for more.")  # fmt: skip
@option("--shutdown-timeout", envvar="FINTESK_MOCK_SHUTDOWN_TIMEOUT", default=3, show_default=True,
              type=click.IntRange(min=0), help="Seconds requests in flight get after SIGTERM or Ctrl-C.")  # fmt: skip
def serve(
    host: str,
    port: int,
    fixtures: Path,
    tokens: str,
    log_level: str,
    log_format: str,
    seed: int,
    rate_limit: int,
    state: Path | None,
    scenario: str | None,
    generate_deals: int,
    cors: bool,
    cors_origins: tuple[str, ...],
    admin_token: str | None,
    open_control_plane: bool,
    allowed_hosts: tuple[str, ...],
    strict: bool,
    data_dir: Path | None,
    max_body_mb: int,
    max_import_mb: int,
    max_tenants: int,
    webhook_hosts: tuple[str, ...],
    shutdown_timeout: int,
) -> None:
    """Serve the Fintesk API under /v1 from in-memory tenants seeded with FIXTURES."""

    from mock_server.app import create_app
    from mock_server.http.access_log import logging_config

    if not admin_token and not is_loopback(host) and not open_control_plane:
        raise click.ClickException(
            f"cannot start: --host {host} is reachable from the network and /__mock__ would answer anyone; "
            "give --admin-token (or --open-control-plane on a trusted network)."
        )
    settings = Settings(
        host=host,
        port=port,
        fixtures=fixtures,
        tokens=parse_tokens(tokens),
        log_level=log_level,
        log_format=log_format,
        seed=seed,
        rate_limit=rate_limit,
        state=state,
        scenario=scenario,
        generate_deals=generate_deals,
        cors=cors,
        cors_origins=cors_origins,
        admin_token=admin_token or None,
        data_dir=data_dir,
        allowed_hosts=parse_hosts(allowed_hosts),
        strict=strict,
        max_body_mb=max_body_mb,
        max_import_mb=max_import_mb,
        max_tenants=max_tenants,
        webhook_hosts=tuple(
            host.strip().lower() for value in webhook_hosts for host in value.split(",") if host.strip()
        ),
    )
    # The accounts built at start-up (the fixture set, a generated or stored account) live as long as the server:
    # the collector neither walks them while they are built nor ever after (`gc.freeze`).
    gc.disable()
    try:
        app = create_app(settings)
    except StoreError as error:  # a data file that does not read back: exit 2, nothing served from it
        raise DataFolderError(f"cannot start: {error}") from None
    except (FixtureError, FinteskError) as error:
        raise click.ClickException(f"cannot start: {error}") from None
    finally:
        gc.freeze()
        gc.enable()
    kept = f", data kept in {data_dir}" if data_dir is not None else ""
    banner = f"Fintesk Mock {__version__}: http://{host}:{port}/v1 (docs at /v1/docs), fixtures {fixtures}{kept}"
    # The mock's request log (at info) replaces uvicorn's access log, which would show `api_token` query values;
    # every handler of the configuration masks `api_token` in whatever else is logged.
    log_config = logging_config(log_level, log_format)
    if log_format == "json":  # every line a JSON object, the banner too
        logging.config.dictConfig(log_config)
        logging.getLogger("fintesk_mock").info(banner)
    else:
        click.echo(banner)
    # httptools with one write per answer and a bounded head (see `protocol`); h11 is given the same bound.
    run_server(app, host=host, port=port, log_level=log_level, access_log=False, log_config=log_config,
               http=MockHttpProtocol, h11_max_incomplete_event_size=MAX_HEADER_BYTES,
               timeout_graceful_shutdown=shutdown_timeout)  # fmt: skip


def run_server(app: Any, **options: Any) -> None:
    """Serve `app` with uvicorn (`options` are `uvicorn.Config`'s) until the process is told to stop."""
    import uvicorn

    prompt_server(uvicorn.Config(app, **options)).run()


def _origins(values: tuple[str, ...]) -> tuple[str, ...]:
    try:
        return parse_origins(values)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="'--cors-origin'") from None


def prompt_server(config: uvicorn.Config) -> uvicorn.Server:
    """uvicorn's server, ended at once by a second SIGTERM or Ctrl-C. uvicorn itself ignores a second SIGTERM and,
    on a second Ctrl-C, still waits for the application's shutdown; a user who signals twice wants it gone."""
    import uvicorn

    class PromptServer(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            if self.should_exit:
                click.echo(f"Fintesk Mock: second {signal.Signals(sig).name}, exiting now.", err=True)
                sys.stderr.flush()
                sys.stdout.flush()
                os._exit(128 + sig)
            super().handle_exit(sig, frame)

    return PromptServer(config)


@main.command()
def scenarios() -> None:
    """List the named scenarios (apply one with `serve --scenario NAME` or POST /__mock__/scenarios/NAME)."""
    from mock_server.control.scenarios import scenario_names

    names = scenario_names()
    width = max((len(name) for name, _ in names), default=0)
    for name, description in names:
        click.echo(f"{name.ljust(width)}  {description}")


class DataFolderError(click.ClickException):
    """The --data-dir file cannot be used (damaged, unreadable, of a newer format)."""

    exit_code = 2


class SnapshotError(click.ClickException):
    exit_code = 2


@main.command()
@click.option("--base-url", envvar="FINTESK_MOCK_BASE_URL", required=True,
              help="The account's API base, e.g. https://yourcompany.fintesk.com/api/v1.")  # fmt: skip
@click.option("--token", envvar=["FINTESK_MOCK_TOKEN", "FINTESK_CHECK_TOKEN"], required=True,
              help="API token (or FINTESK_CHECK_TOKEN); sent in x-api-token, never written anywhere.")  # fmt: skip
@click.option("--out", envvar="FINTESK_MOCK_OUT", required=True, type=click.Path(path_type=Path),
              help="Fixture folder to write; must be empty or missing unless --force.")  # fmt: skip
@click.option("--rate", envvar="FINTESK_MOCK_RATE", default=5.0, show_default=True, type=click.FloatRange(min=0.1),
              help="At most this many requests per second.")  # fmt: skip
@click.option("--force", envvar="FINTESK_MOCK_FORCE", is_flag=True, help="Replace a non-empty --out.")
@click.option("--deal-persons", envvar="FINTESK_MOCK_DEAL_PERSONS", is_flag=True,
              help="Only where the account does not list persons (403/404): read each deal's persons instead "
                   "(a request more per deal).")  # fmt: skip
def snapshot(base_url: str, token: str, out: Path, rate: float, force: bool, deal_persons: bool) -> None:
    """Copy an account into a fixture folder through its API, with GET requests only."""
    import sys
    from datetime import UTC, datetime

    from mock_server.data import progress
    from mock_server.data import snapshot as snapshots
    from mock_server.data.pacing import Pacer, Source, SourceError

    source = Source(base_url, token, Pacer(rate))
    click.echo(f"Snapshot of {source.base_url} into {out}: GET only, at most {rate:g} requests/s.")
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    try:
        with progress.reporter(sys.stdout.isatty()) as shown:
            rebuilt = snapshots.snapshot(source, out, force=force, progress=shown, now=now, deal_persons=deal_persons)
    except (SourceError, snapshots.OutExists) as error:
        raise SnapshotError(str(error)) from None
    except FixtureError as error:
        raise click.ClickException(f"the snapshot does not pass the fixture checks: {error}") from None
    except KeyboardInterrupt:
        click.echo(f"Interrupted after {source.requests} requests; {out} is unchanged.", err=True)
        raise SystemExit(130) from None
    finally:
        source.close()
    counts = ", ".join(f"{len(records)} {name}" for name, records in rebuilt.records.items() if records)
    click.echo(f"Wrote {out} from {source.requests} GET requests: {counts}.")
    click.echo("Not readable through the API, so set to a default (see docs/snapshot.md):")
    for line in rebuilt.defaults:
        click.echo(f"  - {line}")
