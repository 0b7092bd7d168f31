"""Stored outputs that nbval compares must not depend on floating-point round-off.

A lecture's compared cells are checked against their stored outputs on whatever CPU runs
the tests (Intel or AMD, AVX2 or AVX-512, one thread or many, MKL or OpenBLAS). Two checks
keep them portable:

* a static one: no compared output prints a round-off-sized figure (``1.6e-14``,
  ``0.0e+00``), a negative zero (``-0.00``) or a decimal with more significant digits
  than any computation here is reproducible to;
* a dynamic one: every lecture passes nbval again under each of two conditions that
  change round-off on this machine (MKL's conservative code path; scalar instead of
  vectorised ATen kernels), so a figure printed to too many digits shows up here, not on
  the next instructor's machine. Both run with one thread, as the README's test command
  does; a different thread count (a plain ``pytest`` on a many-core laptop) splits
  reductions differently, and no condition here varies it.

Cells whose output legitimately varies carry the tag ``nbval-ignore-output``; the raw
round-off figures live in such cells.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LECTURES = sorted((ROOT / "lectures").glob("[0-9][0-9]_*.ipynb"))
IGNORED = {"nbval-ignore-output", "nbval-skip"}

# Conditions that change floating-point results of the same code on this machine, run one
# at a time: together their changes can cancel on a figure that each alone would move. Each
# lists settings to try in turn; the first that changes a float32 result here is the one run
# (none changing skips the condition). All use one thread, as the README's test command
# does: the two conditions run side by side on a 2-core CI machine, and with a thread per
# core the MKL one took over 25 min there against about 8 min for the other (clean-clone
# run of fd70d15).
ROUND_OFF_CONDITIONS = {
    # MKL's GEMM kernels for another CPU instead of its fastest for this one: its most
    # conservative path changes results on AMD EPYC but not on an AVX-512 Xeon, where the
    # path of an SSE4.2 CPU does (both measured with the probe below)
    "mkl-other-path": [{"MKL_CBWR": "COMPATIBLE", "OMP_NUM_THREADS": "1"},
                       {"MKL_CBWR": "SSE4_2", "OMP_NUM_THREADS": "1"},
                       {"MKL_CBWR": "AVX2", "OMP_NUM_THREADS": "1"}],
    # ATen's scalar kernels (as on a CPU without AVX2): other vectorised reductions
    "scalar-kernels": [{"ATEN_CPU_CAPABILITY": "default", "OMP_NUM_THREADS": "1"}],
}
# float32 carries about 7 significant digits, so a figure printed with more than 8 shows
# round-off whatever its dtype; float64 results of closed forms are reproducible to 8.
# (A float32 result of a long sum is reproducible to about 5: the dynamic test below and
# the review of each lecture keep those short.)
MAX_SIGNIFICANT_DIGITS = 8
SMALLEST_MEANINGFUL = 1e-6

_NUMBER = re.compile(r"(?<![\w.])(-?\d+(?:,\d{3})*(?:\.\d+)?(?:[eE][-+]?\d+)?)(?![\w.])")


def round_off_figures(text: str) -> list[str]:
    """The figures in ``text`` that would differ between CPUs: round-off-sized values in
    scientific notation, negative zeros, decimals with too many significant digits."""
    found = []
    for match in _NUMBER.finditer(text):
        token = match.group(1)
        plain = token.replace(",", "")
        mantissa, _, exponent = plain.lower().partition("e")
        value = float(plain)
        if exponent and "." in mantissa and abs(value) < SMALLEST_MEANINGFUL:
            # 1.6e-14, 0.0e+00: a formatted measurement of what is left after cancellation
            # (a tolerance written as 1e-12 has no decimal point and is not flagged)
            found.append(token)
        elif "." in mantissa and value == 0 and mantissa.startswith("-"):
            found.append(token)  # -0.00: the sign of a round-off
        elif "." in mantissa:
            digits = mantissa.lstrip("-").replace(".", "").lstrip("0")
            if len(digits) > MAX_SIGNIFICANT_DIGITS:
                found.append(token)
    return found


def compared_outputs(path: Path):
    """(cell index, text) of every output nbval compares in the notebook at ``path``."""
    nb = json.loads(path.read_text())
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code" or IGNORED & set(cell.get("metadata", {}).get("tags", [])):
            continue
        for output in cell.get("outputs", []):
            if output["output_type"] == "stream":
                yield index, "".join(output["text"])
            elif "text/plain" in output.get("data", {}):
                yield index, "".join(output["data"]["text/plain"])


def test_the_scanner_finds_what_differs_between_cpus():
    assert round_off_figures("largest difference over 10^6 samples: 1.6e-14") == ["1.6e-14"]
    assert round_off_figures("log p(x) - (ELBO + KL) = 0.0e+00") == ["0.0e+00"]
    assert round_off_figures("mean: a =  -0.00, b =  11.25") == ["-0.00"]
    assert round_off_figures("ELBO = -11.7328896593") == ["-11.7328896593"]
    assert round_off_figures("KL 3.8421289644 = 3.8421289644") == ["3.8421289644"] * 2
    # meaning, not round-off: short decimals, counts, shapes, tolerances, sizes
    for fine in ("recon 550.4 nats", "652,824 parameters", "(8, 784)", "to 1e-12: True",
                 "z[0]..z[19] in [-3, 3]", "0.0264", "-7.890761", "-11.732890", "1,792",
                 "x = -3.314", "<Figure size 600x400 with 1 Axes>", "2.5e3 images"):
        assert round_off_figures(fine) == [], fine


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem)
def test_compared_outputs_carry_no_round_off(path):
    problems = [f"cell {index}: {', '.join(figures)}"
                for index, text in compared_outputs(path)
                if (figures := round_off_figures(text))]
    assert not problems, (
        f"{path.name}: compared outputs print figures that depend on round-off "
        f"({'; '.join(problems)}). Print what they mean at a tolerance (e.g. 'equal to "
        f"1e-12: True') or fewer digits, and keep the raw figure in a cell tagged "
        f"nbval-ignore-output.")


_PROBE = """
import torch
g = torch.Generator().manual_seed(0)
x = torch.rand(8, 784, generator=g)
w = torch.randn(784, 400, generator=g) / 28
h = torch.tanh(x @ w)
print(repr(torch.log1p(h.exp()).sum().item()), repr(torch.special.expit(h).pow(2).mean().item()))
"""


def _probe(env: dict[str, str]) -> str:
    result = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True,
                            text=True, timeout=120, check=True)
    return result.stdout.strip()


def _compared_outputs_hold_under(condition: str) -> None:
    """Every lecture passes nbval with the round-off of another machine."""
    env = {**os.environ, "VAE_EDU_PROFILE": "smoke", "VAE_EDU_OFFLINE": "1",
           "OMP_NUM_THREADS": "1"}
    env.pop("MPLBACKEND", None)
    usual = _probe(env)
    for setting in ROUND_OFF_CONDITIONS[condition]:
        other = _probe(changed := {**env, **setting})
        if other != usual:
            break
    else:
        pytest.skip(f"none of {ROUND_OFF_CONDITIONS[condition]} changes a float32 result "
                    f"on this CPU")
    print(f"float32 probe: {usual} here, {other} under {setting}")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
         "--nbval", "--nbval-current-env", "--nbval-sanitize-with=lectures/sanitize.cfg",
         "--nbval-cell-timeout=600", *[str(p.relative_to(ROOT)) for p in LECTURES]],
        cwd=ROOT, env=changed, capture_output=True, text=True, timeout=1500)
    assert result.returncode == 0, (
        f"under {setting} some compared outputs differ from the "
        f"stored ones:\n" + result.stdout[-6000:] + result.stderr[-2000:])


# One class per condition: the README's test command distributes by scope (--dist
# loadscope), and `longest` puts both at the front of the queue (conftest.py), so the two
# runs of every lecture start at once on different workers.
@pytest.mark.slow
@pytest.mark.longest
class TestUnderAnotherMKLPath:
    def test_compared_outputs_hold(self):
        _compared_outputs_hold_under("mkl-other-path")


@pytest.mark.slow
@pytest.mark.longest
class TestUnderScalarKernels:
    def test_compared_outputs_hold(self):
        _compared_outputs_hold_under("scalar-kernels")
