"""Whatever was accepted can always be read: the nastiest accepted values come back from every view, the export,
an import of that export and the journal (responses are checked against the spec by the session's app)."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from tests.conftest import Api

EMOJI = "\U0001f600\U0001f469\u200d\U0001f4bb\U0001f1eb\U0001f1ee"
RTL = "\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627 \u202e\u202d"
COMBINING = "Vide\u0301o Z\u0351\u0357\u0364a\u0353\u0355l\u0346g\u0352o"
NASTY = f'{EMOJI} {RTL} {COMBINING} "quoted" \\ <tag> \t\n\x7f \u0000-free'
LONG_NAME = (NASTY * 2000)[:100_000]  # names have no maximum length: the body limit bounds them


def deep(levels: int) -> Any:
    value: Any = {"leaf": NASTY}
    for level in range(levels):
        value = {"level": level, "items": [value, NASTY]} if level % 2 else [value]
    return value


def stored(api: Api) -> dict[str, Any]:
    """Every kind of record the API writes, each holding nasty values; their ids."""
    text_field = api.data("POST", "/dealFields", json={"name": NASTY, "field_type": "text"})
    varchar = api.data("POST", "/dealFields", json={"name": COMBINING, "field_type": "varchar"})
    deal = api.data("POST", "/deals", json={
        "name": LONG_NAME, "person_id": 1, "value": 1e15, "currency": "EUR",
        text_field["key"]: LONG_NAME, varchar["key"]: NASTY, "unlisted_custom_value": deep(40),
    })  # fmt: skip
    api.data("PUT", f"/deals/{deal['id']}", json={"name": NASTY + " renamed", "status": "won"})
    activity_type = api.data("POST", "/activityTypes", json={"name": LONG_NAME[:5000], "icon_key": "car"})
    activity = api.data("POST", "/activities", json={
        "subject": LONG_NAME, "note": NASTY, "deal_id": deal["id"], "type": activity_type["key_string"],
        "due_date": "2024-02-29",
    })  # fmt: skip
    product = api.data("POST", f"/deals/{deal['id']}/products", json={"product_id": 1, "item_price": 1e12,
                                                                      "quantity": 1000, "comments": NASTY})  # fmt: skip
    return {"deal": deal["id"], "activity": activity["id"], "field": text_field["id"], "product": product["id"]}


def views(ids: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    deal = ids["deal"]
    return [
        ("/deals", {"limit": 500}), ("/deals", {"status": "all_not_deleted", "sort": "name DESC"}),
        (f"/deals/{deal}", {}), (f"/deals/{deal}/flow", {"all_changes": "1"}), (f"/deals/{deal}/activities", {}),
        (f"/deals/{deal}/persons", {}), (f"/deals/{deal}/products", {}), ("/deals/summary", {}),
        ("/deals/timeline", {"start_date": "2020-01-01", "interval": "quarter", "amount": 40, "field_key": "add_time"}),
        ("/deals/search", {"term": "Vide\u0301o"}), ("/deals/search", {"term": EMOJI}),
        ("/itemSearch", {"term": RTL[:4]}), ("/activities", {"user_id": 0}), (f"/activities/{ids['activity']}", {}),
        ("/activityTypes", {}), ("/dealFields", {"limit": 500}), (f"/dealFields/{ids['field']}", {}),
        ("/filters", {}), ("/currencies", {"term": "e"}), ("/activityFields", {}),
    ]  # fmt: skip


def test_the_nastiest_accepted_values_read_back_from_every_view(api: Api) -> None:
    ids = stored(api)
    for path, query in views(ids):
        response = api.get(path, params=query)
        assert response.status_code == 200, (path, response.text[:500])
    assert api.data("GET", f"/deals/{ids['deal']}")["name"] == NASTY + " renamed"


def test_the_nastiest_accepted_values_survive_export_import_and_the_journal(client: TestClient, api: Api) -> None:
    ids = stored(api)
    state = client.get(f"/__mock__/tenants/{api.token}/state")
    assert state.status_code == 200, state.text[:500]
    copy = Api(client, api.token + "-copy")
    assert client.put(f"/__mock__/tenants/{copy.token}/state", json=state.json()).status_code == 200
    assert copy.data("GET", f"/deals/{ids['deal']}") == api.data("GET", f"/deals/{ids['deal']}")
    journal = client.get("/__mock__/requests", params={"token": api.token})
    assert journal.status_code == 200, journal.text[:500]
    bodies = [entry["body"] for entry in journal.json() if entry["method"] == "POST"]
    assert any(isinstance(body, dict) and body.get("name") == NASTY for body in bodies)
    assert client.get("/__mock__/requests").status_code == 200
