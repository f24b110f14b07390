from __future__ import annotations

from pathlib import Path

import pytest

from cowork_tui.core.config import TemporalSettings, load_settings
from cowork_tui.core.errors import InputError
from cowork_tui.core.models import Tokens
from cowork_tui.core.paths import Paths
from cowork_tui.core.pricing import Price, PriceTable


def test_tiers_and_legacy_models_are_priced() -> None:
    prices = PriceTable()
    million = Tokens(input=1_000_000, output=1_000_000)
    assert prices.cost("claude-sonnet-4-5-20250929", million) == pytest.approx(18.0)
    assert prices.cost("claude-opus-4-5", million) == pytest.approx(30.0)
    assert prices.cost("claude-opus-4-1-20250805", million) == pytest.approx(90.0)
    assert prices.cost("claude-haiku-4-5", million) == pytest.approx(6.0)
    cache = Tokens(cache_read=1_000_000, cache_write=1_000_000)
    assert prices.cost("sonnet", cache) == pytest.approx(0.3 + 3.75)
    assert prices.cost(None, million) == 0.0
    assert prices.cost("local-command", million) == 0.0


def test_overrides_match_models_whatever_their_case() -> None:
    mine = Price(input=1, output=2, cache_read=0, cache_write=0)
    table = PriceTable({"Claude-Sonnet-4": mine})
    assert table.price("claude-sonnet-4-5") == mine and table.overridden("claude-sonnet-4-5")
    assert not table.overridden("claude-opus-4-5") and table.price("claude-opus-4-5") != mine


def test_config_overrides_prices(tmp_path: Path) -> None:
    paths = Paths(config_dir=tmp_path, data_dir=tmp_path)
    paths.config_file.write_text(
        "refresh_seconds = 2\n[pricing.sonnet]\n"
        "input = 1\noutput = 2\ncache_read = 0\ncache_write = 0\n"
    )
    settings = load_settings(paths)
    assert settings.refresh_seconds == 2
    assert settings.pricing["sonnet"] == Price(input=1, output=2, cache_read=0, cache_write=0)
    prices = PriceTable(settings.pricing)
    assert prices.cost("claude-sonnet-4-5", Tokens(input=1_000_000)) == pytest.approx(1.0)
    assert prices.cost("claude-sonnet-5-5", Tokens(input=1_000_000)) == pytest.approx(1.0)
    assert prices.cost("claude-opus-5-5", Tokens(input=1_000_000)) == pytest.approx(4.0)


def test_missing_config_means_defaults(tmp_path: Path) -> None:
    settings = load_settings(Paths(config_dir=tmp_path, data_dir=tmp_path))
    assert settings.refresh_seconds == 3 and settings.engine == "local"
    assert settings.temporal == TemporalSettings(
        address="127.0.0.1:7233", namespace="default", task_queue="cowork-tui"
    )


def test_config_chooses_the_temporal_engine(tmp_path: Path) -> None:
    paths = Paths(config_dir=tmp_path, data_dir=tmp_path)
    paths.config_file.write_text(
        "engine = 'temporal'\n[temporal]\naddress = '[::1]:7000'\ntask_queue = 'team'\n"
    )
    settings = load_settings(paths)
    assert settings.engine == "temporal"
    assert settings.temporal == TemporalSettings(address="[::1]:7000", task_queue="team")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "refresh_seconds = 30\n",
            "config.toml: refresh_seconds: input should be less than or equal to 10",
        ),
        ("refresh = 3\n", "config.toml: refresh: extra inputs are not permitted"),
        ("default_backend = 'x'\n", "config.toml: default_backend: input should be 'auto'"),
        ("[pricing.opus]\ninput = 'x'\n", "config.toml: pricing.opus.input: "),
        ("refresh_seconds = \n", "config.toml: "),
        ("engine = 'remote'\n", "config.toml: engine: input should be 'local' or 'temporal'"),
        ("[temporal]\naddress = 'localhost'\n", "config.toml: temporal.address: must be host:port"),
        ("[temporal]\naddress = 'h:70000'\n", "config.toml: temporal.address: must be host:port"),
        ("[temporal]\naddress = 'h :7233'\n", "config.toml: temporal.address: must be host:port"),
        ("[temporal]\ntask_queue = ''\n", "config.toml: temporal.task_queue: string should"),
        ("[temporal]\nqueue = 'q'\n", "config.toml: temporal.queue: extra inputs are not"),
    ],
)
def test_bad_config_names_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    paths = Paths(config_dir=tmp_path, data_dir=tmp_path)
    paths.config_file.write_text(text)
    with pytest.raises(InputError) as err:
        load_settings(paths)
    assert message in str(err.value)
