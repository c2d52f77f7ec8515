"""Settings: defaults, parsing, and one clear line for a bad value."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from imagehost.settings import SettingsError, load_settings
from tests.support import BIN, free_port, server_env


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings({})
    assert settings.images_dir == tmp_path / "images" and settings.log_dir == tmp_path / "logs"
    assert (settings.max_upload_bytes, settings.max_pixels, settings.max_files, settings.workers) == (10485760, 50_000_000, 20, 4)
    assert settings.public_url is None
    # Room for every allowed file at its limit, plus a margin.
    assert settings.max_body_bytes > settings.max_files * settings.max_upload_bytes


def test_values_from_environment_win_over_dotenv(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("IMAGEHOST_MAX_FILES=7\nIMAGEHOST_WORKERS=3\n")
    settings = load_settings(
        {"IMAGEHOST_MAX_FILES": "5", "IMAGEHOST_IMAGES_DIR": str(tmp_path / "i"), "IMAGEHOST_PUBLIC_URL": "https://x.org/"},
        env_file=env_file,
    )
    assert (settings.max_files, settings.workers) == (5, 3)
    assert settings.public_url == "https://x.org"


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("IMAGEHOST_MAX_UPLOAD_BYTES", "-1", "must be 1 or more"),
        ("IMAGEHOST_MAX_FILES", "many", "must be a whole number"),
        ("IMAGEHOST_MAX_PIXELS", "0", "must be 1 or more"),
        ("IMAGEHOST_WORKERS", "2.5", "must be a whole number"),
        ("IMAGEHOST_PUBLIC_URL", "pics.example.org", "absolute http(s) URL"),
        ("IMAGEHOST_ALLOWED_ORIGINS", "https://ok.org, not-an-origin", "not an origin"),
        ("IMAGEHOST_IMAGES_DIR", "/proc/no/such/place", "cannot create the directory"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str, says: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({name: value})
    message = str(caught.value)
    assert message.startswith(f"{name}=") and says in message and "\n" not in message


def test_bad_setting_stops_start_up_with_one_line(tmp_path: Path) -> None:
    env = server_env(tmp_path / "images", tmp_path / "logs", max_upload_bytes="-5")
    result = subprocess.run([str(BIN / "imagehost"), "serve", "--port", str(free_port())], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip() == "imagehost: IMAGEHOST_MAX_UPLOAD_BYTES='-5': must be 1 or more"


def test_busy_port_is_one_clear_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = server_env(tmp_path / "images", tmp_path / "logs")
        result = subprocess.run([str(BIN / "imagehost"), "serve", "--port", str(port)], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert result.stderr.strip() == f"imagehost: cannot listen on 127.0.0.1:{port}: Address already in use"


def test_module_entry_point_shows_help() -> None:
    result = subprocess.run([sys.executable, "-m", "imagehost", "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and "serve" in result.stdout and "stack" in result.stdout


def test_allowed_hosts_default_to_loopback_names_and_the_public_urls_host(tmp_path: Path) -> None:
    base = {"IMAGEHOST_IMAGES_DIR": str(tmp_path / "i"), "IMAGEHOST_LOG_DIR": str(tmp_path / "l")}
    plain = load_settings(base, env_file=tmp_path / "none.env")
    assert plain.allowed_hosts == ()
    assert plain.host_patterns == ("localhost", "*.localhost", "127.0.0.1", "::1")

    public = load_settings({**base, "IMAGEHOST_PUBLIC_URL": "https://Pics.Example.org:8443/base",
                            "IMAGEHOST_ALLOWED_HOSTS": "cdn.example.org, *.Example.NET  [::2] 10.0.0.5."},
                           env_file=tmp_path / "none.env")
    assert public.allowed_hosts == ("cdn.example.org", "*.example.net", "::2", "10.0.0.5")
    assert public.host_patterns == ("localhost", "*.localhost", "127.0.0.1", "::1", "pics.example.org",
                                    "cdn.example.org", "*.example.net", "::2", "10.0.0.5")
    assert load_settings({**base, "IMAGEHOST_ALLOWED_HOSTS": "*"}, env_file=tmp_path / "none.env").allowed_hosts == ("*",)


@pytest.mark.parametrize("value", ["https://img.example.org", "img.example.org:8443", "*example.org", "a*.example.org",
                                   "img.example.org/path", "[::1]:80", "*.::1", "bad_chärs.org"])
def test_an_allowed_host_that_is_no_host_name_is_refused(value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"IMAGEHOST_ALLOWED_HOSTS": f"ok.example.org {value}"})
    message = str(caught.value)
    assert message.startswith("IMAGEHOST_ALLOWED_HOSTS=") and "is not a host name" in message and "\n" not in message


@pytest.mark.parametrize(("listen", "added"), [("127.0.0.1", ()), ("0.0.0.0", ()), ("::", ()),
                                               ("192.168.1.5", ("192.168.1.5",)), ("Box.Local", ("box.local",)),
                                               ("fe80::1", ("fe80::1",))])
def test_serve_also_answers_to_the_address_it_listens_on(tmp_path: Path, listen: str, added: tuple[str, ...]) -> None:
    settings = load_settings({"IMAGEHOST_IMAGES_DIR": str(tmp_path / "i"), "IMAGEHOST_LOG_DIR": str(tmp_path / "l")},
                             env_file=tmp_path / "none.env")
    listening = settings.answering_to(listen)
    assert listening.host_patterns == tuple(dict.fromkeys([*settings.host_patterns, *added]))


def test_min_free_bytes_defaults_to_a_gibibyte_and_zero_turns_it_off(tmp_path: Path) -> None:
    base = {"IMAGEHOST_IMAGES_DIR": str(tmp_path / "i"), "IMAGEHOST_LOG_DIR": str(tmp_path / "l")}
    assert load_settings(base, env_file=tmp_path / "none.env").min_free_bytes == 1073741824
    assert load_settings({**base, "IMAGEHOST_MIN_FREE_BYTES": "0"}, env_file=tmp_path / "none.env").min_free_bytes == 0
    assert load_settings({**base, "IMAGEHOST_MIN_FREE_BYTES": "5_000_000"}, env_file=tmp_path / "none.env").min_free_bytes == 5_000_000


@pytest.mark.parametrize(("value", "says"), [("-1", "must be 0 (off) or more"), ("1GB", "must be a whole number")])
def test_a_bad_min_free_bytes_stops_start_up_with_one_line(tmp_path: Path, value: str, says: str) -> None:
    env = server_env(tmp_path / "images", tmp_path / "logs", min_free_bytes=value)
    result = subprocess.run([str(BIN / "imagehost"), "serve", "--port", str(free_port())], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip() == f"imagehost: IMAGEHOST_MIN_FREE_BYTES={value!r}: {says}"


def test_keep_metadata_is_off_unless_turned_on(tmp_path: Path) -> None:
    base = {"IMAGEHOST_IMAGES_DIR": str(tmp_path / "i"), "IMAGEHOST_LOG_DIR": str(tmp_path / "l")}
    assert load_settings(base, env_file=tmp_path / "none.env").keep_metadata is False
    assert load_settings({**base, "IMAGEHOST_KEEP_METADATA": "true"}, env_file=tmp_path / "none.env").keep_metadata is True
    assert load_settings({**base, "IMAGEHOST_KEEP_METADATA": "False"}, env_file=tmp_path / "none.env").keep_metadata is False


def test_a_bad_keep_metadata_stops_start_up_with_one_line(tmp_path: Path) -> None:
    env = server_env(tmp_path / "images", tmp_path / "logs", keep_metadata="sometimes")
    result = subprocess.run([str(BIN / "imagehost"), "serve", "--port", str(free_port())], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip() == "imagehost: IMAGEHOST_KEEP_METADATA='sometimes': must be true or false"
