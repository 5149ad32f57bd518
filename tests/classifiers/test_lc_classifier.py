"""The light-curve classifier: hierarchical probabilities, artifacts, training and the CLI."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from alerce_contract.taxonomy import LC_CLASSES, LC_TAXONOMY
from classifier_service.alert import Alert, Detection
from classifier_service.classifiers import artifacts, lc_classifier
from classifier_service.classifiers.base import ClassifierInput
from classifier_service.classifiers.lc_classifier import LightCurveClassifier
from classifier_service.lightcurve import build_lightcurve
from classifier_service.train.bootstrap import Estimate
from classifier_service.train.labels import CatalogueLabels, gcvs_class
from classifier_service.train.lightcurve import FeatureTable, Probabilities, alerce_csv_set, fold_of, real_figures
from classifier_service.train.model_card import MODEL_CARD

SNE = Path("lightcurves") / "alerce-lc_classifier"


@pytest.fixture(scope="module")
def quick_model(tmp_path_factory, shared_data) -> Path:
    """``alerce-classifier train --only lc --quick`` end to end, with a user's ALeRCE-format set."""
    from classifier_service.commands import train

    out = tmp_path_factory.mktemp("models")
    parser = argparse.ArgumentParser()
    train.add_arguments(parser)
    args = parser.parse_args([
        "--only", "lc", "--quick", "--out", str(out),
        "--labels", str(shared_data / SNE / "30_sne_labels.csv"),
        "--detections", str(shared_data / SNE / "30_sne_detections_corr.csv"),
        "--non-detections", str(shared_data / SNE / "30_sne_non_detections.csv"),
    ])
    assert train.run(args) == 0
    return artifacts.newest_version_dir(out / "lc_classifier", lc_classifier.ARTIFACT)


@pytest.fixture(scope="module")
def classifier(quick_model) -> LightCurveClassifier:
    return LightCurveClassifier.from_artifacts(quick_model)


@pytest.fixture(scope="module")
def real_sne(shared_data):
    return alerce_csv_set(shared_data / SNE / "30_sne_labels.csv", shared_data / SNE / "30_sne_detections_corr.csv",
                          shared_data / SNE / "30_sne_non_detections.csv")


def test_quick_training_from_the_cli_writes_a_loadable_versioned_artifact_with_its_model_card(quick_model):
    assert quick_model.name.endswith("-quick")
    assert (quick_model / lc_classifier.ARTIFACT).is_file()
    card = (quick_model / MODEL_CARD).read_text()
    assert "| real out-of-fold, without BTS: top macro recall | " in card
    assert "| real out-of-fold, BTS SN Ia put in SNIa | " in card
    assert "| BTS entirely out of training: BTS SN Ia put in SNIa | " in card
    assert "(chosen)" in card  # the real weight, chosen by grouped CV
    assert "![top level](reliability_top.png)" in card
    assert "user " in card  # the user's own labelled set joined the real data
    pngs = list(quick_model.glob("*.png"))
    assert pngs and all(f"({png.name})" in card for png in pngs)
    assert LightCurveClassifier.from_artifacts(quick_model.parent).version == quick_model.name


def test_missing_artifact_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        LightCurveClassifier.from_artifacts(tmp_path)


def test_every_output_is_versioned_and_covers_its_taxonomy(classifier, real_sne):
    result = classifier.classify_lightcurves(real_sne.lightcurves[:3])[0]
    taxonomy = classifier.taxonomy()
    assert set(taxonomy) == {"lc_classifier", "lc_classifier_top", "lc_classifier_transient",
                             "lc_classifier_stochastic", "lc_classifier_periodic"}
    assert taxonomy["lc_classifier"] == list(LC_CLASSES)
    for output in result.outputs:
        assert output.classifier_version == classifier.version
        assert list(output.probabilities) == taxonomy[output.classifier_name]
    assert result.features and result.feature_version


def test_probabilities_sum_to_one_and_factor_through_the_groups(classifier, real_sne):
    for result in classifier.classify_lightcurves(real_sne.lightcurves):
        outputs = {o.classifier_name: o.probabilities for o in result.outputs}
        for probabilities in outputs.values():
            assert sum(probabilities.values()) == pytest.approx(1.0)
        for group, classes in LC_TAXONOMY.items():
            within = outputs[f"lc_classifier_{group.lower()}"]
            for lc_class in classes:
                expected = outputs["lc_classifier_top"][group] * within[lc_class]
                assert outputs["lc_classifier"][lc_class] == pytest.approx(expected)


def test_objects_with_fewer_than_six_detections_per_band_get_no_outputs(classifier):
    detections = {"mjd": 58000.0 + np.arange(10), "fid": [1, 2] * 5, "magpsf": np.full(10, 18.0),
                  "sigmapsf": np.full(10, 0.1)}
    lc = build_lightcurve("ZTF_short", detections)
    assert classifier.classify_lightcurves([lc])[0].outputs == []


def test_a_malformed_light_curve_is_skipped_and_the_rest_of_the_batch_classified(classifier, real_sne):
    good = real_sne.lightcurves[0]
    broken = build_lightcurve("ZTF_broken", {"mjd": 58000.0 + np.arange(8), "fid": [1] * 8,
                                             "magpsf": np.full(8, 18.0), "sigmapsf": np.full(8, 0.1)})
    broken.magpsf = broken.magpsf[:3]  # arrays of different lengths: no features can be computed
    results = classifier.classify_lightcurves([broken, good])
    assert results[0].outputs == []
    assert results[1].outputs


def test_the_forest_takes_its_columns_by_name_whatever_the_order_of_the_feature_groups(classifier, real_sne):
    from classifier_service.features import FeatureExtractor
    from classifier_service.features.extractor import FEATURE_GROUPS

    order = np.random.default_rng(0).permutation(len(FEATURE_GROUPS))
    shuffled = LightCurveClassifier(classifier.bundle, FeatureExtractor([FEATURE_GROUPS[i] for i in order]))
    curves = real_sne.lightcurves[:8]
    expected, found = classifier.classify_lightcurves(curves), shuffled.classify_lightcurves(curves)
    assert [r.outputs for r in found] == [r.outputs for r in expected]
    assert [r.features for r in found] == [r.features for r in expected]


def test_an_artifact_whose_features_the_code_lacks_does_not_load(classifier):
    from dataclasses import replace

    stale = replace(classifier.bundle, feature_names=[*classifier.bundle.feature_names, "retired_feature"])
    with pytest.raises(ValueError, match="retrain"):
        LightCurveClassifier(stale)


def test_classify_answers_each_input_of_a_batch_in_order(classifier, real_sne):
    def as_input(lc):
        det = Detection(oid=lc.oid, candid=1, mjd=float(lc.mjd[-1]), fid=int(lc.fid[-1]), ra=0.0, dec=0.0,
                        magpsf=float(lc.magpsf[-1]), sigmapsf=float(lc.sigmapsf[-1]), isdiffpos=1)
        alert = Alert(survey="ZTF", oid=lc.oid, candid=1, schema_version="4.02", candidate=det)
        return ClassifierInput(alert=alert, lightcurve=lc, is_first_alert=False)

    first, second = real_sne.lightcurves[:2]
    results = classifier.classify([as_input(first), as_input(second), as_input(first)])
    assert len(results) == 3
    assert results[0].outputs[0].probabilities == results[2].outputs[0].probabilities
    assert results[0].features != results[1].features


def test_cli_classify_prints_lc_classifier_probabilities_for_alerce_csvs(quick_model, shared_data, monkeypatch,
                                                                           capsys):
    pytest.importorskip("classifier_service.commands.classify")
    from classifier_service.cli import main

    monkeypatch.setattr(lc_classifier, "MODELS_DIR", quick_model.parent)
    code = main(["classify", "--classifiers", "lc_classifier",
                 "--detections", str(shared_data / SNE / "30_sne_detections_corr.csv"),
                 "--non-detections", str(shared_data / SNE / "30_sne_non_detections.csv")])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert code == 0
    classified = [line for line in lines if "lc_classifier" in line["classifications"]]
    assert len(classified) >= 20
    probabilities = classified[0]["classifications"]["lc_classifier"]["probabilities"]
    assert set(probabilities) == set(LC_CLASSES)


def test_the_shipped_temperatures_cover_the_top_level_and_every_group(classifier):
    assert set(classifier.bundle.temperatures) == {"lc_classifier_top", *LC_TAXONOMY}
    assert all(t > 0 for t in classifier.bundle.temperatures.values())


def test_calibration_changes_how_sure_the_forest_is_never_what_it_answers(classifier, real_sne):
    from classifier_service.features import FeatureExtractor

    x = FeatureExtractor().compute(real_sne.lightcurves)[1][:, classifier._columns]
    forest = classifier.bundle.forest
    raw = forest.predict_proba(x)
    sharper = forest.predict_proba(x, {"lc_classifier_top": 0.5, **{g: 0.5 for g in LC_TAXONOMY}})
    assert (raw[0].argmax(axis=1) == sharper[0].argmax(axis=1)).all()
    assert (sharper[0].max(axis=1) >= raw[0].max(axis=1) - 1e-9).all()


def test_the_forests_answer_exactly_what_sklearn_answers(classifier):
    rng = np.random.default_rng(0)
    forest = classifier.bundle.forest
    x = lc_classifier.prepare(rng.normal(size=(7, len(classifier._columns))) * rng.choice([1, 100], (7, 1)))
    for one in (forest.top, *forest.groups.values()):
        assert np.array_equal(lc_classifier.forest_proba(one, x), one.predict_proba(x))
    with pytest.raises(ValueError):
        lc_classifier.forest_proba(forest.top, x[:, :-1])


def test_an_object_keeps_its_fold_in_every_run_and_folds_cover_every_object():
    oids = [f"ZTF{i}" for i in range(200)]
    folds = fold_of(oids, 5)
    assert list(folds) == list(fold_of(list(reversed(oids)), 5))[::-1]
    assert set(folds) == {0, 1, 2, 3, 4}


def test_real_figures_count_periodic_stars_slsne_and_bts_separately():
    classes = np.array(["RRL", "E", "SLSN", "QSO", "SNIa", "SNIa"])
    real = FeatureTable(np.zeros((6, 1)), classes, np.array(["fink", "fink", "fink", "fink", "bts", "bts"]),
                        np.array(list("abcdef")))
    prob = Probabilities.empty(6)
    answers = ["RRL", "LPV", "SNIa", "QSO", "SNIa", "SNII"]  # the E star lands in LPV, the SLSN in SNIa
    for row, answer in enumerate(answers):
        group = next(g for g, members in LC_TAXONOMY.items() if answer in members)
        prob.top[row, list(LC_TAXONOMY).index(group)] = 1.0
        prob.within[group][row, LC_TAXONOMY[group].index(answer)] = 1.0
        prob.full[row, LC_CLASSES.index(answer)] = 1.0
    figures = real_figures(prob, real, n_resamples=50)
    assert figures["without BTS: objects"] == 4 and figures["BTS SN Ia: objects"] == 2
    assert figures["periodic stars put in Periodic"].value == 1.0
    assert figures["periodic stars put in their class"].value == 0.5
    assert figures["SLSN called SNIa (objects)"] == 1
    assert figures["BTS SN Ia put in SNIa"].value == 0.5
    assert isinstance(figures["without BTS: top macro recall"], Estimate)


def _answering(answers: list[str]) -> Probabilities:
    """Probabilities that put each row wholly on its answer."""
    prob = Probabilities.empty(len(answers))
    for row, answer in enumerate(answers):
        group = next(g for g, members in LC_TAXONOMY.items() if answer in members)
        prob.top[row, list(LC_TAXONOMY).index(group)] = 1.0
        prob.within[group][row, LC_TAXONOMY[group].index(answer)] = 1.0
        prob.full[row, LC_CLASSES.index(answer)] = 1.0
    return prob


def test_recipes_are_compared_on_the_same_resampled_objects():
    from classifier_service.train.lightcurve import PAIRED, paired_differences

    classes = ["RRL", "E", "QSO", "SNIa", "SNIa"]
    real = FeatureTable(np.zeros((5, 1)), np.array(classes), np.array(["fink"] * 4 + ["bts"]), np.array(list("abcde")))
    right = _answering(classes)
    wrong_star = _answering(["RRL", "RRL", "QSO", "SNIa", "SNII"])  # the E star called RRL; BTS does not count
    same = paired_differences(right, right, real, n_resamples=50)
    assert (same[PAIRED[0]].value, same[PAIRED[0]].low, same[PAIRED[0]].high) == (0.0, 0.0, 0.0)
    worse = paired_differences(wrong_star, right, real, n_resamples=200)
    assert worse[PAIRED[0]].value == pytest.approx(-0.25)  # top unchanged; bottom: E's recall 0 of 4 classes
    assert worse[PAIRED[0]].high <= 0  # never better on any resample
    assert worse[PAIRED[1]].value == -0.5  # one of two periodic stars lost its class


def test_about_half_the_simulated_training_curves_carry_one_alerts_month_of_history():
    from classifier_service.train.lightcurve import simulated_set

    simulated, _, _ = simulated_set(12, seed=3, features=False)
    spans = np.array([lc.mjd.max() - lc.mjd.min() for lc in simulated.lightcurves])
    assert spans.max() > 60  # the others span months to years
    assert 0.35 < np.mean(spans <= 30.0) < 0.75  # 1.5.0's log-uniform baselines alone: about a tenth


def test_balancing_by_weight_gives_every_class_and_at_the_top_every_group_the_same_total():
    from classifier_service.classifiers.lc_classifier import balanced_weights

    classes = np.array(["SNIa"] * 6 + ["SNII"] * 2 + ["RRL"] * 2)
    weights = np.array([1.0] * 4 + [10.0] * 2 + [1.0, 1.0, 5.0, 1.0])  # two heavy real SN Ia, one heavy RRL
    within = balanced_weights(weights, classes)
    totals = {c: within[classes == c].sum() for c in ("SNIa", "SNII", "RRL")}
    assert totals == pytest.approx(dict.fromkeys(totals, 10 / 3)) and within.mean() == pytest.approx(1.0)
    assert within[4] / within[0] == pytest.approx(10.0)  # a real row keeps its weight against its class's others
    groups = np.array(["Transient"] * 8 + ["Periodic"] * 2)
    top = balanced_weights(within, groups)
    assert top[groups == "Transient"].sum() == pytest.approx(top[groups == "Periodic"].sum())
    assert top[classes == "SNIa"].sum() == pytest.approx(top[classes == "SNII"].sum())  # classes equal in a group


@pytest.mark.parametrize(("vartype", "lc_class"), [
    ("RRAB      ", "RRL"), ("EW", "E"), ("EA/SD:", "E"), ("ELL", "Periodic-Other"), ("M", "LPV"),
    ("SRB", "LPV"), ("UGSU", "CV/Nova"), ("SXPHE", "DSCT"), ("DCEP", "CEP"), ("INSA", "YSO"),
    ("BY", "Periodic-Other"), ("RVA", None), ("BE", None), ("", None)])
def test_gcvs_types_map_to_alerce_classes_or_to_nothing(vartype, lc_class):
    assert gcvs_class(vartype) == lc_class


def test_catalogues_label_by_object_id_first_then_by_gcvs_position(shared_data):
    catalogues = CatalogueLabels.load(shared_data)
    assert catalogues.label("ZTF21aaqwjlz", None, None) == "SNIa"  # BTS catalogue
    import pandas as pd

    star = pd.read_parquet(shared_data / "labels" / "gcvs_fink-science" / "gcvs.parquet").iloc[1]  # a Mira (M)
    assert catalogues.label("ZTF_unknown", star["ra"], star["dec"] + 1.0 / 3600) == "LPV"  # 1" away
    assert catalogues.label("ZTF_unknown", star["ra"], star["dec"] + 3.0 / 3600) is None  # 3": no match


def test_a_calibration_that_makes_held_out_folds_worse_is_not_shipped():
    from classifier_service.train.lightcurve import kept_temperatures

    fitted = {"lc_classifier_top": 0.5, **dict.fromkeys(LC_TAXONOMY, 2.0)}
    kept = kept_temperatures(fitted, raw={"top": 0.40, "bottom": 1.0}, calibrated={"top": 0.35, "bottom": 1.2})
    assert kept["lc_classifier_top"] == 0.5  # lowered the top level's out-of-fold log loss
    assert all(kept[g] == 1.0 for g in LC_TAXONOMY)  # raised the bottom level's: identity


def test_a_real_class_with_few_objects_weighs_its_share_of_the_simulated_one_and_never_less_than_the_floor():
    from classifier_service.train.lightcurve import Recipe

    real = ["AGN"] * 5 + ["SNIa"] * 1000
    sources = ["fink_alerts"] * 5 + ["alerce_30_sne"] * 20 + ["bts"] * 980
    simulated = ["AGN"] * 400 + ["SNIa"] * 400
    weights = Recipe(floor=10.0, class_share=0.5).weights(real, sources, simulated)
    assert weights[:5].sum() == pytest.approx(200.0)  # 5 real AGN weigh half of 400 simulated ones
    assert set(weights[5:]) == {10.0}  # 1000 real SN Ia: the floor
    assert set(Recipe(floor=10.0).weights(real, sources, simulated)) == {10.0}


def test_the_archive_sn_ia_together_weigh_no_more_than_the_simulated_ones_so_the_alert_like_ones_count():
    from classifier_service.train.lightcurve import Recipe

    real = ["SNIa"] * 1000
    sources = ["alerce_30_sne"] * 20 + ["bts"] * 980
    weights = Recipe(floor=10.0, class_share=0.5, archive_share=1.0).weights(real, sources, ["SNIa"] * 490)
    assert weights[20:].sum() == pytest.approx(490.0)  # BTS together: the simulated SN Ia's weight
    assert set(weights[:20]) == {10.0}  # alert-like real SN Ia keep theirs


def test_features_whose_simulated_and_real_members_differ_are_left_out_as_the_training_rows_say():
    from classifier_service.train.lightcurve import MIN_REAL_FOR_SHIFT, transferable_columns

    rng = np.random.default_rng(0)
    n_sim, n_real = 300, 12
    classes_sim = np.array(["RRL"] * n_sim + ["AGN"] * n_sim + ["SNIa"] * n_sim)
    x_sim = rng.normal(size=(3 * n_sim, 3))
    x_sim[classes_sim == "RRL", 1] += 5.0  # column 1: simulated periodic stars have long spans...
    simulated = FeatureTable(x_sim, classes_sim, np.full(3 * n_sim, "simulated"), np.arange(3 * n_sim).astype(str))
    x_real = rng.normal(size=(n_real, 3))  # ...the real ones do not
    real = FeatureTable(x_real, np.array(["RRL"] * n_real), np.full(n_real, "fink_alerts"),
                        np.arange(n_real).astype(str))
    assert list(transferable_columns(simulated, real, 0.8)) == [0, 2]
    assert list(transferable_columns(simulated, real, 1.0)) == [0, 1, 2]  # 1: every feature
    few = real.rows(np.arange(n_real) < MIN_REAL_FOR_SHIFT - 1)
    assert list(transferable_columns(simulated, few, 0.8)) == [0, 1, 2]  # too few real stars to judge
    archive = FeatureTable(x_real, real.classes, np.full(n_real, "bts"), real.oids)
    assert list(transferable_columns(simulated, archive, 0.8)) == [0, 1, 2]  # BTS's archive curves do not decide


def test_alerce_example_curves_join_the_real_data_where_a_catalogue_knows_them(shared_data):
    from classifier_service.train.lightcurve import example_curves_set

    examples = example_curves_set(shared_data, CatalogueLabels.load(shared_data))
    labelled = dict(zip([lc.oid for lc in examples.lightcurves], examples.classes))
    assert labelled == {"ZTF17aaafyya": "E", "ZTF19aawgxdn": "SNII"}  # GCVS by position, BTS by id
    assert set(examples.sources) == {"alerce_examples"}
    assert all(len(lc) > 100 for lc in examples.lightcurves)  # database histories, not 30-day alerts


def _parquet_records(shared_data: Path, name: str) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(next((shared_data / "ztf_alerts_parquet").rglob(name))).to_pylist()


def test_a_fink_parquet_history_with_rounded_candids_is_read_by_epoch_and_band(shared_data):
    from classifier_service.surveys import AlertParseError, parse_record
    from classifier_service.train.labels import epoch_key, with_history_keyed_by_epoch

    record = _parquet_records(shared_data, "few_SLSN_alerts.parquet")[0]
    history = [p for p in record["prv_candidates"] if p["magpsf"] is not None]
    assert all(isinstance(p["candid"], float) for p in history)  # 19-digit ids stored as doubles
    with pytest.raises(AlertParseError, match="not an integer id"):
        parse_record(record)

    alert = parse_record(with_history_keyed_by_epoch(record))
    assert alert.candid == record["candidate"]["candid"]  # the alert's own id is an integer and kept
    assert sorted(d.candid for d in alert.prv_detections) == sorted(epoch_key(p["jd"], p["fid"]) for p in history)
    assert len(build_lightcurve(alert.oid, alert.detections).mjd) == len(history) + 1  # no detection merged away
    assert all(isinstance(p["candid"], float) for p in history)  # the record read is left as it was

    integral = _parquet_records(shared_data, "dwarf_agn.parquet")[0]
    assert with_history_keyed_by_epoch(integral) is integral  # integer candids are the detections' own ids


def test_every_real_alert_record_parses_with_fink_histories_keyed_by_epoch(shared_data):
    """Labels, calibration, the adversary and the stamp set all read ``iter_alert_records``:
    a record it yields that the adapter rejects would be a real alert silently left out."""
    from classifier_service.surveys import parse_record
    from classifier_service.train.labels import iter_alert_records

    alerts = [parse_record(record) for record in iter_alert_records(shared_data)]  # none raises
    keyed = {a.oid for a in alerts if any(d.candid < 10**14 for d in a.prv_detections)}  # epoch keys ~2.5e13
    slsne = {r["objectId"] for r in _parquet_records(shared_data, "few_SLSN_alerts.parquet")}
    assert slsne <= keyed


def test_fink_parquet_alerts_join_the_real_set_once_per_object(shared_data):
    from classifier_service.train.lightcurve import labelled_alerts_set

    alerts = labelled_alerts_set(shared_data, CatalogueLabels.load(shared_data))
    oids = [lc.oid for lc in alerts.lightcurves]
    assert len(oids) == len(set(oids))  # an object's Avro and Parquet alerts count once
    slsne = {r["objectId"] for r in _parquet_records(shared_data, "few_SLSN_alerts.parquet")}
    joined = {oid: c for oid, c in zip(oids, alerts.classes) if oid in slsne}
    assert len(joined) >= 5 and set(joined.values()) == {"SLSN"}


def test_an_object_in_two_real_sources_keeps_only_its_longest_history():
    from classifier_service.train.lightcurve import LabelledSet

    def curve(oid: str, n: int):
        mjd = 58000.0 + np.arange(n)
        return build_lightcurve(oid, {"mjd": mjd, "fid": np.ones(n, int), "magpsf": np.full(n, 18.0),
                                      "sigmapsf": np.full(n, 0.1), "candid": np.arange(n) + 1})

    both = LabelledSet([curve("ZTF19aaaaaaa", 8), curve("ZTF19bbbbbbb", 7), curve("ZTF19aaaaaaa", 20),
                        curve("ZTF19bbbbbbb", 7)],
                       ["SNIa", "SNII", "SNIa", "SNIbc"], ["fink_alerts", "fink_alerts", "bts", "user"])
    unique = both.longest_per_object()
    assert [(lc.oid, len(lc.mjd), s) for lc, s in zip(unique.lightcurves, unique.sources)] == [
        ("ZTF19aaaaaaa", 20, "bts"), ("ZTF19bbbbbbb", 7, "user")]  # of equals the later source (a user's set)
    assert unique.classes == ["SNIa", "SNIbc"]
