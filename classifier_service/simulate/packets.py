"""Simulated objects' detections as ZTF 4.02 alert packets (one-record Avro containers).

Each alert carries the candidate, its 30-day history (``prv_candidates``: detections and
upper limits), forced photometry (``fp_hists``) and three gzipped FITS cutouts rendered
from the object's scene with the epoch's photometry.
"""
from __future__ import annotations

import io
from dataclasses import replace
from functools import lru_cache
from typing import Any

import fastavro
import numpy as np

from classifier_service.alert import JD_TO_MJD
from classifier_service.simulate.cadence import FLUX_ZP, flux_to_mag, mag_to_flux
from classifier_service.simulate.fits import gzipped_fits
from classifier_service.simulate.objects import HISTORY_DAYS, SimulatedObject
from classifier_service.simulate.schema import (
    CANDIDATE, FP_HIST, PRV_CANDIDATE, SCHEMA_VERSION, UNION_SECOND, encode_bytes, encode_optional_array,
    encode_sub_record, field_names, parsed_alert_schema, zigzag,
)
from classifier_service.simulate.stamps import at_zero_point, difference_sign, limit_zero_point, render

PUBLISHER = "alerce-classifier simulate"
SYNC_MARKER = b"ZTF-sim-alert-01"  # 16 bytes
_CANDIDATE_BLANK = dict.fromkeys(field_names(CANDIDATE))
_PRV_BLANK = dict.fromkeys(field_names(PRV_CANDIDATE))
_FP_BLANK = dict.fromkeys(field_names(FP_HIST))


def _f(value: Any) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def _photometry_row(obj: SimulatedObject, i: int, candid: int | None, template: dict[str, Any]) -> dict[str, Any]:
    """The fields a candidate and a prv_candidate share, for epoch ``i`` of an object."""
    obs, ctx = obj.obs, obj.context
    fid = int(obs.fid[i])
    pid = int(obj.pids[i])
    row = dict(template)
    row.update(
        jd=float(obs.mjd[i] + JD_TO_MJD), fid=fid, pid=pid, diffmaglim=float(obs.diffmaglim[i]),
        programid=1, programpi="Kulkarni", nid=int(pid // 10**9), rcid=ctx["rcid"], field=ctx["field"],
        pdiffimfilename=(f"ztf_{pid}_{ctx['field']:06d}_z{'xgri'[fid]}_c{ctx['rcid'] // 4 + 1:02d}"
                         f"_o_q{ctx['rcid'] % 4 + 1}_scimrefdiffimg.fits"),
        magzpsci=26.0 + 0.1 * (fid == 1), rbversion="t17_f5_c3",
    )
    if obs.detected[i]:
        magnr = ctx.get("magnr_by_fid")
        row.update(
            candid=candid, isdiffpos="t" if obs.isdiffpos[i] > 0 else "f", ra=ctx["ra"], dec=ctx["dec"],
            magpsf=float(obs.magpsf[i]), sigmapsf=float(obs.sigmapsf[i]),
            magap=float(obs.magpsf[i] + ctx["epoch_fields"]["magdiff"][i]), sigmagap=float(obs.sigmapsf[i] * 1.2),
            distnr=_f(ctx["distnr"]), magnr=_f(magnr[fid]) if magnr is not None else _f(ctx.get("magnr")),
            sigmagnr=_f(ctx.get("sigmagnr")), chinr=ctx["chinr"], sharpnr=ctx["sharpnr"],
            fwhm=ctx["fwhm"], classtar=ctx["classtar"], elong=ctx["elong"], nbad=ctx["nbad"], nneg=0,
            rb=ctx["rb"], ssdistnr=ctx["ssdistnr"], ssmagnr=ctx["ssmagnr"], ssnamenr=ctx["ssnamenr"],
            ranr=ctx["ra"], decnr=ctx["dec"], xpos=ctx["xpos"], ypos=ctx["ypos"],
            magfromlim=float(obs.diffmaglim[i] - obs.magpsf[i]),
            **{name: float(values[i]) for name, values in ctx["epoch_fields"].items()},
        )
    return row


def _candidate(obj: SimulatedObject, i: int, candid: int) -> dict[str, Any]:
    ctx, jd = obj.context, float(obj.obs.mjd[i] + JD_TO_MJD)
    row = _photometry_row(obj, i, candid, _CANDIDATE_BLANK)
    detected_before = int(obj.obs.detected[:i + 1].sum())
    row.update(
        tblid=candid % 1000, drb=ctx["drb"], drbversion="d6_m7", tooflag=0, nmtchps=3, nmatches=400,
        ndethist=ctx["older_detections"] + detected_before,
        ncovhist=ctx["older_detections"] + detected_before + int(ctx["ncovhist"]),
        jdstarthist=ctx["first_mjd"] + JD_TO_MJD, jdendhist=jd,
        rfid=int(ctx["field"] * 10**6 + 120 * 10**3 + ctx["rcid"] * 10 + row["fid"]),
        jdstartref=jd - 1500.0, jdendref=jd - 1400.0, nframesref=ctx["rfid_offset"] % 30 + 15,
        exptime=30.0, neargaia=ctx["distpsnr1"] if obj.stamp_class == "VS" else None,
        maggaia=ctx["srmag1"] if obj.stamp_class == "VS" else None,
        **{key: ctx[key] for key in ("sgscore1", "sgscore2", "sgscore3", "distpsnr1", "distpsnr2", "distpsnr3",
                                     "sgmag1", "srmag1", "simag1", "szmag1", "sgmag2", "srmag2", "simag2",
                                     "szmag2", "sgmag3", "srmag3", "simag3", "szmag3")},
    )
    return row


def _fp_hist(obj: SimulatedObject, i: int) -> dict[str, Any]:
    """Forced photometry at the object's position on an earlier epoch, in DN for the zero point."""
    obs, ctx = obj.obs, obj.context
    fid = int(obs.fid[i])
    zero_point = 26.0 + 0.1 * (fid == 1)
    to_dn = 10 ** (0.4 * (zero_point - FLUX_ZP))
    row = dict(_FP_BLANK)
    row.update(
        field=ctx["field"], rcid=ctx["rcid"], fid=fid, pid=int(obj.pids[i]),
        rfid=int(ctx["field"] * 10**6 + 120 * 10**3 + ctx["rcid"] * 10 + fid), programid=1,
        jd=float(obs.mjd[i] + JD_TO_MJD), diffmaglim=float(obs.diffmaglim[i]), magzpsci=zero_point,
        forcediffimflux=float(obs.flux[i] * to_dn), forcediffimfluxunc=float(obs.flux_err[i] * to_dn),
        procstatus="0", exptime=30.0, sciinpseeing=ctx["fwhm"], ranr=ctx["ra"], decnr=ctx["dec"],
        distnr=_f(ctx["distnr"]),
    )
    return row


def _cutouts(obj: SimulatedObject, i: int, candid: int, pid: int, rng: np.random.Generator) -> list[bytes]:
    """The encoded cutoutScience, cutoutTemplate and cutoutDifference of epoch i's alert."""
    fid = int(obj.obs.fid[i])
    template_mag = float(obj.reference_mag[fid])
    total_flux = (mag_to_flux(template_mag) if np.isfinite(template_mag) else 0.0) + obj.obs.flux[i]
    science_mag = float(flux_to_mag(total_flux)) if total_flux > 0 else np.inf
    fwhm = float(obj.context["fwhm"] * rng.uniform(0.9, 1.1))
    scene = at_zero_point(obj.scene, limit_zero_point(float(obj.obs.diffmaglim[i]), obj.scene.sky_sigma, fwhm, obj.scene.beta), fwhm)
    if obj.class_name != "bogus":  # a bogus stamp's artefacts, not the photometry, make it
        scene = replace(scene, science_flux=scene.mag_to_adu(science_mag), template_flux=scene.mag_to_adu(template_mag))
    images = render(scene, rng)
    names = (f"candid{candid}_pid{pid}_targ_sci.fits.gz", f"candid{candid}_ref.fits.gz",
             f"candid{candid}_pid{pid}_targ_{'scimref' if difference_sign(scene) > 0 else 'refmsci'}.fits.gz")
    return [UNION_SECOND + encode_bytes(name) + encode_bytes(gzipped_fits(image)) for name, image in zip(names, images)]


def _history_rows(obj: SimulatedObject, j: int) -> tuple[bytes, bytes]:
    """Encoded prv_candidate and fp_hist of epoch j: the same in every later alert of the object."""
    if j not in obj.history_rows:
        prv = _photometry_row(obj, j, int(obj.candids[j]), _PRV_BLANK)
        obj.history_rows[j] = (encode_sub_record("prv_candidate", prv), encode_sub_record("fp_hist", _fp_hist(obj, j)))
    return obj.history_rows[j]


def encode_alert(obj: SimulatedObject, k: int, rng: np.random.Generator) -> bytes:
    """The object's k-th detection tonight as an Avro container holding one 4.02 alert.

    The record is assembled from separately encoded parts so that history rows, shared by
    an object's successive alerts, are encoded once; the container header (schema, fixed
    sync marker for reproducible runs) is built once per process.
    """
    i = int(obj.alert_rows[k])
    candid = int(obj.candids[i])
    candidate = _candidate(obj, i, candid)
    window = np.flatnonzero((obj.obs.mjd < obj.obs.mjd[i]) & (obj.obs.mjd >= obj.obs.mjd[i] - HISTORY_DAYS))
    history = [_history_rows(obj, int(j)) for j in window]
    data = b"".join([
        encode_bytes(SCHEMA_VERSION), encode_bytes(PUBLISHER), encode_bytes(obj.oid), zigzag(candid),
        encode_sub_record("candidate", candidate),
        encode_optional_array([prv for prv, _ in history]),
        encode_optional_array([fp for _, fp in history]),
        *_cutouts(obj, i, candid, candidate["pid"], rng),
    ])
    header, sync = _container_header()
    return b"".join((header, zigzag(1), zigzag(len(data)), data, sync))


def merge_containers(packets: list[bytes]) -> bytes:
    """One-block Avro containers of one schema and sync marker (the simulators' packets, ZTF's
    or Rubin's) as one Avro file: the shared header, then every block."""
    sync = packets[0][-16:]  # a container ends with its sync marker, which also ends its header
    header = packets[0][:packets[0].index(sync) + len(sync)]
    if not all(packet.startswith(header) for packet in packets):
        raise ValueError("only packets of one schema and sync marker can be merged")
    return header + b"".join(packet[len(header):] for packet in packets)


@lru_cache(maxsize=1)
def _container_header() -> tuple[bytes, bytes]:
    """Magic, metadata (schema and null codec) and sync marker of an Avro object container."""
    buffer = io.BytesIO()
    fastavro.writer(buffer, parsed_alert_schema(), [], codec="null", sync_marker=SYNC_MARKER)
    return buffer.getvalue(), SYNC_MARKER
