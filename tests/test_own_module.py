"""The escape hatch: a LightningModule in model/ trains as it is, with the template's datasets, labels and runs."""

import json
from pathlib import Path

import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

GAN = (Path(__file__).parent / "examples" / "tiny_gan.py").read_text()
RUN = ("--model_name", "tiny_gan", "--dataset", "standard_data", "--num_samples", "256", "--val_datasets",
       "clean=standard_data", "noisy=standard_data:noise=3.0", "--batch_size", "32", "--monitor", "val/fake_score",
       "--monitor_mode", "max")


def test_a_gan_with_two_optimizers_trains_logs_per_dataset_and_resumes(project):
    project.write("model/tiny_gan.py", GAN)
    process = project.run(*RUN, "--max_epochs", "1", "--latent", "4")
    assert process.returncode == 0, process.stderr[-3000:]
    [run_dir] = project.run_dirs()
    events = EventAccumulator(str(run_dir))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"val/clean/fake_score", "val/noisy/real_score", "val/fake_score", "test/standard_data/fake_score"} <= tags
    assert not any("dataloader_idx" in tag for tag in tags)
    results = json.loads((run_dir / "results.json").read_text())
    assert set(results["val"]) == {"clean", "noisy", "mean"} and "fake_score" in results["val"]["clean"]
    last = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert len(last["optimizer_states"]) == 2 and last["template_net"]["model_kwargs"]["latent"] == 4
    steps = last["global_step"]

    resumed = project.run("--resume", str(run_dir), "--max_epochs", "2")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert project.run_dirs() == [run_dir]  # the same folder, continued
    assert torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 2 * steps
    test = project.run("--model_name", "tiny_gan", "--dataset", "standard_data", "--mode", "test", "--ckpt",
                       str(run_dir / "checkpoints" / "last.ckpt"))
    assert test.returncode == 0, test.stderr[-3000:]


def test_a_monitor_the_module_does_not_log_is_one_error_line_at_the_first_validation(project):
    project.write("model/tiny_gan.py", GAN)
    process = project.run(*RUN[:-4], "--monitor", "val/loss", "--max_epochs", "1")
    # Training has started by then, so Lightning's own lines come first; the error is one line, with no traceback.
    assert process.returncode == 2 and "Traceback" not in process.stderr
    [line] = [line for line in process.stderr.splitlines() if line.startswith("error:")]
    assert "--monitor val/loss" in line and "TinyGan" in line and "val/clean/fake_score" in line


def test_a_gan_trains_on_two_processes_with_one_folder_and_labelled_keys(project):
    project.write("model/tiny_gan.py", GAN)
    process = project.run(*RUN, "--max_epochs", "1", "--accelerator", "cpu", "--devices", "2", "--strategy",
                          "ddp_find_unused_parameters_true")
    assert process.returncode == 0, process.stderr[-3000:]
    [run_dir] = project.run_dirs()
    results = json.loads((run_dir / "results.json").read_text())
    assert set(results["val"]) == {"clean", "noisy", "mean"} and results["best_checkpoint"]
