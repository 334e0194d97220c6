"""`fintesk-mock serve|...`: every flag can also be set by an environment variable FINTESK_MOCK_<FLAG>."""

from __future__ import annotations

import gc
import importlib
import os
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from mock_server import DEFAULT_FIXTURES, __version__
from mock_server.data.bulk import no_collection
from mock_server.data.fixtures import FixtureError
from mock_server.errors import FinteskError
from mock_server.http.limits import MAX_HEADER_BYTES
from mock_server.settings import Settings, parse_tokens

if TYPE_CHECKING:
    import uvicorn


class LazyGroup(click.Group):
    """Commands named in `lazy` are imported when used (click's lazy subcommand pattern): `serve` does not pay
    for importing Schemathesis and Hypothesis, which only `check` needs (about a third of a second)."""

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.lazy:
            return super().get_command(ctx, cmd_name)
        module, _, name = self.lazy[cmd_name].partition(":")
        command = getattr(importlib.import_module(module), name)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, lazy={"check": "contract_tests.runner:check"})
@click.version_option(__version__, prog_name="fintesk-mock")
def main() -> None:
    """Fintesk Mock: a stateful mock of the Fintesk CRM API v2."""


@main.command()
@click.option("--host", envvar="FINTESK_MOCK_HOST", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", envvar="FINTESK_MOCK_PORT", default=8080, show_default=True, type=int, help="Port to bind.")
@click.option(
    "--fixtures",
    envvar="FINTESK_MOCK_FIXTURES",
    default=DEFAULT_FIXTURES,
    type=click.Path(file_okay=False, path_type=Path),
    help="Fixture folder to seed every tenant from (default: the bundled account).",
)
@click.option(
    "--tokens",
    envvar="FINTESK_MOCK_TOKENS",
    default="",
    help="Comma-separated API tokens to accept; empty accepts any token.",
)
@click.option(
    "--log-level",
    envvar="FINTESK_MOCK_LOG_LEVEL",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
)
@click.option("--seed", envvar="FINTESK_MOCK_SEED", default=0, show_default=True, type=click.IntRange(min=0),
              help="Seed of everything random (custom field keys, probabilistic faults).")  # fmt: skip
@click.option("--rate-limit", envvar="FINTESK_MOCK_RATE_LIMIT", default=0, show_default=True,
              type=click.IntRange(min=0), help="Requests per 2-second window per token; 0 = off.")  # fmt: skip
@click.option("--state", envvar="FINTESK_MOCK_STATE", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Start every tenant from this exported state (GET /__mock__/tenants/{token}/state).")  # fmt: skip
@click.option("--scenario", envvar="FINTESK_MOCK_SCENARIO", help="Apply a named scenario at start (see `scenarios`).")
@click.option("--generate-deals", envvar="FINTESK_MOCK_GENERATE_DEALS", default=0, type=click.IntRange(min=0),
              help="Serve a generated account of this many deals from --seed.")  # fmt: skip
@click.option("--max-body-mb", envvar="FINTESK_MOCK_MAX_BODY_MB", default=10, show_default=True,
              type=click.IntRange(min=1), help="Largest request body, in MB; bigger ones answer 413.")  # fmt: skip
@click.option("--max-import-mb", envvar="FINTESK_MOCK_MAX_IMPORT_MB", default=256, show_default=True,
              type=click.IntRange(min=1), help="Largest state import (PUT of a tenant state), in MB.")  # fmt: skip
@click.option("--max-tenants", envvar="FINTESK_MOCK_MAX_TENANTS", default=256, show_default=True,
              type=click.IntRange(min=1), help="Live tenants kept; past it the least recently used goes.")  # fmt: skip
@click.option("--shutdown-timeout", envvar="FINTESK_MOCK_SHUTDOWN_TIMEOUT", default=3, show_default=True,
              type=click.IntRange(min=0), help="Seconds requests in flight get after SIGTERM or Ctrl-C.")  # fmt: skip
def serve(
    host: str,
    port: int,
    fixtures: Path,
    tokens: str,
    log_level: str,
    seed: int,
    rate_limit: int,
    state: Path | None,
    scenario: str | None,
    generate_deals: int,
    max_body_mb: int,
    max_import_mb: int,
    max_tenants: int,
    shutdown_timeout: int,
) -> None:
    """Serve the Fintesk API under /v1 from in-memory tenants seeded with FIXTURES."""
    import uvicorn

    from mock_server.app import create_app

    settings = Settings(
        host=host,
        port=port,
        fixtures=fixtures,
        tokens=parse_tokens(tokens),
        log_level=log_level,
        seed=seed,
        rate_limit=rate_limit,
        state=state,
        scenario=scenario,
        generate_deals=generate_deals,
        max_body_mb=max_body_mb,
        max_import_mb=max_import_mb,
        max_tenants=max_tenants,
    )
    # Accounts live as long as their tenant. Walking a forked account's million-entry dicts on every collection cost
    # a 100k-deal account 15 ms per page read, so the collector stops looking at the start-up heap and at each new
    # tenant (records hold no cycles: reference counting still frees them on reset). The heap is frozen before the
    # collector resumes: resuming first let it walk the freshly built records twice (1.6 s of a 100k-deal start).
    try:
        with no_collection():
            app = create_app(settings)
            gc.freeze()
    except (FixtureError, FinteskError) as error:
        raise click.ClickException(f"cannot start: {error}") from None
    app.state["tenants"].settle = gc.freeze
    click.echo(f"Fintesk Mock {__version__}: http://{host}:{port}/v1 (docs at /v1/docs), fixtures {fixtures}")
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=log_level == "debug",
                            h11_max_incomplete_event_size=MAX_HEADER_BYTES,
                            timeout_graceful_shutdown=shutdown_timeout)  # fmt: skip
    prompt_server(config).run()


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
