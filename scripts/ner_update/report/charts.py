"""Line charts for the report, drawn by matplotlib and written as inline SVG (text kept as
text, no external references, the same bytes for the same data).

A library: prints nothing. `line_figure` builds the chart (tests read its data back);
`svg` turns it into markup for the page. A new chart is a call of `line_chart` in
report_page.py.
"""

import io

import matplotlib
from markupsafe import Markup, escape
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

Series = dict[str, list[tuple[float, float]]]  # name -> (step, value) points
LINE_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f"]
MAX_MARKERS = 60  # points per line drawn as dots; a longer line is drawn as a line only
LOG_SPAN = 100  # a y axis whose positive values span more than this factor is logarithmic


def uses_log_scale(series: Series) -> bool:
    """Whether the values span more than two decades (a teacher loss of 0.05 beside a silver loss of 150)."""
    ys = [y for values in series.values() for _, y in values]
    positive = [y for y in ys if y > 0]
    return bool(positive) and min(ys) >= 0 and max(positive) / min(positive) > LOG_SPAN


def line_figure(series: Series, x_label: str, y_label: str, title: str) -> Figure:
    """One line per series over the steps, a legend on the right; a log y axis when
    the values span more than two decades (values <= 0 are then left out)."""
    log = uses_log_scale(series)
    fig = Figure(figsize=(8.6, 3.2), layout="constrained")
    ax = fig.subplots()
    for i, (name, values) in enumerate(series.items()):
        shown = [(x, y) for x, y in values if y > 0 or not log]
        marker = "o" if len(shown) <= MAX_MARKERS else None
        xs, ys = [x for x, _ in shown], [y for _, y in shown]
        ax.plot(xs, ys, label=name, color=LINE_COLORS[i % len(LINE_COLORS)], linewidth=2, marker=marker, markersize=4)
    ax.set_title(title, loc="left", fontsize=12, fontweight="bold")
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label + (" (log scale)" if log else ""))
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    if log:
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(base=10))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
    else:
        ax.set_ylim(bottom=min(0.0, *(y for values in series.values() for _, y in values)))
    ax.grid(color="#eceef1")
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return fig


def svg(fig: Figure, label: str) -> Markup:
    """The figure as an inline <svg> element (no XML prolog), labelled for screen readers."""
    out = io.StringIO()
    # text as <text> (readable, searchable, small); ids salted by the label, so that two charts on
    # one page never share the id of a clip path; no date in the metadata, so the bytes are stable
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": label}):
        fig.savefig(out, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    markup = out.getvalue()
    markup = markup[markup.index("<svg") :]
    return Markup(markup.replace("<svg ", Markup('<svg role="img" aria-label="{}" ').format(escape(label)), 1))


def line_chart(series: Series, x_label: str, y_label: str, title: str) -> Markup:
    """An inline SVG line chart; see line_figure."""
    return svg(line_figure(series, x_label, y_label, title), title)
