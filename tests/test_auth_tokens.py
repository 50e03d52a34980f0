"""Logging in, refreshing with rotation, logging out, and every way a forged token is refused."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc import jwt
from joserfc.jwk import OctKey

from core.auth.tokens import TokenSigner
from core.auth.users import update_user
from core.errors import ConfigError
from core.storage.models import refresh_tokens
from core.testing import make_settings
from tests.support.auth import audit_rows, bearer, login, make_user


async def test_login_answers_a_bearer_pair_with_the_configured_lifetime(client) -> None:  # type: ignore[no-untyped-def]
    await make_user(client.gateway, "amina")
    tokens = await login(client, "amina")
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 900
    assert tokens["refresh_token"] and tokens["access_token"].count(".") == 2


async def test_access_token_carries_subject_role_issuer_audience_times_and_id(client) -> None:  # type: ignore[no-untyped-def]
    user = await make_user(client.gateway, "baraka", role="operator")
    claims = client.gateway.auth.signer.verify((await login(client, "baraka"))["access_token"])
    assert claims["sub"] == str(user.id) and claims["role"] == "operator"
    assert claims["iss"] == "switchboard" and claims["aud"] == "switchboard"
    assert claims["exp"] - claims["iat"] == 900 and claims["jti"] and claims["sid"]


async def test_login_answer_is_not_cached(client) -> None:  # type: ignore[no-untyped-def]
    await make_user(client.gateway, "chausiku")
    r = await client.post("/api/auth/token", json={"username": "chausiku", "password": "plum-Orchard-42-kettle"})
    assert r.headers["cache-control"] == "no-store"


async def test_me_shows_the_signed_in_user_without_the_password_hash(client) -> None:  # type: ignore[no-untyped-def]
    await make_user(client.gateway, "dalila", role="operator", full_name="Dalila M.")
    r = await client.get("/api/auth/me", headers=bearer(await login(client, "dalila")))
    assert r.status_code == 200
    body = r.json()
    assert body["username"] == "dalila" and body["role"] == "operator" and body["full_name"] == "Dalila M."
    assert "password_hash" not in body and body["last_login_at"]


async def test_usernames_are_matched_without_regard_to_case(client) -> None:  # type: ignore[no-untyped-def]
    await make_user(client.gateway, "Eliya")
    assert (await login(client, "  ELIYA "))["access_token"]


async def test_login_with_a_malformed_body_is_a_422_naming_the_field(client) -> None:  # type: ignore[no-untyped-def]
    r = await client.post("/api/auth/token", json={"username": "x"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "password"


async def test_login_with_a_body_that_is_not_json_is_refused_without_a_500(client) -> None:  # type: ignore[no-untyped-def]
    r = await client.post("/api/auth/token", content=b"{nope", headers={"content-type": "application/json"})
    assert r.status_code == 400
    r = await client.post("/api/auth/token", content=b"username=a&password=b")
    assert r.status_code == 415


# --- refresh and rotation -------------------------------------------------------------------


async def test_refresh_gives_a_new_pair_and_the_old_refresh_token_stops_working(client) -> None:  # type: ignore[no-untyped-def]
    await make_user(client.gateway, "fatuma")
    first = await login(client, "fatuma")
    r = await client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (await client.get("/api/auth/me", headers=bearer(second))).status_code == 200
    again = await client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert again.status_code == 401


async def test_reusing_a_rotated_refresh_token_revokes_the_whole_session(client) -> None:  # type: ignore[no-untyped-def]
    await make_user(client.gateway, "gift")
    first = await login(client, "gift")
    second = (await client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})).json()
    # The thief (or the owner's stale copy) presents the rotated token: everything descended from it dies.
    assert (await client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})).status_code == 401
    assert (await client.post("/api/auth/refresh", json={"refresh_token": second["refresh_token"]})).status_code == 401
    assert (await client.get("/api/auth/me", headers=bearer(second))).status_code == 401


async def test_refresh_token_reuse_is_audited_with_the_user_and_client(client) -> None:  # type: ignore[no-untyped-def]
    await make_user(client.gateway, "hamisi")
    first = await login(client, "hamisi")
    await client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    await client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    [reuse] = [r for r in await audit_rows(client.gateway) if r.action == "refresh_reuse"]
    assert reuse.actor == "user:hamisi" and reuse.client == "127.0.0.1" and reuse.status == 401


async def test_reuse_of_a_rotated_token_leaves_the_users_other_sessions_alone(client) -> None:  # type: ignore[no-untyped-def]
    await make_user(client.gateway, "imani")
    laptop = await login(client, "imani")
    phone = await login(client, "imani")
    await client.post("/api/auth/refresh", json={"refresh_token": laptop["refresh_token"]})
    await client.post("/api/auth/refresh", json={"refresh_token": laptop["refresh_token"]})
    assert (await client.get("/api/auth/me", headers=bearer(phone))).status_code == 200


async def test_unknown_refresh_token_is_refused(client) -> None:  # type: ignore[no-untyped-def]
    r = await client.post("/api/auth/refresh", json={"refresh_token": "not-a-token-we-issued"})
    assert r.status_code == 401 and r.json()["error"] == "invalid credentials"


async def test_expired_refresh_token_is_refused(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(auth={"refresh_token_ttl": 1}) as client:
        await make_user(client.gateway, "jabari")
        tokens = await login(client, "jabari")
        async with client.gateway.db.transaction() as conn:
            await conn.execute(sa.update(refresh_tokens).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        r = await client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert r.status_code == 401


async def test_a_deactivated_users_refresh_token_is_refused(client) -> None:  # type: ignore[no-untyped-def]
    user = await make_user(client.gateway, "kesi")
    tokens = await login(client, "kesi")
    await update_user(client.gateway, user.id, status="inactive")
    assert (await client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})).status_code == 401


# --- logout ---------------------------------------------------------------------------------


async def test_logout_ends_the_session_access_and_refresh_token_alike(client) -> None:  # type: ignore[no-untyped-def]
    await make_user(client.gateway, "lulu")
    tokens = await login(client, "lulu")
    assert (await client.post("/api/auth/logout", headers=bearer(tokens))).status_code == 204
    assert (await client.get("/api/auth/me", headers=bearer(tokens))).status_code == 401
    assert (await client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})).status_code == 401


async def test_logout_leaves_other_sessions_alone_unless_everywhere(client) -> None:  # type: ignore[no-untyped-def]
    await make_user(client.gateway, "mosi")
    laptop, phone, tablet = [await login(client, "mosi") for _ in range(3)]
    await client.post("/api/auth/logout", headers=bearer(laptop))
    assert (await client.get("/api/auth/me", headers=bearer(phone))).status_code == 200
    r = await client.post("/api/auth/logout", headers=bearer(phone), json={"everywhere": True})
    assert r.status_code == 204
    assert (await client.get("/api/auth/me", headers=bearer(tablet))).status_code == 401


async def test_login_logout_and_refresh_are_audited_with_actor_and_client(client) -> None:  # type: ignore[no-untyped-def]
    await make_user(client.gateway, "neema")
    tokens = await login(client, "neema")
    tokens = (await client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})).json()
    await client.post("/api/auth/logout", headers=bearer(tokens))
    rows = await audit_rows(client.gateway)
    assert [(r.action, r.actor, r.client) for r in rows] == [
        ("login", "user:neema", "127.0.0.1"),
        ("refresh", "user:neema", "127.0.0.1"),
        ("logout", "user:neema", "127.0.0.1"),
    ]


async def test_no_password_or_token_reaches_the_audit_log(client) -> None:  # type: ignore[no-untyped-def]
    await make_user(client.gateway, "omari")
    tokens = await login(client, "omari")
    await client.post("/api/auth/token", json={"username": "omari", "password": "wrong-password-123"})
    await client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    await client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    await client.post("/api/auth/logout", headers=bearer(tokens))
    await client.gateway.audit.flush()
    rows = await audit_rows(client.gateway, "auth") + await audit_rows(client.gateway, "request")
    everything = json.dumps([dict(r._mapping) for r in rows], default=str)
    for secret in ("plum-Orchard-42-kettle", "wrong-password-123", tokens["refresh_token"], tokens["access_token"]):
        assert secret not in everything


# --- forged and unusable access tokens --------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hs256(header: dict[str, Any], claims: dict[str, Any], key: bytes) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


async def _refused(client, token: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = await client.get("/api/auth/me", headers=bearer(token))
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    body = r.json()
    body.pop("request_id")
    return body  # type: ignore[no-any-return]


NO_DETAIL = {"error": "invalid credentials"}


async def test_expired_token_is_refused(client) -> None:  # type: ignore[no-untyped-def]
    user = await make_user(client.gateway, "pendo")
    token, _ = client.gateway.auth.signer.issue(str(user.id), "viewer", now=datetime.now(UTC) - timedelta(hours=1))
    assert await _refused(client, token) == NO_DETAIL


async def test_not_yet_valid_token_is_refused(client) -> None:  # type: ignore[no-untyped-def]
    user = await make_user(client.gateway, "rehema")
    token, _ = client.gateway.auth.signer.issue(str(user.id), "viewer", now=datetime.now(UTC) + timedelta(hours=1))
    assert await _refused(client, token) == NO_DETAIL


async def test_token_for_another_issuer_is_refused(client) -> None:  # type: ignore[no-untyped-def]
    user = await make_user(client.gateway, "saida")
    token, _ = client.gateway.auth.signer.issue(str(user.id), "viewer", iss="https://elsewhere.example.org")
    assert await _refused(client, token) == NO_DETAIL


async def test_token_for_another_audience_is_refused(client) -> None:  # type: ignore[no-untyped-def]
    user = await make_user(client.gateway, "tumaini")
    token, _ = client.gateway.auth.signer.issue(str(user.id), "viewer", aud="reports-service")
    assert await _refused(client, token) == NO_DETAIL


async def test_tampered_token_is_refused(client) -> None:  # type: ignore[no-untyped-def]
    user = await make_user(client.gateway, "upendo")
    token, claims = client.gateway.auth.signer.issue(str(user.id), "viewer")
    header, _, signature = token.split(".")
    forged = ".".join([header, _b64(json.dumps(claims | {"role": "admin"}).encode()), signature])
    assert await _refused(client, forged) == NO_DETAIL


async def test_token_with_alg_none_is_refused(client) -> None:  # type: ignore[no-untyped-def]
    user = await make_user(client.gateway, "vumilia")
    _, claims = client.gateway.auth.signer.issue(str(user.id), "admin")
    unsigned = f"{_b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{_b64(json.dumps(claims).encode())}."
    assert await _refused(client, unsigned) == NO_DETAIL


async def test_token_signed_with_another_key_is_refused(client) -> None:  # type: ignore[no-untyped-def]
    user = await make_user(client.gateway, "wema")
    _, claims = client.gateway.auth.signer.issue(str(user.id), "admin")
    other = OctKey.import_key("another-secret-key-of-sufficient-length-0123456789")
    assert await _refused(client, jwt.encode({"alg": "HS256"}, claims, other)) == NO_DETAIL


async def test_token_of_a_deactivated_user_is_refused_at_once(client) -> None:  # type: ignore[no-untyped-def]
    user = await make_user(client.gateway, "yusufu")
    tokens = await login(client, "yusufu")
    await update_user(client.gateway, user.id, status="inactive")
    assert await _refused(client, tokens["access_token"]) == NO_DETAIL


async def test_garbage_bearer_and_other_schemes_are_refused(client) -> None:  # type: ignore[no-untyped-def]
    assert await _refused(client, "not.a.jwt") == NO_DETAIL
    r = await client.get("/api/auth/me", headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
    assert r.status_code == 401


# --- asymmetric keys ----------------------------------------------------------------------------


def _rsa_files(tmp_path: Path) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _write_pair(tmp_path, "rsa", key)


def _write_pair(tmp_path: Path, name: str, key: Any) -> tuple[Path, Path]:
    private = tmp_path / f"{name}-private.pem"
    public = tmp_path / f"{name}-public.pem"
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return private, public


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
async def test_login_works_with_asymmetric_keys_from_files(app_client, tmp_path: Path, algorithm: str) -> None:  # type: ignore[no-untyped-def]
    key = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if algorithm == "RS256"
        else ec.generate_private_key(ec.SECP256R1())
    )
    private, public = _write_pair(tmp_path, algorithm, key)
    auth = {"algorithm": algorithm, "private_key_file": str(private), "public_key_file": str(public)}
    async with app_client(auth=auth) as client:
        await make_user(client.gateway, f"user-{algorithm.lower()}")
        tokens = await login(client, f"user-{algorithm.lower()}")
        header = json.loads(base64.urlsafe_b64decode(tokens["access_token"].split(".")[0] + "=="))
        assert header["alg"] == algorithm
        assert (await client.get("/api/auth/me", headers=bearer(tokens))).status_code == 200


async def test_hs256_token_signed_with_the_rs256_public_key_is_refused(app_client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    private, public = _rsa_files(tmp_path)
    auth = {"algorithm": "RS256", "private_key_file": str(private), "public_key_file": str(public)}
    async with app_client(auth=auth) as client:
        user = await make_user(client.gateway, "zawadi")
        _, claims = client.gateway.auth.signer.issue(str(user.id), "admin")
        # The classic confusion: a verifier that lets the token choose treats the public key as an HMAC secret.
        forged = _hs256({"alg": "HS256", "typ": "JWT"}, claims, public.read_bytes())
        assert await _refused(client, forged) == NO_DETAIL


def test_asymmetric_algorithm_without_key_files_stops_startup(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, auth={"algorithm": "RS256"})
    with pytest.raises(ConfigError, match="private_key_file and public_key_file"):
        TokenSigner(settings.auth, str(tmp_path))


def test_key_file_of_the_wrong_kind_stops_startup(tmp_path: Path) -> None:
    private, public = _rsa_files(tmp_path)
    settings = make_settings(
        tmp_path, auth={"algorithm": "ES256", "private_key_file": str(private), "public_key_file": str(public)}
    )
    with pytest.raises(ConfigError, match="ES256"):
        TokenSigner(settings.auth, str(tmp_path))


def test_public_key_that_does_not_match_the_private_key_stops_startup(tmp_path: Path) -> None:
    (tmp_path / "first").mkdir()
    private, _ = _rsa_files(tmp_path / "first")
    _, public = _rsa_files(tmp_path)
    settings = make_settings(
        tmp_path, auth={"algorithm": "RS256", "private_key_file": str(private), "public_key_file": str(public)}
    )
    with pytest.raises(ConfigError, match="usable pair"):
        TokenSigner(settings.auth, str(tmp_path))


async def test_two_racing_uses_of_one_refresh_token_let_one_through_and_then_end_the_session(client) -> None:  # type: ignore[no-untyped-def]
    await make_user(client.gateway, "baraka-race")
    tokens = await login(client, "baraka-race")
    answers = await asyncio.gather(
        *(client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}) for _ in range(2))
    )
    assert sorted(r.status_code for r in answers) == [200, 401]
    [winner] = [r.json() for r in answers if r.status_code == 200]
    # The loser's attempt was a reuse: the session is over for both.
    assert (await client.post("/api/auth/refresh", json={"refresh_token": winner["refresh_token"]})).status_code == 401
