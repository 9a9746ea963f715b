"""An operator replaces the authorisation matrix without code (RULES R10)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dmp.config import Settings
from dmp.domain.errors import InvalidInput
from dmp.domain.matrix import Category
from dmp.main import create_app
from dmp.storage.db import Database

SHIPPED = Path(__file__).parents[2] / "src/dmp/domain/data/authorisation_matrix.csv"


def operator_file(tmp_path: Path, old: str, new: str) -> Path:
    text = SHIPPED.read_text("utf-8")
    assert old in text
    path = tmp_path / "matrix.csv"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def test_r10_the_operators_matrix_is_the_one_in_force(tmp_path: Path) -> None:
    # Nurses lose reading of reports in this operator's matrix.
    path = operator_file(tmp_path, "60,Infirmier,RW,", "60,Infirmier,-,")
    settings = Settings(data_dir=tmp_path, authorisation_matrix=path)
    app = create_app(settings, db=Database("sqlite://"))
    assert not app.state.matrix.rights("60", Category.COMPTE_RENDU).read
    default = create_app(Settings(data_dir=tmp_path), db=Database("sqlite://"))
    assert default.state.matrix.rights("60", Category.COMPTE_RENDU).read


def test_r10_a_matrix_with_a_typo_stops_the_server_from_starting(tmp_path: Path) -> None:
    path = operator_file(tmp_path, "60,Infirmier,RW,", "60,Infirmier,WR,")
    with pytest.raises(InvalidInput) as err:
        create_app(Settings(data_dir=tmp_path, authorisation_matrix=path), db=Database("sqlite://"))
    assert err.value.code == "MATRIX_CELL"
