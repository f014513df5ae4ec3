"""The board's chart colours differ for everyone: each pair stays apart as people with protanopia, deuteranopia or
tritanopia see them (the full-severity matrices of Machado, Oliveira and Fernandes, 2009, applied in linear RGB, the
distance measured in CIELAB), and each bar stands out from the white page (WCAG 1.4.11, 3:1)."""

from __future__ import annotations

import itertools
import math

import pytest

from speakup.reporting.charts import PALETTE

Matrix = tuple[tuple[float, float, float], ...]

SIMULATIONS: dict[str, Matrix] = {
    "normal vision": ((1, 0, 0), (0, 1, 0), (0, 0, 1)),
    "protanopia": ((0.152286, 1.052583, -0.204868), (0.114503, 0.786281, 0.099216), (-0.003882, -0.048116, 1.051998)),
    "deuteranopia": ((0.367322, 0.860646, -0.227968), (0.280085, 0.672501, 0.047413), (-0.011820, 0.042940, 0.968881)),
    "tritanopia": ((1.255528, -0.076749, -0.178779), (-0.078411, 0.930809, 0.147602), (0.004733, 0.691367, 0.303900)),
}
MIN_DISTANCE = 20  # CIELAB ΔE*ab: clearly different side by side (2.3 is just noticeable)


def _linear(colour: str) -> tuple[float, ...]:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    return tuple(channel(int(colour[i : i + 2], 16)) for i in (1, 3, 5))


def _seen(colour: str, matrix: Matrix) -> tuple[float, float, float]:
    """The colour as someone with that vision sees it, in CIELAB (D65)."""
    rgb = _linear(colour)
    r, g, b = (min(1.0, max(0.0, sum(m * c for m, c in zip(row, rgb, strict=True)))) for row in matrix)
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def _contrast_with_white(colour: str) -> float:
    r, g, b = _linear(colour)
    return 1.05 / (0.2126 * r + 0.7152 * g + 0.0722 * b + 0.05)


@pytest.mark.parametrize("vision", SIMULATIONS)
def test_every_pair_of_series_colours_stays_apart(vision):
    matrix = SIMULATIONS[vision]
    for first, second in itertools.combinations(PALETTE, 2):
        distance = math.dist(_seen(first, matrix), _seen(second, matrix))
        assert distance >= MIN_DISTANCE, f"{first} and {second} are {distance:.1f} apart with {vision}"


def test_every_series_colour_stands_out_from_the_page():
    assert all(_contrast_with_white(colour) >= 3 for colour in PALETTE)


def test_the_check_tells_colours_apart_that_only_differ_in_red_and_green():
    """The simulation is real: NHS green and a red of the same lightness are far apart to most people, close with
    deuteranopia (the pair a chart of red and green would rely on)."""
    green, red = "#007f3b", "#c8102e"
    assert math.dist(_seen(green, SIMULATIONS["normal vision"]), _seen(red, SIMULATIONS["normal vision"])) > 60
    assert math.dist(_seen(green, SIMULATIONS["deuteranopia"]), _seen(red, SIMULATIONS["deuteranopia"])) < MIN_DISTANCE
