"""The survey-independent alert model every stage after parsing works on.

Survey adapters (``classifier_service.surveys``) turn raw packets into these records;
nothing downstream looks at Avro again. Field names follow ALeRCE's data model
(oid, candid, mjd, fid, magpsf, sigmapsf, isdiffpos, ...) so that the store, the API
and the notebooks of the field line up. Filter ids (fid) are :mod:`alerce_contract.bands`'s.
"""
from __future__ import annotations

from dataclasses import dataclass, field as _field
from typing import Any

JD_TO_MJD = 2400000.5


@dataclass(slots=True)
class Detection:
    """One difference-image detection (the alert's candidate or an earlier one)."""

    oid: str
    candid: int
    mjd: float
    fid: int
    ra: float
    dec: float
    magpsf: float
    sigmapsf: float
    isdiffpos: int  # +1 positive subtraction, -1 negative
    distnr: float | None = None  # distance to nearest reference source (arcsec)
    magnr: float | None = None  # magnitude of that reference source
    sigmagnr: float | None = None
    rb: float | None = None
    drb: float | None = None
    diffmaglim: float | None = None
    pid: int | None = None
    field: int | None = None
    rcid: int | None = None
    has_stamp: bool = False  # True only for the candidate that came with cutouts
    parent_candid: int | None = None  # the alert that carried this row
    extra: dict[str, Any] = _field(default_factory=dict)  # the survey's whole record


@dataclass(slots=True)
class NonDetection:
    """An upper limit: the survey looked and saw nothing brighter than diffmaglim."""

    oid: str
    mjd: float
    fid: int
    diffmaglim: float


@dataclass(slots=True)
class ForcedPhotometry:
    """Forced PSF photometry at the object's position on one earlier epoch (ZTF ``fp_hists``)."""

    oid: str
    pid: int
    mjd: float
    fid: int
    forcediffimflux: float | None
    forcediffimfluxunc: float | None
    magzpsci: float | None
    diffmaglim: float | None
    extra: dict[str, Any] = _field(default_factory=dict)


@dataclass(slots=True)
class Cutouts:
    """The three stamps of an alert, as the survey sent them (ZTF: gzipped FITS bytes)."""

    science: bytes | None = None
    template: bytes | None = None
    difference: bytes | None = None
    # The decoded images, kept by classifier_service.cutouts.decode_cutouts so that checking
    # the stamps and classifying them decode each one once.
    images: list | None = _field(default=None, repr=False, compare=False)

    def present(self) -> bool:
        return self.science is not None and self.template is not None and self.difference is not None


@dataclass(slots=True)
class Alert:
    """One alert packet: a new detection of an object plus the history that came with it."""

    survey: str
    oid: str
    candid: int
    schema_version: str
    candidate: Detection
    prv_detections: list[Detection] = _field(default_factory=list)
    non_detections: list[NonDetection] = _field(default_factory=list)
    forced_photometry: list[ForcedPhotometry] = _field(default_factory=list)
    cutouts: Cutouts = _field(default_factory=Cutouts)
    # Candidate metadata the classifiers use (sgscore1..3, distpsnr1..3, ndethist, ...).
    metadata: dict[str, Any] = _field(default_factory=dict)

    @property
    def detections(self) -> list[Detection]:
        """The candidate and every earlier detection, oldest first."""
        return sorted([*self.prv_detections, self.candidate], key=lambda d: d.mjd)
