"""The README's two commands are the ones CI and the install page use."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", text, flags=re.S)
    assert block, "README.md must open with a bash block holding the two commands"
    commands = [line for line in block.group(1).splitlines() if not line.startswith("#")]
    assert len(commands) == 2, commands
    return commands


def test_readme_opens_with_main_job_then_tests():
    main_job, tests = _readme_commands()
    assert main_job.startswith("python3 -m venv .venv")
    assert "pip install torch==2.13.0" in main_job
    assert "attnkernel run --quick" in main_job
    assert "pytest" in tests
    assert "pip install torch==2.13.0" in tests


def test_ci_runs_exactly_the_readme_test_command():
    ci_script = ROOT / ".ci" / "run"
    if not ci_script.is_file():
        pytest.skip(".ci/run is not part of this checkout")
    _, tests = _readme_commands()
    assert tests in ci_script.read_text(encoding="utf-8").splitlines()


def test_install_page_shows_the_same_commands():
    page = (ROOT / "docs" / "install.rst").read_text(encoding="utf-8")
    for command in _readme_commands():
        assert command in page


def _cpu_index_command(text):
    lines = [line.strip() for line in text.splitlines() if "download.pytorch.org/whl/cpu" in line]
    assert len(lines) == 1, "the CPU-index install line must appear exactly once"
    return lines[0]


def test_readme_says_how_to_get_the_cpu_build_anywhere():
    """The CPU-index line pins the very torch the two commands pin, in the same venv."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    cpu = _cpu_index_command(readme)
    pins = {re.search(r"torch==([\w.]+)", command).group(1) for command in _readme_commands()}
    assert len(pins) == 1, pins
    assert re.fullmatch(
        r"python3 -m venv \.venv && \. \.venv/bin/activate && pip install "
        rf"torch=={re.escape(pins.pop())} --index-url https://download\.pytorch\.org/whl/cpu",
        cpu,
    ), cpu
    page = (ROOT / "docs" / "install.rst").read_text(encoding="utf-8")
    assert _cpu_index_command(page) == cpu
