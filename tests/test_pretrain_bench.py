"""vae-edu pretrain and vae-edu bench lectures, on a tiny notebook that trains through the cache."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from vae_edu import model_cache as mc
from vae_edu.tooling.bench.lectures import bench_lecture, compare, printed_numbers
from vae_edu.tooling.cli import main as cli_main
from vae_edu.tooling.pretrain import find_lectures, loaded_names, pretrain

TRAINING_CELL = """\
import torch
from vae_edu.data import MNISTSplit
from vae_edu.models import VAE
from vae_edu.train import fit
torch.set_num_threads(1)
torch.manual_seed(0)
data = MNISTSplit(torch.rand(64, 1, 28, 28), torch.arange(64) % 10)
model = VAE(hidden_dim=8, latent_dim=2)
history = fit(model, data, epochs=2, batch_size=16, device="cpu", cache="tiny")
"""
REPORT_CELL = """\
print(f"final loss {history.train[-1]['loss']:.6f}, next draw {torch.rand(1).item():.6f}")
"""


def tiny_lecture(folder: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(TRAINING_CELL), nbformat.v4.new_code_cell(REPORT_CELL)]
    path = folder / "01_tiny.ipynb"
    nbformat.write(nb, path)
    return path


def test_pretrain_stores_each_model_once_and_leaves_the_notebook_alone(tmp_path, capsys):
    lecture = tiny_lecture(tmp_path)
    before = lecture.read_bytes()
    stored = pretrain([str(lecture)], profile="smoke")
    out = capsys.readouterr().out
    assert [s.info.name for s in stored] == ["tiny"]
    assert "stored tiny: VAE, 2 epoch(s)" in out and "1 model(s) trained" in out
    assert [i.name for i in mc.list_entries()[0]] == ["tiny"]
    assert lecture.read_bytes() == before
    again = pretrain([str(lecture)], profile="smoke")
    assert again == [] and "0 model(s) trained, 1 already in the cache" in capsys.readouterr().out


def test_bench_runs_cold_then_warm_with_identical_numbers(tmp_path):
    run = bench_lecture(tiny_lecture(tmp_path), profile="smoke")
    assert run.cold > 0 and run.warm > 0 and run.cache_bytes > 0
    assert run.identical, run.example
    assert mc.list_entries()[0] == []  # the bench's cache was its own, and is gone


def cell(*texts: str) -> nbformat.NotebookNode:
    c = nbformat.v4.new_code_cell("")
    c.outputs = [nbformat.v4.new_output("stream", name="stdout", text=t) for t in texts]
    return c


def notebook(*cells) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    return nb


def test_comparison_ignores_training_logs_progress_cache_lines_and_timings():
    cold = notebook(
        cell("epoch 1/2: train loss 3.2 | 1.0 s\ntraining: 50%|#####     | 5/10\n"
             "kept the weights of epoch 1 of 2, the lowest validation loss (2.5)\n"),
        cell("test loss 1.234\nran in 3.2 s\n<matplotlib.legend.Legend at 0x7fae6f72a550>\n"),
    )
    warm = notebook(
        cell("loaded 'x' from the cache: 2 epoch(s), trained in 4.1 s on cpu\n"),
        cell("test loss 1.234\nran in 0.1 s\n<matplotlib.legend.Legend at 0x7f38f06eaad0>\n"),
    )
    assert printed_numbers(cold) == [[], ["test loss 1.234"]]
    assert compare(cold, warm) == ([], "")
    assert loaded_names(warm) == ["x"] and loaded_names(cold) == []


def test_comparison_names_the_cell_whose_numbers_differ():
    differing, example = compare(notebook(cell("a 1\n"), cell("b 2\n")),
                                 notebook(cell("a 1\n"), cell("b 3\n")))
    assert differing == [2] and "'b 2'" in example and "'b 3'" in example


def test_lectures_are_found_by_number_and_a_wrong_name_is_one_error(capsys):
    assert find_lectures(["06"])[0].name == "06_vae.ipynb"
    assert len(find_lectures()) >= 10
    assert cli_main(["pretrain", "99"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no lecture '99'" in err[0]


def test_pretrain_refuses_when_the_cache_is_off(monkeypatch):
    monkeypatch.setenv(mc.MODELS_ENV, "off")
    with pytest.raises(RuntimeError, match="=off"):
        pretrain(["06"])


def test_a_line_cut_into_two_stream_messages_is_one_line():
    # the kernel may send "bins: 484" as one message in one run and as "bins:" + " 484" in
    # another: what was printed is the same
    whole = notebook(cell("bins: 484\nok\n"))
    cut = notebook(cell("bins:", " 484\nok\n"))
    assert printed_numbers(cut) == printed_numbers(whole) == [["bins: 484", "ok"]]
    assert compare(whole, cut) == ([], "")
