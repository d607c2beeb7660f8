"""schema_parity.py SCHEMA_DIR PG_SCHEMA_DIR DSN: the two migration sets
describe the same database.

Applies schema/NNN_*.sql to an in-memory SQLite database and
schema/pg/NNN_*.sql to the PostgreSQL database DSN (psql), each in file
order, then compares what each catalogue says: the same numbered files, the
same tables, in each the same columns in the same order with the same type
class (INTEGER = bigint, REAL = double precision, TEXT = text, BLOB = bytea)
and NOT NULL, the same primary key, UNIQUE column sets and foreign keys
(columns, target, ON DELETE).  Prints one line per difference; exits 1 if any.
"""
import glob
import json
import os
import sqlite3
import subprocess
import sys

TYPES = {"INTEGER": "bigint", "REAL": "double precision", "TEXT": "text", "BLOB": "bytea"}
ON_DELETE = {"CASCADE": "c", "NO ACTION": "a", "RESTRICT": "r", "SET NULL": "n", "SET DEFAULT": "d"}


def migrations(d):
    return sorted(os.path.basename(f) for f in glob.glob(os.path.join(d, "[0-9][0-9][0-9]_*.sql")))


def sqlite_catalogue(d):
    db = sqlite3.connect(":memory:")
    for f in migrations(d):
        db.executescript(open(os.path.join(d, f)).read())
    cat = {}
    for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"):
        info = db.execute(f"PRAGMA table_info({t})").fetchall()
        cols = [(c[1], TYPES.get(c[2].upper(), c[2]), bool(c[3]) or c[5] > 0) for c in info]
        pk = tuple(c[1] for c in sorted((c for c in info if c[5] > 0), key=lambda c: c[5]))
        uniq = set()
        for ix in db.execute(f"PRAGMA index_list({t})"):
            if ix[2] and ix[3] == "u":
                uniq.add(tuple(r[2] for r in db.execute(f"PRAGMA index_info({ix[1]})")))
        fks = {}
        for r in db.execute(f"PRAGMA foreign_key_list({t})"):
            fk = fks.setdefault(r[0], {"cols": [], "ref": r[2], "refcols": [], "del": ON_DELETE[r[6]]})
            fk["cols"].append(r[3])
            fk["refcols"].append(r[4] or "")
        fkset = set()
        for fk in fks.values():
            refcols = fk["refcols"] if all(fk["refcols"]) else list(pk_of(db, fk["ref"]))
            fkset.add((tuple(fk["cols"]), fk["ref"], tuple(refcols), fk["del"]))
        cat[t] = {"cols": cols, "pk": pk, "unique": uniq, "fks": fkset}
    return cat


def pk_of(db, t):
    info = db.execute(f"PRAGMA table_info({t})").fetchall()
    return tuple(c[1] for c in sorted((c for c in info if c[5] > 0), key=lambda c: c[5]))


def psql(dsn, sql):
    out = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-c", sql],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip() or "null") or []


def pg_catalogue(d, dsn):
    for f in migrations(d):
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-1", "-f", os.path.join(d, f)],
                       check=True, capture_output=True, text=True)
    cols = psql(dsn, """SELECT json_agg(json_build_array(table_name, column_name, data_type, is_nullable = 'NO')
                        ORDER BY table_name, ordinal_position)
                        FROM information_schema.columns WHERE table_schema = 'public'""")
    cons = psql(dsn, """SELECT json_agg(json_build_array(c.conrelid::regclass::text, c.contype,
                          (SELECT json_agg(a.attname ORDER BY k.i) FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
                           JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n),
                          c.confrelid::regclass::text,
                          (SELECT json_agg(a.attname ORDER BY k.i) FROM unnest(c.confkey) WITH ORDINALITY k(n, i)
                           JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n),
                          c.confdeltype))
                        FROM pg_constraint c JOIN pg_namespace s ON s.oid = c.connamespace
                        WHERE s.nspname = 'public' AND c.contype IN ('p', 'u', 'f')""")
    cat = {}
    for t, name, typ, notnull in cols:
        cat.setdefault(t, {"cols": [], "pk": (), "unique": set(), "fks": set()})["cols"].append((name, typ, notnull))
    for t, kind, keys, ref, refkeys, deltype in cons:
        if kind == "p":
            cat[t]["pk"] = tuple(keys)
        elif kind == "u":
            cat[t]["unique"].add(tuple(keys))
        else:
            cat[t]["fks"].add((tuple(keys), ref, tuple(refkeys), deltype))
    return cat


def main():
    lite_dir, pg_dir, dsn = sys.argv[1:4]
    diffs = []
    if migrations(lite_dir) != migrations(pg_dir):
        diffs.append(f"migration files differ: {migrations(lite_dir)} vs {migrations(pg_dir)}")
    lite, pg = sqlite_catalogue(lite_dir), pg_catalogue(pg_dir, dsn)
    for t in sorted(set(lite) | set(pg)):
        if t not in pg or t not in lite:
            diffs.append(f"table {t}: only in {'SQLite' if t in lite else 'PostgreSQL'}")
            continue
        for what in ("cols", "pk", "unique", "fks"):
            if lite[t][what] != pg[t][what]:
                diffs.append(f"table {t}: {what}: SQLite {sorted(lite[t][what]) if isinstance(lite[t][what], set) else lite[t][what]}"
                             f" vs PostgreSQL {sorted(pg[t][what]) if isinstance(pg[t][what], set) else pg[t][what]}")
    for d in diffs:
        print("not ok - " + d)
    ntables = len(set(lite) & set(pg))
    print(f"{ntables} tables compared, {len(diffs)} differences")
    return 1 if diffs or ntables == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
