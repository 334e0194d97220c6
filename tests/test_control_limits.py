"""The control plane validates like the API: every /__mock__ input out of bounds is a 400 in the envelope."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from mock_server import DEFAULT_FIXTURES
from mock_server.app import create_app
from mock_server.control import journal as journal_module
from mock_server.http.tenant import mask_token
from mock_server.settings import Settings
from tests.conftest import Api, assert_error

LATEST = "9998-12-31 23:59:59"
EARLIEST = "1001-01-01 00:00:00"
READS = ["/deals", "/deals/1", "/deals/summary", "/deals/1/flow", "/deals/1/activities", "/activities?user_id=0",
         "/deals/timeline?start_date=9998-01-01&interval=quarter&amount=4&field_key=add_time", "/filters"]  # fmt: skip


@pytest.fixture
def mock() -> Iterator[TestClient]:
    with create_app(Settings(validate_responses=True)).test_client() as client:
        yield client


def clock(client: TestClient, **body: object) -> dict[str, object]:
    response = client.post("/__mock__/clock", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.mark.parametrize(
    "moment", ["9999-12-31 23:59:59", "0001-01-01 00:00:00", "0000-01-01 00:00:00", "1000-12-31 23:59:59"]
)
def test_the_clock_cannot_be_frozen_outside_its_years(mock: TestClient, moment: str) -> None:
    assert_error(mock.post("/__mock__/clock", json={"freeze": moment}), 400, "freeze")
    assert mock.get("/__mock__/clock").json()["frozen"] is False


def test_the_clock_cannot_be_advanced_past_its_last_second_and_stays_put(mock: TestClient) -> None:
    clock(mock, freeze=LATEST)
    assert_error(mock.post("/__mock__/clock", json={"advance": "1s"}), 400, "advance", LATEST)
    assert mock.get("/__mock__/clock").json()["now"] == LATEST


@pytest.mark.parametrize("advance", ["999999999999d", "9" * 20 + "s", "9" * 5000 + "s", "1d" * 20])
def test_a_huge_or_long_duration_is_a_400(mock: TestClient, advance: str) -> None:
    assert_error(mock.post("/__mock__/clock", json={"advance": advance}), 400, "advance")


@pytest.mark.parametrize("moment", [LATEST, EARLIEST])
def test_every_read_answers_at_the_ends_of_the_clock(mock: TestClient, moment: str) -> None:
    clock(mock, freeze=moment)
    api = Api(mock, "edge-of-time")
    api.data("POST", "/activities", json={"subject": "At the edge", "deal_id": 1, "due_date": moment[:10]})
    for path in READS:
        response = api.get(path)
        assert response.status_code == 200, (path, response.text)
    assert mock.get("/__mock__/tenants/edge-of-time/state").status_code == 200


@pytest.mark.parametrize("fault_id", ["99999999999", "0", "-1"])
def test_a_fault_id_out_of_range_is_a_400(mock: TestClient, fault_id: str) -> None:
    assert_error(mock.delete(f"/__mock__/faults/{fault_id}"), 400, "'id'")


def test_a_fault_message_with_a_lone_surrogate_is_refused_and_faults_still_list(mock: TestClient) -> None:
    body = b'{"kind": "status", "status": 500, "message": "\\ud800", "path": "/v1/nothing"}'
    response = mock.post("/__mock__/faults", content=body, headers={"content-type": "application/json"})
    assert_error(response, 400, "'message'", "surrogate")
    assert mock.get("/__mock__/faults").json() == []


@pytest.mark.parametrize("field", ["message", "code", "tenant", "path"])
def test_fault_text_past_its_bound_is_a_400(mock: TestClient, field: str) -> None:
    value = "/v1/" + "x" * 1000 if field == "path" else "x" * 1001
    response = mock.post("/__mock__/faults", json={"kind": "status", "status": 500, field: value})
    assert_error(response, 400, f"'{field}'")
    assert len(response.json()["error"]) < 500  # the refused value is not echoed whole


@pytest.mark.parametrize("name", ["../../../etc", "/etc", "x" * 5000, "default/../default", ".hidden", ""])
def test_a_fixture_name_that_is_not_a_plain_name_is_a_400(mock: TestClient, name: str) -> None:
    assert_error(mock.post("/__mock__/tenants/t/load", json={"fixtures": name}), 400, "'fixtures'")


def test_an_unknown_fixture_name_reads_the_same_whether_or_not_such_a_folder_exists(mock: TestClient) -> None:
    # `etc` and `usr` exist elsewhere on any Unix machine; `no-such-set` exists nowhere.
    answers = {}
    for name in ("etc", "usr", "no-such-set"):
        response = mock.post("/__mock__/tenants/t/load", json={"fixtures": name})
        answers[name] = assert_error(response, 400, "names available", "default")["error"].replace(name, "NAME")
    assert len(set(answers.values())) == 1, answers


def test_a_fixture_set_is_loaded_by_name_and_the_answer_holds_no_path(mock: TestClient) -> None:
    response = mock.post("/__mock__/tenants/t/load", json={"fixtures": "default"})
    assert response.status_code == 200, response.text
    assert response.json() == {"loaded": "default", "token": mask_token("t")}


def test_sets_beside_the_fixtures_folder_load_by_name(tmp_path: Path) -> None:
    shutil.copytree(DEFAULT_FIXTURES, tmp_path / "mine")
    shutil.copytree(DEFAULT_FIXTURES, tmp_path / "other")
    (tmp_path / "other" / "deals.yaml").write_text("[]\n", encoding="utf-8")
    for name in ("deal_products", "activities", "notes"):
        text = (tmp_path / "other" / f"{name}.yaml").read_text(encoding="utf-8")
        (tmp_path / "other" / f"{name}.yaml").write_text("[]\n" if "deal_id" in text else text, encoding="utf-8")
    with create_app(Settings(fixtures=tmp_path / "mine")).test_client() as client:
        response = client.post("/__mock__/tenants/t/load", json={"fixtures": "other"})
        assert response.status_code == 200, response.text
        assert Api(client, "t").data("GET", "/deals") == []
        names = client.post("/__mock__/tenants/t/load", json={"fixtures": "nope"}).json()["error"]
        assert "default" in names and "mine" in names and "other" in names


def test_an_imported_state_with_a_rate_of_zero_is_a_400_and_the_summary_still_answers(mock: TestClient) -> None:
    state = mock.get("/__mock__/tenants/rates/state").json()
    code = next(iter(state["company"]["exchange_rates"]["rates"]))
    state["company"]["exchange_rates"]["rates"][code] = 0
    assert_error(mock.put("/__mock__/tenants/rates/state", json=state), 400, "rates", code)
    assert Api(mock, "rates").get("/deals/summary").status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("PUT", "/rate-limit", {"limit": 10**10}), ("POST", "/seed", {"seed": 2**65}),
     ("POST", "/reset", {"token": "t" * 1001}), ("GET", "/requests?limit=10001", None),
     ("POST", "/scenarios/" + "s" * 65, None), ("POST", "/faults", {"kind": "status", "times": 10**10})],
)  # fmt: skip
def test_other_control_inputs_have_bounds(mock: TestClient, method: str, path: str, body: object) -> None:
    assert_error(mock.request(method, "/__mock__" + path, json=body), 400)


def test_a_listing_of_every_tenants_requests_decodes_and_answers_at_most_the_newest_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(journal_module, "MAX_LISTED", 5)
    journal = journal_module.Journal()
    decoded: list[int] = []
    for number in range(40):
        entry = {"method": "GET", "path": f"/v1/deals/{number}", "status": 200}
        journal.record(f"tenant-{number % 7}", entry, lambda number=number: decoded.append(number) or {})
    listed = journal.entries()
    assert [entry["path"] for entry in listed] == [f"/v1/deals/{number}" for number in range(35, 40)]
    assert sorted(decoded) == list(range(35, 40))  # only the listed entries were decoded
    assert len(journal.entries(limit=10**6)) == 5
    matching = [entry["path"] for entry in journal.entries(path="/v1/deals/1*")]
    assert matching == [f"/v1/deals/{number}" for number in range(15, 20)]  # the newest of 1 and 10 to 19
