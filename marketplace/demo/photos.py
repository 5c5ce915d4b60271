"""Painted pictures for the demo farms: a landscape drawn with Pillow (sky, fields, a
barn), different for each farm and the same on every run, so no photo is downloaded."""

from __future__ import annotations

import io
import math
import random

from PIL import Image, ImageDraw

WIDTH, HEIGHT = 800, 600
GREENS = ((122, 168, 92), (96, 148, 78), (150, 182, 98), (176, 190, 110), (84, 128, 70))
BARNS = ((168, 58, 48), (140, 96, 62), (214, 200, 170), (92, 112, 130))


def _hill(rng: random.Random, base: float, height: float) -> list[tuple[float, float]]:
    waves = [(rng.uniform(0.5, 2.2), rng.uniform(0, math.tau)) for _ in range(2)]
    top = [(x, base - height * sum(math.sin(x / WIDTH * math.pi * f + p) for f, p in waves) / 2)
           for x in range(0, WIDTH + 20, 20)]
    return [*top, (WIDTH, HEIGHT), (0, HEIGHT)]


def paint_farm(seed: str) -> io.BytesIO:
    """A JPEG landscape for the farm whose name (or any text) is ``seed``."""
    rng = random.Random(seed)
    image = Image.new("RGB", (WIDTH, HEIGHT))
    draw = ImageDraw.Draw(image)
    top, bottom = (rng.randint(90, 140), rng.randint(160, 200), 235), (226, 238, 242)
    for y in range(HEIGHT):
        t = y / HEIGHT
        draw.line([(0, y), (WIDTH, y)],
                  fill=tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)))
    sun_x, sun_y = rng.randint(80, WIDTH - 80), rng.randint(60, 150)
    draw.ellipse([sun_x - 45, sun_y - 45, sun_x + 45, sun_y + 45], fill=(255, 222, 120))

    greens = rng.sample(GREENS, 3)
    for layer, green in enumerate(greens):
        base = 300 + layer * 90
        draw.polygon(_hill(rng, base, 40 - layer * 8), fill=green)
        if layer == 1:
            barn_x, barn_y = rng.randint(120, WIDTH - 220), base - 30
            colour = rng.choice(BARNS)
            draw.rectangle([barn_x, barn_y - 70, barn_x + 110, barn_y], fill=colour)
            draw.polygon([(barn_x - 10, barn_y - 70), (barn_x + 55, barn_y - 120),
                          (barn_x + 120, barn_y - 70)], fill=(90, 70, 60))
            draw.rectangle([barn_x + 40, barn_y - 40, barn_x + 70, barn_y], fill=(70, 52, 44))
    # Crop rows in the nearest field, converging towards the horizon.
    row = tuple(max(0, c - 28) for c in greens[-1])
    for i in range(-6, 17):
        draw.line([(WIDTH / 2 + i * 18, 520), (WIDTH / 2 + (i - 5) * 70, HEIGHT)],
                  fill=row, width=5)

    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    out.seek(0)
    return out
