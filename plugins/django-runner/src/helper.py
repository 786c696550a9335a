# Run by the django-runner plugin through `manage.py shell -c`, exactly this text (the grant pins
# its sha256, so a runner cannot send other code). It reads requests from stdin, one per line
# (hex-encoded JSON, so no request can change the code), and answers each with one line
# `@@PM-JSON@@{...}` holding {"ok": ...} or {"error": {"kind", "message"}}.
#
# The runner's `migrate-in-session` setting sends this text after one more first line,
# `PM_MIGRATE = True`: only that text (a sha256 of its own, granted apart) may migrate.
import contextlib
import json
import os
import re
import sys

import django
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.exceptions import AmbiguityError
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader

MARK = "@@PM-JSON@@"


class Fail(Exception):
    def __init__(self, kind, message, **extra):
        super().__init__(message)
        self.payload = {"kind": kind, "message": message, **extra}


def emit(obj):
    sys.stdout.write(MARK + json.dumps(obj) + "\n")
    sys.stdout.flush()


def ops_of(migration):
    return [
        {"description": op.describe(), "reversible": bool(op.reversible)}
        for op in migration.operations
    ]


def source_of(migration):
    """The migration's source file path, or None (no .py file)."""
    path = getattr(sys.modules.get(migration.__module__), "__file__", None)
    if not path or not path.endswith(".py"):
        return None
    return path


def shown_path(path):
    """`path` relative to the project directory (this process's, manage.py's) when inside it,
    `/`-separated; else as it is."""
    rel = os.path.relpath(path, os.getcwd())
    if rel.startswith(".."):
        return path
    return rel.replace(os.sep, "/")


LINES = {}

PHASES = {"pre": "pre", "post": "post", "any": "any",
          "before_deploy": "pre", "after_deploy": "post", "always": "any"}


def phase_of(migration):
    """The deploy phase the migration declares: `deploy_phase = "pre" | "post" | "any"`, or
    django-safemigrate's `safe = Safe.before_deploy()` / `after_deploy()` / `always()` (also
    its older enum form); None when it declares none."""
    declared = getattr(migration, "deploy_phase", None)
    if declared is None:
        safe = getattr(migration, "safe", None)
        declared = getattr(safe, "when", safe)  # Safe(when=When.X) or the enum itself
        declared = getattr(declared, "value", declared)
    if isinstance(declared, str):
        return PHASES.get(declared.strip().lower())
    return None



def operation_lines(path, count):
    """The line of each operation in `operations = [...]` of the file's Migration class, or
    None when the file does not spell them out one by one (cached per path and mtime)."""
    import ast

    try:
        key = (path, os.stat(path).st_mtime_ns)
    except OSError:
        return None
    if key in LINES:
        return LINES[key]
    found = None
    try:
        with open(path, "rb") as f:
            tree = ast.parse(f.read(), path)
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and node.name == "Migration":
                for item in node.body:
                    targets = item.targets if isinstance(item, ast.Assign) else (
                        [item.target] if isinstance(item, ast.AnnAssign) else []
                    )
                    if any(isinstance(t, ast.Name) and t.id == "operations" for t in targets):
                        if isinstance(item.value, (ast.List, ast.Tuple)):
                            found = [e.lineno for e in item.value.elts]
    except (OSError, SyntaxError, ValueError):
        found = None
    if found is not None and len(found) != count:
        found = None
    LINES[key] = found
    return found


def connect(conn):
    try:
        conn.ensure_connection()
    except Exception as e:  # any driver error means "cannot connect"
        raise Fail("connection", f"{type(e).__name__}: {e}".strip())
    return {
        "vendor": conn.vendor,
        "database": str(conn.settings_dict.get("NAME") or ""),
        "framework": "Django " + django.get_version(),
    }


def checksum(migration):
    """sha256 of the migration's source file, or None when it has none (e.g. a .pyc only)."""
    import hashlib

    path = source_of(migration)
    if path is None:
        return None
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError:
        return None


def list_migrations(conn):
    loader = MigrationLoader(conn, ignore_no_migrations=True)
    graph = loader.graph
    applied = set(loader.applied_migrations)
    out = []
    for key in sorted(graph.nodes):
        m = graph.nodes[key]
        ops = ops_of(m)
        path = source_of(m)
        shown = shown_path(path) if path else None
        # Lines are for findings on the project's own files (lint --since); installed apps'
        # migrations lie outside the project and are not parsed.
        own = shown is not None and not os.path.isabs(shown)
        lines = operation_lines(path, len(ops)) if own else None
        for op, line in zip(ops, lines or []):
            op["line"] = line
        out.append(
            {
                "app": key[0],
                "name": key[1],
                "applied": key in applied,
                "dependencies": sorted([list(p.key) for p in graph.node_map[key].parents]),
                "operations": ops,
                "checksum": checksum(m),
                "file": shown,
                "atomic": bool(m.atomic),
                "phase": phase_of(m),
            }
        )
    return out


def applied_only(conn):
    """The migrations django_migrations records as applied, read without loading a migration
    module or any other code of the project: what the run reads after a migrate, whose code
    may have rewritten files a new loader would import."""
    from django.db.migrations.recorder import MigrationRecorder

    return sorted([list(k) for k in MigrationRecorder(conn).applied_migrations()])


def rollback_target(loader, app):
    graph = loader.graph
    applied = [k for k in loader.applied_migrations if k[0] == app and k in graph.nodes]
    if not applied:
        raise Fail("nothing-to-roll-back", f"app '{app}' has no applied migration")
    applied_set = set(applied)
    leaves = sorted(
        k for k in applied
        if not any(c.key in applied_set for c in graph.node_map[k].children)
    )
    if len(leaves) != 1:
        names = ", ".join(k[1] for k in leaves)
        raise Fail(
            "ambiguous",
            f"app '{app}' has {len(leaves)} latest applied migrations ({names}); "
            f"name the one to go back to with --migration",
        )
    leaf = leaves[0]
    parents = sorted(p.key for p in graph.node_map[leaf].parents if p.key[0] == app)
    if len(parents) > 1:
        names = ", ".join(p[1] for p in parents)
        raise Fail(
            "ambiguous",
            f"{app}.{leaf[1]} is a merge migration with parents {names}; "
            f"name the one to go back to with --migration",
        )
    return parents[0][1] if parents else None


def plan(conn, target):
    executor = MigrationExecutor(conn)
    loader = executor.loader
    loader.check_consistent_history(conn)
    graph = loader.graph
    kind = target["kind"]
    app = target.get("app")
    if app is not None and app not in loader.migrated_apps:
        raise Fail("unknown-app", app)
    if kind == "all":
        targets = graph.leaf_nodes()
        resolved = {"kind": "all"}
    elif kind == "app":
        targets = [k for k in graph.leaf_nodes() if k[0] == app]
        resolved = {"kind": "app", "app": app}
    elif kind == "migration":
        name = target["name"]
        if name == "zero":
            found = None
        else:
            try:
                found = loader.get_migration_by_prefix(app, name).name
            except AmbiguityError:
                raise Fail("ambiguous", f"more than one migration of '{app}' starts with '{name}'; give more of the name")
            except KeyError:
                raise Fail("unknown-migration", f"{app}.{name}", app=app, name=name)
        targets = [(app, found)]
        resolved = {"kind": "position", "app": app, "migration": found}
    elif kind == "rollback":
        found = rollback_target(loader, app)
        targets = [(app, found)]
        resolved = {"kind": "position", "app": app, "migration": found}
    else:
        raise Fail("other", f"unknown target kind {kind}")
    steps = []
    for migration, backwards in executor.migration_plan(targets):
        ops = ops_of(migration)
        steps.append(
            {
                "app": migration.app_label,
                "name": migration.name,
                "backwards": bool(backwards),
                "operations": [o["description"] for o in ops],
                "irreversible": any(not o["reversible"] for o in ops),
                "atomic": bool(migration.atomic),
            }
        )
    return {"resolved": resolved, "steps": steps}


def sql_per_migration(loader, steps):
    """Each step rendered on its own, as `sqlmigrate` does (one state rebuild per step): for
    plans that go backwards."""
    out = []
    for step in steps:
        migration = loader.get_migration(step["app"], step["name"])
        try:
            statements = loader.collect_sql([(migration, bool(step["backwards"]))])
        except Exception as e:  # some operations cannot be rendered without running
            statements = [f"-- cannot render SQL: {type(e).__name__}: {e}"]
        out.append([str(s) for s in statements])
    return out


def sql_forwards(conn, loader, steps):
    """Forward steps rendered in one pass: one project state follows the graph's order through
    every migration the steps depend on, rendering the steps and only moving the state
    through the rest, so a long branch costs what `migrate` costs, not one state rebuild per
    step. Each step meets the state `sqlmigrate` would give it (its ancestors applied)."""
    from django.db.migrations.state import ProjectState

    wanted = {(step["app"], step["name"]): i for i, step in enumerate(steps)}
    order, seen = [], set()
    for key in wanted:
        for node in loader.graph.forwards_plan(key):
            if node not in seen:
                seen.add(node)
                order.append(node)
    migrations = [loader.graph.nodes[node] for node in order]
    rendered = render_in_order(
        conn,
        ProjectState(real_apps=loader.unmigrated_apps),
        migrations,
        [node in wanted for node in order],
    )
    out = [[] for _ in steps]
    for node, statements in zip(order, rendered):
        if node in wanted:
            out[wanted[node]] = statements
    return out


@contextlib.contextmanager
def narrow_reloads():
    """While SQL is only rendered, a changed model re-renders itself and the models that point
    to it or that it points to, not, as Django's `reload_model` does, every model related to
    those in turn. A project whose models all point to a few shared ones (content types,
    tags, statuses) otherwise re-renders most of its models on every field change: Nautobot's
    upgrade rendered 63,000 models for 111 migrations (89 s; 15 s narrowed). The SQL is the
    same: it is made from the changed model and its direct relations; a model further away
    keeps a reference to an older class of an unchanged model. Never used while migrating,
    where RunPython code gets Django's fully consistent state."""
    from django.db.migrations.state import ProjectState, get_related_models_tuples

    def find(self, app_label, model_name, delay=False):
        try:
            related = get_related_models_tuples(self.apps.get_model(app_label, model_name))
        except LookupError:
            related = set()
        related.add((app_label, model_name))
        return related

    wide = ProjectState._find_reload_model
    ProjectState._find_reload_model = find
    try:
        yield
    finally:
        ProjectState._find_reload_model = wide


def render_in_order(conn, state, migrations, wanted):
    """The SQL of each migration whose `wanted` flag is set, rendered in order in one project
    state that only moves through the others (`[]` for those)."""
    with narrow_reloads():
        return render_each(conn, state, migrations, wanted)


# Re-rendering every model of a state costs about what this many migrations cost to move
# through a rendered one (narrowed reloads; measured on Nautobot, pretix and wagtail).
RENDER_COST_IN_STEPS = 8


def render_each(conn, state, migrations, wanted):
    last = max((i for i, w in enumerate(wanted) if w), default=-1)
    out = []
    for i, migration in enumerate(migrations):
        if i > last:
            out.append([])  # nothing after this is rendered: the state need not move
            continue
        if not wanted[i]:
            for op in migration.operations:
                op.state_forwards(migration.app_label, state)
            out.append([])
            continue
        before = state.clone()
        try:
            with conn.schema_editor(collect_sql=True, atomic=migration.atomic) as editor:
                state = migration.apply(state, editor, collect_sql=True)
            statements = [str(s) for s in editor.collected_sql]
        except Exception as e:  # some operations cannot be rendered without running
            statements = [f"-- cannot render SQL: {type(e).__name__}: {e}"]
            state = before
            for op in migration.operations:
                op.state_forwards(migration.app_label, state)
        out.append(statements)
        # A rendered state costs on every later change: drop it before a long run of skipped
        # steps, and render it again at the next wanted one.
        skipped = next((j for j in range(i + 1, last + 1) if wanted[j]), last + 1) - i - 1
        if skipped > RENDER_COST_IN_STEPS:
            state.__dict__.pop("apps", None)
    return out


def core_operations():
    """Django's own schema operations on one model, whose table the operation names: the
    ones a step may skip when that table is new in the plan."""
    from django.db.migrations import operations as ops

    names = [
        "DeleteModel", "AddField", "RemoveField", "AlterField", "RenameField", "AddIndex",
        "RemoveIndex", "RenameIndex", "AddConstraint", "RemoveConstraint", "AlterConstraint",
        "AlterUniqueTogether", "AlterIndexTogether", "AlterModelOptions", "AlterModelManagers",
        "AlterModelTable", "AlterModelTableComment", "AlterOrderWithRespectTo", "RenameModel",
    ]
    return tuple(getattr(ops, n) for n in names if hasattr(ops, n))


def new_tables(conn, app, op):
    """The tables a top-level CreateModel creates (its own and its auto-created many-to-many
    tables), or None when it creates none (an unmanaged or proxy model)."""
    from django.db.backends.utils import truncate_name

    options = op.options
    if not options.get("managed", True) or options.get("proxy"):
        return None
    longest = conn.ops.max_name_length()
    table = options.get("db_table") or truncate_name(f"{app}_{op.name_lower}", longest)
    tables = [table]
    for name, field in op.fields:
        if getattr(field, "many_to_many", False):
            through = getattr(getattr(field, "remote_field", None), "through", None)
            if through is None:
                tables.append(field.db_table or truncate_name(f"{table}_{name}", longest))
    return tables


def sql(conn, steps, only_existing=False):
    """The SQL of each step. In full, as `sqlmigrate` renders it. With `only_existing` (what
    the linter needs), in one pass over one project state, where a step whose every operation
    creates a table or changes a table this plan creates is left out (an empty list) and the
    tables those steps create are returned: a fresh install of a large project then renders
    almost nothing. Returns {"steps": [[sql]], "created": [table]}."""
    from django.db.migrations import operations as ops

    executor = MigrationExecutor(conn)
    loader = executor.loader
    # Backwards steps need the state at each migration, and the full SQL of a long plan costs
    # the same either way: render those as `sqlmigrate` does.
    if not only_existing or any(step["backwards"] for step in steps):
        backwards = any(step["backwards"] for step in steps)
        out = sql_per_migration(loader, steps) if backwards else sql_forwards(conn, loader, steps)
        return {"steps": out, "created": absent_relations(conn, out, []) if only_existing else []}
    existing = set(conn.introspection.table_names())
    state = executor._create_project_state(with_applied_migrations=True)
    core = core_operations()
    new_models = set()  # created by this plan, with their tables
    tableless = set()  # unmanaged or proxy models created by this plan: Django renders no SQL
    created = []

    # A project state that follows the plan without rendering models (cheap): where each
    # model's table is at each step, to tell a change of a table that exists before the plan
    # from one of a table that does not (and so is the plan's own).
    from django.db.backends.utils import truncate_name

    probe = state.clone()
    longest = conn.ops.max_name_length()

    def table_of(key):
        model = probe.models.get(key)
        if model is None:
            return None
        if not model.options.get("managed", True) or model.options.get("proxy"):
            return None
        return model.options.get("db_table") or truncate_name(f"{key[0]}_{key[1]}", longest)

    def needs(app, operations):
        needed = False
        for op in operations:
            kind = type(op)
            key = (app, getattr(op, "name_lower", None))
            if kind is ops.CreateModel:
                tables = new_tables(conn, app, op)
                if tables is None:
                    tableless.add(key)
                    continue
                if not any(t in existing for t in tables):
                    new_models.add(key)
                    created.extend(t for t in tables if t not in created)
                    continue
                needed = True
            elif kind in core:
                model = getattr(op, "model_name_lower", None) or op.name_lower
                key = (app, model)
                table = table_of(key)
                if kind is ops.AlterModelOptions and key in tableless and "managed" in op.options:
                    needed = True  # a model that starts to have a table
                elif key not in new_models and key not in tableless:
                    if table is None or table in existing:
                        needed = True
                    elif table not in created:
                        created.append(table)  # absent before the plan: the plan makes it
                elif kind is ops.RenameModel:
                    (new_models if key in new_models else tableless).add((app, op.new_name_lower))
            elif kind is ops.RunPython:
                continue  # rendered as a comment; it changes no table the linter reads
            elif kind is ops.SeparateDatabaseAndState:
                needed = needs(app, op.database_operations) or needed
            else:
                needed = True  # RunSQL, contrib and custom ones
        return needed

    def needs_sql(migration):
        app = migration.app_label
        needed = needs(app, migration.operations)
        for op in migration.operations:
            # A table that exists before the plan keeps its rows under a new name.
            renamed = None
            if type(op) in (ops.AlterModelTable, ops.RenameModel):
                old_key = (app, getattr(op, "name_lower", None) or getattr(op, "old_name_lower", None))
                new_key = (app, op.new_name_lower) if type(op) is ops.RenameModel else old_key
                renamed = (table_of(old_key), new_key)
            op.state_forwards(app, probe)
            if renamed and renamed[0] in existing:
                new_table = table_of(renamed[1])
                if new_table:
                    existing.add(new_table)
        return needed

    migrations = [loader.get_migration(step["app"], step["name"]) for step in steps]
    wanted = [needs_sql(m) for m in migrations]
    out = render_in_order(conn, state, migrations, wanted)
    return {"steps": out, "created": absent_relations(conn, out, created)}


# Words of SQL itself, never a relation this plan creates: left out of `absent_relations`.
SQL_WORDS = frozenset(
    """add all alter and as asc begin by cascade check column commit concurrently constraint
    create current_timestamp default deferrable deferred delete desc distinct drop else end
    exists false foreign from gin gist grant group having identity if immediate in index
    initially insert into is key like limit not null on or order primary references rename
    restrict returning select sequence set table then to transaction true type unique update
    using values view when where with""".split()
)

# A quoted identifier, a string, a comment, or a bare word (folded to lower case, as
# PostgreSQL folds it).
TOKEN = re.compile(r'"((?:[^"]|"")+)"|\'(?:[^\']|\'\')*\'|--[^\n]*|/\*.*?\*/|([A-Za-z_][A-Za-z0-9_$]*)', re.S)


def absent_relations(conn, rendered, created):
    """`created`, plus every name the rendered statements use that is no relation of the
    database before the plan (PostgreSQL's catalog, every schema): a statement on such a
    relation changes something this plan creates (an index a skipped step built, the sequence
    of a new table), which has no rows and no readers yet. Names are what the statements say;
    the linter only compares them with the relations its rules name. Where the catalog cannot
    be read, `created` is returned as it is."""
    if conn.vendor != "postgresql":
        return created
    try:
        with conn.cursor() as c:
            c.execute(
                "SELECT c.relname FROM pg_catalog.pg_class c"
                " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'"
            )
            existing = {row[0] for row in c.fetchall()}
    except Exception:
        return created
    out = list(created)
    seen = set(out)
    for statements in rendered:
        for statement in statements:
            for m in TOKEN.finditer(statement):
                if m.group(1) is not None:
                    name = m.group(1).replace('""', '"')
                elif m.group(2) is not None and m.group(2).lower() not in SQL_WORDS:
                    name = m.group(2).lower()
                else:
                    continue
                if name not in existing and name not in seen:
                    seen.add(name)
                    out.append(name)
    return out


def empty_tables(conn, tables):
    """Which of `tables` hold no rows: `SELECT EXISTS (SELECT 1 FROM t)` each, read-only and
    under short lock and statement timeouts; a table that cannot be read is left out."""
    from django.db import transaction

    connect(conn)
    if conn.vendor != "postgresql":
        raise Fail("unsupported", f"emptiness checks are done on PostgreSQL only, not {conn.vendor}")
    empty = []
    for name in tables:
        quoted = ".".join(conn.ops.quote_name(p) for p in str(name).split("."))
        try:
            with transaction.atomic(using=conn.alias), conn.cursor() as c:
                c.execute("SET TRANSACTION READ ONLY")
                c.execute("SET LOCAL lock_timeout = '1s'")
                c.execute("SET LOCAL statement_timeout = '2s'")
                c.execute(f"SELECT EXISTS (SELECT 1 FROM {quoted})")
                if not c.fetchone()[0]:
                    empty.append(name)
        except Exception:  # missing, not readable, locked: not known to be empty
            continue
    return empty


# What a snapshot holds: at most this many objects (a larger schema is cut, and says so).
SNAPSHOT_LIMIT = 200000


def schema_snapshot(conn, tables):
    """The schema objects of `tables` (every table, view and sequence of the schemas on the
    search path when empty), from the database's catalog: a list of [kind, relation, name,
    definition], each definition in the database's own words so that two snapshots differ
    exactly where the schema changed."""
    connect(conn)
    tables = [str(t) for t in tables]
    if conn.vendor == "postgresql":
        return pg_snapshot(conn, tables)
    if conn.vendor == "sqlite":
        return sqlite_snapshot(conn, tables)
    raise Fail("unsupported", f"schema snapshots are read on PostgreSQL and SQLite, not {conn.vendor}")


# The relations of the schemas on the search path (a name qualified with its schema when that
# is not the first one), restricted to %(tables)s unless it is empty.
PG_RELATIONS = """
    WITH rel AS (
        SELECT c.oid, c.relkind,
               CASE WHEN n.nspname = current_schema() THEN c.relname
                    ELSE n.nspname || '.' || c.relname END AS name
        FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ANY (current_schemas(false))
          AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
    )
    SELECT oid, relkind, name FROM rel
    WHERE cardinality(%(tables)s::text[]) = 0 OR name = ANY (%(tables)s::text[])
"""


def pg_snapshot(conn, tables):
    out = []
    with conn.cursor() as c:
        c.execute(
            f"""WITH r AS ({PG_RELATIONS})
            SELECT 'table', r.name, r.name, '' FROM r WHERE r.relkind IN ('r', 'p')
            UNION ALL
            SELECT 'view', r.name, r.name, pg_catalog.pg_get_viewdef(r.oid) FROM r
              WHERE r.relkind IN ('v', 'm')
            UNION ALL
            SELECT 'sequence', r.name, r.name, pg_catalog.format_type(s.seqtypid, NULL)
              FROM r JOIN pg_catalog.pg_sequence s ON s.seqrelid = r.oid
            UNION ALL
            SELECT 'column', r.name, a.attname,
                   pg_catalog.format_type(a.atttypid, a.atttypmod)
                   || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
                   || COALESCE(' default ' || pg_catalog.pg_get_expr(d.adbin, d.adrelid), '')
              FROM r JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid
              LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
              WHERE r.relkind IN ('r', 'p', 'v', 'm') AND a.attnum > 0 AND NOT a.attisdropped
            UNION ALL
            SELECT 'index', r.name, i.relname,
                   pg_catalog.pg_get_indexdef(x.indexrelid)
                   || CASE WHEN x.indisvalid THEN '' ELSE ' (invalid)' END
              FROM r JOIN pg_catalog.pg_index x ON x.indrelid = r.oid
              JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
            UNION ALL
            SELECT 'constraint', r.name, k.conname, pg_catalog.pg_get_constraintdef(k.oid)
              FROM r JOIN pg_catalog.pg_constraint k ON k.conrelid = r.oid
            LIMIT {SNAPSHOT_LIMIT}""",
            {"tables": tables},
        )
        for row in c.fetchall():
            out.append([row[0], row[1], row[2], row[3] or ""])
    return out


def sqlite_snapshot(conn, tables):
    out = []
    wanted = set(tables)
    with conn.cursor() as c:
        c.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master"
            " WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
        )
        rows = c.fetchall()
        for kind, name, table, sql in rows:
            if wanted and table not in wanted:
                continue
            if kind == "table":
                out.append(["table", name, name, ""])
                quoted = conn.ops.quote_name(name)
                c.execute(f"PRAGMA table_info({quoted})")
                for _cid, col, typ, notnull, default, pk in c.fetchall():
                    text = (typ or "").lower()
                    text += " not null" if notnull else ""
                    text += f" default {default}" if default is not None else ""
                    text += " primary key" if pk else ""
                    out.append(["column", name, col, text])
                c.execute(f"PRAGMA foreign_key_list({quoted})")
                for fk in c.fetchall():
                    out.append(["constraint", name, f"fk_{fk[3]}", f"FOREIGN KEY ({fk[3]}) REFERENCES {fk[2]}({fk[4]})"])
            elif kind == "index":
                out.append(["index", table, name, sql or "(automatic)"])
            elif kind == "view":
                out.append(["view", name, name, sql or ""])
    return out[:SNAPSHOT_LIMIT]


# Default ports of the services a Django project's settings name by URL scheme or backend.
DEFAULT_PORTS = {
    "redis": 6379, "rediss": 6379, "memcache": 11211, "memcached": 11211, "pymemcache": 11211,
    "amqp": 5672, "amqps": 5671, "postgres": 5432, "postgresql": 5432, "mysql": 3306,
}


def service_of(setting, location, backend=""):
    """[setting, host, port] for one location (`redis://h:6380/0`, `h:11211`, a unix socket:
    none)."""
    from urllib.parse import urlsplit

    text = str(location).strip()
    if not text or text.startswith(("unix:", "/")) or "://" not in text and ":" not in text:
        return None
    default = None
    for word, port in DEFAULT_PORTS.items():
        if word in backend.lower():
            default = port
    if "://" not in text:
        text = "tcp://" + text
    try:
        url = urlsplit(text)
        port = url.port
    except ValueError:
        return None
    scheme = url.scheme.lower()
    if scheme == "unix" or not url.hostname:
        return None
    port = port or DEFAULT_PORTS.get(scheme) or default
    return [setting, url.hostname, port]


def services(conn):
    """The network services the settings name besides `conn` itself: other databases,
    caches, a Celery broker and result backend."""
    from django.conf import settings

    out = []
    mine = (conn.settings_dict.get("HOST") or "", str(conn.settings_dict.get("PORT") or ""))
    for alias, db in getattr(settings, "DATABASES", {}).items():
        host, port = db.get("HOST") or "", str(db.get("PORT") or "")
        if alias == conn.alias or (host, port) == mine or not host or host.startswith("/"):
            continue
        engine = db.get("ENGINE", "")
        default = next((p for w, p in DEFAULT_PORTS.items() if w in engine), None)
        out.append([f'DATABASES["{alias}"]', host, int(port) if port.isdigit() else default])
    for alias, cache in getattr(settings, "CACHES", {}).items():
        locations = cache.get("LOCATION") or []
        if isinstance(locations, str):
            locations = locations.split(";") if ";" in locations else [locations]
        for location in locations:
            found = service_of(f'CACHES["{alias}"]', location, cache.get("BACKEND", ""))
            if found:
                out.append(found)
    for name in ("CELERY_BROKER_URL", "BROKER_URL", "CELERY_RESULT_BACKEND"):
        value = getattr(settings, name, None)
        if isinstance(value, str):
            found = service_of(name, value)
            if found:
                out.append(found)
    return out


def reset(conn):
    connect(conn)
    vendor = conn.vendor
    if vendor == "sqlite":
        name = str(conn.settings_dict.get("NAME") or "")
        conn.close()
        if name and name != ":memory:" and not name.startswith("file:"):
            for path in (name, name + "-journal", name + "-wal", name + "-shm"):
                if os.path.exists(path):
                    os.remove(path)
        return {"how": f"removed {name}"}
    if vendor == "postgresql":
        with conn.cursor() as c:
            c.execute("DROP SCHEMA IF EXISTS public CASCADE")
            c.execute("CREATE SCHEMA public")
        return {"how": "recreated schema public"}
    raise Fail("unsupported", f"resetting {vendor} databases is not supported")


# The advisory lock every platform-migrate run takes on a PostgreSQL database ("pmig").
LOCK_KEY = 0x706D6967


LOCK_CONNECTIONS = []


def hold_lock(conn, label):
    """Take the run lock on a connection of its own, kept open (and the lock held) for as long
    as this session lives: until the host closes stdin at the end of the run."""
    connect(conn)
    if conn.vendor != "postgresql":
        raise Fail("unsupported", f"{conn.vendor} databases have no advisory locks")
    own = connections.create_connection(conn.alias)
    try:
        own.ensure_connection()
    except Exception as e:
        raise Fail("connection", f"{type(e).__name__}: {e}".strip())
    with own.cursor() as c:
        c.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])
        if not c.fetchone()[0]:
            c.execute(
                "SELECT a.application_name, a.pid, a.backend_start FROM pg_locks l"
                " JOIN pg_stat_activity a ON a.pid = l.pid"
                " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0"
                " AND l.objid = %s AND l.objsubid = 1"
                " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                [LOCK_KEY],
            )
            row = c.fetchone()
            own.close()
            if row:
                who = row[0] or "a session without an application name"
                holder = f"{who}; server pid {row[1]}, connected since {row[2].isoformat()}"
            else:
                holder = "a session that has just finished"
            raise Fail("locked", holder)
        c.execute("SELECT set_config('application_name', %s, false)", [label[:63]])
    LOCK_CONNECTIONS.append(own)
    return {"locked": True}


def postgresql_only(conn, what):
    connect(conn)
    if conn.vendor != "postgresql":
        raise Fail("unsupported", f"{what} is known on PostgreSQL only, not {conn.vendor}")


def lock_holders(conn):
    """Other client sessions of this database holding relation locks inside an open
    transaction, oldest transaction first (at most 10)."""
    postgresql_only(conn, "who holds locks")
    with conn.cursor() as c:
        c.execute(
            "SELECT a.pid, coalesce(a.state, ''), coalesce(a.query, ''),"
            " floor(extract(epoch FROM now() - a.xact_start))::bigint,"
            " array_agg(DISTINCT l.relation::regclass::text ORDER BY l.relation::regclass::text)"
            " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'relation' AND l.granted AND a.pid <> pg_backend_pid()"
            " AND a.datname = current_database() AND a.xact_start IS NOT NULL"
            " AND a.backend_type = 'client backend'"
            " GROUP BY a.pid, a.state, a.query, a.xact_start ORDER BY a.xact_start LIMIT 10"
        )
        return [
            {"pid": r[0], "state": r[1], "query": r[2], "transaction_seconds": max(int(r[3] or 0), 0),
             "relations": list(r[4] or [])}
            for r in c.fetchall()
        ]


def invalid_indexes(conn):
    """Indexes of this database that PostgreSQL marks invalid (schema-qualified outside the
    search path), leaving out those another session is building right now: CREATE INDEX
    CONCURRENTLY records its index as invalid until it is done, and that one is not debris."""
    postgresql_only(conn, "which indexes are invalid")
    with conn.cursor() as c:
        c.execute(
            "SELECT i.indexrelid::regclass::text FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid"
            " JOIN pg_namespace n ON n.oid = t.relnamespace"
            " WHERE NOT i.indisvalid AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
            " AND NOT EXISTS (SELECT 1 FROM pg_stat_progress_create_index p"
            " WHERE p.index_relid = i.indexrelid)"
            " ORDER BY 1"
        )
        return [r[0] for r in c.fetchall()]


def drop_invalid_index(conn, name):
    """DROP INDEX CONCURRENTLY of an index that is invalid and not being built; a valid one, or
    one another session is building, is refused."""
    if name not in invalid_indexes(conn):
        raise Fail(
            "other",
            f"index {name} is not an invalid index of this database, or another session is building it; not dropped",
        )
    # The name comes from regclass::text (quoted where needed): use it as PostgreSQL spells it.
    with conn.cursor() as c:
        c.execute("SELECT %s::regclass", [name])
        c.execute("DROP INDEX CONCURRENTLY IF EXISTS " + name)
    return True


def ledger_names(conn, schema):
    """The quoted schema and its two tables (the host checks the name; quoted all the same)."""
    if conn.vendor != "postgresql":
        raise Fail("unsupported", f"the ledger is kept in PostgreSQL databases only, not {conn.vendor}")
    q = conn.ops.quote_name(schema)
    return q, f"{q}.runs", f"{q}.checksums"


def ledger_exists(c, schema):
    c.execute(
        "SELECT count(*) FROM pg_tables WHERE schemaname = %s AND tablename IN ('runs', 'checksums')",
        [schema],
    )
    return c.fetchone()[0] == 2


def ledger_read(conn, schema, query):
    """The runs after `after_seq` (at most `limit`, oldest first), the last seq, and the
    checksums when asked; whether the ledger exists and may be created. Reads only."""
    connect(conn)
    _, runs, checksums = ledger_names(conn, schema)
    empty = {"exists": False, "can_create": False, "runs": [], "last_seq": 0, "checksums": []}
    with conn.cursor() as c:
        if not ledger_exists(c, schema):
            c.execute(
                "SELECT CASE WHEN n.oid IS NULL"
                " THEN has_database_privilege(current_database(), 'CREATE')"
                " ELSE has_schema_privilege(n.oid, 'CREATE') END"
                " FROM (SELECT 1) x LEFT JOIN pg_namespace n ON n.nspname = %s",
                [schema],
            )
            return {**empty, "can_create": bool(c.fetchone()[0])}
        c.execute(f"SELECT coalesce(max(seq), 0) FROM {runs}")
        last = c.fetchone()[0]
        c.execute(
            f"SELECT seq, run_id, line, sha256 FROM {runs} WHERE seq > %s ORDER BY seq LIMIT %s",
            [int(query["after_seq"]), int(query["limit"])],
        )
        rows = [
            {"seq": r[0], "run_id": r[1], "line": r[2], "sha256": r[3]} for r in c.fetchall()
        ]
        sums = []
        if query.get("checksums"):
            c.execute(f"SELECT app, name, sha256, run_id FROM {checksums} ORDER BY app, name")
            sums = [
                {"app": r[0], "name": r[1], "sha256": r[2], "run_id": r[3]} for r in c.fetchall()
            ]
    return {"exists": True, "can_create": True, "runs": rows, "last_seq": last, "checksums": sums}


def ledger_append(conn, schema, entry):
    """Append one run and its checksum changes in one transaction, creating the schema and
    tables first when missing (only then is CREATE needed)."""
    from django.db import transaction

    connect(conn)
    q, runs, checksums = ledger_names(conn, schema)
    run = entry["run"]
    with transaction.atomic(using=conn.alias), conn.cursor() as c:
        c.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema])
        if c.fetchone() is None:
            c.execute(f"CREATE SCHEMA {q}")
        if not ledger_exists(c, schema):
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {runs} (seq bigint PRIMARY KEY, run_id text NOT NULL UNIQUE,"
                " line text NOT NULL, sha256 text NOT NULL, recorded_at timestamptz NOT NULL DEFAULT now())"
            )
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {checksums} (app text NOT NULL, name text NOT NULL,"
                " sha256 text NOT NULL, run_id text NOT NULL,"
                " recorded_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (app, name))"
            )
        # Rows are appended one after another: lock the table so two writers cannot both
        # see the same last seq (the run lock keeps them apart already; this is the floor).
        c.execute(f"LOCK TABLE {runs} IN SHARE ROW EXCLUSIVE MODE")
        c.execute(f"SELECT coalesce(max(seq), 0) FROM {runs}")
        last = c.fetchone()[0]
        if int(run["seq"]) != last + 1:
            raise Fail(
                "ledger-conflict",
                f"the ledger's last run is {last}, so run {run['seq']} cannot follow it",
            )
        c.execute(
            f"INSERT INTO {runs} (seq, run_id, line, sha256) VALUES (%s, %s, %s, %s)",
            [int(run["seq"]), run["run_id"], run["line"], run["sha256"]],
        )
        for m in entry["forget"]:
            c.execute(f"DELETE FROM {checksums} WHERE app = %s AND name = %s", [m["app"], m["name"]])
        for k in entry["record"]:
            c.execute(
                f"INSERT INTO {checksums} (app, name, sha256, run_id) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (app, name) DO UPDATE SET sha256 = EXCLUDED.sha256,"
                " run_id = EXCLUDED.run_id, recorded_at = now()",
                [k["app"], k["name"], k["sha256"], k["run_id"]],
            )
    return {"seq": int(run["seq"])}


def model_changes():
    from django.apps import apps
    from django.db.migrations.autodetector import MigrationAutodetector
    from django.db.migrations.questioner import NonInteractiveMigrationQuestioner
    from django.db.migrations.state import ProjectState

    loader = MigrationLoader(None, ignore_no_migrations=True)
    detector = MigrationAutodetector(
        loader.project_state(),
        ProjectState.from_apps(apps),
        NonInteractiveMigrationQuestioner(specified_apps=set(), dry_run=True),
    )
    changes = detector.changes(graph=loader.graph)
    return [
        {"app": app, "changes": [op.describe() for m in migs for op in m.operations]}
        for app, migs in sorted(changes.items())
    ]


def app_exists(app):
    from django.apps import apps

    try:
        apps.get_app_config(app)
    except LookupError:
        raise Fail("unknown-app", app)
    return True


def may_migrate():
    """Whether this session was started as the migrating helper (its text begins with the line
    `PM_MIGRATE = True`, which grants pin apart from the plain helper's)."""
    return globals().get("PM_MIGRATE") is True


def migrate_arg(value):
    """An app label or migration name, as the `<name>` grant element allows it: non-empty,
    no leading `-` (call_command would read it as an option), no control characters."""
    if not isinstance(value, str) or not value or value.startswith("-") or any(
        ord(ch) < 32 or ord(ch) == 127 for ch in value
    ):
        raise Fail("other", f"refused migrate argument {value!r}: not a plain name")
    return value


def migrate(conn, target, fake):
    """`manage.py migrate --noinput -v1 [--fake] [--database=ALIAS] [APP [MIGRATION]]`, run in
    this session instead of a new Django start. Everything it (or a migration's own code)
    writes goes to standard error, so nothing can pass for an answer on standard output."""
    if not may_migrate():
        raise Fail(
            "denied",
            "this helper session may not migrate: it was started from the plain helper text; "
            "set migrate-in-session = true and grant the migrating helper's sha256",
        )
    from django.core.management import call_command

    kind = target["kind"]
    if kind == "all":
        args = []
    elif kind == "app":
        args = [migrate_arg(target["app"])]
    elif kind == "position":
        args = [migrate_arg(target["app"]), migrate_arg(target.get("migration") or "zero")]
    else:
        raise Fail("other", f"unknown target kind {kind}")
    # Standard output carries the answers: point file descriptor 1 at standard error while
    # migrations run, so even a program a migration starts cannot write an answer line.
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            call_command(
                "migrate",
                *args,
                database=conn.alias,
                fake=bool(fake),
                interactive=False,
                verbosity=1,
                skip_checks=False,
                stdout=sys.stderr,
                stderr=sys.stderr,
            )
    except (Exception, SystemExit) as e:
        import traceback

        traceback.print_exc(file=sys.stderr)
        sys.stderr.flush()
        raise Fail("migrate-failed", f"{type(e).__name__}: {e}".strip())
    finally:
        sys.stderr.flush()
        os.dup2(saved, 1)
        os.close(saved)
    return True


def handle(args):
    """Answer one request: {"ok": result} or {"error": {...}}."""
    conn = connections[args.get("database") or DEFAULT_DB_ALIAS]
    cmd = args["cmd"]
    try:
        # A session serves many requests: drop a connection a failure left unusable.
        conn.close_if_unusable_or_obsolete()
        if cmd == "connect":
            result = connect(conn)
        elif cmd == "list":
            connect(conn)
            result = list_migrations(conn)
        elif cmd == "applied":
            connect(conn)
            result = applied_only(conn)
        elif cmd == "plan":
            connect(conn)
            result = plan(conn, args["target"])
        elif cmd == "sql":
            connect(conn)
            result = sql(conn, args["steps"], bool(args.get("only_existing")))
        elif cmd == "lock-holders":
            result = lock_holders(conn)
        elif cmd == "invalid-indexes":
            result = invalid_indexes(conn)
        elif cmd == "drop-invalid-index":
            result = drop_invalid_index(conn, args["name"])
        elif cmd == "aliases":
            result = list(connections.databases)
        elif cmd == "empty-tables":
            result = empty_tables(conn, args["tables"])
        elif cmd == "schema-snapshot":
            result = schema_snapshot(conn, args["tables"])
        elif cmd == "services":
            result = services(conn)
        elif cmd == "reset":
            result = reset(conn)
        elif cmd == "hold-lock":
            result = hold_lock(conn, args["label"])
        elif cmd == "model-changes":
            result = model_changes()
        elif cmd == "app-exists":
            result = app_exists(args["app"])
        elif cmd == "ledger-read":
            result = ledger_read(conn, args["schema"], args["query"])
        elif cmd == "ledger-append":
            result = ledger_append(conn, args["schema"], args["entry"])
        elif cmd == "migrate":
            result = migrate(conn, args["target"], args.get("fake"))
        else:
            raise Fail("other", f"unknown helper command {cmd}")
    except Fail as f:
        return {"error": f.payload}
    except Exception as e:
        return {"error": {"kind": "other", "message": f"{type(e).__name__}: {e}"}}
    return {"ok": result}


def serve():
    """One Django start for a whole run: answer hex-encoded JSON requests, one per stdin
    line, until stdin closes."""
    emit({"ok": "ready"})
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            args = json.loads(bytes.fromhex(line).decode("utf-8"))
        except ValueError as e:
            emit({"error": {"kind": "other", "message": f"unreadable request: {e}"}})
            continue
        emit(handle(args))
    # Done: release the lock and leave at once (tearing down Django costs a run time for
    # nothing; every answer was flushed when it was written).
    for c in LOCK_CONNECTIONS:
        c.close()
    connections.close_all()
    os._exit(0)


serve()
