"""The report's figures, drawn with matplotlib and returned as inline SVG text.

Each function takes plain data (lists and dicts from report.json) and returns one
``<svg>`` element. Text stays text (``svg.fonttype = none``): the page is smaller and
the browser's own fonts render it. No date or random id goes into the SVG, so the
same report renders to the same bytes.
"""

from __future__ import annotations

import io
import math
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # no display: a build server or a Pi has none

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

STYLE = {
    "svg.fonttype": "none",
    "svg.hashsalt": "edgekit",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "figure.dpi": 100,
}
# Where an op runs, as the op table colours it.
PLACEMENT_COLOURS = {"target": "#2e9d5b", "cpu": "#e8a33d", "unsupported": "#d1493f", "host": "#7f8fa6"}
TRAIN, VALIDATION = "#3b6fb6", "#d1493f"
WIDTH = 8.0


def _svg(fig) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def training_curves(segments: Sequence[dict]) -> str:
    """Loss and accuracy per epoch, train and validation, the phases and stages one after
    another. ``segments``: dicts with name, history, best_epoch, epochs_run, epochs_max."""
    with plt.rc_context(STYLE):
        fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(WIDTH * 1.25, 3.4))
        start = 0
        for n, seg in enumerate(segments):
            history = seg["history"]
            epochs = len(history.get("loss", []))
            x = np.arange(start + 1, start + epochs + 1)
            for ax, key in ((loss_ax, "loss"), (acc_ax, "accuracy")):
                first = n == 0
                if key in history:
                    ax.plot(x, history[key], color=TRAIN, lw=1.4, label="train" if first else None)
                if f"val_{key}" in history:
                    ax.plot(x, history[f"val_{key}"], color=VALIDATION, lw=1.4, label="validation" if first else None)
                if n:
                    ax.axvline(start + 0.5, color="#888", lw=0.8, ls="--")
                # Alternate heights: a short stage's name would run into the next one's.
                ax.annotate(seg["name"], (start + 0.6, 1.0 - 0.06 * (n % 2)), xycoords=("data", "axes fraction"),
                            va="top", fontsize=8, color="#444")
                best = seg.get("best_epoch") or 0
                values = history.get(f"val_{key}")
                if best and values and best <= len(values):
                    ax.plot([start + best], [values[best - 1]], marker="*", ms=11, color="#222", ls="none",
                            label="best epoch (kept)" if first else None, zorder=5)
                if epochs and epochs < seg.get("epochs_max", epochs) and values:
                    ax.plot([start + epochs], [values[-1]], marker="X", ms=8, color="#888", ls="none",
                            label="stopped early" if first else None, zorder=5)
            start += epochs
        loss_ax.set(title="loss", xlabel="epoch")
        acc_ax.set(title="accuracy", xlabel="epoch")
        for ax in (loss_ax, acc_ax):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if any("accuracy" in s["history"] or "val_accuracy" in s["history"] for s in segments):
            acc_ax.set_ylim(top=1.02)
        handles, labels = loss_ax.get_legend_handles_labels()
        acc_handles, acc_labels = acc_ax.get_legend_handles_labels()
        for h, label in zip(acc_handles, acc_labels):
            if label not in labels:
                handles.append(h)
                labels.append(label)
        fig.legend(handles, labels, loc="lower center", ncol=4, frameon=False, bbox_to_anchor=(0.5, -0.06))
        fig.tight_layout()
        return _svg(fig)


def confusion_matrix(confusion: Sequence[Sequence[int]], names: Sequence[str]) -> str:
    """Rows: true class, columns: predicted; shaded by the row's share, counts written in."""
    matrix = np.asarray(confusion, dtype=np.float64)
    count = len(names)
    side = min(8.0, max(3.0, 0.3 * count + 1.6))
    with plt.rc_context({**STYLE, "axes.grid": False}):
        fig, ax = plt.subplots(figsize=(side + 1.0, side))
        rows = matrix.sum(axis=1, keepdims=True)
        share = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
        image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
        labels = [_short(n, 14) for n in names]
        step = max(1, math.ceil(count / 40))
        ax.set_xticks(range(0, count, step), labels[::step], rotation=90 if count > 6 else 0)
        ax.set_yticks(range(0, count, step), labels[::step])
        ax.set(xlabel="predicted class", ylabel="true class")
        if count <= 25:
            for i in range(count):
                for j in range(count):
                    if matrix[i, j]:
                        ax.text(j, i, f"{int(matrix[i, j])}", ha="center", va="center", fontsize=7 if count > 12 else 8,
                                color="white" if share[i, j] > 0.55 else "#222")
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.03, label="share of the true class")
        fig.tight_layout()
        return _svg(fig)


def per_class_accuracy(per_class: dict, overall: float | None = None, shown: int = 40) -> str:
    """Each class's accuracy, worst first when there are more than ``shown`` classes."""
    items = [(name, row["accuracy"], row["images"]) for name, row in per_class.items() if row["accuracy"] is not None]
    if len(items) > shown:
        items = sorted(items, key=lambda item: item[1])[:shown]
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(WIDTH * 0.6, max(2.0, 0.24 * len(items) + 0.9)))
        y = np.arange(len(items))
        ax.barh(y, [a for _, a, _ in items], color=TRAIN, height=0.7)
        ax.set_yticks(y, [f"{_short(n, 18)} ({k})" for n, _, k in items])
        ax.invert_yaxis()
        ax.set(xlim=(0, 1.0), xlabel="accuracy (validation images in brackets)")
        if overall is not None:
            ax.axvline(overall, color=VALIDATION, lw=1, ls="--")
            ax.set_title(f"dashed: overall {overall:.4f}", fontsize=9, color=VALIDATION, loc="right")
        fig.tight_layout()
        return _svg(fig)


def kernel_weights(kernels: Sequence[dict]) -> str:
    """Per kernel of the .tflite: the share of zeros and the number of distinct values."""
    names = [_short(k.get("layer") or k.get("tensor") or f"op {k['op_index']}", 40) for k in kernels]
    y = np.arange(len(kernels))
    with plt.rc_context(STYLE):
        fig, (zeros_ax, distinct_ax) = plt.subplots(1, 2, sharey=True,
                                                    figsize=(WIDTH * 1.25, max(2.2, 0.22 * len(kernels) + 1.0)))
        zeros_ax.barh(y, [100 * k["zero_fraction"] for k in kernels], color="#7a5195", height=0.7)
        zeros_ax.set(xlim=(0, 100), xlabel="zeros (% of the kernel)", title="sparsity")
        zeros_ax.set_yticks(y, names)
        zeros_ax.invert_yaxis()
        distinct = [k["distinct_values"] for k in kernels]
        distinct_ax.barh(y, distinct, color="#ef5675", height=0.7)
        # Quantised kernels have at most 256 values: a linear axis shows 16 clusters
        # against 256; a float kernel's thousands need a log one.
        if max(distinct) > 512:
            distinct_ax.set(xscale="log", xlabel="distinct values (log scale)")
        else:
            distinct_ax.set(xlim=(0, 260), xlabel="distinct values")
        distinct_ax.set_title("distinct values")
        fig.tight_layout()
        return _svg(fig)


def placement_strip(placements: Sequence[str]) -> str:
    """One cell per op in execution order, coloured by where it runs."""
    order = list(PLACEMENT_COLOURS)
    codes = np.array([[order.index(p) if p in order else 2 for p in placements]])
    with plt.rc_context({**STYLE, "axes.grid": False}):
        fig, ax = plt.subplots(figsize=(WIDTH * 1.25, 0.9))
        ax.imshow(codes, cmap=ListedColormap(list(PLACEMENT_COLOURS.values())), vmin=0, vmax=len(order) - 1,
                  aspect="auto", interpolation="nearest")
        ax.set_yticks([])
        ax.set_xlabel("op index (execution order)")
        for side in ("left", "bottom"):
            ax.spines[side].set_visible(False)
        handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in PLACEMENT_COLOURS.values()]
        ax.legend(handles, ["on the target", "CPU fallback", "unsupported", "host by design"], ncol=4, frameon=False,
                  loc="lower center", bbox_to_anchor=(0.5, 1.0))
        return _svg(fig)


def progression(steps: Sequence[dict]) -> str:
    """Size (bytes and gzip) and validation accuracy from the float model through each
    stage to the .tflite. ``steps``: dicts with name, bytes, gzip_bytes (None where a step
    has no comparable size) and accuracy."""
    names = [s["name"] for s in steps]
    x = np.arange(len(steps))
    with plt.rc_context(STYLE):
        fig, (size_ax, acc_ax) = plt.subplots(1, 2, figsize=(WIDTH * 1.25, 3.2))
        sized = [i for i, s in enumerate(steps) if s.get("bytes") is not None]
        size_ax.bar(x[sized] - 0.2, [steps[i]["bytes"] / 1024 for i in sized], width=0.4, color="#3b6fb6",
                    label="bytes")
        size_ax.bar(x[sized] + 0.2, [steps[i]["gzip_bytes"] / 1024 for i in sized], width=0.4, color="#8fb3e0",
                    label="gzip -9")
        size_ax.set_xticks(x, names, rotation=20, ha="right")
        size_ax.set(ylabel="KiB", title="size")
        size_ax.legend(frameon=False)
        # A refit's stages hold no images out: no accuracy to draw.
        shown = [i for i, s in enumerate(steps) if s["accuracy"] is not None]
        accuracy = [steps[i]["accuracy"] for i in shown]
        acc_ax.plot(x[shown], accuracy, marker="o", color=VALIDATION)
        for i, a in zip(shown, accuracy):
            acc_ax.annotate(f"{a:.4f}", (i, a), textcoords="offset points", xytext=(0, 7), ha="center", fontsize=8)
        low = min(accuracy)
        acc_ax.set_ylim(max(0.0, low - max(0.02, (1 - low) * 0.5)), min(1.0, max(accuracy) + 0.02) + 0.005)
        acc_ax.set_xticks(x, names, rotation=20, ha="right")
        acc_ax.set(ylabel="validation accuracy", title="accuracy")
        fig.tight_layout()
        return _svg(fig)


def output_snr(outputs: Sequence[dict], least: float) -> str:
    """SNR of each output of a conversion against the source model, and the least allowed."""
    finite = [min(o["snr_db"], 200.0) for o in outputs]
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(WIDTH * 0.75, max(1.6, 0.35 * len(outputs) + 1.0)))
        y = np.arange(len(outputs))
        colours = [TRAIN if v >= least else VALIDATION for v in finite]
        ax.barh(y, finite, color=colours, height=0.6)
        ax.set_yticks(y, [_short(o["name"], 30) for o in outputs])
        ax.invert_yaxis()
        ax.axvline(least, color="#222", ls="--", lw=1)
        ax.set(xlabel="SNR against the source model (dB)")
        ax.set_title(f"dashed: least allowed, {least:g} dB", fontsize=9, loc="right")
        fig.tight_layout()
        return _svg(fig)


def step_times(timings: dict) -> str:
    """Seconds spent in each step of the action."""
    items = [(k, v) for k, v in timings.items() if v is not None]
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(WIDTH * 0.75, max(1.6, 0.28 * len(items) + 0.8)))
        y = np.arange(len(items))
        ax.barh(y, [v for _, v in items], color="#58508d", height=0.6)
        ax.set_yticks(y, [k for k, _ in items])
        ax.invert_yaxis()
        for i, (_, v) in enumerate(items):
            ax.annotate(f"{v:.1f} s", (v, i), textcoords="offset points", xytext=(4, 0), va="center", fontsize=8)
        ax.set(xlabel="seconds")
        fig.tight_layout()
        return _svg(fig)


def op_times(rows: Sequence[dict], shown: int = 20) -> str:
    """The slowest ops, measured alone (an op that could not run alone is hatched: an estimate)."""
    top = sorted((r for r in rows if r.get("ms")), key=lambda r: -r["ms"])[:shown]
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(WIDTH, max(2.0, 0.26 * len(top) + 0.9)))
        y = np.arange(len(top))
        bars = ax.barh(y, [r["ms"] for r in top], color=TRAIN, height=0.65)
        for bar, row in zip(bars, top):
            if row.get("how") == "estimate":
                bar.set_hatch("//")
                bar.set_facecolor("#8fb3e0")
        ax.set_yticks(y, [f"{r['index']} {r['opcode']} {_short(r.get('layer') or '', 26)}" for r in top])
        ax.invert_yaxis()
        ax.set(xlabel="ms, each op alone (median)")
        fig.tight_layout()
        return _svg(fig)


def latency_histogram(samples: Sequence[float], percentiles: dict) -> str:
    """The distribution of timed runs with p50, p90 and p99 marked."""
    values = np.asarray(samples, dtype=np.float64)
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(WIDTH, 3.0))
        top = np.percentile(values, 99.5) if len(values) > 20 else values.max()
        shown = values[values <= top]
        ax.hist(shown, bins=min(80, max(10, len(shown) // 4)), color="#8fb3e0", edgecolor="#3b6fb6", lw=0.5)
        # Latency piles up near the minimum with a long tail: a log count axis shows both.
        ax.set_yscale("log")
        for (name, value), style in zip(percentiles.items(), ("-", "--", ":")):
            ax.axvline(value, color=VALIDATION, ls=style, lw=1.2, label=f"{name} {value:.3f} ms")
        ax.set(xlabel="latency (ms)" + (f"; {len(values) - len(shown)} slowest runs beyond the axis"
                                        if len(shown) < len(values) else ""), ylabel="runs (log scale)")
        ax.legend(frameon=False)
        fig.tight_layout()
        return _svg(fig)


def latency_comparison(names: Sequence[str], samples: Sequence[Sequence[float]], sizes: Sequence[int]) -> str:
    """Several models side by side: their latency distributions and their sizes."""
    labels = [_short(n, 28) for n in names]
    with plt.rc_context(STYLE):
        fig, (lat_ax, size_ax) = plt.subplots(1, 2, figsize=(WIDTH * 1.25, max(2.4, 0.5 * len(names) + 1.2)),
                                              sharey=True)
        y = np.arange(len(names))
        lat_ax.boxplot([np.asarray(s) for s in samples], positions=y, vert=False, widths=0.5, showfliers=False,
                       medianprops={"color": VALIDATION})
        lat_ax.set_yticks(y, labels)
        lat_ax.invert_yaxis()
        lat_ax.set(xlabel="latency (ms): box p25-p75, whiskers 1.5 IQR", title="latency")
        size_ax.barh(y, [s / 1024 for s in sizes], color=TRAIN, height=0.5)
        size_ax.set(xlabel="KiB", title="file size")
        fig.tight_layout()
        return _svg(fig)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else "…" + text[-(limit - 1):]


def pareto(points: Sequence[tuple], *, max_latency_ms: float) -> str:
    """Accuracy against latency: (latency, accuracy, bytes, on_front, baseline, chosen, label)
    per trial; marker area grows with file size."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(WIDTH, 4.2))
        biggest = max(p[2] for p in points) or 1
        for lat, acc, size, on_front, baseline, best, label in points:
            area = 20 + 300 * size / biggest
            ax.scatter([lat], [acc], s=area, marker="s" if baseline else "o", alpha=0.6,
                       color="#2e9d5b" if on_front else "#3b6fb6", edgecolors="#1d2530", linewidths=0.5)
            if best:
                ax.scatter([lat], [acc], s=area * 2.5, facecolors="none", edgecolors="#d1493f", linewidths=1.5)
            ax.annotate(label, (lat, acc), fontsize=7, xytext=(4, 3), textcoords="offset points")
        kept = sorted((p for p in points if p[3]), key=lambda p: p[0])
        if kept:
            ax.plot([p[0] for p in kept], [p[1] for p in kept], color="#2e9d5b", linewidth=1)
        ax.axvline(max_latency_ms, color="#d1493f", linestyle="--", linewidth=1)
        ax.set_xlabel("latency on the target (ms)")
        ax.set_ylabel("validation accuracy (.tflite)")
        return _svg(fig)


def precision_recall(curves: dict, shown: int = 12) -> str:
    """Each class's precision against recall at IoU 0.5 (COCO's 101 recall points)."""
    recall = np.linspace(0, 1, 101)
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(WIDTH * 0.6, WIDTH * 0.45))
        for name, precision in list(curves.items())[:shown]:
            p = np.asarray(precision, dtype=float)
            reached = p >= 0
            ax.plot(recall[reached], p[reached], lw=1.4, label=_short(name, 18))
        ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="recall", ylabel="precision", title="IoU 0.5")
        ax.legend(frameon=False, fontsize=8, loc="lower left")
        fig.tight_layout()
        return _svg(fig)
