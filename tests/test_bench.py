"""The benchmark's own logic: wrk output parsing, the Python load generator, medians, targets and tables."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bench import durable, extras, loadgen, report, servers, wrk
from bench import run as run_module
from bench.kinds import BY_KEY, FRESH_KINDS, KINDS, MEASURED, SCALE_KINDS, TOKEN, RequestKind
from bench.loadgen import LoadResult
from bench.report import ServerRun, Target
from bench.run import parse_args

WRK_OUTPUT = """\
Running 2s test @ http://127.0.0.1:18126/v1/deals/999999
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    22.08ms   15.93ms 153.30ms   85.31%
    Req/Sec   802.08    262.50     1.16k    52.50%
  Latency Distribution
     50%  504.00us
     75%   21.58ms
     90%   43.07ms
     99%    1.20s
  3199 requests in 2.01s, 0.92MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 10
Requests/sec:   1594.92
Transfer/sec:    470.38KB
"""


def result(rps: float = 100.0, p50: float | None = 1.0, errors: int = 0, connections: int = 1) -> LoadResult:
    return LoadResult("wrk", connections, 10, 1.0, rps, p50, p50, errors)


def test_wrk_duration__every_unit_in_milliseconds() -> None:
    assert [wrk.duration_ms(text) for text in ("850.00us", "1.50ms", "2.00s", "1.50m")] == [0.85, 1.5, 2000, 90_000]


def test_wrk_duration__garbage_is_an_error() -> None:
    with pytest.raises(wrk.WrkError):
        wrk.duration_ms("fast")


def test_parse_wrk__reads_count_rate_percentiles_and_errors() -> None:
    parsed = wrk.parse_output(WRK_OUTPUT, connections=32)
    assert (parsed.requests, parsed.duration_s, parsed.connections) == (3199, 2.01, 32)
    assert parsed.rps == pytest.approx(3199 / 2.01)
    assert (parsed.p50_ms, parsed.p99_ms) == (pytest.approx(0.504), 1200.0)
    assert parsed.errors == 13
    assert not parsed.ok


def test_parse_wrk__clean_run_is_ok() -> None:
    clean = "\n".join(line for line in WRK_OUTPUT.splitlines() if "errors" not in line and "Non-2xx" not in line)
    assert wrk.parse_output(clean, connections=1).ok


def test_parse_wrk__no_request_count_is_an_error() -> None:
    with pytest.raises(wrk.WrkError, match="no request count"):
        wrk.parse_output("unable to connect to 127.0.0.1:1 Connection refused", connections=1)


def test_wrk_command__script_timeout_latency_and_threads_at_most_connections() -> None:
    argv = wrk.command("/usr/bin/wrk", "http://127.0.0.1:1/v1/deals", connections=1, duration_s=3, threads=2)
    assert argv[:6] == ["/usr/bin/wrk", "-t1", "-c1", "-d3s", f"--timeout={wrk.REQUEST_TIMEOUT_S}s", "--latency"]
    assert argv[-3:] == ["-s", str(wrk.LUA_SCRIPT), "http://127.0.0.1:1/v1/deals"]
    assert wrk.LUA_SCRIPT.exists()


def test_percentile__nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert (loadgen.percentile(values, 0.5), loadgen.percentile(values, 0.99)) == (50.0, 99.0)
    assert loadgen.percentile([], 0.5) is None


class _Handler(BaseHTTPRequestHandler):
    """Answers 200 to the bench token and 401 to anything else, like the mock started with --tokens (the served
    specs need no token)."""

    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        cache_control_seen.add(self.headers.get("cache-control"))
        status = 200 if self.headers.get("x-api-token") == TOKEN or self.path.endswith("openapi.json") else 401
        self.send_response(status)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


cache_control_seen: set[str | None] = set()


@pytest.fixture
def tiny_server() -> Iterator[str]:
    cache_control_seen.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def test_python_loadgen__sends_the_kind_for_the_duration(tiny_server: str) -> None:
    measured = loadgen.run(tiny_server, BY_KEY["add_deal"], TOKEN, connections=4, duration_s=1)
    assert measured.requests > 0 and measured.errors == 0
    assert measured.p50_ms is not None and measured.p99_ms is not None and measured.p50_ms <= measured.p99_ms


@pytest.mark.parametrize("tool", ["python", "wrk"])
def test_loadgens__send_no_cache_for_fresh_reads_only(tiny_server: str, tool: str) -> None:
    path = wrk.wrk_path()
    if tool == "wrk" and path is None:
        pytest.skip("wrk is not on PATH")

    def measure(kind: RequestKind) -> LoadResult:
        if path is not None and tool == "wrk":
            return wrk.run(path, tiny_server, kind, TOKEN, connections=1, duration_s=1, threads=1)
        return loadgen.run(tiny_server, kind, TOKEN, connections=1, duration_s=1)

    assert measure(BY_KEY["list_deals"]).requests > 0
    assert cache_control_seen == {None}
    assert measure(BY_KEY["list_deals"].worked_out()).requests > 0
    assert cache_control_seen == {None, "no-cache"}


def test_kinds__fresh_reads_repeat_the_reads_and_come_before_the_writes() -> None:
    reads = [kind for kind in KINDS if not kind.is_write]
    assert [(kind.method, kind.path, kind.key) for kind in FRESH_KINDS] == [
        (kind.method, kind.path, f"{kind.key}_fresh") for kind in reads
    ]
    assert all(kind.headers == {"cache-control": "no-cache"} and "no-cache" in kind.label for kind in FRESH_KINDS)
    assert [kind.is_write for kind in MEASURED] == [False] * (2 * len(reads)) + [True] * (len(KINDS) - len(reads))
    assert [kind.fresh for kind in SCALE_KINDS] == [True, True, True, True, False]


def test_python_loadgen__counts_non_2xx_as_errors(tiny_server: str) -> None:
    measured = loadgen.run(tiny_server, BY_KEY["get_deal"], "wrong-token", connections=1, duration_s=1)
    assert measured.requests > 0 and measured.errors == measured.requests


def test_python_loadgen__refused_connections_are_errors_and_it_stops() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    measured = loadgen.run(f"http://127.0.0.1:{port}", BY_KEY["get_deal"], TOKEN, connections=2, duration_s=1)
    assert measured.requests == 0 and measured.errors > 0 and not measured.ok


def test_vm_rss__read_from_proc_status_and_own_process_has_some() -> None:
    assert servers.vm_rss_kb("Name:\tpython\nVmRSS:\t   84340 kB\nThreads:\t3\n") == 84340
    assert servers.vm_rss_kb("Name:\tzombie\n") == 0
    assert servers.rss_kb(os.getpid()) > 0


def _run(rps: float, p50: float, startup: float = 1.0, errors: int = 0, key: str = "get_deal") -> ServerRun:
    run = ServerRun(startup_s=startup, ready_s=startup, rss_start_mb=80, rss_mb=90, rss_reads_mb=90)
    run.results = {key: {1: result(rps, p50, errors), 32: result(rps * 2, p50 * 10, errors, 32)}}
    return run


def test_summarise__medians_over_rounds() -> None:
    summary = report.summarise([_run(100, 1.0, 3.0), _run(300, 3.0, 1.0), _run(200, 2.0, 2.0)])
    assert summary["startup_s"] == 2.0 and summary["rounds"] == 3
    assert summary["kinds"]["get_deal"]["1"] | {"requests": 0} == {"rps": 200, "p50_ms": 2.0, "p99_ms": 2.0,
                                                                  "requests": 0, "errors": 0}  # fmt: skip
    assert report.figure(summary, "get_deal", 32, "rps") == 400


def test_figure__a_figure_with_errors_compares_with_nothing() -> None:
    summary = report.summarise([_run(100, 1.0, errors=3)])
    assert report.figure(summary, "get_deal", 1, "rps") is None
    assert report.figure(summary, "list_deals", 1, "rps") is None


def test_advantage__above_one_means_the_mock_wins_either_way() -> None:
    assert report.advantage(300, 100, higher_is_better=True) == 3
    assert report.advantage(1.0, 4.0, higher_is_better=False) == 4
    assert report.advantage(None, 4.0, higher_is_better=False) is None


def test_target__pass_fail_and_not_measured() -> None:
    assert Target("start-up", 0.5, 1.0, "s").status == "PASS"
    assert Target("start-up", 1.0, 1.0, "s").status == "FAIL"
    assert Target("vs Prism", 1.5, 1.5, "x", at_least=True).status == "PASS"
    assert Target("start-up", None, 1.0, "s").line() == "n/a   start-up: not measured (target < 1.00 s)"


def test_table__aligns_columns() -> None:
    text = report.table(["request", "req/s"], [["GET /v1/deals/1", "1,234"], ["POST /v1/deals", "5"]])
    assert text.splitlines() == [
        "request          req/s",
        "---------------  -----",
        "GET /v1/deals/1  1,234",
        "POST /v1/deals       5",
    ]


def test_main_table__ratios_to_prism_and_errors_noted() -> None:
    mock = report.summarise([_run(300, 1.0)])
    prism = report.summarise([_run(100, 2.0, startup=2.0)])
    row = next(
        line for line in report.main_table(mock, prism, [1, 32]).splitlines() if line.startswith("GET /v1/deals/1 ")
    )
    assert row.split()[3:] == ["300", "1.00", "1.00", "100", "2.00", "2.00", "3.00x", "2.00x", "2.00x"]


def test_main_table__rss_after_the_reads_and_after_the_writes_with_deals_created() -> None:
    mock_run, prism_run = _run(300, 1.0), _run(100, 2.0)
    mock_run.rss_reads_mb, mock_run.rss_mb = 70, 160
    mock_run.results["add_deal"] = {1: result(10), 32: result(20, connections=32)}
    prism_run.rss_reads_mb, prism_run.rss_mb = 280, 300
    lines = report.main_table(report.summarise([mock_run]), report.summarise([prism_run]), [1, 32]).splitlines()

    assert next(line for line in lines if line.startswith("RSS after the read load")).split()[5:] == [
        "70.0", "MB", "280", "MB", "4.00x"]  # fmt: skip
    writes = next(line for line in lines if line.startswith("RSS after the writes too")).split()[5:]
    assert writes == ["160", "MB", "300", "MB", "1.88x", "20.0", "deals", "created"]  # 10 requests per result
    assert report.mock_targets(report.summarise([mock_run]), None)[3].value == 70


def test_measure_server__reads_the_rss_before_the_first_write(monkeypatch: pytest.MonkeyPatch) -> None:
    rss = iter(range(100, 200, 10))
    asked: list[str] = []

    class FakeServer:
        name, base_url, startup_s, ready_s = "mock", "http://127.0.0.1:1/v1", 0.5, 0.5

        def rss_mb(self) -> float:
            return float(next(rss))

        def stop(self) -> None:
            pass

    monkeypatch.setattr(run_module, "warm_up", lambda server, kind, seconds: None)

    def measure(url: str, kind: RequestKind, conns: int, secs: int) -> LoadResult:
        asked.append(kind.key)
        return result()

    args = parse_args(["--quick"])
    server_run = run_module.measure_server(FakeServer, MEASURED, [1], args, measure)  # type: ignore[arg-type]

    assert asked == [kind.key for kind in MEASURED]
    assert (server_run.rss_start_mb, server_run.rss_reads_mb, server_run.rss_mb) == (100, 110, 120)


def test_scale_table__rss_per_10k_deals_and_growth() -> None:
    small = report.summarise([_run(100, 1.0, key="get_deal_fresh")])
    big = report.summarise([_run(10, 10.0, key="get_deal_fresh")])
    lines = report.scale_table({1000: small, 10_000: big}, baseline_rss_mb=80).splitlines()
    assert lines[2].split()[:4] == ["1,000", "1.00", "90.0", "100"]
    assert lines[-1].split()[:2] == ["growth", "1,000->10,000"] and "10.00x" in lines[-1]


def test_parse_args__quick_defaults_yield_to_explicit_options() -> None:
    quick = parse_args(["--quick", "--sizes", "2000,3000"])
    assert (quick.duration, quick.rounds, quick.sizes, quick.connections) == (2, 1, [2000, 3000], [1, 32])
    full = parse_args([])
    assert (full.duration, full.rounds, full.sizes) == (4, 3, [1000, 10_000, 100_000])


def test_durable_render__a_create_over_the_factor_fails_the_target() -> None:
    def medians(create_ms: float) -> dict[str, Any]:
        return {"loadgen": "wrk", "rounds": 1, "median": {
            "memory": {"get_deal_fresh": 0.3, "add_deal": 1.0},
            "data_dir": {"get_deal_fresh": 0.3, "add_deal": create_ms},
        }}  # fmt: skip

    assert "PASS  a create with --data-dir costs 1.40x" in durable.render(medians(1.4))
    assert "FAIL  a create with --data-dir costs 1.60x" in durable.render(medians(1.6))


def _fresh_summary(rps: float) -> dict[str, Any]:
    """Every fresh read at `rps` requests per second at 32 connections."""
    run = _run(rps, 1.0)
    run.results = {kind.key: {32: result(rps, 1.0, connections=32)} for kind in FRESH_KINDS}
    return report.summarise([run])


def test_fresh_targets__every_fresh_read_vs_prism_and_search_by_more() -> None:
    mock, prism = _fresh_summary(300.0), _fresh_summary(160.0)

    targets = {target.name: target for target in report.fresh_targets(mock, prism)}

    assert len(targets) == len(FRESH_KINDS)
    search = targets["req/s at 32 connections vs Prism, GET /v1/itemSearch?term=Oy no-cache"]
    assert (search.limit, search.status) == (2.0, "FAIL")  # 1.88x is not 2x
    others = [target for name, target in targets.items() if "itemSearch" not in name]
    assert {(target.limit, target.status) for target in others} == {(1.5, "PASS")}
    assert report.fresh_targets(mock, None) == []


def test_extras__spec_answers_over_50_ms_fail_and_lines_name_the_check_run() -> None:
    extras = {
        "spec": {"/v1/openapi.json": {"kb": 127.3, "first_ms": 12.0, "p50_ms": 2.0, "max_ms": 12.0},
                 "/__mock__/openapi.json": {"kb": 9.5, "first_ms": 80.0, "p50_ms": 1.0, "max_ms": 80.0}},
        "check": {"seconds": 71.2, "exit_code": 0, "cases": 4431},
    }  # fmt: skip

    statuses = [(target.name, target.status) for target in report.extras_targets(extras)]
    lines = report.extras_lines(extras)

    assert statuses == [("slowest of /v1/openapi.json answers", "PASS"),
                        ("slowest of /__mock__/openapi.json answers", "FAIL")]  # fmt: skip
    assert lines[0] == "/v1/openapi.json: 127 KB, first answer 12.0 ms, then p50 2.00 ms, slowest 12.0 ms"
    assert lines[-1] == "fintesk-mock check, full run on the bundled account: 71.2 s, 4,431 test cases, exit code 0"
    assert report.extras_targets(None) == [] and report.extras_lines(None) == []


def test_check_run__command_and_summary_parsing() -> None:
    argv = extras.check_command("http://127.0.0.1:1/v1")
    assert argv[1:6] == ["-m", "mock_server", "check", "--base-url", "http://127.0.0.1:1/v1"]
    assert argv[argv.index("--token") + 1] == TOKEN and argv[argv.index("--other-token") + 1] != TOKEN
    assert extras.parse_check_output("Test cases:\n  4431 generated, 4431 passed, 136 skipped\n") == 4431
    assert extras.parse_check_output("Error: cannot connect") is None


def test_measure_spec__sizes_and_times_of_both_served_specs(tiny_server: str) -> None:
    class AtTinyServer:
        base_url = tiny_server

    measured = extras.measure_spec(AtTinyServer)  # type: ignore[arg-type]

    assert set(measured) == set(extras.SPEC_PATHS)
    for figures in measured.values():
        assert figures["kb"] > 0 and 0 < figures["p50_ms"] <= figures["max_ms"]
