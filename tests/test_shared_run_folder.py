"""The run folder across ranks: rank 0 claims it, every other process receives it once the process group exists."""

from test_distributed import clean_environment


def test_every_process_of_a_ddp_run_writes_into_the_folder_rank_zero_claimed(project):
    process = project.run("--model_name", "standard_net", "--dataset", "standard_data", "--num_samples", "200",
                          "--accelerator", "cpu", "--devices", "2", "--strategy", "ddp", "--max_epochs", "1",
                          "--limit_train_batches", "3", "--profiler", "simple", env=clean_environment())
    assert process.returncode == 0, process.stderr[-3000:]
    [run_dir] = project.run_dirs()
    assert list(run_dir.parent.iterdir()) == [run_dir]  # nothing beside it: no marker, no folder of rank 1's own
    # Each process writes its own profile, rank 1 into the folder it received from rank 0.
    assert {"fit-profile-0.txt", "fit-profile-1.txt"} <= {path.name for path in run_dir.iterdir()}
