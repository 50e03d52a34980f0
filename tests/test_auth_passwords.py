"""Password hashing (scrypt) and the password policy."""

from __future__ import annotations

import pytest

from core.auth.password_policy import common_passwords, password_problems
from core.auth.passwords import PasswordHasher, hash_password_sync, verify_password_sync

N = 2**14


def test_a_hash_names_its_algorithm_and_cost_and_verifies_only_its_password() -> None:
    encoded = hash_password_sync("plum-Orchard-42-kettle", N)
    assert encoded.startswith("scrypt$n=16384,r=8,p=1$")
    assert verify_password_sync("plum-Orchard-42-kettle", encoded)
    assert not verify_password_sync("plum-orchard-42-kettle", encoded)


def test_the_same_password_hashes_differently_each_time() -> None:
    assert hash_password_sync("plum-Orchard-42-kettle", N) != hash_password_sync("plum-Orchard-42-kettle", N)


@pytest.mark.parametrize("stored", ["!unusable", "", "scrypt$n=3,r=8,p=1$AAAA$AAAA", "md5$abc"])
def test_an_unusable_or_foreign_hash_never_matches(stored: str) -> None:
    assert not verify_password_sync("anything-at-all-1", stored)


async def test_verifying_without_a_hash_checks_a_dummy_and_fails() -> None:
    hasher = PasswordHasher(N, concurrency=1)
    assert await hasher.verify("plum-Orchard-42-kettle", None) is False


async def test_a_hash_at_another_cost_needs_rehashing() -> None:
    hasher = PasswordHasher(2**15, concurrency=1)
    assert hasher.needs_rehash(hash_password_sync("plum-Orchard-42-kettle", N))
    assert not hasher.needs_rehash(await hasher.hash("plum-Orchard-42-kettle"))


def test_the_shipped_common_password_list_loads() -> None:
    listed = common_passwords()
    assert len(listed) > 500 and "password" in listed and "123456" in listed


@pytest.mark.parametrize(
    "password",
    ["password123456", "Password2024!", "P@ssw0rd2024", "!!Sunshine!!", "1234567890", "aaaaaaaaaaaa", "zyxwvutsrqpo"],
)
def test_common_simple_or_dressed_up_passwords_are_refused(password: str) -> None:
    assert password_problems(password, min_length=10)


def test_a_password_shorter_than_the_minimum_is_refused_with_the_number() -> None:
    assert password_problems("Kx9#mQ2$", min_length=10) == ["must be at least 10 characters long"]


def test_a_password_containing_the_username_is_refused() -> None:
    assert password_problems("Xk-amina-2099-blue", min_length=10, username="amina") == ["must not contain the username"]


@pytest.mark.parametrize("password", ["plum-Orchard-42-kettle", "correct horse battery staple", "Tz4!qv9#Lm2&"])
def test_a_long_uncommon_password_is_accepted(password: str) -> None:
    assert password_problems(password, min_length=10, username="amina") == []
