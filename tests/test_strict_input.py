"""Issue 19, items 3, 7, 8 and 9: bad scenario files give one readable paragraph, never a
traceback; numbers are strict and shares must sum to 1."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from sim.config import SHARE_TOLERANCE, ConfigError, load_scenario

from .conftest import BASELINE, small_world


def _paragraph(exc: pytest.ExceptionInfo[ConfigError]) -> str:
    text = str(exc.value)
    assert "\n" not in text.strip(), text
    assert "Nothing was run or written" in text, text
    return text


# --- item 3: base cycles -------------------------------------------------------------------
def test_base_pointing_at_itself_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "loop.toml"
    path.write_text('base = "loop.toml"\n')
    with pytest.raises(ConfigError) as err:
        load_scenario(path)
    text = _paragraph(err)
    assert "cycle" in text and "loop.toml" in text


def test_base_cycle_through_another_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('base = "b.toml"\n')
    (tmp_path / "b.toml").write_text('base = "./a.toml"\n')
    with pytest.raises(ConfigError) as err:
        load_scenario(tmp_path / "a.toml")
    text = _paragraph(err)
    assert "a.toml -> " in text and "b.toml" in text


def test_base_chain_without_cycle_still_works(tmp_path: Path) -> None:
    (tmp_path / "mid.toml").write_text(f'base = "{BASELINE}"\n[overrides]\n"run.months" = 7\n')
    (tmp_path / "top.toml").write_text('base = "mid.toml"\nname = "top"\n')
    s = load_scenario(tmp_path / "top.toml")
    assert s.run.months == 7 and s.name == "top"


def test_base_that_is_not_a_string_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("base = 3\n")
    with pytest.raises(ConfigError) as err:
        load_scenario(path)
    assert "`base`" in _paragraph(err)


# --- item 7: encodings -----------------------------------------------------------------------
def test_scenario_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('name = "caf\u00e9"\n'.encode("latin-1"))
    with pytest.raises(ConfigError) as err:
        load_scenario(path)
    assert "UTF-8" in _paragraph(err)


def test_scenario_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_scenario(tmp_path)
    _paragraph(err)


# --- item 8: strict numbers and shares ---------------------------------------------------------
@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("initial_cash_usd = 10e9", 'initial_cash_usd = "10e9"', "labs.0.initial_cash_usd"),
        ("months = 120", 'months = "120"', "run.months"),
        ("optimism = 1.2", "optimism = true", "labs.0.optimism"),
    ],
)
def test_numbers_given_as_strings_or_bools_are_refused(
    tmp_path: Path, old: str, new: str, field: str
) -> None:
    text = BASELINE.read_text()
    assert old in text
    path = tmp_path / "bad.toml"
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(ConfigError) as err:
        load_scenario(path)
    assert field in _paragraph(err)


def test_integers_are_still_accepted_for_float_fields() -> None:
    s = small_world(**{"demand.initial_revenue_usd_per_month": 10**9})
    assert s.demand.initial_revenue_usd_per_month == 1e9


def test_string_override_of_a_number_is_refused() -> None:
    with pytest.raises(ConfigError, match="noise_sd"):
        small_world(**{"demand.noise_sd": "0.1"})


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"labs.lab-a.demand_share": 0.9}, "demand_share"),  # 0.9 + 0.3 = 1.2
        ({"labs.lab-b.demand_share": 0.2}, "demand_share"),  # 0.9
        ({"chip_vendors.vendor.order_share": 0.75}, "order_share"),
    ],
)
def test_shares_must_sum_to_one(overrides: dict[str, float], field: str) -> None:
    with pytest.raises(ConfigError) as err:
        small_world(**overrides)
    text = _paragraph(err)
    assert field in text and "sum to 1" in text and f"{SHARE_TOLERANCE:g}" in text


def test_shares_within_tolerance_are_accepted() -> None:
    s = small_world(**{"labs.lab-a.demand_share": 0.7 + SHARE_TOLERANCE / 2})
    assert math.isclose(sum(x.demand_share for x in s.labs), 1, abs_tol=SHARE_TOLERANCE)


@pytest.mark.parametrize("path", sorted((BASELINE.parent).glob("*.toml")))
def test_shipped_scenarios_have_shares_summing_to_one(path: Path) -> None:
    s = load_scenario(path)
    assert abs(sum(x.demand_share for x in s.labs) - 1) <= SHARE_TOLERANCE
    assert abs(sum(x.order_share for x in s.chip_vendors) - 1) <= SHARE_TOLERANCE


# --- item 9: readable errors -------------------------------------------------------------------
def test_unknown_deal_partner_names_the_deal_and_field(tmp_path: Path) -> None:
    text = BASELINE.read_text() + (
        '\n[[deals]]\nname = "stake"\nkind = "strategic_equity"\nprovider = "nobody"\n'
        'receiver = "frontier-leader"\namount_usd = 1e9\n'
    )
    path = tmp_path / "deal.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_scenario(path)
    msg = _paragraph(err)
    assert "deals.stake.provider" in msg and "nobody" in msg
    assert "(top level)" not in msg and len(msg) < 600, msg


def test_nan_override_on_every_cloud_has_no_spurious_tuple_error() -> None:
    with pytest.raises(ConfigError) as err:
        small_world(**{"clouds.*.initial_gpus": float("nan")})
    msg = _paragraph(err)
    assert "clouds.0.initial_gpus" in msg and "clouds.1.initial_gpus" in msg
    assert "at least 1 item" not in msg, msg


def test_too_few_clouds_with_gpus_for_the_opening_partners_is_refused() -> None:
    # found by the fuzz test: the opening contracts crashed picking 2 partners among 1 cloud
    with pytest.raises(ConfigError) as err:
        small_world(**{"clouds.neo.initial_gpus": 0})
    assert "network.partners_per_lab" in _paragraph(err)
    with pytest.raises(ConfigError, match="partners_per_lab"):
        small_world(**{"clouds.neo.initial_gpus": 5e-324})  # a share that rounds to 0
    assert small_world(**{"clouds.*.initial_gpus": 0, "network.partners_per_lab": 2})
    assert small_world(**{"clouds.neo.initial_gpus": 0, "network.partners_per_lab": 1})
