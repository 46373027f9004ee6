"""The admin privacy API and the member's own export, through the real web app."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from personalization.models import AgentAction, Member, PrivacyRequest
from tests.web.conftest import _rasa_server, rasa, web_db  # noqa: F401  the stand-in Rasa server
from tests.web.helpers import RASA_TOKEN, SECRET, csrf_headers, login, member_token
from web.app import create_app


@pytest.fixture()
def client(world, rasa) -> Iterator[TestClient]:  # noqa: F811
    settings = replace(world.settings, web_secret=SECRET, web_demo=True, analytics_interval_s=0)
    with TestClient(create_app(settings, rasa_url=rasa.url, rasa_token=RASA_TOKEN)) as test_client:
        yield test_client


def _admin(client: TestClient) -> TestClient:
    assert login(client, "admin", "admin-demo").status_code == 303
    return client


def _erase(client, member_id, confirm, headers=None):
    return client.post(f"/admin/api/members/{member_id}/erase", json={"confirm_member_id": confirm},
                       headers=csrf_headers(client) if headers is None else headers)


@pytest.mark.parametrize("user", [("agent1", "agent1-demo"), ("ops1", "ops1-demo")])
def test_agents_and_ops_may_not_use_the_privacy_api(client, world, user) -> None:
    assert login(client, *user).status_code == 303
    mid = world.a.member_id
    for response in (client.get("/admin/api/privacy-requests"), client.get(f"/admin/api/members/{mid}/export"),
                     _erase(client, mid, mid), client.get("/admin/api/privacy-reports/1")):
        assert response.status_code == 403 and response.json()["error"] == "wrong_role"
    with world.session() as s:
        assert s.get(Member, mid).name == world.a.name


def test_without_login_the_privacy_api_answers_401(client, world) -> None:
    response = client.get(f"/admin/api/members/{world.a.member_id}/export")
    assert response.status_code == 401 and response.json()["error"] == "not_logged_in"


def test_admin_lists_requests_and_downloads_an_export_and_it_is_audited(client, world) -> None:
    _admin(client)
    listed = client.get("/admin/api/privacy-requests").json()["items"]
    assert {(r["member_id"], r["kind"]) for r in listed} >= {(world.a.member_id, "delete"), (world.a.member_id, "export")}
    response = client.get(f"/admin/api/members/{world.a.member_id.lower()}/export")
    assert response.status_code == 200 and "attachment" in response.headers["content-disposition"]
    assert response.json()["member_id"] == world.a.member_id and response.json()["profile"]["phone"] == world.a.phone
    with world.session() as s:
        kinds = [a.kind for a in s.scalars(select(AgentAction).where(AgentAction.kind.startswith("privacy_")))]
    assert kinds == ["privacy_requests_list", "privacy_export"]


def test_bad_and_unknown_ids_get_clear_errors(client) -> None:
    _admin(client)
    bad = client.get("/admin/api/members/x'or'1/export")
    assert bad.status_code == 400 and bad.json()["error"] == "bad_member_id" and bad.json()["message_zh"]
    assert client.get("/admin/api/members/M999999/export").status_code == 404
    assert client.get("/admin/api/privacy-reports/abc").json()["error"] == "bad_report_id"
    assert client.get("/admin/api/privacy-reports/99999").status_code == 404


def test_erase_needs_the_csrf_token(client, world) -> None:
    _admin(client)
    response = _erase(client, world.a.member_id, world.a.member_id, headers={})
    assert response.status_code == 403 and response.json()["error"] == "csrf"
    with world.session() as s:
        assert s.get(Member, world.a.member_id).name == world.a.name


def test_erase_refuses_a_confirmation_for_another_member(client, world) -> None:
    _admin(client)
    response = _erase(client, world.a.member_id, world.b.member_id)
    assert response.status_code == 400 and response.json()["error"] == "confirmation_mismatch"
    with world.session() as s:
        assert s.get(Member, world.a.member_id).name == world.a.name
        assert s.get(Member, world.b.member_id).name == world.b.name


def test_admin_erases_and_reads_the_report(client, world) -> None:
    _admin(client)
    response = _erase(client, world.a.member_id, world.a.member_id)
    assert response.status_code == 200, response.text
    report = response.json()["report"]
    assert report["status"] == "completed" and report["requested_by"] == "admin:admin"
    saved = client.get(f"/admin/api/privacy-reports/{report['report_id']}").json()
    assert saved["verification"]["ok"] is True and saved["member_id"] == world.a.member_id
    with world.session() as s:
        erase_audit = s.scalar(select(AgentAction).where(AgentAction.kind == "privacy_erase"))
    assert erase_audit.detail == {"member_id": world.a.member_id, "outcome": "completed", "report_id": report["report_id"]}


def test_an_erased_members_token_no_longer_opens_a_chat(client, world) -> None:
    token = member_token(client, world.a.member_id)["token"]
    with client.websocket_connect(f"/ws/chat?token={token}") as ws:
        assert ws.receive_json()["type"] == "hello"  # before the erasure the token works
    _admin(client)
    assert _erase(client, world.a.member_id, world.a.member_id).status_code == 200
    with client.websocket_connect(f"/ws/chat?token={token}") as ws:
        frame = ws.receive_json()
    assert frame["type"] == "error" and frame["code"] == "account_closed" and "注销" in frame["message_zh"]
    refused = client.get("/api/me/export", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 403 and refused.json()["error"] == "account_closed"
    other = member_token(client, world.b.member_id)["token"]
    with client.websocket_connect(f"/ws/chat?token={other}") as ws:
        assert ws.receive_json()["type"] == "hello"  # another member is not affected


def test_a_member_downloads_only_their_own_export(client, world) -> None:
    token_b = member_token(client, world.b.member_id)["token"]
    response = client.get("/api/me/export", headers={"Authorization": f"Bearer {token_b}"})
    assert response.status_code == 200
    assert response.json()["member_id"] == world.b.member_id
    assert world.a.phone not in response.text and world.a.member_id not in response.text
    # Asking for A by any parameter still gives B's own data: the token decides.
    sneaky = client.get(f"/api/me/export?member_id={world.a.member_id}", headers={"Authorization": f"Bearer {token_b}"})
    assert sneaky.json()["member_id"] == world.b.member_id


def test_member_export_needs_a_member_token(client) -> None:
    assert client.get("/api/me/export").status_code == 401
    assert client.get("/api/me/export", headers={"Authorization": "Bearer forged.token"}).json()["error"] == "invalid_token"
    visitor = member_token(client, None)["token"]
    assert client.get("/api/me/export", headers={"Authorization": f"Bearer {visitor}"}).status_code == 403


def test_member_export_completes_their_export_request(client, world) -> None:
    token_a = member_token(client, world.a.member_id)["token"]
    response = client.get("/api/me/export", headers={"Authorization": f"Bearer {token_a}"})
    assert response.status_code == 200 and response.json()["request_id"].startswith("PR")
    with world.session() as s:
        listed = {(r.kind, r.status) for r in s.scalars(select(PrivacyRequest).where(PrivacyRequest.member_id == world.a.member_id))}
    assert ("export", "completed") in listed and ("export", "received") not in listed
