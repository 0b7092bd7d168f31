"""The vae-edu command: info, execute, bench speed."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import nbformat
import torch

from vae_edu.data import SUBSET_DIR
from vae_edu.models import VAE
from vae_edu.tooling.bench import speed
from vae_edu.tooling.cli import main


def run_cli(*args, env_extra=None):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "vae_edu", *args], capture_output=True, text=True, env=env,
        timeout=300,
    )


def test_info_names_torch_device_profile_and_data():
    result = run_cli("info", env_extra={"VAE_EDU_PROFILE": "smoke"})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"torch {torch.__version__}" in out
    assert re.search(r"^device: (cpu|cuda|mps)", out, re.M)
    assert "profile: smoke" in out
    assert "offline subset" in out and "6000 training and 2000 test images" in out
    assert str(SUBSET_DIR) in out


def test_unknown_profile_is_one_clear_error():
    result = run_cli("info", env_extra={"VAE_EDU_PROFILE": "quick"})
    assert result.returncode == 2
    assert "unknown profile 'quick'" in result.stderr and "Traceback" not in result.stderr


def test_execute_refreshes_a_notebook_under_a_profile(tmp_path, capsys):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("from vae_edu.profiles import budget\nprint(budget().profile)")
    ]
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)
    assert main(["execute", "--profile", "smoke", str(path)]) == 0
    cell = nbformat.read(path, as_version=4).cells[0]
    assert cell.execution_count == 1 and cell.outputs[0]["text"] == "smoke\n"
    assert "executed" in capsys.readouterr().out


def test_execute_reports_a_failing_notebook(tmp_path, capsys):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("1 / 0")]
    path = tmp_path / "bad.ipynb"
    nbformat.write(nb, path)
    before = path.read_bytes()
    assert main(["execute", str(path)]) == 1
    assert "ZeroDivisionError" in capsys.readouterr().err
    assert path.read_bytes() == before


def test_bench_copies_the_example_weights_exactly():
    torch.manual_seed(0)
    example, ours = speed.ExampleVAE(), VAE()
    speed.copy_example_weights(example, ours)
    x = torch.rand(5, 1, 28, 28)
    torch.manual_seed(1)
    probs, mu, logvar = example(x)
    torch.manual_seed(1)
    logits, mu2, logvar2 = ours(x)
    torch.testing.assert_close(torch.sigmoid(logits), probs)
    torch.testing.assert_close((mu2, logvar2), (mu, logvar))


def test_bench_speed_prints_its_figures_and_ends_with_speedup(capsys):
    assert main(["bench", "speed", "--data", str(SUBSET_DIR)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    values = dict(line.split(": ", 1) for line in lines if ": " in line)
    for key in (
        "baseline_seconds_per_epoch", "baseline_test_nelbo",
        "vae_edu_seconds_per_epoch", "vae_edu_test_nelbo",
    ):
        assert float(values[key]) > 0, key
    assert re.fullmatch(r"speedup: \d+\.\d\d", lines[-1])
    # the same model from the same weights on the same data: losses are close
    assert abs(float(values["test_nelbo_difference"])) < 10


def test_bench_quality_smoke_prints_every_figure(monkeypatch, capsys):
    """The quality benchmark runs end to end under the smoke profile on the shipped subset."""
    monkeypatch.setenv("VAE_EDU_PROFILE", "smoke")
    assert main(["bench", "quality"]) == 0
    out = capsys.readouterr().out
    values = {
        line.split(": ", 1)[0]: float(line.split(": ", 1)[1].split()[0])
        for line in out.splitlines()
        if ": " in line and line.split(": ", 1)[0].endswith(("nelbo", "nll", "error"))
    }
    assert set(values) == {
        "vae_test_nelbo", "vae_iwae_nll", "ae30_recon_sq_error", "pca30_recon_sq_error"
    }
    assert all(0 < v < 1000 for v in values.values())  # finite, positive nats / errors
    # PCA with 30 components on MNIST: roughly 14-16 squared error per image
    assert 10 < values["pca30_recon_sq_error"] < 25
    assert "profile: smoke" in out
    for n in (100, 1000):
        for kind in ("pretrained", "scratch"):
            line = next(x for x in out.splitlines() if x.startswith(f"stacked_{kind}_acc_{n}:"))
            assert 0.0 <= float(line.split()[1]) <= 1.0


def test_bench_quality_conv07_runs_only_when_asked_and_pairs_the_seeds(monkeypatch, capsys):
    """`--only conv07` trains lecture 07's two VAEs with three seeds each (smoke: one epoch
    of 512 images) and prints each model's -IWAE_200 and the paired difference, which is
    the mean of the per-seed differences it printed."""
    monkeypatch.setenv("VAE_EDU_PROFILE", "smoke")
    assert main(["bench", "quality", "--only", "conv07"]) == 0
    out = capsys.readouterr().out
    assert "stacked_" not in out and "vae_test_nelbo" not in out  # only the asked part
    per_seed = {(m[1], int(m[2])): float(m[3]) for m in re.finditer(
        r"conv07: (mlp|conv) seed (\d): epoch kept \d+, -IWAE_200 ([\d.]+)", out)}
    assert sorted(per_seed) == [(name, s) for name in ("conv", "mlp") for s in (0, 1, 2)]
    assert all(50 < v < 800 for v in per_seed.values())  # nats per binarised image
    values = {line.split(": ", 1)[0]: float(line.split(": ", 1)[1].split()[0])
              for line in out.splitlines() if line.startswith("conv07_")}
    for name in ("mlp", "conv"):
        mean = sum(per_seed[name, s] for s in (0, 1, 2)) / 3
        assert abs(values[f"conv07_{name}_iwae200"] - mean) < 0.01
    paired = sum(per_seed["conv", s] - per_seed["mlp", s] for s in (0, 1, 2)) / 3
    assert abs(values["conv07_conv_minus_mlp_iwae200"] - paired) < 0.02


def test_bench_quality_conv07_trains_one_model_for_the_epochs_asked(monkeypatch, capsys):
    """`--conv07-model mlp --conv07-epochs 2` trains the MLP VAE alone for two passes: one
    test -ELBO per pass, no conv lines and no paired difference (it needs both models)."""
    monkeypatch.setenv("VAE_EDU_PROFILE", "smoke")
    assert main(["bench", "quality", "--only", "conv07", "--conv07-model", "mlp",
                 "--conv07-epochs", "2"]) == 0
    out = capsys.readouterr().out
    assert "; 2 epochs;" in out
    assert re.findall(r"conv07: (\w+) seed (\d)", out) == [("mlp", "0"), ("mlp", "1"), ("mlp", "2")]
    curve = next(line for line in out.splitlines() if "test -ELBO per epoch" in line)
    assert len(curve.split("seeds): ", 1)[1].split()) == 2
    assert "conv07_conv" not in out and "conv07_mlp_iwae200" in out


def test_bench_quality_conv07_options_need_conv07(capsys):
    """The conv07 options without `--only conv07` are one error that names the fix."""
    assert main(["bench", "quality", "--conv07-epochs", "5"]) == 2
    assert "add --only conv07" in capsys.readouterr().err


def test_bench_quality_conv07_rejects_zero_epochs(monkeypatch, capsys):
    monkeypatch.setenv("VAE_EDU_PROFILE", "smoke")
    assert main(["bench", "quality", "--only", "conv07", "--conv07-epochs", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err
