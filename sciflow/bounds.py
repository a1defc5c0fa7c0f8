"""Bounded argument types for model, objective and problem constructors.

A constructor annotates its size arguments with these; the spec checks every value against the
annotation before anything is built, so ``width: 0`` or ``depth: -1`` is one error naming the key.
Upper bounds only catch typos (a size no machine holds); memory is checked separately.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, Strict

Width = Annotated[int, Strict(), Field(ge=1, le=1 << 20)]  # neurons / channels per layer
Depth = Annotated[int, Strict(), Field(ge=1, le=1000)]  # hidden layers / blocks
Modes = Annotated[int, Strict(), Field(ge=1, le=1 << 16)]  # Fourier modes kept
Points = Annotated[int, Strict(), Field(ge=1, le=10**8)]  # collocation points per draw
OptionalPoints = Annotated[int, Strict(), Field(ge=0, le=10**8)]  # 0 = none
FeatureCount = Annotated[int, Strict(), Field(ge=0, le=1 << 16)]  # 0 = none
Every = Annotated[int, Strict(), Field(ge=0, le=10**9)]  # a cadence in steps; 0 = never
PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
