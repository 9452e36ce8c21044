"""--limit_val_batches and --limit_test_batches: a set scored in part says so, in the table and in results.json."""

import json

from torch.utils.data import DataLoader

from utils.runs.results import results_table
from utils.trainer.modes import cut_short

# 203 points, 20 held out for val and test: batches of 8, 8 and 4.
RUN = ("--model_name", "standard_net", "--dataset", "standard_data", "--num_samples", "203", "--batch_size", "8",
       "--max_epochs", "1", "--limit_train_batches", "2", "--confusion_images", "off")


def finished(fork_server, project, experiment: str, *arguments: str) -> tuple[dict, str]:
    """The run's results.json and its output."""
    process = fork_server.run(project.root, *RUN, *arguments, "--experiment", experiment)
    assert process.returncode == 0, process.stderr[-3000:]
    return json.loads((project.logs / experiment / "version_0" / "results.json").read_text()), process.stdout


def test_a_set_scored_in_part_is_marked_as_such_and_a_whole_one_is_not(fork_server, project):
    results, output = finished(fork_server, project, "part", "--limit_val_batches", "1", "--limit_test_batches", "2")
    assert results["partial"] == {"val": {"standard_data": [1, 3]}, "test": {"standard_data": [2, 3]}}
    assert "val    standard_data (part)" in output and "test   standard_data (part)" in output
    assert ("test standard_data: 2 of 3 batches scored (of each process's share, --limit_test_batches): its numbers "
            "are those batches', not the whole set's") in output
    tested, output = finished(fork_server, project, "tested", "--mode", "test", "--ckpt", results["best_checkpoint"],
                              "--limit_test_batches", "1")
    assert tested["partial"] == {"test": {"standard_data": [1, 3]}}
    whole, output = finished(fork_server, project, "whole")
    assert "partial" not in whole and "(part)" not in output


def test_a_stage_that_scored_nothing_gives_no_numbers_to_mark():
    loader = DataLoader(range(24), batch_size=8)  # 3 batches
    assert cut_short([0, 1, 3], [loader] * 3, ["none", "some", "all"]) == {"some": [1, 3]}


def test_a_mean_over_sets_of_which_one_was_scored_in_part_is_marked_too():
    values = {"loss": 1.0}
    table = results_table({"val": {"a": values, "b": values, "mean": values}, "test": {"a": values},
                           "partial": {"val": {"b": [1, 3]}}})
    assert [line.split()[1:3] for line in table.splitlines()[1:]] == [
        ["a", "1.0000"], ["b", "(part)"], ["mean", "(part)"], ["a", "1.0000"]]
