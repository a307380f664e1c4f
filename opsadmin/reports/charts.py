"""The reports' charts as PNG images, each with the text a reader without images gets instead.

Pure functions of the figures, without metadata: the same figures make the same bytes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from matplotlib.figure import Figure

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
INK = "#23395d"
PALETTE = ("#23395d", "#2f7dbd", "#e07b39", "#4d9e5a", "#8c5fb0", "#b5485d", "#6b7280")
SHORTFALL_SHARE = 0.9


@dataclass(frozen=True)
class Chart:
    name: str  # also the content id: <img src="cid:{name}@opsadmin">
    alt: str
    png: bytes

    @property
    def cid(self) -> str:
        return f"{self.name}@opsadmin"


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    # No software/date metadata: the same figures make the same bytes.
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return buffer.getvalue()


def _pct(value: float | None) -> str:
    return "no open time" if value is None else f"{value * 100:.0f}%"


# -- utilisation -----------------------------------------------------------------------------


def by_site(f: dict[str, Any]) -> Chart:
    figure = Figure(figsize=(7.2, 2.8))
    axes = figure.subplots()
    codes = [loc["code"] for loc in f["locations"]]
    values = [(loc["utilisation"] or 0) * 100 for loc in f["locations"]]
    axes.bar(range(len(codes)), values, width=0.5, color=INK)
    axes.set_xticks(range(len(codes)), codes)
    axes.set_xlim(-0.75, max(len(codes), 3) - 0.25)  # a lone site is not a wall of colour
    axes.set_ylabel("Utilisation %")
    axes.set_ylim(0, 100)
    axes.set_title(f"Utilisation by site, {f['week']}")
    figure.tight_layout()
    alt = f"Utilisation by site, {f['week']}: " + ", ".join(
        f"{loc['code']} {_pct(loc['utilisation'])}" for loc in f["locations"]
    )
    return Chart("utilisation-by-site", alt, _png(figure))


def open_hours(heatmap: list[list[float | None]]) -> range:
    """The local hours some site was open (a cell has a figure), first to last."""
    hours = [h for row in heatmap for h, value in enumerate(row) if value is not None]
    return range(min(hours), max(hours) + 1) if hours else range(0)


def occupancy(f: dict[str, Any]) -> Chart:
    hours = open_hours(f["heatmap"])
    figure = Figure(figsize=(7.2, 3.0))
    axes = figure.subplots()
    grid = [
        [(row[h] if row[h] is not None else float("nan")) for h in hours] or [float("nan")]
        for row in f["heatmap"]
    ]
    image = axes.imshow(grid, aspect="auto", cmap="Blues", vmin=0, vmax=1)
    axes.set_yticks(range(7), WEEKDAYS)
    axes.set_xticks(range(len(hours)), [f"{h:02d}" for h in hours])
    axes.set_xlabel("Local hour (blank: closed)")
    axes.set_title(f"Occupancy by weekday and local hour, {f['week']}")
    figure.colorbar(image, ax=axes, fraction=0.03)
    figure.tight_layout()
    busiest = _busiest(f["heatmap"])
    span = f"{hours.start:02d}:00 to {hours.stop:02d}:00" if hours else "no open hours"
    alt = f"Occupancy by weekday and local hour, {span}; {busiest}"
    return Chart("occupancy-by-hour", alt, _png(figure))


def _busiest(heatmap: list[list[float | None]]) -> str:
    cells = [
        (value, d, h)
        for d, row in enumerate(heatmap)
        for h, value in enumerate(row)
        if value is not None
    ]
    if not cells:
        return "nothing was open"
    value, d, h = max(cells, key=lambda c: (c[0], -c[1], -c[2]))
    return f"busiest {WEEKDAYS[d]} {h:02d}:00 at {value * 100:.0f}%"


def trend(f: dict[str, Any]) -> Chart:
    series = f["trend"]
    weeks = [point["week"] for point in series["weeks"]]
    figure = Figure(figsize=(7.2, 2.8))
    axes = figure.subplots()
    ticks = [week[-3:] for week in weeks]
    for index, loc in enumerate(series["locations"]):
        values = [
            (p["utilisation"] * 100 if p["utilisation"] is not None else float("nan"))
            for p in loc["weeks"]
        ]
        axes.plot(ticks, values, marker="o", color=PALETTE[index % len(PALETTE)], label=loc["code"])
    region = [(p["utilisation"] or 0) * 100 for p in series["weeks"]]
    axes.plot(ticks, region, color="#111827", linestyle="--", label="region")
    axes.set_ylim(0, 100)
    axes.set_ylabel("Utilisation %")
    axes.set_title(f"Utilisation, {len(weeks)} weeks to {f['week']}")
    axes.legend(fontsize=8, ncols=4, loc="upper left")
    figure.tight_layout()
    alt = f"Utilisation per week from {weeks[0]} to {weeks[-1]}: " + "; ".join(
        f"{loc['code']} " + ", ".join(_pct(p["utilisation"]) for p in loc["weeks"])
        for loc in series["locations"]
    )
    return Chart("utilisation-trend", alt, _png(figure))


def forecast(f: dict[str, Any]) -> Chart:
    weeks = f["forecast"]["weeks"]
    codes = [loc["location"] for loc in weeks[0]["locations"]] if weeks else []
    figure = Figure(figsize=(7.2, 2.8))
    axes = figure.subplots()
    width = 0.8 / max(len(codes), 1)
    for index, code in enumerate(codes):
        share = [_demand_share(week["locations"][index]) * 100 for week in weeks]
        positions = [n + index * width for n in range(len(weeks))]
        axes.bar(positions, share, width, color=PALETTE[index % len(PALETTE)], label=code)
    axes.axhline(SHORTFALL_SHARE * 100, color="#b91c1c", linestyle="--", label="90%")
    highest = max((_demand_share(loc) for week in weeks for loc in week["locations"]), default=0)
    axes.set_ylim(0, max(110, highest * 100 + 10))
    axes.set_xticks(
        [n + 0.4 - width / 2 for n in range(len(weeks))], [week["week"] for week in weeks]
    )
    axes.set_ylabel("Demand, % of open chair time")
    axes.set_title("Chair demand ahead: booked and expected against available")
    axes.legend(fontsize=8, ncols=4, loc="upper left")
    figure.tight_layout()
    short = [
        f"{loc['location']} in {week['week']}"
        for week in weeks
        for loc in week["locations"]
        if loc["shortfall"]
    ]
    alt = "Chair demand ahead per site and week; " + (
        "shortfall: " + ", ".join(short) if short else "no shortfall"
    )
    return Chart("demand-forecast", alt, _png(figure))


def _demand_share(loc: dict[str, Any]) -> float:
    demand = loc["booked_minutes"] + loc["expected_minutes"]
    if not loc["available_minutes"]:
        return 1.0 if demand else 0.0
    return demand / loc["available_minutes"]


def utilisation_charts(f: dict[str, Any]) -> tuple[Chart, ...]:
    made = [by_site(f), occupancy(f)]
    if f.get("trend"):
        made.append(trend(f))
    if f.get("forecast"):
        made.append(forecast(f))
    return tuple(made)


# -- follow-up -------------------------------------------------------------------------------


def funnel(f: dict[str, Any]) -> Chart:
    figure = Figure(figsize=(7.2, 3.2))
    axes = figure.subplots()
    stages = ("received", "consulted", "approved", "started", "completed")
    totals = [sum(row[stage] for row in f["funnel"]) for stage in stages]
    axes.bar(stages, totals, color=INK)
    axes.set_ylim(0, max(totals + [1]) * 1.1)
    axes.set_ylabel("Referrals")
    axes.set_title(f"Referral funnel, last 90 days, as of {f['as_of']}")
    figure.tight_layout()
    alt = "Referral funnel, last 90 days: " + ", ".join(
        f"{stage} {total}" for stage, total in zip(stages, totals, strict=True)
    )
    return Chart("referral-funnel", alt, _png(figure))


def followup_charts(f: dict[str, Any]) -> tuple[Chart, ...]:
    return (funnel(f),)
