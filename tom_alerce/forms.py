"""The SN Hunter's filters."""
from __future__ import annotations

from django import forms

from tom_alerce.sn_hunter import HunterFilters


class HunterForm(forms.Form):
    hours = forms.FloatField(required=False, initial=24, min_value=0.5, max_value=24 * 30, label="Last hours")
    min_probability = forms.FloatField(required=False, initial=0.5, min_value=0.0, max_value=1.0, label="Min. SN probability")
    max_magnitude = forms.FloatField(required=False, min_value=5, max_value=30, label="Brighter than (mag)")
    limit = forms.IntegerField(required=False, initial=30, min_value=1, max_value=200, label="Show")

    def filters(self) -> HunterFilters:
        """The chosen filters; defaults where the form is empty or invalid (the page must still load)."""
        defaults = HunterFilters()
        if not self.is_bound or not self.is_valid():
            return defaults
        data = self.cleaned_data
        return HunterFilters(
            hours=data["hours"] if data.get("hours") is not None else defaults.hours,
            min_probability=(data["min_probability"] if data.get("min_probability") is not None
                             else defaults.min_probability),
            max_magnitude=data.get("max_magnitude"),
            limit=data["limit"] if data.get("limit") is not None else defaults.limit)
