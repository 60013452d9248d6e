"""saltools: how far CNN saliency methods can be trusted, measured.

The analysis package behind the course "Saliency under the Microscope". Modules, lowest layer first; each
imports only from the rows above it, never another module's underscore names:

    _torch, _network, _hashing  leave-the-model-as-found helpers, class targets, batch checks; network
                                probes with a deadline; counter-based hashing (import nothing of saltools)
    data/         Shapes (shapes), corruptions, keyed noise, real photos and Imagenette (real), for_profile
    models/       architectures, loading and weight checks, the conv filter index (filters), training,
                  prediction / mistakes / robustness (evaluation)
    profiles      embedded / full: which model, data and sizes a chapter uses
    evt           normality tests, vectorized GPD fits, tail probabilities
    paramsal/     the per-sample filter statistic (statistic), reference statistics (reference, cache),
                  scorers, interventions, input projection (projection), planted faults (faults)
    rectgrad      RectGrad and NoBias RectGrad as Captum-style attributions; input spaces
    attributions  one interface over Captum, Zennit and RectGrad methods
    baselines     the fills of removed pixels and the batched scoring of perturbed images
    perturb       occlusion, RISE, superpixel ablation; maps under many baselines or settings
    metrics       localization, map agreement, causal curves, AUC / AOPC, ranking agreement
    depth, experiments  analyses that combine the above (depth bias; chapters 5-6's tables)
    claims/       every statement of fact of the book: evidence with a 95% interval and a verdict
    plots/, widgets     the book's figures and explorers

Data flows downward in this list: a chapter calls an experiment, which calls methods and metrics,
which call models and data.
"""
from . import (attributions, baselines, claims, data, depth, evt, experiments, metrics, models, paramsal, perturb,
               plots, profiles, rectgrad, widgets)

__version__ = "0.1.0"
__all__ = ["attributions", "baselines", "claims", "data", "depth", "evt", "experiments", "metrics", "models", "paramsal",
           "perturb", "plots", "profiles", "rectgrad", "widgets", "__version__"]
