"""config-edit (out of distribution: no seed demonstration): change configuration files without breaking them.

Level 1: one edit or one new file (an ini key next to a same-named distractor, a JSON field, a version bump, an
env variable, an ignore file, a pin). Level 2: an app refuses its config; run it, fix the value (not the app), run
again. Level 3: several edits over one or several files (a key renamed everywhere, a schema migration with a unit
change, a release checklist for package.json / pyproject.toml / requirements). Checkers parse the files
(configparser, json, tomllib) and compare whole structures, so formatting and key order may vary."""

from __future__ import annotations

import json
import random

from lab.generators import TaskDraft
from lab.generators.families._ops import check, dd, one, some, step, submit, wrap

FAMILY = "config-edit"
LEVELS = (1, 2, 3)


def _ini(sections: dict[str, dict[str, str]], comment: str = "") -> str:
    out = [f"; {comment}"] if comment else []
    for name, keys in sections.items():
        out.append(f"[{name}]")
        out += [f"{k} = {v}" for k, v in keys.items()]
        out.append("")
    return "\n".join(out)


_INI_CHECK = '''
def load_ini(path):
    import configparser

    cp = configparser.ConfigParser(interpolation=None)
    assert cp.read(path, encoding="utf-8"), f"{path} missing or unreadable"
    return {s: dict(cp[s]) for s in cp.sections()}
'''

# ----------------------------------------------------------------------------------------------- level 1

_INI_DOMAINS = [
    ("gateway.ini", {"listener": {"bind": "0.0.0.0", "port": "8000", "threads": "4"},
                     "admin": {"port": "9100", "enabled": "true"}, "log": {"level": "info"}},
     [("listener", "port", ["9090", "8443", "8081"]), ("listener", "threads", ["8", "12", "2"]),
      ("log", "level", ["debug", "warning"])], "the {section} {key}"),
    ("worker.ini", {"queue": {"name": "thumbnails", "concurrency": "3", "timeout": "30"},
                    "retry": {"timeout": "5", "attempts": "3"}, "storage": {"bucket": "img-prod"}},
     [("queue", "concurrency", ["6", "10"]), ("queue", "timeout", ["45", "90"]), ("retry", "attempts", ["5", "7"])],
     "{key} under [{section}]"),
    ("database.ini", {"primary": {"host": "db1.internal", "pool_size": "10", "timeout": "30"},
                      "replica": {"host": "db2.internal", "pool_size": "10", "timeout": "30"}},
     [("primary", "pool_size", ["25", "40"]), ("replica", "timeout", ["60", "15"]), ("replica", "host", ["db3.internal"])],
     "the {key} of the {section} database"),
    ("mail.ini", {"smtp": {"host": "smtp.example.org", "port": "25", "starttls": "no"},
                  "imap": {"host": "imap.example.org", "port": "143"}, "sender": {"from": "noreply@example.org"}},
     [("smtp", "port", ["587", "2525"]), ("smtp", "starttls", ["yes"]), ("sender", "from", ["alerts@example.org"])],
     "{key} in the [{section}] block"),
    ("cache.ini", {"redis": {"host": "cache", "port": "6379", "ttl": "300"},
                   "memcached": {"host": "mc", "port": "11211", "ttl": "300"}},
     [("redis", "ttl", ["600", "900", "120"]), ("memcached", "ttl", ["60", "1800"]), ("redis", "port", ["6380"])],
     "the {section} {key}"),
]


def _l1_ini_value(rng: random.Random) -> TaskDraft:
    path, sections, edits, label = one(rng, _INI_DOMAINS)
    section, key, news = one(rng, edits)
    new = one(rng, news)
    old = sections[section][key]
    want = {s: dict(k) for s, k in sections.items()}
    want[section][key] = new
    text = _ini(sections)
    what = label.format(section=section, key=key)
    q = one(rng, [
        f"In {path}, change {what} from {old} to {new}. Leave everything else as it is.",
        f"Please set {key} = {new} in the [{section}] section of {path}; no other setting may change.",
        f"A ticket from ops: {what} should read {new}, not {old}. Make that one change in {path}.",
        f"Edit {path}: [{section}] {key} becomes {new}. Other sections have keys with the same name; they stay as they are.",
    ])
    # the edit must hit the right occurrence: take the section header with it
    block = text.split(f"[{section}]\n", 1)[1].split("\n\n", 1)[0]
    new_block = block.replace(f"{key} = {old}", f"{key} = {new}", 1)
    files = {path: text, "README.md": f"# service\n\nStart with `python -m service --config {path}`.\n"}
    chk = check(_INI_CHECK, f'''
        got = load_ini({path!r})
        assert got == {want!r}, got
        ''')
    return TaskDraft(instruction=wrap(q), files=files, check=chk, tags=["ini", "one-edit"], steps=[
        step("edit_file", "One edit; include the section header so the same-named key elsewhere stays.", path=path,
             old=f"[{section}]\n{block}", new=f"[{section}]\n{new_block}"),
        submit(f"{path}: [{section}] {key} is now {new}; nothing else changed."),
    ])


_IGNORES = {
    "python": (".gitignore", ["__pycache__/", "*.pyc", ".venv/", "dist/", "build/", ".pytest_cache/", "*.egg-info/", ".mypy_cache/"]),
    "node": (".gitignore", ["node_modules/", "dist/", ".env", "coverage/", "npm-debug.log", ".cache/"]),
    "latex": (".gitignore", ["*.aux", "*.log", "*.out", "*.toc", "*.synctex.gz", "*.bbl", "*.blg"]),
    "docker": (".dockerignore", [".git", "node_modules", "*.md", "tests/", ".env", "__pycache__"]),
    "java": (".gitignore", ["target/", "*.class", ".idea/", "*.iml", "out/", ".gradle/"]),
}


def _l1_ignore_file(rng: random.Random) -> TaskDraft:
    kind = one(rng, list(_IGNORES))
    path, pool = _IGNORES[kind]
    pats = some(rng, pool, rng.randint(3, 5))
    project = {"python": ("app.py", "print('hi')\n"), "node": ("package.json", '{"name": "web"}\n'),
               "latex": ("thesis.tex", "\\documentclass{article}\n\\begin{document}\nHi\n\\end{document}\n"),
               "docker": ("Dockerfile", "FROM python:3.12-slim\nCOPY . /app\n"), "java": ("pom.xml", "<project/>\n")}[kind]
    listed = ", ".join(f"`{p}`" for p in pats)
    q = one(rng, [
        f"{'git status' if path == '.gitignore' else 'docker build'} keeps picking up {listed} in this {kind} checkout. "
        f"Write a {path} that excludes exactly those patterns.",
        f"Before the first commit, add {path} to the repo with the entries {listed}; that's the whole file.",
        f"I keep accidentally committing build junk. Start an ignore list ({path}) covering {listed}.",
    ])
    chk = check(f'''
        import pathlib
        p = pathlib.Path({path!r})
        assert p.is_file(), "{path} missing"
        pats = [l.strip() for l in p.read_text().splitlines() if l.strip() and not l.strip().startswith("#")]
        assert sorted(pats) == {sorted(pats)!r}, pats
        ''')
    return TaskDraft(instruction=wrap(q), files={project[0]: project[1]}, check=chk, tags=[path.lstrip("."), "create-file"], steps=[
        step("write_file", path=path, content="".join(p + "\n" for p in pats)),
        submit(f"Created {path} with {', '.join(pats)}."),
    ])


_JSON_DOMAINS = [
    ("settings.json", {"theme": "light", "font_size": 14, "autosave": False, "editor": {"tab_width": 4, "wrap": False}}),
    ("app.json", {"name": "ledger", "debug": True, "max_retries": 3, "api": {"base_url": "https://api.example.com", "timeout_s": 10}}),
    ("bot.json", {"prefix": "!", "owner": "mods", "rate_limit": 5, "channels": {"log": "audit", "welcome": "lobby"}}),
    ("renderer.json", {"width": 1280, "height": 720, "fps": 30, "codec": {"name": "h264", "crf": 23}}),
]


def _l1_json_field(rng: random.Random) -> TaskDraft:
    path, data = one(rng, _JSON_DOMAINS)
    flat = [(k, v) for k, v in data.items() if not isinstance(v, dict)]
    nested = [(k, kk, vv) for k, v in data.items() if isinstance(v, dict) for kk, vv in v.items()]
    want = json.loads(json.dumps(data))
    if rng.random() < 0.5:
        key, old = one(rng, flat)
        new = _changed(rng, old)
        want[key] = new
        where, edit_old, edit_new = f'"{key}"', f'"{key}": {json.dumps(old)}', f'"{key}": {json.dumps(new)}'
    else:
        parent, key, old = one(rng, nested)
        new = _changed(rng, old)
        want[parent][key] = new
        where, edit_old, edit_new = f'"{key}" inside "{parent}"', f'"{key}": {json.dumps(old)}', f'"{key}": {json.dumps(new)}'
    q = one(rng, [
        f"Set {where} in {path} to {json.dumps(new)}. The file must stay valid JSON and nothing else changes.",
        f"{path} has {where} = {json.dumps(old)}; I need {json.dumps(new)} there instead. Only that value.",
        f"Change one setting in {path}: {where} becomes {json.dumps(new)} (keep the JSON type as shown).",
    ])
    text = json.dumps(data, indent=2) + "\n"
    chk = check(f'''
        import json
        with open({path!r}, encoding="utf-8") as f:
            got = json.load(f)
        want = json.loads({json.dumps(want)!r})
        assert got == want and type(got) is type(want), got
        ''')
    return TaskDraft(instruction=wrap(q), files={path: text}, check=chk, tags=["json", "one-edit"], steps=[
        step("edit_file", path=path, old=edit_old, new=edit_new),
        submit(f"{path}: {where} is now {json.dumps(new)}."),
    ]) if text.count(edit_old) == 1 else _l1_json_field(rng)


def _changed(rng: random.Random, old):
    if isinstance(old, bool):
        return not old
    if isinstance(old, int):
        return old + one(rng, [1, 2, 5, 10, -1]) if old > 2 else old + 3
    if old.startswith("http"):
        return old.replace("api.", one(rng, ["api-v2.", "eu.api."]))
    return one(rng, [o for o in ["dark", "solarized", "$", "admins", "general", "vp9", "?", "staff"] if o != old])


def _l1_version_bump(rng: random.Random) -> TaskDraft:
    kind = one(rng, ["pyproject", "cargo", "package"])
    name = one(rng, ["tidyqueue", "mapstitch", "quillpad", "orbitlog", "saltbox", "fernet-cli"])
    major, minor, patch = rng.randint(0, 3), rng.randint(0, 12), rng.randint(0, 9)
    old = f"{major}.{minor}.{patch}"
    new = one(rng, [f"{major}.{minor}.{patch + 1}", f"{major}.{minor + 1}.0", f"{major + 1}.0.0"])
    if kind == "pyproject":
        path = "pyproject.toml"
        text = dd(f'''
            [project]
            name = "{name}"
            version = "{old}"
            requires-python = ">=3.10"
            dependencies = ["click>=8.0"]

            [tool.ruff]
            target-version = "py310"
            ''')
        chk = check(f'''
            import tomllib
            with open("pyproject.toml", "rb") as f:
                data = tomllib.load(f)
            assert data == {{"project": {{"name": {name!r}, "version": {new!r}, "requires-python": ">=3.10", "dependencies": ["click>=8.0"]}},
                            "tool": {{"ruff": {{"target-version": "py310"}}}}}}, data
            ''')
        ed = (f'version = "{old}"', f'version = "{new}"')
    elif kind == "cargo":
        path = "Cargo.toml"
        text = dd(f'''
            [package]
            name = "{name}"
            version = "{old}"
            edition = "2021"

            [dependencies]
            serde = {{ version = "1.0", features = ["derive"] }}
            ''')
        chk = check(f'''
            import tomllib
            with open("Cargo.toml", "rb") as f:
                data = tomllib.load(f)
            assert data == {{"package": {{"name": {name!r}, "version": {new!r}, "edition": "2021"}},
                            "dependencies": {{"serde": {{"version": "1.0", "features": ["derive"]}}}}}}, data
            ''')
        ed = (f'version = "{old}"', f'version = "{new}"')
    else:
        path = "package.json"
        data = {"name": name, "version": old, "private": True, "dependencies": {"lodash": "^4.17.21"}}
        text = json.dumps(data, indent=2) + "\n"
        chk = check(f'''
            import json
            with open("package.json", encoding="utf-8") as f:
                data = json.load(f)
            assert data == json.loads({json.dumps({**data, "version": new})!r}), data
            ''')
        ed = (f'"version": "{old}"', f'"version": "{new}"')
    q = one(rng, [
        f"Cut release {new} of {name}: only the version field in {path} moves (currently {old}).",
        f"We're releasing {name} {new}. Update the version in {path} (it says {old}); nothing else changes.",
        f"Set {path}'s package version to {new}, please.",
    ])
    return TaskDraft(instruction=wrap(q), files={path: text}, check=chk, tags=[kind, "version-bump", "one-edit"], steps=[
        step("edit_file", path=path, old=ed[0], new=ed[1]),
        submit(f"{path}: version {old} -> {new}."),
    ])


_ENV_CHECK = '''
def load_env(path):
    out = {}
    for raw in open(path, encoding="utf-8").read().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[7:]
        key, sep, value = line.partition("=")
        assert sep, f"bad line {raw!r} in {path}"
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\\"'":
            value = value[1:-1]
        assert key.strip() not in out, f"{key} defined twice in {path}"
        out[key.strip()] = value
    return out
'''


def _l1_env_var(rng: random.Random) -> TaskDraft:
    path = one(rng, [".env", ".env.local", "app.env"])
    env = {"APP_ENV": "staging", "PORT": "3000", "DATABASE_URL": "postgres://app@db:5432/app",
           "LOG_LEVEL": "info", "CACHE_TTL": "120", "FEATURE_SEARCH": "false"}
    keys = some(rng, list(env), rng.randint(4, 6))
    env = {k: env[k] for k in keys}
    mode = one(rng, ["change", "add"])
    want = dict(env)
    if mode == "change":
        key = one(rng, keys)
        new = {"APP_ENV": "production", "PORT": "8080", "DATABASE_URL": "postgres://app@db-eu:5432/app",
               "LOG_LEVEL": "debug", "CACHE_TTL": "900", "FEATURE_SEARCH": "true"}[key]
        want[key] = new
        q = one(rng, [f"In {path}, set {key} to {new}. Keep the other variables.",
                      f"Change the value of {key} in the env file {path} to `{new}`; nothing else."])
        steps = [step("edit_file", path=path, old=f"{key}={env[key]}", new=f"{key}={new}")]
    else:
        key, new = one(rng, [("SENTRY_DSN", "https://abc123@sentry.example.com/7"), ("TZ", "Europe/Lisbon"),
                             ("MAX_UPLOAD_MB", "25"), ("SMTP_HOST", "mail.internal")])
        want[key] = new
        q = one(rng, [f"Add {key}={new} to {path}, keeping the existing variables as they are.",
                      f"{path} is missing {key}. Add it with the value {new}."])
        steps = [step("run", command=f"echo '{key}={new}' >> {path} && cat {path}")]
    text = "# local settings\n" + "".join(f"{k}={v}\n" for k, v in env.items())
    chk = check(_ENV_CHECK, f'assert load_env({path!r}) == {want!r}, load_env({path!r})')
    return TaskDraft(instruction=wrap(q), files={path: text}, check=chk, tags=["env", "one-edit"], steps=steps + [
        submit(f"{path}: {key}={new}."),
    ])


def _l1_pin(rng: random.Random) -> TaskDraft:
    pkgs = {"requests": "2.32.3", "flask": "3.0.3", "numpy": "1.26.4", "pandas": "2.2.2", "click": "8.1.7",
            "pydantic": "2.7.1", "httpx": "0.27.0", "rich": "13.7.1"}
    names = some(rng, list(pkgs), rng.randint(4, 6))
    lines = {n: one(rng, ["", ">=1.0", "==0.9.1"]) if n != names[0] else "" for n in names}
    target = one(rng, names)
    version = pkgs[target]
    path = one(rng, ["requirements.txt", "requirements/base.txt"])
    q = one(rng, [f"Pin {target} to exactly {version} in {path} (an `==` pin). The other lines stay.",
                  f"Our build broke with the latest {target}. In {path}, pin it to =={version}; leave the rest alone.",
                  f"Make {path} require {target}=={version} instead of what it has now."])
    text = "# runtime deps\n" + "".join(f"{n}{v}\n" for n, v in lines.items())
    want = {n: v for n, v in lines.items()}
    want[target] = f"=={version}"
    chk = check(f'''
        import re
        reqs = {{}}
        for raw in open({path!r}, encoding="utf-8").read().splitlines():
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            m = re.fullmatch(r"([A-Za-z0-9_.-]+)\\s*(.*)", line)
            assert m, raw
            assert m.group(1).lower() not in reqs, f"{{m.group(1)}} listed twice"
            reqs[m.group(1).lower()] = m.group(2).replace(" ", "")
        assert reqs == {want!r}, reqs
        ''')
    return TaskDraft(instruction=wrap(q), files={path: text}, check=chk, tags=["requirements", "pin", "one-edit"], steps=[
        step("edit_file", path=path, old=f"\n{target}{lines[target]}\n", new=f"\n{target}=={version}\n"),
        submit(f"{path}: {target} pinned to =={version}."),
    ])


# ----------------------------------------------------------------------------------------------- level 2

_APPS = [
    # (name, section, key, kind, bad, good, constraint text, other keys)
    ("transcoder", "pipeline", "threads", "range", 64, 16, (1, 16), {"preset": "medium"}),
    ("crawler", "fetch", "max_depth", "range", 0, 1, (1, 8), {"user_agent": "crawler/1.0"}),
    ("uploader", "limits", "max_upload_mb", "range", 5000, 512, (1, 512), {"chunk_kb": 256}),
    ("notifier", "log", "level", "choice", "verbose", "DEBUG", ["DEBUG", "INFO", "WARNING", "ERROR"], {"file": "notify.log"}),
    ("exporter", "output", "format", "choice", "xlsx", "csv", ["csv", "json", "parquet"], {"path": "out"}),
    ("scheduler", "jobs", "timezone", "choice", "CET", "Europe/Berlin", ["UTC", "Europe/Berlin", "America/New_York"], {"tick_s": 30}),
    ("billing", "invoices", "due_days", "type", "thirty", 30, None, {"prefix": "INV"}),
    ("indexer", "index", "batch_size", "type", "500", 500, None, {"name": "docs"}),
]


def _l2_fix_value(rng: random.Random) -> TaskDraft:
    name, section, key, kind, bad, good, rule, others = one(rng, _APPS)
    fmt = one(rng, ["toml", "json", "ini"])
    if fmt == "ini" and kind == "type":
        fmt = one(rng, ["toml", "json"])
    path = one(rng, {"toml": ["settings.toml", "config.toml"], "json": ["config.json", "settings.json"],
                     "ini": ["app.ini", "settings.ini"]}[fmt])
    script = one(rng, [f"{name}.py", f"run_{name}.py", "service.py"])
    extra = {"meta": {"owner": one(rng, ["data-team", "platform", "ops"]), "version": rng.randint(1, 9)}}
    cfg = {section: {key: bad, **others}, **extra}
    want = {section: {key: good, **others}, **extra}

    def render(c):
        if fmt == "json":
            return json.dumps(c, indent=2) + "\n"
        out = []
        for s, kv in c.items():
            out.append(f"[{s}]")
            for k, v in kv.items():
                out.append(f"{k} = {json.dumps(v) if fmt == 'toml' else v}")
            out.append("")
        return "\n".join(out)

    load = {"toml": f"import tomllib\n\nwith open({path!r}, \"rb\") as f:\n    cfg = tomllib.load(f)\n",
            "json": f"import json\n\nwith open({path!r}, encoding=\"utf-8\") as f:\n    cfg = json.load(f)\n",
            "ini": f"import configparser\n\ncp = configparser.ConfigParser()\ncp.read({path!r})\ncfg = {{s: dict(cp[s]) for s in cp.sections()}}\n"}[fmt]
    get = f"value = cfg[{section!r}][{key!r}]"
    if kind == "range":
        lo, hi = rule
        if fmt == "ini":
            get = f"value = int(cfg[{section!r}][{key!r}])"
        test = (f"if not {lo} <= value <= {hi}:\n    sys.exit(f\"{path}: [{section}] {key} must be between {lo} and {hi}, got {{value}}\")\n")
        goal = one(rng, ["the largest value the app accepts", "the highest value allowed"]) if bad > hi else \
            one(rng, ["the smallest value the app accepts", "the lowest allowed value"])
    elif kind == "choice":
        test = (f"ALLOWED = {rule!r}\nif value not in ALLOWED:\n    sys.exit(f\"{path}: [{section}] {key} must be one of {{ALLOWED}}, got {{value!r}}\")\n")
        goal = {"level": "the most verbose level it accepts", "format": "the plain-text spreadsheet format it supports",
                "timezone": "the accepted timezone for Berlin"}[key]
    else:
        test = (f"if not isinstance(value, int) or isinstance(value, bool):\n    sys.exit(f\"{path}: [{section}] {key} must be an integer, got {{value!r}}\")\n")
        goal = f"the same amount written as a proper integer ({good})"
    code = "import sys\n" + load + "\n" + get + "\n" + test + f"print(f\"{name} started: {key}={{value}}\")\n"
    want_ini = {s: {k: str(v) for k, v in kv.items()} for s, kv in want.items()}
    loader = {"toml": f"import tomllib\ngot = tomllib.load(open({path!r}, 'rb'))",
              "json": f"import json\ngot = json.load(open({path!r}, encoding='utf-8'))",
              "ini": f"import configparser\ncp = configparser.ConfigParser(interpolation=None)\ncp.read({path!r})\ngot = {{s: dict(cp[s]) for s in cp.sections()}}"}[fmt]
    q = one(rng, [
        f"Our {name} exits right after launch with a configuration complaint. Track down the offending entry in {path} and "
        f"give it {goal}; the Python code is off limits. Launch {script} again to prove it works.",
        f"Deploy is blocked: the validation inside {script} rejects one of the {fmt.upper()} settings in {path}. Edit only the "
        f"config, choosing {goal}, and demonstrate a clean start.",
        f"Execute {script} and read the error it prints about {path}. Then repair that single setting in the config file "
        f"(use {goal}) without editing any code, and re-run it.",
    ])
    bad_line = f"{key} = {json.dumps(bad) if fmt == 'toml' else bad}" if fmt != "json" else f'"{key}": {json.dumps(bad)}'
    good_line = f"{key} = {json.dumps(good) if fmt == 'toml' else good}" if fmt != "json" else f'"{key}": {json.dumps(good)}'
    chk = check(f'''
        import subprocess, sys
        assert open({script!r}, encoding="utf-8").read() == {code!r}, "{script} was changed"
        {loader.replace(chr(10), chr(10) + "        ")}
        want = {want_ini if fmt == 'ini' else want!r}
        assert got == want, got
        proc = subprocess.run([sys.executable, {script!r}], capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        ''')
    return TaskDraft(instruction=wrap(q), files={path: render(cfg), script: code}, check=chk,
                     tags=[fmt, "run", "fix-config"], steps=[
        step("run", "See why it refuses to start.", command=f"python {script}"),
        step("edit_file", "Fix the offending value in the config.", path=path, old=bad_line, new=good_line),
        step("run", command=f"python {script}"),
        submit(f"{path}: [{section}] {key} {bad!r} -> {good!r}; {script} now starts."),
    ])


def _l2_docs_option(rng: random.Random) -> TaskDraft:
    name = one(rng, ["pastebin", "wiki", "photo-gallery", "ticket-desk"])
    feature, key, value, section = one(rng, [
        ("nightly backups", "backup_hour", "3", "backup"),
        ("e-mail notifications", "notify_email", "ops@example.org", "notifications"),
        ("rate limiting", "requests_per_minute", "120", "limits"),
        ("thumbnail generation", "thumb_size_px", "256", "media"),
    ])
    enable = one(rng, ["enabled", "active", "on"])
    path = one(rng, ["config.ini", f"{name}.ini"])
    cfg = {"server": {"host": "127.0.0.1", "port": "8080"}, section: {enable: "no", key: "0" if value.isdigit() else ""},
           "storage": {"path": "/var/lib/" + name}}
    doc = dd(f"""
        # Configuration

        {name} reads {path}. Options by section:

        ## [{section}]
        - `{enable}` (yes/no): turns {feature} on.
        - `{key}`: required when {enable} = yes.

        ## [server]
        - `host`, `port`: where to listen.
        """)
    validator = dd(f"""
        import configparser
        import sys

        cp = configparser.ConfigParser(interpolation=None)
        cp.read({path!r})
        sec = cp[{section!r}]
        if sec.getboolean({enable!r}) and not sec.get({key!r}, "").strip("0 "):
            sys.exit("{section}.{key} must be set when {enable} = yes")
        print("config ok;", "{feature}", "on" if sec.getboolean({enable!r}) else "off")
        """)
    want = {s: dict(k) for s, k in cfg.items()}
    want[section] = {enable: "yes", key: value}
    q = one(rng, [
        f"Turn on {feature} for our {name} with {key} = {value}. docs/CONFIG.md explains the options in {path}. "
        f"Afterwards run `python check_config.py` to make sure the config is valid.",
        f"I want {feature} enabled in {path} ({key} should be {value}); the settings are described in docs/CONFIG.md. "
        f"Confirm with check_config.py.",
        f"Read docs/CONFIG.md, then switch {feature} on in {path} using {value} for {key}. check_config.py validates the file; "
        f"run it when you're done.",
    ])
    chk = check(_INI_CHECK, f'''
        import configparser, subprocess, sys
        got = load_ini({path!r})
        got[{section!r}][{enable!r}] = str(configparser.ConfigParser.BOOLEAN_STATES.get(got[{section!r}].get({enable!r}, "").lower()))
        want = {want!r}
        want[{section!r}][{enable!r}] = "True"
        assert got == want, got
        proc = subprocess.run([sys.executable, "check_config.py"], capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0 and proc.stdout.strip().endswith(" on"), proc.stdout + proc.stderr
        ''')
    old_block = f"[{section}]\n{enable} = no\n{key} = {cfg[section][key]}\n"
    return TaskDraft(instruction=wrap(q), files={path: _ini(cfg), "docs/CONFIG.md": doc, "check_config.py": validator},
                     check=chk, tags=["ini", "docs", "run"], steps=[
        step("read_file", "Read what the options mean.", path="docs/CONFIG.md"),
        step("read_file", path=path),
        step("edit_file", path=path, old=old_block, new=f"[{section}]\n{enable} = yes\n{key} = {value}\n"),
        step("run", command="python check_config.py"),
        submit(f"{path}: [{section}] {enable} = yes and {key} = {value}; check_config.py reports it valid."),
    ])


# ----------------------------------------------------------------------------------------------- level 3


def _l3_rename_key(rng: random.Random) -> TaskDraft:
    envs = one(rng, [["dev", "staging", "prod"], ["eu", "us", "apac"], ["local", "ci", "live"]])
    section, old_key, new_key, trap = one(rng, [
        ("cache", "redis_addr", "url", ("sessions", "redis_addr_fallback", "127.0.0.1:6380")),
        ("smtp", "mail_user", "username", ("alerts", "mail_user_list", "oncall,ops")),
        ("storage", "s3_bucket", "bucket", ("archive", "s3_bucket_region", "eu-west-1")),
        ("auth", "jwt_secret", "signing_key", ("legacy", "jwt_secret_old", "retired")),
    ])
    extra_key, extra_old, extra_new = one(rng, [("pool_size", "10", "20"), ("timeout", "30", "45"), ("retries", "2", "4")])
    folder = one(rng, ["config", "conf", "settings"])
    target_env = envs[-1]
    files, want = {}, {}
    for i, env in enumerate(envs):
        sec = {"host": f"{section}.{env}.internal", old_key: f"{env}-{rng.randint(1000, 9999)}"}
        if i > 0:
            sec[extra_key] = extra_old
        secs = {section: sec, "features": {"debug": "true" if i == 0 else "false"}}
        if env == target_env:
            secs[trap[0]] = {trap[1]: trap[2], "schedule": "0 3 * * *"}
        files[f"{folder}/{env}.ini"] = _ini(secs)
        w = {s: dict(k) for s, k in secs.items()}
        w[section] = {("%s" % new_key if k == old_key else k): v for k, v in sec.items()}
        if env == target_env:
            w[section][extra_key] = extra_new
        want[env] = w
    q = one(rng, [
        f"""Version 5 of the service dropped support for the `{old_key}` setting; it looks for `{new_key}` now. Go through
        the per-environment files in {folder}/ and give the [{section}] entry its new name, value untouched. {target_env} also
        needs {extra_key} set to {extra_new}. Leave all other lines alone.""",
        f"""Config migration across {', '.join(envs)}: in the [{section}] section of each {folder}/<env>.ini, `{old_key}`
        becomes `{new_key}` (same value). Keys elsewhere that merely start with {old_key} are not part of this. While you're
        at it, {target_env} needs {extra_key} raised to {extra_new}.""",
        f"""Housekeeping on {folder}/: {len(envs)} environment configs ({', '.join(envs)}) still use the legacy key {old_key} in
        [{section}]. Switch them to {new_key} while preserving each value, and for {target_env} alone raise {extra_key} to
        {extra_new}.""",
    ])
    loads = "\n".join(f"assert load_ini('{folder}/{env}.ini') == {want[env]!r}, load_ini('{folder}/{env}.ini')" for env in envs)
    chk = check(_INI_CHECK, f'''
        import pathlib
        assert sorted(p.name for p in pathlib.Path({folder!r}).glob("*.ini")) == {sorted(e + ".ini" for e in envs)!r}
        ''', loads)
    return TaskDraft(instruction=wrap(q), files=files, check=chk, tags=["ini", "multi-file", "migrate"], steps=[
        step("run", command=f"grep -n '{old_key}\\|{extra_key}' {folder}/*.ini"),
        step("run", command=f"sed -i 's/^{old_key} = /{new_key} = /' {folder}/*.ini && "
                            f"sed -i 's/^{extra_key} = {extra_old}$/{extra_key} = {extra_new}/' {folder}/{target_env}.ini"),
        step("run", command=f"grep -n '{old_key}\\|{new_key}\\|{extra_key}' {folder}/*.ini"),
        submit(f"Renamed {old_key} -> {new_key} in [{section}] of every {folder}/*.ini; {target_env} {extra_key} = {extra_new}."),
    ])


def _l3_json_migrate(rng: random.Random) -> TaskDraft:
    kind = one(rng, ["timeout", "size", "ratio"])
    path = one(rng, ["endpoints.json", "upstreams.json", "probes.json"]) if kind == "timeout" else \
        one(rng, ["buckets.json", "quotas.json"]) if kind == "size" else one(rng, ["experiments.json", "rollouts.json"])
    old_f, new_f, default, conv, unit_txt = {
        "timeout": ("timeout", "timeout_ms", one(rng, [10, 5, 30]), lambda v: round(v * 1000),
                    "an integer number of milliseconds instead of seconds (possibly fractional)"),
        "size": ("limit_mb", "limit_bytes", one(rng, [100, 512]), lambda v: int(v * 1024 * 1024),
                 "an integer number of bytes instead of MiB (1 MiB = 1048576 bytes)"),
        "ratio": ("percent", "fraction", one(rng, [50, 10]), lambda v: round(v / 100, 4),
                  "a fraction between 0 and 1 instead of a percentage (25 -> 0.25)"),
    }[kind]
    names = some(rng, ["auth", "billing", "search", "mailer", "geo", "media", "ledger", "chat", "maps"], rng.randint(4, 6))
    items = []
    for i, n in enumerate(names):
        it = {"name": n}
        if i != 1:
            it[old_f] = {"timeout": one(rng, [5, 2.5, 30, 0.25, 12, 1.5]), "size": one(rng, [1, 64, 0.5, 250, 2048]),
                         "ratio": one(rng, [25, 5, 100, 12.5, 1])}[kind]
        it["owner"] = one(rng, ["core", "growth", "infra"])
        items.append(it)
    ver = rng.randint(1, 4)
    data = {"version": ver, "region": one(rng, ["eu-west-1", "us-east-2"]), "items": items}
    want_items = []
    for it in items:
        w = {}
        for k, v in it.items():
            if k == old_f:
                continue
            w[k] = v
        w[new_f] = conv(it.get(old_f, default))
        want_items.append(w)
    q = one(rng, [
        f"""The loader for {path} now expects format {ver + 1}, where `{old_f}` is gone and `{new_f}` holds {unit_txt}.
        Rewrite the file to that format: convert each entry's value, and give entries that never had {old_f} the converted
        form of the old implicit {default}. "version" must say {ver + 1}; the remaining fields keep their values.""",
        f"""Upgrade {path} from v{ver} to v{ver + 1}. Per entry, drop {old_f} and add {new_f} ({unit_txt}); where the field was
        absent, assume the historical default of {default} first. Bump the version number and leave names, owners and the
        region untouched.""",
    ])
    code = dd(f"""
        import json

        with open({path!r}, encoding="utf-8") as f:
            data = json.load(f)
        for item in data["items"]:
            value = item.pop({old_f!r}, {default!r})
            item[{new_f!r}] = {"round(value * 1000)" if kind == "timeout" else "int(value * 1024 * 1024)" if kind == "size" else "round(value / 100, 4)"}
        data["version"] = {ver + 1}
        with open({path!r}, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2)
            f.write("\\n")
        """)
    typ = "float" if kind == "ratio" else "int"
    chk = check(f'''
        import json
        data = json.load(open({path!r}, encoding="utf-8"))
        assert set(data) == {{"version", "region", "items"}} and data["version"] == {ver + 1} and data["region"] == {data["region"]!r}, data
        want = {want_items!r}
        got = data["items"]
        assert len(got) == len(want), got
        for g, w in zip(got, want):
            assert set(g) == set(w), g
            for k, v in w.items():
                if k == {new_f!r}:
                    assert not isinstance(g[k], bool) and isinstance(g[k], (int, float)), g
                    if {typ!r} == "int":
                        assert isinstance(g[k], int), f"{new_f} must be an integer: {{g}}"
                    assert abs(g[k] - v) < 1e-9, g
                else:
                    assert g[k] == v, g
        ''')
    return TaskDraft(instruction=wrap(q), files={path: json.dumps(data, indent=2) + "\n"}, check=chk,
                     tags=["json", "migrate", "schema"], steps=[
        step("read_file", path=path),
        step("write_file", "Convert with a script rather than by hand.", path="migrate.py", content=code),
        step("run", command=f"python migrate.py && cat {path}"),
        submit(f"{path} migrated to v{ver + 1}: {old_f} -> {new_f}, missing values from the default {default}."),
    ])


def _l3_package_json(rng: random.Random) -> TaskDraft:
    name = one(rng, ["@acme/widget-kit", "tiny-router", "@studio/charts", "markdown-lint-lite"])
    deps = {"lodash": "^4.17.21", "react": "^18.2.0", "axios": "^1.6.8", "dayjs": "^1.11.10", "zod": "^3.23.8"}
    devs = {"jest": "^29.7.0", "eslint": "^8.57.0", "prettier": "^3.2.5", "vitest": "^1.5.0"}
    runtime = some(rng, list(deps), 2)
    misplaced = some(rng, list(devs), 2)
    keep_dev = one(rng, ["typescript", "@types/node"])
    major, minor = rng.randint(0, 4), rng.randint(0, 9)
    old_v, new_v = f"{major}.{minor}.{rng.randint(1, 9)}", f"{major}.{minor + 1}.0"
    script_name, script_cmd = one(rng, [("lint", "eslint src"), ("format", "prettier --write ."), ("typecheck", "tsc --noEmit")])
    pkg = {"name": name, "version": old_v, "private": False, "main": "dist/index.js",
           "scripts": {"build": "tsc -p .", "test": "jest"},
           "dependencies": dict(sorted({**{k: deps[k] for k in runtime}, **{k: devs[k] for k in misplaced}}.items())),
           "devDependencies": {keep_dev: "~5.4.5"}}
    want = json.loads(json.dumps(pkg))
    want["version"] = new_v
    want["scripts"][script_name] = script_cmd
    for k in misplaced:
        want["devDependencies"][k] = want["dependencies"].pop(k)
    q = one(rng, [
        f"""npm release checklist for {name}, please apply to package.json:
        - the package version becomes {new_v};
        - {misplaced[0]} and {misplaced[1]} ended up as production deps by mistake; they belong with the dev tooling, same ranges;
        - `npm run {script_name}` should execute `{script_cmd}`.
        Other fields stay exactly as they are.""",
        f"""Three package.json fixes before we publish {name} {new_v}: set the version to {new_v}, add the npm script
        "{script_name}" = `{script_cmd}`, and move the dev-only tools {misplaced[0]} and {misplaced[1]} out of dependencies
        into devDependencies (same ranges). The rest of the file stays as it is.""",
    ])
    code = dd(f"""
        python - <<'EOF'
        import json
        with open("package.json") as f:
            pkg = json.load(f)
        pkg["version"] = "{new_v}"
        for name in {misplaced!r}:
            pkg["devDependencies"][name] = pkg["dependencies"].pop(name)
        pkg["scripts"]["{script_name}"] = "{script_cmd}"
        with open("package.json", "w") as f:
            json.dump(pkg, f, indent=2)
            f.write("\\n")
        EOF
        """)
    chk = check(f'''
        import json
        got = json.load(open("package.json", encoding="utf-8"))
        want = json.loads({json.dumps(want)!r})
        assert got == want, got
        ''')
    return TaskDraft(instruction=wrap(q), files={"package.json": json.dumps(pkg, indent=2) + "\n",
                                                 "src/index.ts": "export const hello = () => 'hi';\n"}, check=chk,
                     tags=["json", "npm", "version-bump"], steps=[
        step("read_file", path="package.json"),
        step("run", command=code),
        step("run", command="cat package.json"),
        submit(f"package.json: version {new_v}, {', '.join(misplaced)} moved to devDependencies, {script_name} script added."),
    ])


def _l3_pyproject(rng: random.Random) -> TaskDraft:
    name = one(rng, ["mapstitch", "quillpad", "orbitlog", "ferrylog", "beanpole"])
    old_v = f"0.{rng.randint(3, 9)}.{rng.randint(0, 9)}"
    new_v = one(rng, ["1.0.0", f"0.{int(old_v.split('.')[1]) + 1}.0"])
    old_py, new_py = one(rng, [(">=3.8", ">=3.10"), (">=3.9", ">=3.11"), (">=3.9", ">=3.10")])
    base_deps = some(rng, ["attrs>=23.1", "click>=8.0", "rich>=13", "httpx>=0.27"], 2)
    new_dep = one(rng, ["platformdirs>=4.0", "tomli-w>=1.0", "pyyaml>=6.0"])
    changes = some(rng, ["script", "pytest", "ruff"], 2)
    text = dd(f'''
        [build-system]
        requires = ["setuptools>=68"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "{name}"
        version = "{old_v}"
        description = "A small tool"
        requires-python = "{old_py}"
        dependencies = [
            "{base_deps[0]}",
            "{base_deps[1]}",
        ]

        [project.optional-dependencies]
        dev = ["pytest>=7"]
        ''')
    items = [f"version {new_v}, and require Python `{new_py}`",
             f"add the runtime dependency `{new_dep}` (keep the existing ones)"]
    asserts = [f'assert proj["version"] == {new_v!r} and proj["requires-python"].replace(" ", "") == {new_py!r}, proj',
               f'assert sorted(d.replace(" ", "") for d in proj["dependencies"]) == {sorted(base_deps + [new_dep])!r}, proj["dependencies"]']
    tail = ""
    new_text = text.replace(f'version = "{old_v}"', f'version = "{new_v}"').replace(f'requires-python = "{old_py}"', f'requires-python = "{new_py}"')
    new_text = new_text.replace(f'    "{base_deps[1]}",\n]\n', f'    "{base_deps[1]}",\n    "{new_dep}",\n]\n')
    if "script" in changes:
        items.append(f"add a console script `{name}` pointing at `{name}.cli:main`")
        asserts.append(f'assert proj.get("scripts") == {{{name!r}: "{name}.cli:main"}}, proj.get("scripts")')
        tail += f'\n[project.scripts]\n{name} = "{name}.cli:main"\n'
    else:
        asserts.append('assert "scripts" not in proj')
    if "pytest" in changes:
        items.append('configure pytest in pyproject: testpaths = ["tests"] and addopts = "-q"')
        asserts.append('assert data["tool"]["pytest"]["ini_options"] == {"testpaths": ["tests"], "addopts": "-q"}, data["tool"]')
        tail += '\n[tool.pytest.ini_options]\ntestpaths = ["tests"]\naddopts = "-q"\n'
    if "ruff" in changes:
        items.append("configure ruff with line-length = 100")
        asserts.append('assert data["tool"]["ruff"] == {"line-length": 100}, data["tool"]')
        tail += "\n[tool.ruff]\nline-length = 100\n"
    new_text += tail
    tool_keys = sorted(c if c != "pytest" else "pytest" for c in changes if c != "script")
    q = one(rng, [f"{name} goes to PyPI as {new_v} tomorrow. Packaging edits needed in pyproject.toml:\n",
                  f"Before tagging v{new_v}, update the packaging metadata of {name} (pyproject.toml):\n",
                  f"Release prep for {name} {new_v}; the build config in pyproject.toml needs these changes:\n"]) + \
        "".join(f"- {t};\n" for t in items) + \
        one(rng, ["Other tables stay as they are and the file must still parse as TOML.", "Keep the rest untouched; tomllib must still load it."])
    chk = check(f'''
        import tomllib
        with open("pyproject.toml", "rb") as f:
            data = tomllib.load(f)
        proj = data["project"]
        assert proj["name"] == {name!r} and proj["description"] == "A small tool", proj
        assert proj["optional-dependencies"] == {{"dev": ["pytest>=7"]}}, proj
        assert data["build-system"] == {{"requires": ["setuptools>=68"], "build-backend": "setuptools.build_meta"}}
        assert sorted(data.get("tool", {{}})) == {tool_keys!r}, data.get("tool")
        ''', "\n".join(asserts))
    return TaskDraft(instruction=q, files={"pyproject.toml": text}, check=chk, tags=["toml", "pyproject", "version-bump"], steps=[
        step("read_file", path="pyproject.toml"),
        step("write_file", "Rewrite the file with every change.", path="pyproject.toml", content=new_text),
        step("run", command="python -c \"import tomllib, pprint; pprint.pprint(tomllib.load(open('pyproject.toml', 'rb')))\""),
        submit(f"pyproject.toml: {new_v}, requires-python {new_py}, {new_dep} added" + "".join(f", {c} configured" for c in changes) + "."),
    ])


def _l3_requirements(rng: random.Random) -> TaskDraft:
    pool = {"django": ("4.1.0", "4.2.13"), "celery": ("5.2.0", "5.4.0"), "sqlalchemy": ("1.4.40", "2.0.30"),
            "lxml": ("4.9.1", "5.2.2"), "urllib3": ("1.26.5", "2.2.2"), "pillow": ("9.0.0", "10.3.0"),
            "cryptography": ("41.0.1", "42.0.7"), "redis": ("4.3.4", "5.0.4")}
    names = some(rng, list(pool), 4)
    bump = some(rng, names, 3)
    keep = one(rng, [("tzdata", "==2024.1"), ("pytz", "==2024.1"), ("six", "==1.16.0")])
    tests = some(rng, [("hypothesis", "==6.100.0"), ("coverage", "==7.5.1"), ("pytest-mock", "==3.14.0")], rng.randint(1, 2))
    drop = one(rng, ["mock", "unittest2", "nose2"])
    dev_name = one(rng, ["requirements-dev.txt", "dev-requirements.txt"])
    lines = ["# runtime"]
    for n in names:
        lines.append(f"{n}{one(rng, ['>=' + pool[n][0], '==' + pool[n][0], ''])}")
    lines.append(keep[0] + keep[1])
    lines.append("# testing")
    lines += [t + v for t, v in tests] + [f"{drop}==1.3.7"]
    text = "\n".join(lines) + "\n"
    want_main = {n: ("==" + pool[n][1] if n in bump else lines[1 + names.index(n)][len(n):]) for n in names}
    want_main[keep[0]] = keep[1]
    want_dev = {t: v for t, v in tests}
    pins = ", ".join(f"{n} to {pool[n][1]}" for n in bump)
    tnames = " and ".join(t for t, _ in tests)
    q = one(rng, [
        f"""Dependabot opened alerts for {', '.join(bump)}. Lock them in requirements.txt (exactly: {pins}).
        While you're in there, separate the test tooling: {tnames} live in a fresh {dev_name} that begins with the line
        `-r requirements.txt` (keep their pins), and {drop} is abandoned, so it goes entirely. Don't alter {keep[0]} or the
        specifiers of packages I didn't mention.""",
        f"""Two files, please. requirements.txt keeps only runtime packages, with exact pins for {pins}; {dev_name} starts
        by including requirements.txt via `-r requirements.txt` and then lists {tnames} as currently pinned. {drop} is no
        longer used anywhere: delete it. Untouched: {keep[0]} and any other runtime line.""",
    ])
    new_main = ["# runtime"] + [f"{n}=={pool[n][1]}" if n in bump else lines[1 + names.index(n)] for n in names] + [keep[0] + keep[1]]
    chk = check(f'''
        import pathlib, re
        def parse(path):
            reqs, lines = {{}}, []
            for raw in pathlib.Path(path).read_text(encoding="utf-8").splitlines():
                line = raw.split("#", 1)[0].strip()
                if not line:
                    continue
                lines.append(line)
                if line.startswith("-r"):
                    continue
                m = re.fullmatch(r"([A-Za-z0-9_.-]+)\\s*(.*)", line)
                assert m, f"bad requirement line {{raw!r}} in {{path}}"
                name = m.group(1).lower().replace("_", "-")
                assert name not in reqs, f"{{name}} listed twice in {{path}}"
                reqs[name] = m.group(2).replace(" ", "")
            return reqs, lines
        main, _ = parse("requirements.txt")
        assert main == {want_main!r}, main
        assert pathlib.Path({dev_name!r}).is_file(), "{dev_name} missing"
        dev, lines = parse({dev_name!r})
        assert lines and lines[0].split() == ["-r", "requirements.txt"], lines
        assert dev == {want_dev!r}, dev
        ''')
    return TaskDraft(instruction=wrap(q), files={"requirements.txt": text}, check=chk, tags=["requirements", "pip", "multi-file"], steps=[
        step("read_file", path="requirements.txt"),
        step("write_file", path="requirements.txt", content="\n".join(new_main) + "\n"),
        step("write_file", path=dev_name, content="-r requirements.txt\n" + "".join(t + v + "\n" for t, v in tests)),
        step("run", command=f"cat requirements.txt {dev_name}"),
        submit(f"Pinned {pins}; {tnames} moved to {dev_name}; {drop} removed."),
    ])


def _l3_env_files(rng: random.Random) -> TaskDraft:
    envs = one(rng, [["development", "staging", "production"], ["dev", "test", "prod"], ["local", "preview", "live"]])
    folder = one(rng, ["env", "deploy", "envs"])
    new_key, new_vals = one(rng, [("LOG_FORMAT", ["text", "json", "json"]), ("CACHE_BACKEND", ["memory", "redis", "redis"]),
                                  ("WORKERS", ["1", "2", "8"])])
    remove = one(rng, ["LEGACY_API", "OLD_FEATURE_FLAG", "DEPRECATED_URL"])
    change_key, change_val = one(rng, [("DB_POOL", "30"), ("SESSION_TTL", "7200"), ("RATE_LIMIT", "600")])
    files, want = {}, {}
    for i, env in enumerate(envs):
        d = {"APP_ENV": env, "PORT": str(8000 + i), change_key: one(rng, ["10", "15"]) if change_key != "SESSION_TTL" else "3600",
             remove: "1", "SECRET_KEY": f"change-me-{env}"}
        files[f"{folder}/{env}.env"] = f"# {env} settings\n" + "".join(f"{k}={v}\n" for k, v in d.items())
        w = {k: v for k, v in d.items() if k != remove}
        w[new_key] = new_vals[i]
        if i == len(envs) - 1:
            w[change_key] = change_val
        want[env] = w
    q = one(rng, [
        f"""Update the env files in {folder}/ ({', '.join(e + '.env' for e in envs)}):
        - add {new_key} to each: {', '.join(f'{v} for {e}' for e, v in zip(envs, new_vals))};
        - {remove} is gone from the code, remove that line everywhere;
        - in {envs[-1]} only, set {change_key}={change_val}.
        Keep every other variable as it is.""",
        f"""Three changes across {folder}/*.env: delete {remove} from all of them; introduce {new_key} (value
        {new_vals[0]} in {envs[0]}, {new_vals[1]} in {envs[1]}, {new_vals[2]} in {envs[2]}); and raise {change_key} to
        {change_val} for {envs[-1]}. Nothing else may change.""",
    ])
    cmds = [f"sed -i '/^{remove}=/d' {folder}/*.env"]
    cmds += [f"echo '{new_key}={v}' >> {folder}/{e}.env" for e, v in zip(envs, new_vals)]
    cmds.append(f"sed -i 's/^{change_key}=.*/{change_key}={change_val}/' {folder}/{envs[-1]}.env")
    asserts = "\n".join(f"assert load_env('{folder}/{e}.env') == {want[e]!r}, load_env('{folder}/{e}.env')" for e in envs)
    chk = check(_ENV_CHECK, asserts)
    return TaskDraft(instruction=wrap(q), files=files, check=chk, tags=["env", "multi-file"], steps=[
        step("run", command=f"head -n 20 {folder}/*.env"),
        step("run", command=" && ".join(cmds)),
        step("run", command=f"cat {folder}/*.env"),
        submit(f"Removed {remove}, added {new_key} per environment, {envs[-1]} {change_key}={change_val}."),
    ])


_SCENARIOS = {
    1: [_l1_ini_value, _l1_ignore_file, _l1_json_field, _l1_version_bump, _l1_env_var, _l1_pin],
    2: [_l2_fix_value, _l2_fix_value, _l2_docs_option],
    3: [_l3_rename_key, _l3_json_migrate, _l3_package_json, _l3_pyproject, _l3_requirements, _l3_env_files],
}


def generate(rng: random.Random, level: int) -> TaskDraft:
    return one(rng, _SCENARIOS[level])(rng)
