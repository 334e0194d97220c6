"""The contract harness has teeth: it passes the clean mock and names the check that catches each planted bug."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from contract_tests.checks import HORIZON
from contract_tests.harness import Harness, has_unfilled_parameter
from mock_server.app import create_app
from mock_server.control.tenancy import Tenants
from mock_server.domain.collection import Collection, Record
from mock_server.domain.deals import Deals
from mock_server.settings import Settings
from tests.planted import (
    DropQuery,
    RewriteJSON,
    broken_pagination,
    dropped_field,
    skipped_item,
    truncated_list,
    wrong_type,
)

TOKEN = "harness-token"
OTHER = "harness-other-token"


def mock_app() -> Any:
    return create_app(Settings(tokens=frozenset({TOKEN, OTHER})))


@pytest.fixture
def other_token(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("FINTESK_CHECK_OTHER_TOKEN", OTHER)
    yield OTHER


def test_clean_mock_passes_every_check_on_every_operation(other_token: str) -> None:
    report = Harness(mock_app(), TOKEN).run(max_examples=10)
    assert sum(report.requests.values()) > 300
    assert report.findings == []


def test_clean_mock_passes_the_stateful_run(other_token: str) -> None:
    report = Harness(mock_app(), TOKEN).run_stateful(max_examples=25)
    assert report.requests["POST /deals"] > 0
    assert report.findings == []


def test_wrong_type_in_a_field_fails_response_schema_conformance() -> None:
    app = RewriteJSON(mock_app(), "GET", r"/v1/deals/\d+", wrong_type)
    report = Harness(app, TOKEN).run(["getDeal"], max_examples=10)
    assert "response_schema_conformance" in report.failed_checks


def test_dropped_required_field_fails_response_schema_conformance() -> None:
    app = RewriteJSON(mock_app(), "GET", r"/v1/deals", dropped_field)
    report = Harness(app, TOKEN).run(["getDeals"], max_examples=5)
    assert "response_schema_conformance" in report.failed_checks


def test_broken_pagination_flag_fails_fintesk_pagination() -> None:
    app = RewriteJSON(mock_app(), "GET", r"/v1/deals", broken_pagination)
    report = Harness(app, TOKEN).run(["getDeals"], max_examples=5)
    assert "fintesk_pagination" in report.failed_checks


def test_list_that_hides_further_pages_fails_fintesk_pagination_complete() -> None:
    app = RewriteJSON(mock_app(), "GET", r"/v1/deals", truncated_list)
    report = Harness(app, TOKEN).call("getDeals", query={"limit": 5})
    assert report.failed_checks == {"fintesk_pagination_complete"}


def test_page_that_skips_records_fails_fintesk_pagination_complete() -> None:
    app = RewriteJSON(mock_app(), "GET", r"/v1/deals", skipped_item)
    report = Harness(app, TOKEN).call("getDeals", query={"limit": 5, "start": 5})
    assert report.failed_checks == {"fintesk_pagination_complete"}
    assert "would be skipped" in report.failures_of("fintesk_pagination_complete")[0].message


def test_clean_pages_pass_fintesk_pagination_complete() -> None:
    harness = Harness(mock_app(), TOKEN)
    for query in ({"limit": 5}, {"limit": 5, "start": 50}, {"start": 51}, {"start": 400}, {}):
        report = harness.call("getDeals", query=query)
        assert report.requests["GET /deals"] == 1
        assert report.findings == [], query


def test_ignored_limit_fails_fintesk_pagination_echo() -> None:
    report = Harness(DropQuery(mock_app(), "limit"), TOKEN).call("getDeals", query={"limit": 5})
    assert report.failed_checks == {"fintesk_pagination_echo"}
    assert "should be 5" in report.failures_of("fintesk_pagination_echo")[0].message


def test_ignored_start_fails_fintesk_pagination_echo() -> None:
    report = Harness(DropQuery(mock_app(), "start"), TOKEN).call("getDeals", query={"start": 3, "limit": 5})
    assert "fintesk_pagination_echo" in report.failed_checks


def invent_unknown_deals(monkeypatch: pytest.MonkeyPatch) -> None:
    """Plant a server that answers 200 with a made-up record, carrying the asked id, for any deal id."""
    original = Deals.get

    def get_or_invent(self: Deals, deal_id: int) -> Record:
        return self.find(deal_id) or {**original(self, 1), "id": deal_id}

    monkeypatch.setattr(Deals, "get", get_or_invent)


def test_made_up_record_for_an_unknown_id_fails_fintesk_unknown_id_is_404(monkeypatch: pytest.MonkeyPatch) -> None:
    invent_unknown_deals(monkeypatch)
    report = Harness(mock_app(), TOKEN).call("getDeal", path_parameters={"id": 2})
    # The answer is about the id asked for, so only the probe with an id that cannot exist sees the lie.
    assert report.failed_checks == {"fintesk_unknown_id_is_404"}
    assert "not 404" in report.failures_of("fintesk_unknown_id_is_404")[0].message


def test_made_up_record_is_found_by_generated_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    invent_unknown_deals(monkeypatch)
    report = Harness(mock_app(), TOKEN).run(["getDeal"], max_examples=5)
    assert "fintesk_unknown_id_is_404" in report.failed_checks


def test_unknown_id_probes_go_past_every_id_a_list_showed() -> None:
    harness = Harness(mock_app(), TOKEN)
    harness.call("getDeals", query={"limit": 500})
    assert HORIZON.largest >= 51
    report = harness.call("updateDeal", path_parameters={"id": 2}, body={"title": "Renamed"})
    assert report.findings == []


def test_200_for_an_unknown_id_fails_fintesk_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    original = Deals.get

    def get_or_any(self: Deals, deal_id: int) -> Record:
        return self.find(deal_id) or original(self, 1)

    monkeypatch.setattr(Deals, "get", get_or_any)
    report = Harness(mock_app(), TOKEN).run(["getDeal"], max_examples=10)
    assert "fintesk_identity" in report.failed_checks


def test_update_that_ignores_a_field_fails_fintesk_read_after_write(monkeypatch: pytest.MonkeyPatch) -> None:
    original = Deals.modify

    def modify_without_name(self: Deals, deal_id: int, body: dict[str, Any]) -> Record:
        return original(self, deal_id, {key: value for key, value in body.items() if key != "name"})

    monkeypatch.setattr(Deals, "modify", modify_without_name)
    report = Harness(mock_app(), TOKEN).call("updateDeal", path_parameters={"id": 1}, body={"name": "Renamed"})
    assert report.failed_checks == {"fintesk_read_after_write"}


def test_clean_update_passes_fintesk_read_after_write() -> None:
    report = Harness(mock_app(), TOKEN).call("updateDeal", path_parameters={"id": 1}, body={"name": "Renamed"})
    assert report.requests["PUT /deals/{id}"] == 1
    assert report.findings == []


def test_an_owner_the_answer_expands_passes_fintesk_read_after_write() -> None:
    # `user_id` is sent as an id and answered as the user with `value`: the same owner, not a changed field.
    report = Harness(mock_app(), TOKEN).call("addDeal", body={"person_id": 7, "user_id": 4})
    assert report.requests["POST /deals"] == 1
    assert report.findings == []


def test_an_add_that_ignores_the_owner_fails_fintesk_read_after_write(monkeypatch: pytest.MonkeyPatch) -> None:
    original = Deals.create

    def create_without_owner(self: Deals, body: dict[str, Any]) -> Record:
        return original(self, {key: value for key, value in body.items() if key != "user_id"})

    monkeypatch.setattr(Deals, "create", create_without_owner)
    report = Harness(mock_app(), TOKEN).call("addDeal", body={"person_id": 7, "user_id": 4})
    assert report.failed_checks == {"fintesk_read_after_write"}


def find_even_deleted(self: Collection, record_id: int) -> Record | None:
    return self._records.get(record_id)


DEAL_LIFECYCLE = ["addDeal", "getDeal", "updateDeal", "deleteDeals"]


def test_read_after_delete_that_succeeds_fails_the_stateful_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Collection, "find", find_even_deleted)
    report = Harness(mock_app(), TOKEN, operation_ids=DEAL_LIFECYCLE).run_stateful(max_examples=30)
    assert report.requests["DELETE /deals"] > 0
    assert "fintesk_deleted_stay_deleted" in report.failed_checks


def test_clean_deal_lifecycle_passes_the_stateful_run() -> None:
    report = Harness(mock_app(), TOKEN, operation_ids=DEAL_LIFECYCLE).run_stateful(max_examples=30)
    assert report.requests["DELETE /deals"] > 0
    assert report.findings == []


def test_read_after_bulk_delete_that_succeeds_fails_fintesk_deleted_stay_deleted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Collection, "find", find_even_deleted)
    report = Harness(mock_app(), TOKEN).call("deleteDeals", query={"ids": [1, 2]})
    assert report.failed_checks == {"fintesk_deleted_stay_deleted"}


def test_clean_bulk_delete_passes_fintesk_deleted_stay_deleted() -> None:
    report = Harness(mock_app(), TOKEN).call("deleteDeals", query={"ids": [1, 2]})
    assert report.requests["DELETE /deals"] == 1
    assert report.findings == []


def test_server_error_on_some_input_fails_not_a_server_error(monkeypatch: pytest.MonkeyPatch) -> None:
    original = Deals.query

    def crash_on_stage(self: Deals, **kwargs: Any) -> list[Record]:
        if kwargs.get("stage_id") is not None:
            raise RuntimeError("planted crash")
        return original(self, **kwargs)

    monkeypatch.setattr(Deals, "query", crash_on_stage)
    report = Harness(mock_app(), TOKEN).run(["getDeals"], max_examples=15)
    assert "not_a_server_error" in report.failed_checks


def test_tenant_leak_fails_fintesk_tenant_isolation(monkeypatch: pytest.MonkeyPatch, other_token: str) -> None:
    original = Tenants.for_token

    def one_account_for_all(self: Tenants, token: str) -> Any:
        return original(self, TOKEN)

    monkeypatch.setattr(Tenants, "for_token", one_account_for_all)
    report = Harness(mock_app(), TOKEN).run(["addDeal"], max_examples=10)
    assert "fintesk_tenant_isolation" in report.failed_checks


def test_a_step_with_an_unfilled_parameter_is_told_apart() -> None:
    assert has_unfilled_parameter(SimpleNamespace(query={"ids": None}, path_parameters={}))
    assert has_unfilled_parameter(SimpleNamespace(query=None, path_parameters={"id": None}))
    assert not has_unfilled_parameter(SimpleNamespace(query={"ids": [3]}, path_parameters={"id": 3}))
    assert not has_unfilled_parameter(SimpleNamespace(query=None, path_parameters=None))


def queries_sent(seed: int) -> list[str]:
    harness = Harness(mock_app(), TOKEN, checks=["not_a_server_error"])
    sent: list[str] = []
    validate = harness.validate

    def recording(report: Any, case: Any, response: Any, recorder: Any = None) -> None:
        sent.append(repr(case.query))
        validate(report, case, response, recorder)

    harness.validate = recording  # type: ignore[method-assign]
    harness.run(["getDeals"], max_examples=8, seed=seed)
    return sent


def test_the_in_process_harness_repeats_a_seed_and_varies_with_it() -> None:
    first = queries_sent(3)
    assert len(first) >= 8
    assert queries_sent(3) == first
    assert queries_sent(4) != first
