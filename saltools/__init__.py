"""saltools: how far CNN saliency methods can be trusted, measured. Modules, lowest layer first; each
imports only from the rows above it, never another module's underscore names:

    _torch, _network, _hashing  leave the model as found, class targets; network probes; hashing
    parameters    parameter kinds and @checked: every numeric or categorical parameter refused when out of its kind
    checks        the input gate: images, labels, maps, masks and sizes checked at every public function
    data/         shapes, corruptions, noise, real photos and Imagenette (real); for_profile
    models/       architectures, loading and weight checks, the filter index (filters), training, evaluation
    profiles      embedded / full: which model, data and sizes a chapter uses
    evt           normality tests, vectorized GPD fits, tail probabilities
    paramsal/     per-sample filter statistic (statistic), reference statistics (reference, cache), scorers,
                  interventions, input projection (projection), planted faults (faults)
    rectgrad      RectGrad and NoBias RectGrad as Captum-style attributions; input spaces
    attributions  one interface over Captum, Zennit and RectGrad methods
    baselines     fills of removed pixels; batched scoring of perturbed images
    perturb       occlusion, RISE, superpixel ablation; maps under many baselines or settings
    metrics       localization, map agreement, causal curves, AUC / AOPC, ROAD, SRG, ranking agreement
    leakage       does a removal mask's outline name the class? (probe and model readers, chapter 7)
    depth, experiments  analyses combining the above (chapter 4; chapters 5-7's tables)
    claims/       the book's statements of fact: evidence with a 95% interval, verdict by a fixed rule
    exercises/    self-checking exercises: check(exercise, answer, **given) against the chapters' answer keys
    plots/, widgets     the book's figures and explorers
    quiz          the chapters' self-checking quizzes (ipywidgets in Jupyter, static HTML in the book)
    notebook      helpers for the book's notebooks (one summary line per cell for floods of warnings)

Data flows down this list: a chapter calls claims and experiments, which call methods and metrics,
which call models and data.
"""
__version__ = "0.1.0"           # before the submodules: the shipped zoo verdicts record it

from . import (attributions, baselines, checks, claims, data, depth, evt, exercises, experiments, leakage, metrics,  # noqa: E402
               models, notebook, paramsal, perturb, plots, profiles, quiz, rectgrad, widgets)
__all__ = ["attributions", "baselines", "checks", "claims", "data", "depth", "evt", "exercises", "experiments",
           "leakage", "metrics", "models", "notebook", "paramsal", "perturb", "plots", "profiles", "quiz", "rectgrad",
           "widgets", "__version__"]
