# mluke-data image: the CLI, and a Dataflow custom SDK container (--sdk_container_image).
# Based on the official Beam SDK image of the pinned Beam version, so its /opt/apache/beam/boot
# entry point stays in place for Dataflow workers.
#
#   docker build -t REGION-docker.pkg.dev/PROJECT/REPO/mluke-data:0.1.0 .
#   docker push REGION-docker.pkg.dev/PROJECT/REPO/mluke-data:0.1.0
#   docker run --rm --entrypoint mluke-data IMAGE --help
FROM apache/beam_python3.11_sdk:2.77.0

# PyICU compiles against the system ICU.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libicu-dev pkg-config g++ \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/mluke-data
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY transforms ./transforms
COPY pipeline ./pipeline
COPY training ./training
RUN pip install --no-cache-dir ".[dataflow]"

# The Beam SDK image's entry point (/opt/apache/beam/boot) is kept for Dataflow.
