"""Light-curve features for the late classifier (ALeRCE's feature set, computed in batch)."""
from classifier_service.features.bands import MIN_DETECTIONS, is_classifiable
from classifier_service.features.extractor import FEATURE_KEYS, FEATURE_VERSION, FeatureExtractor

__all__ = ["FEATURE_KEYS", "FEATURE_VERSION", "FeatureExtractor", "MIN_DETECTIONS", "is_classifiable"]
