"""Model cards: what a training run writes beside its artifact so the model explains itself.

One Markdown file (version, data, metrics, notes) plus one PNG per confusion matrix, all
written by the training run, so a retrained model never ships with a stale card.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

MODEL_CARD = "MODEL_CARD.md"


@dataclass(slots=True)
class ConfusionMatrix:
    """Row-normalisable counts of (true, predicted) labels, rows and columns in ``labels`` order."""

    title: str
    labels: Sequence[str]
    counts: np.ndarray  # (n_labels, n_labels) int, rows true, columns predicted

    @classmethod
    def from_predictions(
        cls, title: str, labels: Sequence[str], y_true: Sequence[str], y_pred: Sequence[str],
    ) -> ConfusionMatrix:
        index = {label: i for i, label in enumerate(labels)}
        counts = np.zeros((len(labels), len(labels)), dtype=int)
        for t, p in zip(y_true, y_pred):
            if t in index and p in index:
                counts[index[t], index[p]] += 1
        return cls(title=title, labels=list(labels), counts=counts)


@dataclass(slots=True)
class ModelCard:
    """Everything a card says; ``sections`` are free Markdown blocks keyed by heading."""

    name: str
    version: str
    summary: str
    data: Mapping[str, str | int]  # dataset -> description or count
    metrics: Mapping[str, float | str]
    confusion_matrices: Sequence[ConfusionMatrix] = ()
    sections: Mapping[str, str] = field(default_factory=dict)


def save_confusion_png(matrix: ConfusionMatrix, path: Path) -> Path:
    """Row-normalised heat map with the raw counts written in each cell."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = matrix.counts
    totals = counts.sum(axis=1, keepdims=True)
    fractions = np.divide(counts, totals, out=np.zeros(counts.shape, dtype=float), where=totals > 0)
    size = 1.2 + 0.55 * len(matrix.labels)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    image = ax.imshow(fractions, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(matrix.labels)), matrix.labels, rotation=60, ha="right")
    ax.set_yticks(range(len(matrix.labels)), matrix.labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(matrix.title)
    for i, j in zip(*np.nonzero(counts)):
        ax.text(j, i, str(counts[i, j]), ha="center", va="center",
                color="white" if fractions[i, j] > 0.5 else "black", fontsize=8)
    fig.colorbar(image, ax=ax, fraction=0.046, label="fraction of true class")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _slug(title: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in title.lower()).strip("_")


def _format(value: float | str) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def write_model_card(card: ModelCard, out_dir: Path) -> Path:
    """Write ``MODEL_CARD.md`` and its confusion-matrix PNGs into ``out_dir``; return the card path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = [
        f"# Model card: {card.name} {card.version}",
        "",
        card.summary,
        "",
        f"Written by the training run on {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}.",
        "",
        "## Data",
        "",
        "| dataset | |",
        "|---|---|",
        *(f"| {key} | {value} |" for key, value in card.data.items()),
        "",
        "## Metrics",
        "",
        "| metric | value |",
        "|---|---|",
        *(f"| {key} | {_format(value)} |" for key, value in card.metrics.items()),
        "",
    ]
    if card.confusion_matrices:
        lines += ["## Confusion matrices", ""]
        for matrix in card.confusion_matrices:
            png = save_confusion_png(matrix, out_dir / f"confusion_{_slug(matrix.title)}.png")
            lines += [f"### {matrix.title}", "", f"![{matrix.title}]({png.name})", ""]
    for heading, body in card.sections.items():
        lines += [f"## {heading}", "", body.strip(), ""]
    path = out_dir / MODEL_CARD
    path.write_text("\n".join(lines))
    return path
