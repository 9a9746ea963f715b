"""Envelope encryption (storage/envelope.py): sealing documents with a record's data
key, wrapping that key with the master key, and loading the master key. What makes the
purge's crypto-shredding work (RULES R4, CSP L1111-18)."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest

from dmp.storage.envelope import (
    MASTER_KEY_FILE,
    MasterKey,
    MasterKeyInvalid,
    MasterKeyMissing,
    SealBroken,
    load_master_key,
    new_data_key,
    open_sealed,
    seal,
)
from tests.personas import ALICE, BOB

AAD = f"{ALICE.ins}|d/ab/0001".encode()
PLAINTEXT = b"Compte rendu de consultation : RAS."


# ---------------------------------------------------------------------------- sealing


def test_sealed_bytes_open_with_the_same_key_and_context() -> None:
    key = new_data_key()
    sealed = seal(key, PLAINTEXT, AAD)
    assert PLAINTEXT not in sealed
    assert len(sealed) == 1 + 12 + len(PLAINTEXT) + 16
    assert sealed[0] == 1  # the format version
    assert open_sealed(key, sealed, AAD) == PLAINTEXT


def test_sealing_twice_gives_different_bytes_random_nonce() -> None:
    key = new_data_key()
    assert seal(key, PLAINTEXT, AAD) != seal(key, PLAINTEXT, AAD)


def test_empty_plaintext_round_trips() -> None:
    key = new_data_key()
    assert open_sealed(key, seal(key, b"", AAD), AAD) == b""


def test_data_keys_are_32_random_bytes() -> None:
    keys = {new_data_key() for _ in range(10)}
    assert len(keys) == 10
    assert all(len(k) == 32 for k in keys)


def test_changing_any_byte_of_sealed_bytes_breaks_the_seal() -> None:
    key = new_data_key()
    sealed = seal(key, PLAINTEXT, AAD)
    for n in range(len(sealed)):
        altered = bytearray(sealed)
        altered[n] ^= 0x01
        with pytest.raises(SealBroken):
            open_sealed(key, bytes(altered), AAD)


@pytest.mark.parametrize("cut", [0, 1, 13, 28, 29, -1])
def test_truncated_sealed_bytes_break_the_seal(cut: int) -> None:
    key = new_data_key()
    sealed = seal(key, PLAINTEXT, AAD)
    with pytest.raises(SealBroken):
        open_sealed(key, sealed[:cut], AAD)


def test_another_key_breaks_the_seal() -> None:
    sealed = seal(new_data_key(), PLAINTEXT, AAD)
    with pytest.raises(SealBroken):
        open_sealed(new_data_key(), sealed, AAD)


def test_another_context_breaks_the_seal_bytes_cannot_move_between_documents() -> None:
    key = new_data_key()
    sealed = seal(key, PLAINTEXT, AAD)
    with pytest.raises(SealBroken):
        open_sealed(key, sealed, f"{ALICE.ins}|d/ab/0002".encode())
    with pytest.raises(SealBroken):
        open_sealed(key, sealed, b"")


def test_an_unknown_format_version_breaks_the_seal() -> None:
    key = new_data_key()
    sealed = seal(key, PLAINTEXT, AAD)
    with pytest.raises(SealBroken, match="version"):
        open_sealed(key, b"\x02" + sealed[1:], AAD)


def test_a_key_of_the_wrong_length_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        seal(b"short", PLAINTEXT, AAD)


# ---------------------------------------------------------------------------- wrapping


def test_r4_a_wrapped_data_key_unwraps_for_its_record_only() -> None:
    master = MasterKey(new_data_key())
    data_key = new_data_key()
    wrapped = master.wrap(data_key, ALICE.ins)
    assert data_key not in wrapped
    assert master.unwrap(wrapped, ALICE.ins) == data_key
    with pytest.raises(SealBroken):
        master.unwrap(wrapped, BOB.ins)  # copied onto another record's row


def test_r4_a_wrapped_data_key_does_not_unwrap_under_another_master_key() -> None:
    wrapped = MasterKey(new_data_key()).wrap(new_data_key(), ALICE.ins)
    with pytest.raises(SealBroken):
        MasterKey(new_data_key()).unwrap(wrapped, ALICE.ins)


def test_master_key_id_names_the_key_without_revealing_it() -> None:
    raw = new_data_key()
    master = MasterKey(raw)
    assert master.key_id == MasterKey(raw).key_id != MasterKey(new_data_key()).key_id
    assert len(master.key_id) == 16
    assert raw.hex() not in repr(master)
    assert master.key_id in repr(master)


# ------------------------------------------------------------------ loading the master key


def test_the_master_key_comes_from_base64_in_the_environment(tmp_path: Path) -> None:
    raw = new_data_key()
    master = load_master_key(
        key_b64=base64.b64encode(raw).decode(), key_file=None, mode="production", data_dir=tmp_path
    )
    assert master.key_id == MasterKey(raw).key_id
    urlsafe = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    again = load_master_key(key_b64=urlsafe, key_file=None, mode="production", data_dir=tmp_path)
    assert again.key_id == master.key_id


def test_the_master_key_comes_from_a_file_of_32_raw_bytes(tmp_path: Path) -> None:
    raw = new_data_key()
    path = tmp_path / "kek.bin"
    path.write_bytes(raw)
    path.chmod(0o600)
    master = load_master_key(key_b64="", key_file=path, mode="production", data_dir=tmp_path)
    assert master.key_id == MasterKey(raw).key_id


def test_the_master_key_comes_from_a_file_of_base64_text(tmp_path: Path) -> None:
    raw = new_data_key()
    path = tmp_path / "kek.txt"
    path.write_text(base64.b64encode(raw).decode() + "\n")
    path.chmod(0o600)
    master = load_master_key(key_b64="", key_file=path, mode="production", data_dir=tmp_path)
    assert master.key_id == MasterKey(raw).key_id


@pytest.mark.parametrize("mode", ["dev", "demo"])
def test_dev_and_demo_make_a_master_key_file_once_readable_by_owner_only(
    tmp_path: Path, mode: str
) -> None:
    data_dir = tmp_path / "var"
    first = load_master_key(key_b64="", key_file=None, mode=mode, data_dir=data_dir)
    path = data_dir / MASTER_KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = load_master_key(key_b64="", key_file=None, mode=mode, data_dir=data_dir)
    assert again.key_id == first.key_id
    assert [p.name for p in data_dir.iterdir()] == [MASTER_KEY_FILE]  # no draft left


def test_a_dev_master_key_file_opened_to_others_is_refused(tmp_path: Path) -> None:
    load_master_key(key_b64="", key_file=None, mode="dev", data_dir=tmp_path)
    (tmp_path / MASTER_KEY_FILE).chmod(0o644)
    with pytest.raises(MasterKeyInvalid, match="chmod 600"):
        load_master_key(key_b64="", key_file=None, mode="dev", data_dir=tmp_path)


def test_production_without_a_master_key_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(MasterKeyMissing) as err:
        load_master_key(key_b64="", key_file=None, mode="production", data_dir=tmp_path)
    assert "DMP_MASTER_KEY" in str(err.value)
    assert "DMP_MASTER_KEY_FILE" in str(err.value)
    assert not (tmp_path / MASTER_KEY_FILE).exists()  # none made up


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (base64.b64encode(b"k" * 16).decode(), "32 bytes"),
        (base64.b64encode(b"k" * 33).decode(), "32 bytes"),
        ("not base64 at all!", "not valid base64"),
    ],
)
def test_a_master_key_of_the_wrong_length_or_encoding_is_refused(
    tmp_path: Path, value: str, message: str
) -> None:
    with pytest.raises(MasterKeyInvalid, match=message) as err:
        load_master_key(key_b64=value, key_file=None, mode="production", data_dir=tmp_path)
    assert "DMP_MASTER_KEY" in str(err.value)


def test_a_master_key_file_of_the_wrong_length_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "kek.bin"
    path.write_bytes(b"\xff" * 31)
    with pytest.raises(MasterKeyInvalid, match="32 raw bytes"):
        load_master_key(key_b64="", key_file=path, mode="production", data_dir=tmp_path)


def test_setting_both_the_master_key_and_its_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "kek.bin"
    path.write_bytes(new_data_key())
    with pytest.raises(MasterKeyInvalid, match="not both"):
        load_master_key(
            key_b64=base64.b64encode(new_data_key()).decode(),
            key_file=path,
            mode="production",
            data_dir=tmp_path,
        )
