"""A sweep over the optimizer and the scheduler: each trial runs with its chosen classes' own options and defaults,
and `--compare` shows none of the options that only belong to classes a run did not use."""


import optuna
import pytest
import yaml
from conftest import FAST, error_line

from utils.runs.comparison import RunRecord, comparison_rows, differing_options

TINY = ("--model_name", "standard_net", "--dataset", "standard_data", "--num_samples", "200", *FAST)
SWEEP = """\
optimizer: [adam, adamw, sgd]
lr: {low: 1.0e-3, high: 1.0e-2, log: true}
optimizer.momentum: [0.5, 0.8]
scheduler: [none, step_lr]
scheduler.step_size: [1, 2]
"""
# The trials in the order the worker runs them (Optuna's enqueued trials), so each class is sure to be chosen.
TRIALS = ({"optimizer": "sgd", "optimizer.momentum": 0.5, "scheduler": "step_lr", "scheduler.step_size": 2},
          {"optimizer": "adam", "scheduler": "none"})


def test_each_trial_runs_its_own_optimizer_and_scheduler_and_compare_shows_only_their_options(project):
    project.write("sweep.yaml", SWEEP)
    storage = f"sqlite:///{project.root / 'study.db'}"
    study = optuna.create_study(study_name="classes", storage=storage)
    for params in TRIALS:
        study.enqueue_trial(params)
    # Given to the worker: weight decay reaches every optimizer, eps only those that have it, gamma only step_lr.
    process = project.run(*TINY, "--optimizer.weight_decay", "0.001", "--optimizer.eps", "1e-07",
                          "--scheduler", "step_lr", "--scheduler.gamma", "0.5", "--sweep", "sweep.yaml",
                          "--trials", "2", "--study", "classes", "--storage", storage, "--pruner", "none")
    assert process.returncode == 0, process.stderr[-3000:]
    study_dir = project.logs / "standard_net-standard_data" / "classes"
    configs = [yaml.safe_load((study_dir / f"trial_{number}" / "config.yaml").read_text()) for number in range(2)]
    for config, params in zip(configs, TRIALS, strict=True):
        assert {name: config[name] for name in params} == params
        assert config["optimizer.weight_decay"] == 0.001 and 1e-3 <= config["optimizer.lr"] <= 1e-2
    sgd, adam = configs
    assert sgd["optimizer.dampening"] == 0.0 and sgd["optimizer.nesterov"] is False and sgd["scheduler.gamma"] == 0.5
    assert adam["optimizer.betas"] == [0.9, 0.999] and adam["optimizer.eps"] == 1e-07
    assert "optimizer.momentum" not in adam and not [name for name in adam if name.startswith("scheduler.")]
    assert not {"optimizer.betas", "optimizer.eps", "optimizer.amsgrad"} & set(sgd)

    compared = project.run("--compare", str(study_dir))
    assert compared.returncode == 0, compared.stderr[-3000:]
    header, *rows = compared.stdout.splitlines()
    # Each class's own options are left out: no two runs that have them differ in them.
    assert header.split()[:5] == ["run", "optimizer", "scheduler", "optimizer.lr", "monitor"]
    assert [row.split()[1:3] for row in rows] == [["sgd", "step_lr"], ["adam", "none"]]


def test_compare_shows_an_option_some_runs_lack_only_where_the_runs_that_have_it_differ():
    runs = [RunRecord("sgd_a", {"optimizer": "sgd", "optimizer.momentum": 0.5, "optimizer.nesterov": False}, {}),
            RunRecord("adam", {"optimizer": "adam", "optimizer.betas": [0.9, 0.999]}, {}),
            RunRecord("sgd_b", {"optimizer": "sgd", "optimizer.momentum": 0.8, "optimizer.nesterov": False}, {})]
    assert differing_options(runs) == ["optimizer", "optimizer.momentum"]
    assert [row[1:3] for row in comparison_rows(runs)[1:]] == [["sgd", 0.5], ["adam", None], ["sgd", 0.8]]


REFUSED = {
    "option-of-no-chosen-optimizer": ((), "optimizer: [adam, adamw]\noptimizer.momentum: [0.5]\n",
                                      "'optimizer.momentum' is not an option of any trial (optimizer adam, adamw) "
                                      "(the optimizer of each trial has no momentum: choose one that has, optimizer: "
                                      "[muon, rmsprop, sgd])"),
    "misspelt-optimizer-parameter": ((), "optimizer.betaz: [[0.8, 0.9]]\n", "(did you mean optimizer.betas?)"),
    "given-option-of-no-chosen-optimizer": (("--optimizer", "sgd", "--optimizer.momentum", "0.5"),
                                            "optimizer: [adam, adamw]\n",
                                            "--optimizer.momentum 0.5 reaches no trial: no optimizer the sweep"),
    "plain-option-of-no-chosen-optimizer": ((), "optimizer: [adam, adamw]\nmomentum: [0.5]\n",
                                            "'momentum' is not an option of any trial"),
    "plain-option-of-both-classes": ((), "scheduler: [none, reduce_lr_on_plateau]\neps: [1.0e-7]\n",
                                     "'eps' is a parameter of both the optimizer and the scheduler with scheduler: "
                                     "'reduce_lr_on_plateau': write optimizer.eps or scheduler.eps"),
    "value-the-chosen-scheduler-refuses": ((), "scheduler: [step_lr]\nscheduler.step_size: [0.5]\n",
                                           "scheduler.step_size: 0.5 is refused"),
}


@pytest.mark.parametrize("case", REFUSED.values(), ids=REFUSED.keys())
def test_an_option_no_trial_can_take_is_one_error_line_before_any_trial(fork_server, project, case):
    arguments, sweep_file, words = case
    project.write("sweep.yaml", sweep_file)
    process = fork_server.run(project.root, *TINY, *arguments, "--sweep", "sweep.yaml", "--trials", "2")
    assert words in error_line(process)
    assert not project.logs.exists()


def test_a_sweep_that_chooses_no_class_names_its_refused_command_line():
    from utils.experiments.class_choices import UserError, options_by_choice  # the module's own class

    def refused(tokens: list[str]) -> None:
        raise UserError("OwnLossNet has its own loss, so --loss mse would do nothing: drop it")

    with pytest.raises(UserError, match=r"^sweep file s.yaml: its command line is refused: OwnLossNet has its own"):
        options_by_choice("sweep file s.yaml", {}, {"loss": "mse"}, refused)
