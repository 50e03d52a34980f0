"""Registered devices: register (with a new key), list, read, update, deactivate, reactivate, rotate, delete."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.ext.asyncio import AsyncConnection

from core import Conflict, Gateway, NotFound, Unprocessable, uuid7
from plugins.devices.core_keys import create_device_key, revoke_device_key, rotate_device_key
from plugins.devices.models import device_keys, devices
from plugins.devices.settings import DEVICE_TYPES

DeviceType = Literal[DEVICE_TYPES]  # type: ignore[valid-type]
Status = Literal["active", "silent", "inactive"]


class DeviceIn(BaseModel):
    """A device to register; ``org_unit`` may be given instead of ``facility``."""

    model_config = ConfigDict(extra="forbid")

    serial: str = Field(min_length=1, max_length=128)
    type: DeviceType
    model: str | None = Field(default=None, max_length=128)
    facility: str | None = Field(default=None, min_length=1, max_length=128)
    org_unit: str | None = Field(default=None, min_length=1, max_length=128)
    subject: str | None = Field(default=None, min_length=1, max_length=128)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _place(self) -> DeviceIn:
        if self.facility and self.org_unit and self.facility != self.org_unit:
            raise ValueError("give facility or org_unit, not two different places")
        self.facility = self.facility or self.org_unit
        if not self.facility:
            raise ValueError("facility (or org_unit) is required")
        return self


class DeviceChanges(BaseModel):
    """What an update may change (the serial number and the key do not change here)."""

    model_config = ConfigDict(extra="forbid")

    type: DeviceType | None = None
    model: str | None = Field(default=None, max_length=128)
    facility: str | None = Field(default=None, min_length=1, max_length=128)
    subject: str | None = Field(default=None, max_length=128)
    metadata: dict[str, Any] | None = None


class KeyRotation(BaseModel):
    """A rotation's options; without ``grace_seconds`` the old key works for ``rotation_grace``."""

    model_config = ConfigDict(extra="forbid")

    # 0: the old key stops at once (a leaked key); at most 30 days.
    grace_seconds: int | None = Field(default=None, ge=0, le=30 * 86_400)


class DeviceFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: DeviceType | None = None
    facility: str | None = None
    status: Status | None = None
    limit: int = Field(default=50, ge=1, le=500)
    cursor: uuid.UUID | None = None


def device_view(row: Any) -> dict[str, Any]:
    """A device as the API shows it (never its key)."""

    def when(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": str(row.id),
        "serial": row.serial,
        "type": row.type,
        "model": row.model,
        "facility": row.facility,
        "subject": row.subject,
        "metadata": row.metadata or {},
        "status": row.status,
        "last_seen_at": when(row.last_seen_at),
        "last_reading_at": when(row.last_reading_at),
        "firmware": row.firmware,
        "battery": row.battery,
        "signal": row.signal,
        "created_at": when(row.created_at),
        "updated_at": when(row.updated_at),
    }


def _user_id(created_by: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(created_by) if created_by else None
    except ValueError:
        return None


async def register(gateway: Gateway, new: DeviceIn, created_by: str | None) -> tuple[Any, str]:
    """Store a device and give it a key: ``(row, key)``. 409 if the serial number is taken."""
    async with gateway.db.transaction() as conn:
        taken = await conn.scalar(sa.select(devices.c.id).where(devices.c.serial == new.serial))
    if taken is not None:
        raise Conflict(f"a device with serial number {new.serial!r} is registered already")
    key_id, key = await create_device_key(gateway, new.serial, _user_id(created_by))
    now = datetime.now(UTC)
    device_id = uuid7()
    try:
        async with gateway.db.transaction() as conn:
            await conn.execute(
                devices.insert().values(
                    id=device_id,
                    serial=new.serial,
                    type=new.type,
                    model=new.model,
                    facility=new.facility,
                    subject=new.subject,
                    metadata=new.metadata,
                    status="active",
                    key_id=key_id,
                    created_at=now,
                    updated_at=now,
                )
            )
            await conn.execute(device_keys.insert().values(key_id=key_id, device_id=device_id, created_at=now))
    except sa.exc.IntegrityError as err:  # registered by someone else at the same moment
        await revoke_device_key(gateway, key_id)
        raise Conflict(f"a device with serial number {new.serial!r} is registered already") from err
    return await get_device(gateway, device_id), key


async def get_device(gateway: Gateway, device_id: uuid.UUID) -> Any:
    async with gateway.db.transaction() as conn:
        row = (await conn.execute(sa.select(devices).where(devices.c.id == device_id))).first()
    if row is None:
        raise NotFound("no such device")
    return row


def device_query(f: DeviceFilter) -> sa.Select[Any]:
    """The devices matching ``f``'s type, facility and status (not ordered, not paged)."""
    query = sa.select(devices)
    for column, value in ((devices.c.type, f.type), (devices.c.facility, f.facility), (devices.c.status, f.status)):
        if value is not None:
            query = query.where(column == value)
    return query


async def list_devices(gateway: Gateway, f: DeviceFilter) -> tuple[list[Any], str | None]:
    """A page of devices in registration order, and the cursor of the next page."""
    query = device_query(f).order_by(devices.c.id).limit(f.limit + 1)
    if f.cursor is not None:
        query = query.where(devices.c.id > f.cursor)
    async with gateway.db.transaction() as conn:
        rows = list((await conn.execute(query)).all())
    if len(rows) > f.limit:
        return rows[: f.limit], str(rows[f.limit - 1].id)
    return rows, None


async def update_device(gateway: Gateway, device_id: uuid.UUID, changes: DeviceChanges) -> Any:
    values = changes.model_dump(exclude_unset=True)
    missing = [name for name in ("type", "facility") if name in values and values[name] is None]
    if missing:
        raise Unprocessable(
            "invalid request body", errors=[{"field": name, "message": "cannot be removed"} for name in missing]
        )
    async with gateway.db.transaction() as conn:
        done = await conn.execute(
            devices.update().where(devices.c.id == device_id).values(**values, updated_at=datetime.now(UTC))
        )
    if done.rowcount == 0:
        raise NotFound("no such device")
    return await get_device(gateway, device_id)


async def _keys_of(gateway: Gateway, device_id: uuid.UUID) -> list[uuid.UUID]:
    async with gateway.db.transaction() as conn:
        return list(await conn.scalars(sa.select(device_keys.c.key_id).where(device_keys.c.device_id == device_id)))


async def deactivate(gateway: Gateway, device_id: uuid.UUID) -> Any:
    """Mark the device inactive and revoke every key it has (a rotated key in its grace too)."""
    await get_device(gateway, device_id)
    async with gateway.db.transaction() as conn:
        await conn.execute(
            devices.update().where(devices.c.id == device_id).values(status="inactive", updated_at=datetime.now(UTC))
        )
    for key_id in await _keys_of(gateway, device_id):
        await revoke_device_key(gateway, key_id)
    return await get_device(gateway, device_id)


async def reactivate(gateway: Gateway, device_id: uuid.UUID, by: str | None) -> tuple[Any, str]:
    """Bring a deactivated device back with a new key: ``(row, key)``; its old keys stay revoked.

    409 if the device is not deactivated (an active device's key is changed by rotation).
    """
    row = await get_device(gateway, device_id)
    if row.status != "inactive":
        raise Conflict("this device is not deactivated: rotate its key instead")
    key_id, key = await create_device_key(gateway, row.serial, _user_id(by))
    now = datetime.now(UTC)
    async with gateway.db.transaction() as conn:
        # Only if still inactive: two operators reactivating at once give the device one key, not two.
        done = await conn.execute(
            devices.update()
            .where(devices.c.id == device_id, devices.c.status == "inactive")
            .values(status="active", key_id=key_id, updated_at=now)
        )
        if done.rowcount == 1:
            await conn.execute(device_keys.insert().values(key_id=key_id, device_id=device_id, created_at=now))
    if done.rowcount != 1:
        await revoke_device_key(gateway, key_id)
        raise Conflict("this device is not deactivated: rotate its key instead")
    return await get_device(gateway, device_id), key


async def rotate(
    gateway: Gateway, device_id: uuid.UUID, grace: int, by: str | None
) -> tuple[Any, str, datetime | None]:
    """A new key for the device: ``(row, key, when the old key stops)``."""
    row = await get_device(gateway, device_id)
    if row.status == "inactive" or row.key_id is None:
        raise Conflict("this device is deactivated: reactivate it to give it a new key")
    key_id, key, stops = await rotate_device_key(gateway, row.key_id, grace, _user_id(by))
    now = datetime.now(UTC)
    async with gateway.db.transaction() as conn:
        await conn.execute(device_keys.insert().values(key_id=key_id, device_id=device_id, created_at=now))
        await conn.execute(devices.update().where(devices.c.id == device_id).values(key_id=key_id, updated_at=now))
    return await get_device(gateway, device_id), key, stops


async def delete(gateway: Gateway, device_id: uuid.UUID) -> None:
    """Remove the device and revoke its keys; its readings and alerts are kept."""
    await get_device(gateway, device_id)
    for key_id in await _keys_of(gateway, device_id):
        await revoke_device_key(gateway, key_id)
    async with gateway.db.transaction() as conn:
        await conn.execute(device_keys.delete().where(device_keys.c.device_id == device_id))
        await conn.execute(devices.delete().where(devices.c.id == device_id))


async def device_of_key(conn: AsyncConnection, key_id: uuid.UUID) -> Any:
    """The device an API key belongs to, or None."""
    query = sa.select(devices).join(device_keys, device_keys.c.device_id == devices.c.id)
    return (await conn.execute(query.where(device_keys.c.key_id == key_id))).first()


async def heard_from(conn: AsyncConnection, device_id: uuid.UUID, now: datetime, **status: Any) -> None:
    """The device spoke: last seen now, back to active if it was silent, with what it reported."""
    await conn.execute(
        devices.update()
        .where(devices.c.id == device_id)
        .values(
            last_seen_at=now,
            status=sa.case((devices.c.status == "silent", "active"), else_=devices.c.status),
            **status,
        )
    )
