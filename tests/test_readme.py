"""The README's examples run: each command marked `<!-- runnable -->` runs at a tiny size, and every name exists."""

import re
import shlex
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FAST, PROJECT, copy_project

README = PROJECT / "README.md"
MARKER = "<!-- runnable -->"
WRITTEN_OUT = re.compile(r"# (model|data)/([a-z][a-z0-9_]*)\.py")
INLINE_COMMAND = re.compile(r"`((?:\.venv/bin/)?python main\.py[^`]*)`")
INSTALL_COMMAND = "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt"
# Under "Develop": the test and lint tools installed, then the tests run.
TEST_COMMANDS = ("python3 -m venv .venv && .venv/bin/pip install -r requirements-dev.txt",
                 ".venv/bin/python -m pytest -q -n 2 tests")
# Where the README's own words say the quick start ends and the reference begins.
FIRST_REFERENCE_HEADING = "## Layout"
QUICK_START_MAX_LINES = 100


def code_blocks(text: str) -> list[tuple[str, list[str], bool]]:
    """Each fenced block of `text`: its language, its lines, and whether the line before it marks it runnable."""
    blocks, lines, current = [], text.splitlines(), None
    for index, line in enumerate(lines):
        if not line.strip().startswith("```"):
            if current is not None:
                current[1].append(line)
            continue
        if current is None:
            current = (line.strip()[3:], [], index > 0 and lines[index - 1].strip() == MARKER)
        else:
            blocks.append(current)
            current = None
    return blocks


def commands(lines: list[str]) -> list[list[str]]:
    """The shell commands of a block as words, a line ending in a backslash joined with the next."""
    text = "\n".join(line.strip() for line in lines).replace("\\\n", " ")
    return [words for line in text.splitlines() if (words := shlex.split(line, comments=True))]


def main_arguments(words: list[str]) -> list[str] | None:
    """The arguments of a `python main.py ...` command, or None for any other command."""
    if len(words) >= 2 and words[0] in ("python", ".venv/bin/python") and words[1] == "main.py":
        return words[2:]
    return None


def written_out_files(text: str) -> dict[str, str]:
    """The user files the README writes out in full: the python blocks that open with `# model/NAME.py`."""
    files = {}
    for language, lines, _ in code_blocks(text):
        source = textwrap.dedent("\n".join(lines) + "\n")
        first_line = source.partition("\n")[0]
        if language == "python" and WRITTEN_OUT.fullmatch(first_line):
            files[first_line[2:]] = source
    return files


def runnable_commands() -> list[list[str]]:
    """The arguments of every command in the README's blocks marked runnable."""
    found = []
    for _, lines, runnable in code_blocks(README.read_text()):
        if runnable:
            found += [main_arguments(words) for words in commands(lines)]
    return found


def named_classes(words: list[str]) -> Iterator[tuple[str, str]]:
    """The (folder, name) of each net and dataset a command names: `--model_name`, `--dataset`, entries."""
    folder, single = None, True
    for word in words:
        if word.startswith("--"):
            option = word[2:]
            folder = {"model_name": "model", "dataset": "data", "train_dataset": "data", "val_datasets": "data",
                      "test_datasets": "data"}.get(option)
            single = option in ("model_name", "dataset", "train_dataset")
            continue
        if folder is not None:
            name = word.split("=", 1)[-1].split(":", 1)[0]
            # Not a placeholder such as NAME, nor torchvision's net (torchvision:NAME), which has no file.
            if re.fullmatch(r"[a-z][a-z0-9_]*", name) and not word.startswith("torchvision:"):
                yield folder, name
            folder = None if single else folder


def test_the_quick_start_is_short_and_the_test_command_is_under_develop():
    text = README.read_text()
    lines = text.splitlines()
    assert lines.index(FIRST_REFERENCE_HEADING) <= QUICK_START_MAX_LINES
    develop = text[text.index("\n## Develop\n"):]
    block = "\n".join(TEST_COMMANDS)
    assert f"```bash\n{block}\n```" in develop and TEST_COMMANDS[1] not in text[:text.index("\n## Develop\n")]
    ci_lines = (PROJECT / ".ci" / "run").read_text().splitlines()
    assert ci_lines[ci_lines.index(TEST_COMMANDS[0]):][:2] == list(TEST_COMMANDS)
    quick_start = "\n".join(lines[:lines.index(FIRST_REFERENCE_HEADING)])
    assert quick_start.count(MARKER) >= 3 and f"```bash\n{INSTALL_COMMAND}\n```" in quick_start


def test_the_install_files_pin_every_package_once_and_the_dev_file_adds_to_the_run_file():
    pins = {}
    for name in ("requirements.txt", "requirements-dev.txt"):
        lines = [line for line in (PROJECT / name).read_text().splitlines() if line and not line.startswith("#")]
        if name == "requirements-dev.txt":
            assert lines[0] == "-r requirements.txt"
            lines = lines[1:]
        for line in lines:
            package, _, version = line.partition("==")
            assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", package) and version, line
            pins.setdefault(re.sub(r"[-_.]+", "-", package.lower()), []).append(name)
    assert [package for package, files in pins.items() if len(files) > 1] == []
    assert {"mlflow-skinny", "optuna", "matplotlib", "torch", "pytorch-lightning"} <= pins.keys()
    assert "mlflow" not in pins and pins["pytest"] == ["requirements-dev.txt"]


def test_every_net_and_dataset_a_readme_command_names_exists_or_is_written_out():
    text = README.read_text()
    written = {tuple(path.removesuffix(".py").split("/")) for path in written_out_files(text)}
    mentioned = [words for language, lines, _ in code_blocks(text) if language == "bash" for words in commands(lines)]
    mentioned += [shlex.split(command) for command in INLINE_COMMAND.findall(text)]
    names = {pair for words in mentioned for pair in named_classes(words)}
    assert ("data", "standard_data") in names and ("model", "my_net") in names
    # Files the README tells users to fetch or write as one import line (Bring your own LightningModule).
    elsewhere = {("model", "mnist_lit_module"), ("model", "simple_dense_net"), ("model", "boring_model"),
                 ("data", "random_dataset"), ("model", "transformer")}
    missing = [f"{folder}/{name}.py" for folder, name in sorted(names - written - elsewhere)
               if not (PROJECT / folder / f"{name}.py").is_file()
               and not (PROJECT / "tests" / "examples" / f"{name}.py").is_file()]
    assert missing == []


def command_id(arguments: list[str] | None) -> str:
    """A test id: the command's arguments, shortened."""
    if arguments is None:
        return "not-main.py"
    return " ".join(arguments)[:60] or "default-job"


@pytest.mark.parametrize("arguments", runnable_commands(), ids=command_id)
def test_a_runnable_readme_command_runs_at_a_tiny_size(arguments, fork_server, tmp_path: Path):
    assert arguments is not None, "a block marked runnable holds a command that is not `python main.py ...`"
    project = copy_project(tmp_path / "project")
    for relative, source in written_out_files(README.read_text()).items():
        project.write(relative, source)
    process = fork_server.run(project.root, *arguments, *FAST)
    assert process.returncode == 0, process.stderr[-3000:]
    [run_dir] = project.run_dirs()
    assert (run_dir / "results.json").is_file()
