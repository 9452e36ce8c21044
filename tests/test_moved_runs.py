"""Run folders that were copied or moved: a backup copy is not a run to resume, a moved run resumes whole."""

import json
import shutil

from conftest import FAST

STANDARD = ("--model_name", "standard_net", "--dataset", "standard_data")


def test_resume_last_ignores_a_backup_copy_beside_the_versions(project):
    finished = project.run(*STANDARD, *FAST)
    assert finished.returncode == 0, finished.stderr[-3000:]
    run_dir = project.run_dirs()[0]
    backup = run_dir.with_name("version_0_backup")
    shutil.copytree(run_dir, backup)
    resumed = project.run("--resume", "last", *STANDARD, "--max_epochs", "2")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "max_epochs: 2" in (run_dir / "config.yaml").read_text()
    assert "max_epochs: 1" in (backup / "config.yaml").read_text()


def test_a_moved_run_folder_resumes_with_its_best_checkpoint_state(project):
    finished = project.run(*STANDARD, *FAST, "--max_epochs", "2", "--experiment", "before")
    assert finished.returncode == 0, finished.stderr[-3000:]
    moved = project.logs / "after" / "version_0"
    moved.parent.mkdir()
    shutil.move(project.logs / "before" / "version_0", moved)
    resumed = project.run("--resume", str(moved), "--max_epochs", "4")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "dirpath has changed" not in resumed.stderr
    best = [path for path in (moved / "checkpoints").iterdir() if path.name.startswith("epoch")]
    assert len(best) == 1  # save_top_k 1: the best file of before the move was weighed against, not forgotten
    results = json.loads((moved / "results.json").read_text())
    assert results["best_checkpoint"] == str(best[0])
