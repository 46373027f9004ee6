"""Least privilege: the role matrix of ``web/audit_api.py`` and the audit log of profile views.

agent: the console; the full profile only of members whose conversation is assigned to them (a
queued one shows a reduced panel). ops: the masked dashboard, no console, no profiles. admin:
everything, including the audit log (``GET /admin/api/audit``).
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from personalization.models import Member
from personalization.privacy.pii import mask_name
from tests.web.helpers import WebDb, csrf_headers, login, member_token, receive_until

USERS = {"agent": ("agent1", "agent1-demo"), "ops": ("ops1", "ops1-demo"), "admin": ("admin", "admin-demo")}


def _queued(client: TestClient, member_id: str) -> tuple[str, int]:
    token = member_token(client, member_id)["token"]
    with client.websocket_connect(f"/ws/chat?token={token}") as ws:
        cid = ws.receive_json()["conversation_id"]
        ws.send_json({"type": "message", "client_id": "r-1", "text": "转人工"})
        state = receive_until(ws, lambda f: f["type"] == "state")[-1]
    return cid, state["handoff_id"]


def _member(web_db: WebDb, member_id: str) -> Member:
    with web_db.factory() as session:
        return session.scalars(select(Member).where(Member.member_id == member_id)).one()


def _audit(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    login(client, *USERS["admin"])
    response = client.get("/admin/api/audit", params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/agent/api/queue", {"agent", "admin"}),
        ("/agent/api/me", {"agent", "admin"}),
        ("/ops/api/metrics/containment", {"ops", "admin"}),
        ("/admin/api/audit", {"admin"}),
    ],
)
def test_each_role_reaches_only_its_endpoints(client: TestClient, path: str, allowed: set[str]) -> None:
    assert client.get(path).status_code == 401  # not logged in
    for role, (username, password) in USERS.items():
        login(client, username, password)
        status = client.get(path).status_code
        assert status == (200 if role in allowed else 403), (role, path, status)


def test_a_queued_member_shows_a_reduced_panel_to_agents(client: TestClient, web_db: WebDb) -> None:
    member = _member(web_db, web_db.members[20])
    cid, _ = _queued(client, member.member_id)
    login(client, *USERS["agent"])
    panel = client.get(f"/agent/api/conversations/{cid}").json()["panel"]
    assert panel["limited"] is True and panel["member_id"] == member.member_id
    assert panel["name"] == mask_name(member.name) and panel["tier"]["code"] == member.tier_code
    for hidden in ("masked_phone", "points", "recent_orders", "coupons", "city", "churn_risk"):
        assert hidden not in panel
    assert panel["recommendations"] == [] and panel["limited_note_zh"] and panel["limited_note_en"]
    assert member.name not in str(panel)


def test_the_assigned_agent_and_admins_see_the_full_panel(client: TestClient, web_db: WebDb) -> None:
    member = _member(web_db, web_db.members[21])
    cid, handoff_id = _queued(client, member.member_id)
    login(client, *USERS["admin"])
    assert client.get(f"/agent/api/conversations/{cid}").json()["panel"]["name"] == member.name  # admin: all
    login(client, *USERS["agent"])
    assert client.post(f"/agent/api/handoffs/{handoff_id}/claim", headers=csrf_headers(client)).status_code == 200
    panel = client.get(f"/agent/api/conversations/{cid}").json()["panel"]
    assert panel.get("limited") is None and panel["name"] == member.name
    assert panel["masked_phone"] == member.phone[:3] + "****" + member.phone[-4:]  # decrypted, then masked
    login(client, "agent2", "agent2-demo")  # another agent: nothing at all
    assert client.get(f"/agent/api/conversations/{cid}").status_code == 403


def test_ops_cannot_open_a_members_profile(client: TestClient, web_db: WebDb) -> None:
    cid, _ = _queued(client, web_db.members[22])
    login(client, *USERS["ops"])
    assert client.get(f"/agent/api/conversations/{cid}").status_code == 403
    assert client.get("/admin/api/audit").status_code == 403


def test_every_profile_view_is_in_the_audit_log(client: TestClient, web_db: WebDb) -> None:
    member_id = web_db.members[23]
    cid, handoff_id = _queued(client, member_id)
    login(client, *USERS["agent"])
    client.get(f"/agent/api/conversations/{cid}")  # queued: the reduced panel
    client.post(f"/agent/api/handoffs/{handoff_id}/claim", headers=csrf_headers(client))
    client.get(f"/agent/api/conversations/{cid}")  # assigned: the full panel
    client.get(f"/agent/api/conversations/{cid}")  # a console refresh: folded into the same entry
    items = _audit(client, member_id=member_id)
    seen = [(i["action"], i["actor_username"], i["actor_role"], i["target"]) for i in items]
    assert seen == [("view_profile", "agent1", "agent", cid), ("preview_profile", "agent1", "agent", cid)]
    assert all(i["member_id"] == member_id and i["at"] for i in items)
    assert _audit(client, member_id=member_id, action="view_profile", limit=1)[0]["action"] == "view_profile"


def test_ops_exports_are_in_the_audit_log(client: TestClient) -> None:
    login(client, *USERS["ops"])
    response = client.get("/ops/api/export.csv", params={"metric": "containment"})
    assert response.status_code == 200, response.text
    exports = _audit(client, action="export_csv", limit=5)
    assert exports and exports[0]["actor_username"] == "ops1" and exports[0]["detail"]["metric"] == "containment"


@pytest.mark.parametrize("params", [{"member_id": "DROP TABLE"}, {"action": "peek"}, {"limit": 0}, {"limit": 10_000}])
def test_bad_audit_filters_get_a_polite_400(client: TestClient, params: dict[str, Any]) -> None:
    login(client, *USERS["admin"])
    response = client.get("/admin/api/audit", params=params)
    assert response.status_code == 400 and "error" in response.json()
