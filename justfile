# Every task a person runs. Start with `./just demo` (installs `just` itself when missing).
set shell := ["bash", "-euo", "pipefail", "-c"]

python := env_var_or_default("PYTHON", "python3")
venv := justfile_directory() / ".venv"
bin := justfile_directory() / "target/release/platform-migrate"
plugins := "django-runner file-backup pg-dump-backup slack-notifier"
# Example plugins for authors (PLUGINS.md); built with the plugins and run by tests/plugin_kit.rs.
examples := "webhook-notifier dir-archive-backup"
# Test-only components (tests/hostile-plugin and tests/hostile-runner misbehave on purpose); built by `just test`.
test-plugins := "hostile-plugin hostile-runner"
# The host's library crates (crates/, docs/layout.md), linted with the binary.
host-crates := "-p platform-migrate-core -p platform-migrate-policy -p platform-migrate-lint -p platform-migrate-process -p platform-migrate-builtins -p platform-migrate-config -p platform-migrate-store -p platform-migrate-plugin-api -p platform-migrate-sandbox"

# Build everything and run the demo: show the plan, then migrate the demo project in dev.
demo: build
    cd examples/demo && {{bin}} --env dev --show
    cd examples/demo && {{bin}} --env dev

# Build everything and run every test (unit and integration, real Django, PostgreSQL and plugins).
test: legacy-runner build dist python-plugin sdk-docs test-setup
    for p in {{test-plugins}}; do cargo build --release --target wasm32-wasip2 -p "$p"; done
    cargo test --release
    # The scenario tests once more with django-runner migrating in its helper session
    # (migrate-in-session), so both ways of migrating keep the same behaviour; the fleet
    # scenarios then run warm-started (warm-python) as well.
    PM_TEST_RUNNER=session cargo test --release -p platform-migrate --test integration -- --skip bad_input:: --skip in_session:: --skip hostile:: --skip plugin_kit:: --skip reach::
    for w in runner backup notifier; do cargo test --release -p platform-migrate-sdk --features "$w"; done
    # The SDK packages on its own (its WIT inside the crate), as a crates.io release would.
    cargo package -p platform-migrate-sdk --allow-dirty
    for p in {{plugins}} {{examples}}; do cargo test --release -p "$p"; done

# What only the tests need in the venv: moto's S3-compatible server and boto3 (tests/requirements.txt).
test-setup: setup
    {{venv}}/bin/python -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt

# django-runner built against WIT platform:migrate@0.1.0 and 0.2.0 (target/legacy/), which the
# tests load to prove that plugins built for older versions still run; then the current build
# is put back.
legacy-runner: setup
    mkdir -p target/legacy
    for v in 1 2; do cargo build --release --target wasm32-wasip2 -p django-runner --features wit-v0-$v && cp target/wasm32-wasip2/release/django_runner.wasm target/legacy/django_runner_v0_$v.wasm; done
    cargo build --release --target wasm32-wasip2 -p django-runner

# The SDK's docs, every world at once, into target/doc/platform_migrate_sdk/index.html
# (broken doc links fail it; `just test` runs it).
sdk-docs:
    RUSTDOCFLAGS="--cfg docsrs -D warnings" cargo doc --release -p platform-migrate-sdk --features runner,backup,notifier --no-deps
    @echo "open target/doc/platform_migrate_sdk/index.html"

# Install what a fresh machine lacks: Debian's libclang-dev and sqlite3 (automation/system-deps.sh),
# the wasm target, rustfmt and clippy (lint, and the checks tests/plugin_kit.rs runs on
# scaffolded plugins), and the demo's venv with Django.
setup:
    automation/system-deps.sh
    rustup target add wasm32-wasip2
    rustup component add rustfmt clippy
    test -x {{venv}}/bin/python || {{python}} -m venv {{venv}}
    {{venv}}/bin/python -m pip install --quiet --disable-pip-version-check -r examples/demo/requirements.txt

# Build the plugins (one at a time: each enables one SDK world feature).
plugins: setup
    for p in {{plugins}} {{examples}}; do cargo build --release --target wasm32-wasip2 -p "$p"; done

# The Python example plugin (examples/plugins/python-file-notifier), built with componentize-py.
python-plugin: setup
    {{venv}}/bin/python -m pip install --quiet --disable-pip-version-check -r examples/plugins/python-file-notifier/requirements.txt
    mkdir -p target/python
    {{venv}}/bin/componentize-py -d sdk/wit/since_v0.1.0 -w notifier componentize app -p examples/plugins/python-file-notifier -o target/python/file_notifier.wasm

# The wheel (target/wheels/platform_migrate-*.whl) `pip install` takes: the host with its
# built-in plugins embedded (maturin, bindings = "bin"; pyproject.toml). Built after the
# plugins, and refused when the binary it made lacks one of them.
dist: plugins
    {{venv}}/bin/python -m pip install --quiet --disable-pip-version-check -r automation/dist-requirements.txt
    rm -rf target/wheels
    {{venv}}/bin/maturin build --release --out target/wheels
    {{venv}}/bin/python automation/check-wheel.py target/wheels/platform_migrate-*.whl

# Build the host and the plugins.
build: plugins
    cargo build --release -p platform-migrate

# Benchmarks against direct Django and pg_dump (prints PASS/FAIL per target; see BENCHMARKS.md).
# BENCH_RUNS=7 repetitions; BENCH_PG_SCALE=70 (≈1 GiB, 0 skips PostgreSQL).
bench: build test-setup
    cargo bench -p platform-migrate --bench compare

# The large-app corpus (tests/corpus.rs): real apps from PyPI, each in a venv of its own under
# target/corpus (tests/corpus/APP-requirements.txt), installed through the prod gate on a real
# PostgreSQL, compared with `manage.py migrate`, rolled back and restored; prints each app's
# timings beside Django's. Minutes per app, so not part of `just test` (wagtail's install is).
corpus: build
    automation/system-deps.sh redis-server=redis-server
    for req in tests/corpus/*-requirements.txt; do app=$(basename "$req" -requirements.txt); test -x target/corpus/$app/bin/python || {{python}} -m venv target/corpus/$app; target/corpus/$app/bin/python -m pip install --quiet --disable-pip-version-check -r "$req"; done
    cargo test --release -p platform-migrate --test integration -- --ignored --nocapture --test-threads=1 corpus::

# Forget the demo's database, history and backups.
demo-reset:
    rm -rf examples/demo/db.sqlite3 examples/demo/.platform-migrate "${XDG_STATE_HOME:-$HOME/.local/state}"/platform-migrate/demo-*

# Format and lint every crate: the host, the SDK with each world, the plugins, the examples and
# the test plugin (clippy -D warnings). CI runs it (.ci/run).
lint: setup
    cargo fmt --all --check
    cargo clippy --release -p platform-migrate {{host-crates}} -p libpq-url --all-targets -- -D warnings
    for w in runner backup notifier runner,wit-v0-1 runner,wit-v0-2; do cargo clippy --release -p platform-migrate-sdk --features "$w" --all-targets -- -D warnings; done
    for p in {{plugins}} {{examples}} {{test-plugins}}; do cargo clippy --release -p "$p" --all-targets -- -D warnings; done
