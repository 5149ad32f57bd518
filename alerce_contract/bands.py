"""Photometric bands and ALeRCE's filter ids (fid) for ZTF and Rubin: the one map every app reads.

fid follows ALeRCE's ZTF numbering (1 g, 2 r, 3 i). Rubin's g, r and i share those numbers so
that colours and per-band features mean the same for both surveys; u, z and y follow as 4, 5
and 6. A TOM stores the band name (``PhotometryReducedDatum.bandpass``), the broker the fid.
"""
from __future__ import annotations

import math

BAND_OF_FID: dict[int, str] = {1: "g", 2: "r", 3: "i", 4: "u", 5: "z", 6: "y"}
FID_OF_BAND: dict[str, int] = {band: fid for fid, band in BAND_OF_FID.items()}

# ALeRCE's multisurvey API numbers Rubin's bands its own way (the band_map it sends with every
# epoch); a self-hosted API answers in the same numbers.
ALERCE_LSST_BAND_ID: dict[str, int] = {"u": 6, "g": 1, "r": 2, "i": 3, "z": 4, "y": 5}

# Rubin gives fluxes in nJy: m_AB = -2.5 log10(flux / nJy) + NJY_ZERO_POINT (1 nJy is AB 31.4).
NJY_ZERO_POINT = 31.4
FLUX_TO_MAG_ERROR = 2.5 / math.log(10)  # 1.0857: sigma_m = 1.0857 * sigma_f / f
# ALeRCE's LSST band number -> band name (the inverse of ALERCE_LSST_BAND_ID).
ALERCE_LSST_BAND: dict[int, str] = {number: band for band, number in ALERCE_LSST_BAND_ID.items()}


def flux_to_mag(flux: float, flux_err: float) -> tuple[float, float]:
    """(magpsf, sigmapsf) of a non-zero difference flux in nJy; the sign goes to isdiffpos.
    The broker's Rubin adapter and the TOM's client convert with this one function."""
    return -2.5 * math.log10(abs(flux)) + NJY_ZERO_POINT, FLUX_TO_MAG_ERROR * flux_err / abs(flux)

# The fids each survey observes in, bluest first.
SURVEY_FIDS: dict[str, tuple[int, ...]] = {"ZTF": (1, 2, 3), "LSST": (4, 1, 2, 3, 5, 6)}

# Plot colours by band, the same on every page (Rubin's u..y as in its own plots).
BAND_COLORS: dict[str, str] = {
    "u": "#56b4e9", "g": "#2ca02c", "r": "#d62728", "i": "#ff7f0e", "z": "#8c564b", "y": "#333333",
}
UNKNOWN_BAND_COLOR = "#7f7f7f"


def band_name(fid: int) -> str:
    """'g' for fid 1 and so on; ValueError for a fid no survey here uses."""
    try:
        return BAND_OF_FID[int(fid)]
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"unknown fid {fid!r}; known: {sorted(BAND_OF_FID)}") from None


def fid_of_band(bandpass: str | None) -> int | None:
    """The fid of a band however a TOM spells it ('g', 'ZTF g', 'ztfr', 'LSST-u'); None if unknown."""
    band = (bandpass or "").strip()[-1:].lower()
    return FID_OF_BAND.get(band)


def band_color(band: str) -> str:
    return BAND_COLORS.get(band, UNKNOWN_BAND_COLOR)
