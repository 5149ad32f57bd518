"""The vocabulary the broker (``classifier_service``) and the TOM apps share, and nothing else.

Bands and fids, taxonomies and classifier names, the broker-name rule, the classified
stream's Avro schema, the classifications shape, MJD conversion, stamp decoding and
rendering, and the one ALeRCE HTTP client. It imports nothing heavy (no ML runtime, no
database layer, no web framework, no Django), so a TOM-only install stays small and both
sides can never drift apart: each word is defined here once.
"""
