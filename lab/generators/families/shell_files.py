"""shell-files (out of distribution: no seed demonstration): organise, count and archive files from the shell.

Level 1: one command (move or delete files by pattern, count files, find the file holding a string, a size).
Level 2: a small bash script written and run; the checker reruns it on a changed copy of the tree.
Level 3: multi-step file work (a filtered tarball, a checksum index, duplicate removal with a report, a size
ranking, a line-count manifest, pattern renames, sorting into folders)."""

from __future__ import annotations

import hashlib
import random

from lab.generators import TaskDraft
from lab.generators.families._ops import RUN_IN_TMP, ANSWER_NUMBERS, check, dd, intro, one, some, step, submit, wrap

FAMILY = "shell-files"
LEVELS = (1, 2, 3)

_OPENERS = [
    "", "", "Disk housekeeping time.", "I'm cleaning up before handing this machine over.", "Small shell job, please.",
    "The project folder has grown messy.", "Before the weekly sync runs,", "Quick filesystem chore for you:",
]

_WORDS = ["alpha", "budget", "cobalt", "draft", "ember", "final", "garden", "harbor", "index", "jungle", "kiosk",
          "lemon", "meadow", "notes", "orbit", "pixel", "quartz", "river", "summer", "tiger", "umbra", "vista"]


def _body(rng: random.Random, ext: str) -> str:
    n = rng.randint(1, 6)
    if ext in ("log",):
        return "".join(f"2024-06-0{rng.randint(1, 9)} 10:0{i}:00 {one(rng, ['INFO', 'WARN', 'ERROR'])} {one(rng, _WORDS)} event\n" for i in range(n))
    if ext in ("csv",):
        return "a,b\n" + "".join(f"{rng.randint(0, 99)},{rng.randint(0, 99)}\n" for _ in range(n))
    if ext in ("py",):
        return "".join(f"def f{i}():\n    return {rng.randint(0, 99)}\n" for i in range(n))
    return "".join(f"{one(rng, _WORDS)} {one(rng, _WORDS)} {rng.randint(0, 999)}\n" for _ in range(n))


def _tree(rng: random.Random, root: str, exts, n: int, depth: bool = True) -> dict[str, str]:
    files = {}
    subs = ["", "", "old/", "2024/", "misc/", "deep/er/"] if depth else [""]
    while len(files) < n:
        ext = one(rng, exts)
        path = f"{root}{one(rng, subs)}{one(rng, _WORDS)}{rng.randint(1, 99) if rng.random() < 0.4 else ''}.{ext}"
        files.setdefault(path, _body(rng, ext))
    return dict(sorted(files.items()))


_TREE_CHECK = '''
import pathlib
def tree(root):
    root = pathlib.Path(root)
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}
'''

# ----------------------------------------------------------------------------------------------- level 1


def _l1_move(rng: random.Random) -> TaskDraft:
    ext = one(rng, ["log", "csv", "txt", "md"])
    dest = one(rng, {"log": ["archive", "old_logs", "logs"], "csv": ["data", "exports"], "txt": ["notes", "text"],
                     "md": ["docs", "wiki"]}[ext])
    files = _tree(rng, "", [ext], rng.randint(3, 5), depth=False)
    others = _tree(rng, "", [e for e in ["log", "csv", "txt", "md", "py", "json"] if e != ext], rng.randint(2, 4), depth=False)
    others.update({f"scripts/{one(rng, _WORDS)}.{ext}": _body(rng, ext)})
    allf = {**others, **files}
    q = one(rng, [f"Gather the top-level *.{ext} files into {dest}/ (it doesn't exist yet); other files and subfolders stay where they are.",
                  f"The root directory is cluttered with .{ext} files. Relocate exactly those (not the ones in subfolders) to a fresh {dest}/ directory.",
                  f"Please put the root-level .{ext} files into a folder {dest}/; don't move anything else."])
    want = {**{k: v for k, v in allf.items() if k not in files}, **{f"{dest}/{k}": v for k, v in files.items()}}
    chk = check(_TREE_CHECK, f'''
        got = tree(".")
        want = {want!r}
        assert got == want, sorted(set(got) ^ set(want))
        ''')
    return TaskDraft(instruction=wrap(q), files=allf, check=chk, tags=["shell", "mkdir", "mv"], steps=[
        step("run", command=f"mkdir -p {dest} && mv *.{ext} {dest}/ && ls -R"),
        submit(f"Moved {', '.join(sorted(files))} into {dest}/."),
    ])


def _l1_delete(rng: random.Random) -> TaskDraft:
    pat, desc = one(rng, [("*.tmp", ".tmp files"), ("*~", "editor backup files ending in ~"), ("*.pyc", "compiled .pyc files"),
                          (".DS_Store", ".DS_Store files"), ("*.bak", ".bak backups")])
    root = one(rng, ["project/", "site/", "repo/"])
    keep = _tree(rng, root, ["py", "txt", "md", "csv"], rng.randint(4, 7))
    junk = {}
    for k in some(rng, list(keep), min(3, len(keep))):
        base = k.rsplit("/", 1)[0] + "/"
        name = {"*.tmp": k + ".tmp", "*~": k + "~", "*.pyc": k.rsplit(".", 1)[0] + ".pyc", ".DS_Store": base + ".DS_Store",
                "*.bak": k + ".bak"}[pat]
        junk[name] = "junk\n"
    keep[root + "README.bak.md" if pat == "*.bak" else root + "tmp_notes.txt"] = "keep me\n"
    q = one(rng, [f"Delete all {desc} anywhere under {root} (subfolders included). Nothing else may be removed.",
                  f"Clean {root}: remove every file matching `{pat}` at any depth, and only those.",
                  f"There are {desc} scattered through {root}. Get rid of them all; keep every other file."])
    chk = check(_TREE_CHECK, f'''
        got = tree({root!r})
        want = {{k[len({root!r}):]: v for k, v in {keep!r}.items()}}
        assert got == want, sorted(set(got) ^ set(want))
        ''')
    return TaskDraft(instruction=wrap(q), files={**keep, **junk}, check=chk, tags=["shell", "find", "rm"], steps=[
        step("run", command=f"find {root} -type f -name '{pat}' -print -delete"),
        submit(f"Deleted {len(junk)} {desc} under {root}."),
    ])


def _l1_count(rng: random.Random) -> TaskDraft:
    ext = one(rng, ["csv", "md", "json", "txt", "yaml"])
    root = one(rng, ["data/", "docs/", "assets/", "share/"])
    inside = _tree(rng, root, [ext, ext, "txt" if ext != "txt" else "md", "cfg"], rng.randint(6, 10))
    inside[f"{root}extra/{one(rng, _WORDS)}.{ext}.bak"] = "old\n"
    outside = _tree(rng, "other/", [ext], rng.randint(1, 3))
    n = sum(1 for k in inside if k.endswith("." + ext))
    total = n + len(outside)
    q = one(rng, [f"Tell me the number of *.{ext} files in {root} including nested directories (only that folder).",
                  f"Count the files ending in .{ext} anywhere inside {root} and tell me the count.",
                  f"Recursively, what's the {ext.upper()} file count inside {root}?"])
    chk = check(ANSWER_NUMBERS, f'''
        assert "{n}" in NUMBERS, f"expected {n} in the answer, got {{ANSWER!r}}"
        assert "{total}" not in NUMBERS or {total == n!r}, "that counts files outside {root} too"
        ''')
    return TaskDraft(instruction=wrap(q), files={**inside, **outside}, check=chk, tags=["shell", "find", "question"], steps=[
        step("run", command=f"find {root} -type f -name '*.{ext}' | wc -l"),
        submit(f"There are {n} .{ext} files under {root}."),
    ])


def _l1_which_file(rng: random.Random) -> TaskDraft:
    root = one(rng, ["notes/", "configs/", "letters/", "src/"])
    files = _tree(rng, root, ["txt", "md", "cfg"], rng.randint(5, 8))
    needle = one(rng, ["invoice 4471", "API_TOKEN_v2", "meet at the old pier", "sha256:9f2c", "Project Bluebird"])
    target = one(rng, sorted(files))
    files[target] += f"reminder: {needle}\n"
    q = one(rng, [f"Which file under {root} mentions \"{needle}\"? Give me its path.",
                  f"Somewhere in {root} there's a file containing the text `{needle}`. Find it and tell me which one.",
                  f"Search {root} for \"{needle}\" and report the file name."])
    name = target.rsplit("/", 1)[-1]
    chk = check(f'assert {name!r} in ANSWER, f"expected {target} in the answer, got {{ANSWER!r}}"')
    return TaskDraft(instruction=wrap(q), files=files, check=chk, tags=["shell", "grep", "question"], steps=[
        step("run", command=f"grep -rl '{needle}' {root}"),
        submit(f"{target} contains \"{needle}\"."),
    ])


def _l1_size(rng: random.Random) -> TaskDraft:
    root = one(rng, ["photos/", "uploads/", "build/"])
    files = {}
    for i, size in enumerate(some(rng, range(10, 4000), rng.randint(4, 6))):
        files[f"{root}{one(rng, _WORDS)}{i}.{one(rng, ['bin', 'dat', 'txt'])}"] = "x" * size + "\n"
    kind = one(rng, ["total", "largest"])
    if kind == "total":
        want = sum(len(v.encode()) for v in files.values())
        q = one(rng, [f"What is the total size in bytes of all the files in {root}?",
                      f"Add up the sizes of the files inside {root}: how many bytes is that?"])
        cmd = f"cat {root}* | wc -c"
        chk = check(ANSWER_NUMBERS, f'assert "{want}" in NUMBERS, f"expected {want} bytes, got {{ANSWER!r}}"')
        ans = f"{root} holds {want} bytes."
    else:
        big = max(files, key=lambda k: len(files[k]))
        want = big.rsplit("/", 1)[-1]
        q = one(rng, [f"Which file in {root} is the largest? Tell me its name.",
                      f"Find the biggest file in {root} (by bytes) and name it."])
        cmd = f"ls -S {root} | head -n 1"
        others = [k.rsplit("/", 1)[-1] for k in files if k != big]
        chk = check(f'assert {want!r} in ANSWER and not any(o in ANSWER for o in {others!r}), f"expected {want}: {{ANSWER!r}}"')
        ans = f"The largest file is {want}."
    return TaskDraft(instruction=wrap(q), files=files, check=chk, tags=["shell", "sizes", "question"], steps=[
        step("run", command=cmd),
        submit(ans),
    ])


# ----------------------------------------------------------------------------------------------- level 2


def _l2_script(rng: random.Random) -> TaskDraft:
    kind = one(rng, ["lines", "count_ext", "biggest", "concat", "words"])
    folder = one(rng, ["reports", "journal", "drafts", "minutes"])
    ext = one(rng, ["md", "log", "rst"])
    script = one(rng, {"lines": ["linesum.sh", "tally.sh"], "count_ext": ["filecount.sh", "how_many.sh"],
                       "biggest": ["biggest.sh", "largest.sh"], "concat": ["combine.sh", "merge.sh"],
                       "words": ["word_count.sh", "words.sh"]}[kind])
    files = _tree(rng, folder + "/", [ext], rng.randint(3, 5), depth=False)
    files[f"{folder}/readme.{'cfg' if ext != 'cfg' else 'ini'}"] = "ignore\nthis\nfile\n"
    mod_add = {f"{folder}/zz_extra.{ext}": "one\ntwo three\nfour\nfive six seven\n"}
    mod_del = sorted(k for k in files if k.endswith("." + ext))[0]

    def result(fs):
        sel = {k: v for k, v in sorted(fs.items()) if k.startswith(folder + "/") and k.endswith("." + ext) and "/" not in k[len(folder) + 1:]}
        if kind == "lines":
            return str(sum(v.count("\n") for v in sel.values()))
        if kind == "words":
            return str(sum(len(v.split()) for v in sel.values()))
        if kind == "count_ext":
            return str(len(sel))
        if kind == "biggest":
            return max(sel, key=lambda k: (len(sel[k].encode()), k)).rsplit("/", 1)[-1]
        return "".join(sel.values())

    def result_locale(fs):  # `sort` under a non-C locale ignores punctuation
        sel = {k: v for k, v in fs.items() if k.startswith(folder + "/") and k.endswith("." + ext) and "/" not in k[len(folder) + 1:]}
        return "".join(sel[k] for k in sorted(sel, key=lambda k: ("".join(c for c in k.lower() if c.isalnum()), k)))

    sizes = sorted(len(v) for k, v in files.items() if k.endswith("." + ext))
    if kind == "biggest" and len(sizes) > 1 and sizes[-1] == sizes[-2]:
        big = max((k for k in files if k.endswith("." + ext)), key=lambda k: len(files[k]))
        files[big] += "padding line\n"
    changed = {k: v for k, v in files.items() if k != mod_del}
    changed.update(mod_add)
    if kind == "biggest":
        changed[f"{folder}/zz_extra.{ext}"] = "y" * 5000 + "\n"
    out_file = f"{folder}_all.{ext}" if kind == "concat" else None
    what = {"lines": f"report the combined line count of {folder}/*.{ext} as a bare number",
            "words": f"report how many words the {folder}/*.{ext} documents contain together, as a bare number",
            "count_ext": f"report, as a bare number, how many {folder}/*.{ext} entries exist (top level of {folder}/ only)",
            "biggest": f"report the name of the largest .{ext} file in {folder}/ (by size in bytes; just the file name)",
            "concat": f"write {out_file} containing all the .{ext} files of {folder}/ concatenated in alphabetical order"}[kind]
    q = one(rng, [
        f"Put a small bash program in {script}; its job: {what}. Execute it via `bash {script}` to show it works.",
        f"I need a reusable shell script {script}: it should {what}. Run it once with bash.",
        f"I keep checking this by hand. Automate it as {script} (bash): {what}. It should stay correct as the folder changes. Run it once.",
    ])
    code = {"lines": f"#!/bin/bash\ncat {folder}/*.{ext} | wc -l\n",
            "words": f"#!/bin/bash\ncat {folder}/*.{ext} | wc -w\n",
            "count_ext": f"#!/bin/bash\nls {folder}/*.{ext} | wc -l\n",
            "biggest": f"#!/bin/bash\nls -S {folder}/*.{ext} | head -n 1 | xargs basename\n",
            "concat": f"#!/bin/bash\ncat $(ls {folder}/*.{ext} | LC_ALL=C sort) > {out_file}\n"}[kind]
    if kind == "concat":
        chk = check(RUN_IN_TMP, f'''
            assert open({out_file!r}, encoding="utf-8").read() in ({result(files)!r}, {result_locale(files)!r}), "{out_file} is wrong"
            proc, got = run_in_tmp([{script!r}], {changed!r}, ["bash", {script!r}], read=[{out_file!r}])
            assert proc.returncode == 0, proc.stderr
            assert got[{out_file!r}] in ({result(changed)!r}, {result_locale(changed)!r}), "on a changed folder the script gave the wrong file"
            ''')
        ans = f"{script} wrote {out_file}."
    else:
        chk = check(RUN_IN_TMP, f'''
            proc = subprocess.run(["bash", {script!r}], capture_output=True, text=True, timeout=30)
            assert proc.returncode == 0, proc.stderr
            assert proc.stdout.strip() == {result(files)!r}, f"expected {result(files)}, the script printed {{proc.stdout!r}}"
            proc, _ = run_in_tmp([{script!r}], {changed!r}, ["bash", {script!r}])
            assert proc.returncode == 0, proc.stderr
            assert proc.stdout.strip() == {result(changed)!r}, f"on a changed folder expected {result(changed)}, got {{proc.stdout!r}}"
            ''')
        ans = f"{script} prints {result(files)}."
    return TaskDraft(instruction=intro(rng, _OPENERS, q), files=files, check=chk, tags=["shell", "script", kind], steps=[
        step("write_file", path=script, content=code),
        step("run", command=f"bash {script}"),
        submit(ans),
    ])


def _l2_copy_backup(rng: random.Random) -> TaskDraft:
    ext = one(rng, ["csv", "json", "cfg"])
    src = one(rng, ["data", "config", "exports"])
    dst = one(rng, ["backup", "snapshot", "bak"])
    suffix = one(rng, [".bak", ".orig", ""])
    script = one(rng, ["backup.sh", "snapshot.sh", "save.sh"])
    files = _tree(rng, src + "/", [ext, ext, "txt"], rng.randint(4, 6), depth=False)
    sel = {k: v for k, v in files.items() if k.endswith("." + ext)}
    want = {f"{dst}/{k.split('/')[-1]}{suffix}": v for k, v in sel.items()}
    q = one(rng, [
        f"Write {script}, a bash script that copies every .{ext} file from {src}/ into {dst}/ (creating it if needed), "
        f"{'appending ' + repr(suffix) + ' to each name' if suffix else 'keeping the names'}. Run it.",
        f"Make a shell script {script} to back up the .{ext} files of {src}/: copies go to {dst}/ "
        f"{'as NAME' + suffix if suffix else 'under the same names'}; other files are not copied. Run it once.",
    ])
    code = f"#!/bin/bash\nmkdir -p {dst}\nfor f in {src}/*.{ext}; do\n    cp \"$f\" \"{dst}/$(basename \"$f\"){suffix}\"\ndone\n"
    changed = dict(files)
    changed[f"{src}/new_one.{ext}"] = "fresh\n"
    want2 = {**want, f"{dst}/new_one.{ext}{suffix}": "fresh\n"}
    chk = check(_TREE_CHECK, RUN_IN_TMP, f'''
        assert tree({dst!r}) == {{k[len({dst!r}) + 1:]: v for k, v in {want!r}.items()}}, tree({dst!r})
        assert tree({src!r}) == {{k[len({src!r}) + 1:]: v for k, v in {files!r}.items()}}, "{src}/ changed"
        proc, got = run_in_tmp([{script!r}], {changed!r}, ["bash", {script!r}], read=list({want2!r}))
        assert proc.returncode == 0, proc.stderr
        assert got == {want2!r}, got
        ''')
    return TaskDraft(instruction=intro(rng, _OPENERS, q), files=files, check=chk, tags=["shell", "script", "cp"], steps=[
        step("write_file", path=script, content=code),
        step("run", command=f"bash {script} && ls {dst}"),
        submit(f"{script} copied {len(want)} .{ext} files into {dst}/."),
    ])


# ----------------------------------------------------------------------------------------------- level 3


def _l3_tarball(rng: random.Random) -> TaskDraft:
    root = one(rng, ["site", "project", "app"])
    name = one(rng, ["backup.tar.gz", f"{root}-backup.tar.gz", "snapshot.tgz"])
    ex_ext = one(rng, ["log", "tmp"])
    ex_dir = one(rng, ["cache", "node_modules", "tmp"])
    files = _tree(rng, root + "/", ["html", "css", "txt", "md"], rng.randint(4, 6))
    files[f"{root}/.htaccess"] = "Options -Indexes\n"
    junk = {f"{root}/access.{ex_ext}": "junk\n", f"{root}/old/error.{ex_ext}": "junk\n",
            f"{root}/{ex_dir}/page.html": "cached\n", f"{root}/{ex_dir}/deep/x.txt": "cached\n"}
    allf = {**files, **junk}
    q = one(rng, [
        f"""I'm moving {root}/ to another host. Pack it as {name}, a gzipped tarball at the top level whose entries are named
        {root}/..., but skip the {root}/{ex_dir}/ tree and all *.{ex_ext} files at every level. The source folder stays as it is.""",
        f"""Archive {root}/ into {name} (tar + gzip). Leave out every .{ex_ext} file wherever it is and the whole {ex_dir}/
        folder at the top of {root}/; hidden files are included. Paths in the archive look like {root}/... and the originals
        stay where they are.""",
    ])
    chk = check(_TREE_CHECK, f'''
        import tarfile
        p = pathlib.Path({name!r})
        assert p.is_file(), "{name} missing"
        assert p.read_bytes()[:2] == b"\\x1f\\x8b", "not gzip-compressed"
        members = {{}}
        with tarfile.open(p, "r:gz") as tar:
            for m in tar.getmembers():
                if m.isfile():
                    n = m.name[2:] if m.name.startswith("./") else m.name
                    members[n] = tar.extractfile(m).read().decode()
        assert members == {files!r}, sorted(members)
        assert tree({root!r}) == {{k[len({root!r}) + 1:]: v for k, v in {allf!r}.items()}}, "{root}/ was changed"
        ''')
    return TaskDraft(instruction=intro(rng, _OPENERS, q), files=allf, check=chk, tags=["shell", "tar", "archive"], steps=[
        step("run", command=f"find {root} -type f | sort"),
        step("run", command=f"tar -czf {name} --exclude='*.{ex_ext}' --exclude='{root}/{ex_dir}' {root} && tar -tzf {name} | sort"),
        submit(f"{name} holds {root}/ without *.{ex_ext} and {root}/{ex_dir}/ ({len(files)} files)."),
    ])


def _l3_checksums(rng: random.Random) -> TaskDraft:
    algo = one(rng, ["sha256", "md5", "sha1"])
    root = one(rng, ["artifacts", "release", "dataset"])
    index = {"sha256": "SHA256SUMS", "md5": "MD5SUMS", "sha1": "SHA1SUMS"}[algo]
    files = _tree(rng, root + "/", ["csv", "txt", "json"], rng.randint(4, 6))
    files[f"{root}/.manifest"] = "source=export\n"
    files[f"{root}/raw dumps/part 1.txt"] = "first part\n"
    files["scripts/export.sh"] = "#!/bin/sh\necho export\n"
    want = {k: getattr(hashlib, algo)(v.encode()).hexdigest() for k, v in files.items() if k.startswith(root + "/")}
    q = one(rng, [
        f"""Consumers of {root}/ want to verify their download. Generate {index} at the top of the workspace with one
        `{algo}sum`-style line (digest, two spaces, path) per file anywhere under {root}/, dot-files included; paths start with
        {root}/ and the lines are ordered by path. `{algo}sum -c {index}` must succeed.""",
        f"""Integrity manifest needed: {index} should hold the {algo} of every file beneath {root}/ (hidden names and names
        with blanks too), exactly as `{algo}sum` prints them, keyed by {root}/... paths in sorted order, so that
        `{algo}sum -c {index}` reports everything OK.""",
    ])
    chk = check(f'''
        import hashlib, pathlib, subprocess
        p = pathlib.Path({index!r})
        assert p.is_file(), "{index} missing"
        entries = []
        for line in p.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            digest, sep, path = line.partition("  ")
            assert sep, f"bad line {{line!r}}"
            path = path.lstrip("*")
            if path.startswith("./"):
                path = path[2:]
            entries.append((path, digest.lower()))
        paths = [e[0] for e in entries]
        assert paths == sorted(paths), f"not sorted: {{paths}}"
        assert dict(entries) == {want!r} and len(entries) == {len(want)}, entries
        r = subprocess.run(["{algo}sum", "-c", {index!r}], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
        ''')
    return TaskDraft(instruction=intro(rng, _OPENERS, q), files=files, check=chk, tags=["shell", f"{algo}sum", "index"], steps=[
        step("run", command=f"find {root} -type f | sort"),
        step("run", command=f"find {root} -type f -print0 | LC_ALL=C sort -z | xargs -0 {algo}sum > {index} && cat {index} && {algo}sum -c {index}"),
        submit(f"{index} covers all {len(want)} files under {root}/; {algo}sum -c passes."),
    ])


def _l3_dedupe(rng: random.Random) -> TaskDraft:
    root = one(rng, ["camera_roll", "photos", "shared"])
    report = one(rng, ["removed.txt", "deleted.txt", "duplicates.txt"])
    rule = one(rng, ["shortest", "alpha"])
    files = {}
    groups = []
    for g in range(rng.randint(3, 4)):
        content = f"{one(rng, _WORDS)} {one(rng, _WORDS)} content {g}\n"
        names, want_n = [], rng.randint(2, 3)
        while len(names) < want_n:
            n = one(rng, ["", "", "old/", "copies/"]) + one(rng, _WORDS) + one(rng, ["", " (1)", "-copy", "2"]) + ".dat"
            if n not in names and f"{root}/{n}" not in files:
                names.append(n)
        names = sorted(names)
        for n in names:
            files[f"{root}/{n}"] = content
        groups.append(names)
    for i in range(2):
        files[f"{root}/unique{i}.dat"] = f"only me {i}\n"
    removed = []
    for names in groups:
        names = [n for n in names if files.get(f"{root}/{n}")]
        key = (lambda p: (len(p), p)) if rule == "shortest" else (lambda p: p)
        ordered = sorted(names, key=key)
        removed += ordered[1:]
    removed = sorted(removed)
    keep = {k: v for k, v in files.items() if k[len(root) + 1:] not in removed}
    rule_text = ("the one with the shortest path relative to {r}/, and if several are equally short, the alphabetically first"
                 if rule == "shortest" else "the one whose path relative to {r}/ sorts first alphabetically").format(r=root)
    q = one(rng, [
        f"""Syncing twice left {root}/ with identical copies of the same files, some in subfolders. Wherever two or more
        files have exactly the same bytes, preserve {rule_text} and delete the others. Record each deleted path (relative
        to {root}/) in {report}, sorted, one per line.""",
        f"""Free some space in {root}/: identical-content files (anywhere in the tree) are redundant. Of each such set,
        {rule_text} remains; the rest are deleted and named in {report}, sorted, one path (relative to {root}/) per line.
        Unique files stay.""",
    ])
    key_code = "(len(p), p)" if rule == "shortest" else "p"
    code = dd(f"""
        import hashlib
        import pathlib

        root = pathlib.Path({root!r})
        groups = {{}}
        for path in root.rglob("*"):
            if path.is_file():
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                groups.setdefault(digest, []).append(str(path.relative_to(root)))

        removed = []
        for paths in groups.values():
            paths.sort(key=lambda p: {key_code})
            for extra in paths[1:]:
                (root / extra).unlink()
                removed.append(extra)

        with open({report!r}, "w") as f:
            f.write("".join(p + "\\n" for p in sorted(removed)))
        """)
    chk = check(_TREE_CHECK, f'''
        assert tree({root!r}) == {{k[len({root!r}) + 1:]: v for k, v in {keep!r}.items()}}, sorted(tree({root!r}))
        r = pathlib.Path({report!r})
        assert r.is_file(), "{report} missing"
        lines = [l.strip() for l in r.read_text().splitlines() if l.strip()]
        lines = [l[len("{root}/"):] if l.startswith("{root}/") else l for l in lines]
        assert lines == {removed!r}, lines
        ''')
    return TaskDraft(instruction=intro(rng, _OPENERS, q), files=files, check=chk, tags=["shell", "duplicates", "hashing"], steps=[
        step("run", command=f"cd {root} && find . -type f -exec sha256sum {{}} + | sort"),
        step("write_file", path="dedupe.py", content=code),
        step("run", command=f"python dedupe.py && cat {report} && find {root} -type f | sort"),
        submit(f"Removed {len(removed)} duplicates; {report} lists them."),
    ])


def _l3_largest(rng: random.Random) -> TaskDraft:
    root = one(rng, ["repo", "workspace_data", "home"])
    out = one(rng, ["largest.txt", "top_files.txt", "biggest.txt"])
    k = rng.randint(3, 5)
    files = {}
    sizes = some(rng, range(20, 3000), 9)
    for i, size in enumerate(sizes):
        path = f"{root}/{one(rng, ['', 'src/', 'data/', '.cache/', 'docs/'])}{one(rng, _WORDS)}{i}.{one(rng, ['txt', 'csv', 'json'])}"
        files[path] = ("z" * (size - 1)) + "\n"
    files[f"{root}/.env"] = "SECRET=x\n"
    ranked = sorted(((len(v), p[len(root) + 1:]) for p, v in files.items()), key=lambda t: (-t[0], t[1]))[:k]
    q = one(rng, [
        f"""The quota on {root}/ is nearly full. Produce {out} naming the {k} heaviest files in the whole tree (dot-folders
        count too) from biggest down, one per line in the form `<bytes> <path below {root}/>`, e.g. `2048 data/x.csv`.""",
        f"""Rank everything stored under {root}/ by byte count (hidden entries too) and keep the first {k} in {out}:
        `<bytes> <path relative to {root}/>` per line, descending.""",
    ])
    chk = check(f'''
        import pathlib
        p = pathlib.Path({out!r})
        assert p.is_file(), "{out} missing"
        got = []
        for line in p.read_text().splitlines():
            if line.strip():
                size, path = line.split(None, 1)
                path = path.strip()
                got.append((int(size), path[2:] if path.startswith("./") else path))
        assert got == {ranked!r}, got
        ''')
    return TaskDraft(instruction=intro(rng, _OPENERS, q), files=files, check=chk, tags=["shell", "find", "sizes"], steps=[
        step("run", command=f"cd {root} && find . -type f -printf '%s %P\\n' | sort -rn | head -n {k} > ../{out}; cat ../{out}"),
        submit(f"{out} lists the {k} largest files under {root}/."),
    ])


def _l3_rename(rng: random.Random) -> TaskDraft:
    folder = one(rng, ["receipts", "photos", "invoices"])
    stem = {"receipts": "receipt", "photos": "img", "invoices": "invoice"}[folder]
    pad = rng.randint(3, 4)
    nums = some(rng, range(1, 300), rng.randint(4, 6))
    files, want = {}, {}
    for n in nums:
        ext = one(rng, ["png", "PNG", "jpg", "JPG", "pdf"])
        name = f"{one(rng, [stem.capitalize(), stem, stem.upper()])} {n}.{ext}"
        content = f"{stem} number {n}\n"
        files[f"{folder}/{name}"] = content
        want[f"{stem}_{n:0{pad}d}.{ext.lower()}"] = content
    for extra in ["notes.txt", f"{stem.capitalize()} template.png"]:
        files[f"{folder}/{extra}"] = "leave me\n"
        want[extra] = "leave me\n"
    q = one(rng, [
        f"""File names in {folder}/ such as "{stem.capitalize()} 3.PNG" sort badly and contain spaces. Give each file of the
        form "<{stem}> <number>.<ext>" (letter case varies) the name {stem}_<number with {pad} digits, zero-padded>.<ext in
        lowercase>; for example "{stem.upper()} 3.PNG" becomes "{stem}_{3:0{pad}d}.png". Don't rename anything else.""",
        f"""Normalise the names in {folder}/: "<{stem}> <number>.<ext>" in any capitalisation becomes
        {stem}_<number padded to {pad} digits>.<lowercase ext>. Anything that doesn't follow that pattern is left alone.""",
    ])
    code = dd(f"""
        import pathlib
        import re

        for path in sorted(pathlib.Path({folder!r}).iterdir()):
            m = re.fullmatch(r"{stem} (\\d+)\\.(\\w+)", path.name, re.IGNORECASE)
            if m and path.is_file():
                target = path.with_name(f"{stem}_{{int(m.group(1)):0{pad}d}}.{{m.group(2).lower()}}")
                print(f"{{path.name}} -> {{target.name}}")
                path.rename(target)
        """)
    chk = check(_TREE_CHECK, f'''
        got = tree({folder!r})
        assert got == {want!r}, sorted(got)
        ''')
    return TaskDraft(instruction=intro(rng, _OPENERS, q), files=files, check=chk, tags=["shell", "rename", "pattern"], steps=[
        step("list_files", path=folder),
        step("write_file", path="rename.py", content=code),
        step("run", command=f"python rename.py && ls {folder}"),
        submit(f"Renamed {len(nums)} files to {stem}_{'N' * pad}.<ext>; the others were left alone."),
    ])


def _l3_sort_ext(rng: random.Random) -> TaskDraft:
    folder = one(rng, ["dropzone", "Desktop", "unsorted"])
    misc = one(rng, ["misc", "other", "no_ext"])
    files = {}
    for _ in range(rng.randint(6, 9)):
        ext = one(rng, ["pdf", "PDF", "txt", "jpg", "JPG", "csv", "tar.gz", "sh"])
        files[f"{folder}/{one(rng, _WORDS)}{rng.randint(1, 9)}.{ext}"] = f"{one(rng, _WORDS)}\n"
    files[f"{folder}/README"] = "no extension\n"
    files[f"{folder}/Makefile"] = "all:\n"
    want = {}
    for k, v in files.items():
        name = k.split("/", 1)[1]
        sub = name.rsplit(".", 1)[1].lower() if "." in name else misc
        want[f"{sub}/{name}"] = v
    q = one(rng, [
        f"""My {folder}/ has no structure at all. File each of those files under a per-type subdirectory of {folder}/: the
        directory is the final suffix in small letters (Q3.PDF into pdf/, logs.tar.gz into gz/), and names without a dot
        go into {misc}/. Keep the file names unchanged; at the end {folder}/ itself contains only directories.""",
        f"""Organise {folder}/ by file type: each file moves into {folder}/<last extension, lowercased>/ keeping its name;
        extension-less files go to {folder}/{misc}/. Afterwards no file may remain directly in {folder}/.""",
    ])
    cmd = dd(f"""
        cd {folder} && for f in *; do
          [ -f "$f" ] || continue
          case "$f" in
            *.*) dir=$(echo "${{f##*.}}" | tr 'A-Z' 'a-z') ;;
            *) dir={misc} ;;
          esac
          mkdir -p "$dir" && mv "$f" "$dir/"
        done
        """)
    chk = check(_TREE_CHECK, f'''
        got = tree({folder!r})
        assert got == {want!r}, sorted(got)
        ''')
    return TaskDraft(instruction=intro(rng, _OPENERS, q), files=files, check=chk, tags=["shell", "mv", "organise"], steps=[
        step("list_files", path=folder),
        step("run", command=cmd),
        step("list_files", path=folder),
        submit(f"Sorted {len(files)} files into extension folders of {folder}/ ({misc}/ for none)."),
    ])


_SCENARIOS = {
    1: [_l1_move, _l1_delete, _l1_count, _l1_which_file, _l1_size],
    2: [_l2_script, _l2_script, _l2_copy_backup],
    3: [_l3_tarball, _l3_checksums, _l3_dedupe, _l3_largest, _l3_rename, _l3_sort_ext],
}


def generate(rng: random.Random, level: int) -> TaskDraft:
    return one(rng, _SCENARIOS[level])(rng)
