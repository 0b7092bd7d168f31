"""Interactive widgets of lectures 06-09: latent sliders, a 2-D manifold explorer, a digit
picker for conditional VAEs and the attribute-progression slider.

One module per widget, and what they share:

* :class:`LatentSliders` (``latent_sliders``): one slider per latent dimension of a VAE,
  a reset button;
* :class:`ConditionalSliders` (``conditional_sliders``): a CVAE's digit picker and latent
  sliders, p(x | z, y);
* :class:`ManifoldExplorer` (``manifold_explorer``): a 2-d latent space: sliders z1, z2
  move a marker over the decoded manifold (or the scatter of the codes), the decoded
  digit beside it;
* :class:`AttributeProgression` (``attribute_progression``): a slider alpha for y_alpha =
  (1 - alpha) y_min + alpha y_max with z fixed (Attribute2Image), and the strip of the
  progression;
* :class:`AttributeSliders` (``attribute_sliders``): one alpha slider per continuous
  attribute of a condition [one-hot digit, attributes], the digit and z fixed
  (Attribute2Image's progression along one attribute, the rest fixed);
* ``base``: :class:`ModelWidget` (how a widget shows itself), ``SliderWidget`` (sliders
  that edit the code a widget decodes), the checks of a model, a code and a label,
  decoding, and :func:`latent_code` (the starting point: mu of one encoded image);
* ``rendering``: images as uint8 arrays and PNG bytes (:func:`to_png`), the marker.

Core ipywidgets only (JupyterLab, Notebook and Colab show them).  Each widget is a small
class that holds the model, builds ``.widget`` (the ipywidgets container) and has plain
methods that its callbacks call, so a test or a cell can drive it without a browser::

    w = LatentSliders(model, z0=latent_code(model, x))
    w                       # as the last line of a cell: shows the widget
    w.set_latent(3, 1.5)    # the same as dragging slider z[3] to 1.5
    w.render()              # the image shown now: a (28, 28) array in [0, 1]

Setting a slider's value from code (``w.sliders[3].value = 1.5``) runs the same callback
as dragging it.  Images are decoded without gradients and in eval mode, on whatever device
the model is on, and the model's train/eval mode is put back; they reach the browser as
PNG bytes in a ``widgets.Image`` (:func:`to_png`), enlarged without smoothing so that the
28 x 28 pixels stay visible.  One update takes one to a few milliseconds on a CPU for
the models of the course, the manifold explorer's 420 x 420 map a few more
(``vae-edu bench widgets`` measures it).

A widget needs a live kernel: a notebook opened without one (or a static page) shows a
placeholder instead, so show a static figure of the same images next to it where the
picture matters (``viz.show_images(w.render()[None])``).
"""

from .attribute_progression import AttributeProgression
from .attribute_sliders import AttributeSliders
from .base import ModelWidget, latent_code
from .conditional_sliders import ConditionalSliders
from .latent_sliders import LatentSliders
from .manifold_explorer import ManifoldExplorer
from .rendering import MARKER_COLOR, to_png

__all__ = [
    "MARKER_COLOR",
    "AttributeProgression",
    "AttributeSliders",
    "ConditionalSliders",
    "LatentSliders",
    "ManifoldExplorer",
    "ModelWidget",
    "latent_code",
    "to_png",
]
