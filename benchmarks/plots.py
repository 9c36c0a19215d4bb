"""The benchmarks page's figures: answer retention (and reader accuracy) against compression ratio, per data set."""

from __future__ import annotations

from typing import Any

from benchmarks.cells import retention_interval
from benchmarks.methods import DEFAULT_METHOD, METHODS


def figure_name(dataset: str) -> str:
    """The figure's file name in the docs folder (the page links it by this name)."""
    return f"benchmarks-{dataset}.png"


def plot(cells: list[dict[str, Any]], dataset: str, refs: dict[str, Any] | None, path: str) -> None:
    """One panel for answer retention, and one for reader accuracy when a reader ran, with the references."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    has_reader = any(c.get("n_reader") for c in cells)
    fig, axes = plt.subplots(1, 2 if has_reader else 1, figsize=(13 if has_reader else 9, 5.5 if has_reader else 7),
                             squeeze=False)
    styles = {"contextzip": "-", "baseline": ":", "peer": "--"}
    n = max(c["n"] for c in cells)
    panels = [("answer_retention", f"answer retention (gold answer in context, up to {n} questions; bars: 95% "
                                   "bootstrap interval)")]
    if has_reader:
        n_reader = max(c.get("n_reader") or 0 for c in cells)
        reader_name = next((c["reader"] for c in cells if c.get("reader")), "reader")
        panels.append(("reader_accuracy", f"reader accuracy ({reader_name}, first {n_reader} questions)"))
    cmap = plt.get_cmap("tab10")
    for ax, (key, title) in zip(axes[0], panels, strict=True):
        for i, m in enumerate(METHODS):
            mine = sorted((c for c in cells if c["method"] == m.name and c.get(key) is not None),
                          key=lambda c: c["mean_ratio"])
            if not mine:
                continue
            xs, ys = [c["mean_ratio"] for c in mine], [c[key] for c in mine]
            n_m = max(c["n"] for c in mine)
            label = m.label + (f" [n={n_m}]" if n_m != n else "")
            ax.plot(xs, ys, styles[m.family], marker="o", color=cmap(i % 10), label=label,
                    linewidth=2.5 if m.name == DEFAULT_METHOD else 1.5)
            if key == "answer_retention":  # 95% bootstrap intervals: overlapping bars are not a difference
                intervals = [retention_interval(c) or (c[key], c[key]) for c in mine]
                err = [[y - lo for y, (lo, _) in zip(ys, intervals, strict=True)],
                       [hi - y for y, (_, hi) in zip(ys, intervals, strict=True)]]
                ax.errorbar(xs, ys, yerr=err, fmt="none", ecolor=cmap(i % 10), elinewidth=1, capsize=3, alpha=0.7)
        if key == "reader_accuracy" and refs:
            for ref_key, ref_label, ls, x in (("full_context_reader_accuracy", "full context", "-.", 0.01),
                                              ("closed_book_reader_accuracy", "closed book", (0, (1, 3)), 0.99)):
                if refs.get(ref_key) is not None:
                    ax.axhline(refs[ref_key], color="grey", linestyle=ls, linewidth=1.2)
                    ax.text(x, refs[ref_key] + 0.01, f"{ref_label} {refs[ref_key]:.2f}", color="dimgrey",
                            fontsize=8, transform=ax.get_yaxis_transform(), ha="left" if x < 0.5 else "right")
        ax.set_xlabel("mean compression ratio (output tokens / input tokens)")
        ax.set_ylabel(title.split(" (")[0])
        ax.set_xlim(0, max([0.6] + [c["mean_ratio"] + 0.05 for c in cells]))
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.set_title(f"{dataset}: {title}", fontsize=10)
    handles, labels = axes[0][0].get_legend_handles_labels()
    ncol = 3 if has_reader else 2
    fig.legend(handles, labels, loc="lower center", ncol=ncol, fontsize=8, frameon=False)
    rows = -(-len(labels) // ncol)
    fig.tight_layout(rect=(0, min(0.45, 0.04 + 0.035 * rows * (5.5 / fig.get_figheight())), 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
