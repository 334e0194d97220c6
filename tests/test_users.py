"""Users over HTTP: the list, one user, the token's own user, and finding users by name or email."""

from __future__ import annotations

from conftest import Api, assert_error
from starlette.testclient import TestClient

from contract_tests.harness import Harness
from mock_server.app import create_app
from mock_server.settings import Settings
from tests.fixture_data import by_id, fixture

TOKEN = "users-harness-token"


def test_get_users__lists_every_user_and_marks_the_tokens_own(api: Api) -> None:
    data = api.data("GET", "/users")

    assert [user["id"] for user in data] == [user["id"] for user in fixture("users")]
    me = fixture("company")["api_user_id"]
    assert [user["id"] for user in data if user["is_you"]] == [me]
    assert all(user["created"] == by_id("users")[user["id"]]["add_time"] for user in data)


def test_get_user__one_user_and_404_for_an_unknown_id(api: Api) -> None:
    user = api.data("GET", "/users/2")

    assert (user["name"], user["email"]) == (by_id("users")[2]["name"], by_id("users")[2]["email"])
    assert user["is_you"] is False
    assert_error(api.get("/users/999999"), 404, "User", "999999")


def test_get_current_user__is_the_tokens_user_with_its_company(client: TestClient) -> None:
    company = fixture("company")
    for token, user_id in [*company["tokens"].items(), ("any-other-token", company["api_user_id"])]:
        me = Api(client, token).data("GET", "/users/me")

        assert me["id"] == user_id and me["is_you"] is True
        assert (me["company_id"], me["company_name"]) == (company["id"], company["name"])


def test_find_users__by_name_and_by_email_without_case(api: Api) -> None:
    users = fixture("users")
    name_part = users[1]["name"].split()[0].upper()
    mail_part = users[2]["email"].split("@")[0]

    by_name = api.data("GET", "/users/find", params={"term": name_part})
    by_email = api.data("GET", "/users/find", params={"term": mail_part, "search_by_email": 1})
    name_is_not_email = api.data("GET", "/users/find", params={"term": "@", "search_by_email": 0})

    assert [user["id"] for user in by_name] == [u["id"] for u in users if name_part.lower() in u["name"].lower()]
    assert [user["id"] for user in by_email] == [users[2]["id"]]
    assert name_is_not_email == []


def test_find_users__term_is_required(api: Api) -> None:
    assert_error(api.get("/users/find"), 400, "term")


def test_harness__the_clean_mock_passes_every_check_on_the_users_operations() -> None:
    operations = ["getUsers", "getUser", "getCurrentUser", "findUsersByName"]

    report = Harness(create_app(Settings(tokens=frozenset({TOKEN}))), TOKEN).run(operations, max_examples=10)

    assert sum(report.requests.values()) > 20
    assert report.findings == []
