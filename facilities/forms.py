"""The TNS tab's form: the fields of an AT report an observer checks or corrects before sending.

The built report (facilities.tns.report) gives every default; the form changes only what TNS
lets a reporter word or choose (reporter, discovery time, type, remarks, host, last
non-detection). Photometry, position and names stay as the TOM's data make them.
"""
from __future__ import annotations

import copy
import re

from django import forms

# TNS's AT types (the at_type ids of its bulk-report API).
AT_TYPES = [("1", "PSN (possible supernova)"), ("2", "PNV (possible nova)"), ("3", "AGN (known AGN flare)"),
            ("4", "NUC (nuclear transient)"), ("5", "FRB"), ("0", "Other")]
# ZTF's filters as TNS numbers them (facilities.tns.report writes the same ids).
FILTERS = [("110", "ZTF g"), ("111", "ZTF r"), ("112", "ZTF i")]
TNS_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,3})?$")
TIME_HELP = "UTC, as YYYY-MM-DD HH:MM:SS.fff"


def tns_time(value: str) -> str:
    value = value.strip()
    if not TNS_TIME.match(value):
        raise forms.ValidationError(f"Write the time as {TIME_HELP}, not {value!r}.")
    return value


class TNSReportForm(forms.Form):
    reporter = forms.CharField(max_length=500,
                               help_text="Names as TNS shows them, e.g. 'A. Observer, B. Colleague (ALeRCE)'.")
    discovery_datetime = forms.CharField(label="Discovery time", help_text=TIME_HELP)
    at_type = forms.ChoiceField(label="AT type", choices=AT_TYPES)
    remarks = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=2000, strip=False)  # as built
    host_name = forms.CharField(required=False, max_length=200)
    host_redshift = forms.CharField(required=False, max_length=20)
    nd_obsdate = forms.CharField(label="Last non-detection", required=False, help_text=TIME_HELP)
    nd_limiting_flux = forms.FloatField(label="its limiting magnitude (AB)", required=False, min_value=0, max_value=30)
    nd_filter = forms.ChoiceField(label="its filter", choices=[("", "–"), *FILTERS], required=False)
    nd_archival_remarks = forms.CharField(
        label="or, without one, why", required=False, max_length=500,
        help_text="Used only when no last non-detection is given.")
    dry_run = forms.BooleanField(required=False, label="Dry run: build and record the report, send nothing")

    def clean_discovery_datetime(self) -> str:
        return tns_time(self.cleaned_data["discovery_datetime"])

    def clean_host_redshift(self) -> str:
        value = self.cleaned_data["host_redshift"].strip()
        if value:
            try:
                float(value)
            except ValueError:
                raise forms.ValidationError(f"A redshift is a number, not {value!r}.") from None
        return value

    def clean(self) -> dict:
        data = super().clean()
        if data.get("nd_obsdate"):
            try:
                data["nd_obsdate"] = tns_time(data["nd_obsdate"])
            except forms.ValidationError as exc:
                self.add_error("nd_obsdate", exc)
            if data.get("nd_limiting_flux") is None:
                self.add_error("nd_limiting_flux", "A non-detection needs its limiting magnitude.")
            if not data.get("nd_filter"):
                self.add_error("nd_filter", "A non-detection needs its filter.")
        elif not (data.get("nd_archival_remarks") or "").strip():
            self.add_error("nd_archival_remarks", "Give the last non-detection, or say why there is none.")
        return data

    def edited(self, bulk: dict) -> dict:
        """``bulk`` (a built bulk report, one AT report) with this form's values; call after is_valid()."""
        data = self.cleaned_data
        edited = copy.deepcopy(bulk)
        report = edited["at_report"]["0"]
        for key in ("reporter", "discovery_datetime", "at_type", "remarks"):
            report[key] = data[key]
        for key in ("host_name", "host_redshift"):
            if data[key] or key in report:  # the builder writes "" for a host looked for and not found
                report[key] = data[key]
        if data.get("nd_obsdate"):
            built = bulk["at_report"]["0"].get("non_detection") or {}
            detection = next(iter(report["photometry"]["photometry_group"].values()), {})
            report["non_detection"] = {
                "obsdate": data["nd_obsdate"], "limiting_flux": str(data["nd_limiting_flux"]),
                "flux_units": built.get("flux_units") or detection.get("flux_units", "1"),
                "filter_value": data["nd_filter"],
                **{key: built.get(key) or detection.get(key, "") for key in
                   ("instrument_value", "exptime", "observer", "comments")},
            }
        else:
            report["non_detection"] = {"archiveid": "0", "archival_remarks": data["nd_archival_remarks"].strip()}
        return edited


def initial_from(bulk: dict, dry_run: bool) -> dict:
    """The form's defaults, the built report's own values, in the shape a POST has them."""
    report = bulk["at_report"]["0"]
    non_detection = report.get("non_detection") or {}
    return {
        "reporter": report.get("reporter", ""), "discovery_datetime": report.get("discovery_datetime", ""),
        "at_type": report.get("at_type", "1"), "remarks": report.get("remarks", ""),
        "host_name": report.get("host_name", ""), "host_redshift": report.get("host_redshift", ""),
        "nd_obsdate": non_detection.get("obsdate", ""), "nd_limiting_flux": non_detection.get("limiting_flux"),
        "nd_filter": non_detection.get("filter_value", ""),
        "nd_archival_remarks": non_detection.get("archival_remarks", ""), **({"dry_run": "on"} if dry_run else {}),
    }
