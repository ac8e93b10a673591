"""extract-json: turn semi-structured text (cards, configs, emails, logs, notes) into a JSON file of a given schema."""

from __future__ import annotations

import json
import random

from lab.generators import TaskDraft
from lab.generators.families._data import (draw, CITIES, COMPANIES, PEOPLE, dedent, json_check, lines, para, pick,
                                           step, submit)

FAMILY = "extract-json"
LEVELS = (1, 2, 3)

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November",
          "December"]


def _date(rng: random.Random) -> tuple[str, str]:
    """(ISO date, the same date written some human way)."""
    y, m, d = rng.choice([2023, 2024, 2025]), rng.randint(1, 12), rng.randint(1, 28)
    iso = f"{y}-{m:02d}-{d:02d}"
    human = pick(rng, f"{d} {MONTHS[m - 1]} {y}", f"{MONTHS[m - 1]} {d}, {y}", f"{MONTHS[m - 1][:3]} {d} {y}",
                 f"{d:02d}/{m:02d}/{y} (dd/mm/yyyy)", f"{y}/{m:02d}/{d:02d}")
    return iso, human


def _email(rng: random.Random, name: str, domain: str) -> str:
    first, last = name.lower().split()[0], name.lower().split()[-1]
    return pick(rng, f"{first}.{last}@{domain}", f"{first[0]}{last}@{domain}", f"{first}@{domain}")


def _domain(rng: random.Random, company: str) -> str:
    return company.lower().replace("& ", "").replace(" ", "").replace("&", "") + pick(rng, ".io", ".com", ".example")


def _write_steps(path: str, want, summary: str, read: str | None = None, verify: bool = True, thought: str = "") -> list:
    steps = [step("read_file", path=read)] if read else []
    steps.append(step("write_file", thought, path=path, content=json.dumps(want, indent=2, ensure_ascii=False) + "\n"))
    if verify:
        steps.append(step("run", command=f"python -m json.tool {path}"))
    steps.append(submit(summary))
    return steps


# ---------------------------------------------------------------- level 1

def l1_card(rng: random.Random) -> TaskDraft:
    name, company = rng.choice(PEOPLE), rng.choice(COMPANIES)
    dom = _domain(rng, company)
    email = _email(rng, name, dom)
    title = pick(rng, "Senior Data Engineer", "Head of Operations", "Product Designer", "Site Reliability Engineer", "Account Manager")
    phone = f"+{rng.randint(1, 49)} {rng.randint(100, 999)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}"
    layout = rng.randrange(3)
    if layout == 0:
        text = lines([name, f"{title}, {company}", email, phone, f"{rng.randint(1, 300)} Harbour Rd, {rng.choice(CITIES)}"])
    elif layout == 1:
        text = lines([company, "", f"{name} | {title}", f"t: {phone}", f"e: {email}", f"w: www.{dom}"])
    else:
        text = lines(["BEGIN:VCARD", "VERSION:3.0", f"FN:{name}", f"ORG:{company}", f"TITLE:{title}", f"TEL;TYPE=work:{phone}",
                      f"EMAIL:{email}", "END:VCARD"])
    keys = ["name", "email", "company"] + (["phone"] if rng.random() < 0.5 else [])
    full = {"name": name, "email": email, "company": company, "phone": phone}
    want = {k: full[k] for k in keys}
    src = pick(rng, "email_footer.txt", "contact.vcf" if layout == 2 else "signature.txt")
    out = pick(rng, "crm_entry.json", "person.json", "lead.json")
    instruction = pick(
        rng,
        para(f"Create {out} holding the {', '.join(keys)} of the person on {src}, each value a string."),
        para(f"Add the person in {src} to our CRM: I need {out} with exactly these string fields: {', '.join(keys)}."),
        para(f"Pull the contact details out of {src} into {out} ({', '.join(keys)}; strings, copied as written)."),
    )
    return TaskDraft(instruction=instruction, files={src: text}, check=json_check(out, want),
                     steps=_write_steps(out, want, f"{out}: {name}, {email}, {company}.", verify=False),
                     tags=["json", "contact", "create-file"])


def l1_env(rng: random.Random) -> TaskDraft:
    svc = pick(rng, "billing", "search", "notifier", "ingest", "auth")
    port = rng.choice([8000, 8080, 5000, 9090, 3000]) + rng.randint(0, 9)
    workers = rng.randint(2, 16)
    debug = rng.random() < 0.5
    host = pick(rng, "db.internal", "10.0.3.12", "postgres", "pg-primary.svc")
    kind = rng.randrange(2)
    if kind == 0:
        src = ".env"
        text = lines([f"# {svc} service", f"SERVICE_NAME={svc}", f"PORT={port}", f"WORKERS={workers}",
                      f"DEBUG={'true' if debug else 'false'}", f"DB_HOST={host}", "# LOG_LEVEL=debug"])
        keys = {"service_name": svc, "port": port, "workers": workers, "debug": debug, "db_host": host}
    else:
        src = f"{svc}.conf"
        text = lines([f"service_name = {svc}", f"port        = {port}", f"workers     = {workers}",
                      f"debug       = {'yes' if debug else 'no'}", f"db_host     = {host}", "; timeout = 30"])
        keys = {"service_name": svc, "port": port, "workers": workers, "debug": debug, "db_host": host}
    out = pick(rng, "config.json", "settings.json")
    instruction = pick(
        rng,
        para(f"Convert {src} into {out} with keys service_name (string), port (int), workers (int), debug (boolean) and db_host",
             "(string). Commented-out settings are not part of the config."),
        para(f"The deploy tool wants JSON: write {out} from {src}, lower-case keys service_name, port, workers, debug, db_host,",
             "with numbers as integers and debug as true/false."),
    )
    return TaskDraft(instruction=instruction, files={src: text}, check=json_check(out, keys),
                     steps=_write_steps(out, keys, f"{out} written from {src}.", verify=False), tags=["json", "config"])


def l1_event(rng: random.Random) -> TaskDraft:
    iso, human = _date(rng)
    city = rng.choice(CITIES)
    ev = pick(rng, "PyData meetup", "quarterly offsite", "hackathon", "user research day", "board meeting", "charity 10k run")
    host = rng.choice(PEOPLE)
    hh, mm = rng.randint(8, 19), pick(rng, 0, 15, 30, 45)
    text = pick(
        rng,
        f"Hi all,\n\nsave the date: our {ev} takes place on {human} in {city}, starting at {hh:02d}:{mm:02d}.\n"
        f"{host} is organising, ping them with questions.\n",
        f"INVITATION\n\nWhat: {ev}\nWhere: {city} (venue TBC)\nWhen: {human}, doors {hh:02d}:{mm:02d}\nHost: {host}\n",
        f"Reminder from {host}: {ev} - {city} - {human} - {hh:02d}:{mm:02d} sharp. Bring your laptop.\n",
    )
    want = {"event": ev, "date": iso, "city": city, "start": f"{hh:02d}:{mm:02d}", "organiser": host}
    src = pick(rng, "invite.txt", "announcement.txt", "message.txt")
    out = pick(rng, "event.json", "calendar_entry.json")
    instruction = pick(
        rng,
        para(f"Make a calendar entry from {src}: write {out} with event, date (YYYY-MM-DD), city, start (HH:MM) and organiser."),
        para(f"Read {src} and store the event as {out}: {{\"event\": str, \"date\": \"YYYY-MM-DD\", \"city\": str, \"start\": \"HH:MM\",",
             '"organiser": str}.'),
    )
    check = json_check(out, want).replace("same(got, WANT", "got['event'] = got.get('event', '').lower(); WANT['event'] = WANT['event'].lower()\nsame(got, WANT")
    return TaskDraft(instruction=instruction, files={src: text}, check=check,
                     steps=_write_steps(out, want, f"{out}: {ev} on {iso} in {city}.", verify=False), tags=["json", "dates"])


def l1_receipt(rng: random.Random) -> TaskDraft:
    store = pick(rng, "Green Grocer", "Hardware Hub", "Book Nook", "Café Lume", "PetPal")
    iso, human = _date(rng)
    items = [(pick(rng, "apples", "milk", "bread", "screws", "paint", "novel", "coffee", "dog food", "tape", "rice"),
              round(rng.uniform(0.5, 30), 2)) for _ in range(rng.randint(2, 5))]
    total = round(sum(p for _, p in items), 2)
    cur = pick(rng, "EUR", "GBP", "USD")
    sym = {"EUR": "€", "GBP": "£", "USD": "$"}[cur]
    text = lines([store.upper(), f"Date: {human}", "-" * 24] + [f"{n:<14}{sym}{p:>8.2f}" for n, p in items]
                 + ["-" * 24, f"{'TOTAL':<14}{sym}{total:>8.2f}", f"Paid by card ({cur})", "Thank you!"])
    want = {"store": store, "date": iso, "currency": cur, "total": total, "items": len(items)}
    out = pick(rng, "receipt.json", "expense.json")
    instruction = pick(
        rng,
        para(f"File this expense: from receipt.txt write {out} with store (string), date (YYYY-MM-DD), currency (ISO code),",
             "total (number, no symbol) and items (how many lines were bought, an integer)."),
        para(f"Digitise receipt.txt into {out}: keys store, date as YYYY-MM-DD, currency code like EUR, total as a plain number",
             "and items, the count of purchased lines."),
    )
    check = json_check(out, want, 0.0051).replace("same(got, WANT", "got['store'] = str(got.get('store', '')).title(); WANT['store'] = WANT['store'].title()\nsame(got, WANT")
    return TaskDraft(instruction=instruction, files={"receipt.txt": text}, check=check,
                     steps=_write_steps(out, want, f"{out}: {store}, {total} {cur}.", verify=False), tags=["json", "receipt"])


def l1_citation(rng: random.Random) -> TaskDraft:
    authors = rng.sample(PEOPLE, rng.randint(1, 3))
    title = pick(rng, "Scaling Laws for Tabular Models", "On the Robustness of Small Agents", "A Survey of Log Parsing",
                 "Efficient Retrieval with Sparse Codes", "Lessons from a Decade of Feature Stores", "Learning to Rank Bug Reports")
    year = rng.randint(2015, 2024)
    venue = pick(rng, "NeurIPS", "ICML", "ACL", "KDD", "ICSE", "VLDB")
    surname_first = [f"{a.split()[1]}, {a.split()[0][0]}." for a in authors]
    style = rng.randrange(2)
    if style == 0:
        text = f"{'; '.join(surname_first)} ({year}). {title}. In Proceedings of {venue}.\n"
    else:
        key = authors[0].split()[1].lower() + str(year)
        text = (f"@inproceedings{{{key},\n  title = {{{title}}},\n  author = {{{' and '.join(authors)}}},\n"
                f"  booktitle = {{Proceedings of {venue}}},\n  year = {{{year}}}\n}}\n")
    want = {"title": title, "first_author_surname": authors[0].split()[1], "n_authors": len(authors), "year": year, "venue": venue}
    src = "reference.bib" if style else "reference.txt"
    out = pick(rng, "paper.json", "citation.json")
    instruction = pick(
        rng,
        para(f"Turn the reference in {src} into {out}: title, first_author_surname, n_authors (int), year (int) and venue",
             "(the conference acronym)."),
        para(f"For the reading list database, write {out} from {src} with the fields title, first_author_surname, n_authors,",
             "year and venue (e.g. ICML). Numbers as integers."),
    )
    return TaskDraft(instruction=instruction, files={src: text}, check=json_check(out, want),
                     steps=_write_steps(out, want, f"{out}: {title} ({year}).", verify=False), tags=["json", "citation"])


# ---------------------------------------------------------------- level 2

def l2_pins(rng: random.Random) -> TaskDraft:
    pkgs = rng.sample(["flask", "gunicorn", "pandas", "numpy", "requests", "pyarrow", "sqlalchemy", "pydantic", "httpx",
                       "celery", "redis", "boto3", "scipy", "click", "rich"], 8)
    vers = [f"{rng.randint(0, 5)}.{rng.randint(0, 30)}.{rng.randint(0, 9)}" for _ in pkgs]
    rows, want = [f"# {pick(rng, 'runtime', 'service', 'worker')} dependencies"], {}
    for i, (p, v) in enumerate(zip(pkgs, vers)):
        kind = i % 4 if i < 4 else rng.randrange(4)
        if kind == 0:
            rows.append(f"{p}=={v}")
            want[p] = v
        elif kind == 1:
            rows.append(f"{p}=={v}  # pinned for a bug, see ticket {rng.randint(100, 999)}")
            want[p] = v
        elif kind == 2:
            rows.append(f"{p}>={v}")
        else:
            rows.append(f"# {p}=={v}")
        if rng.random() < 0.2:
            rows.append("")
    src = pick(rng, "requirements.txt", "requirements-prod.txt", "constraints.txt")
    out = pick(rng, "deps.json", "pins.json", "locked.json")
    instruction = pick(
        rng,
        para(f"Freeze report: from {src} produce {out}, an object whose keys are the packages pinned with == and whose",
             "values are the version strings; ranges, blank lines and comments are skipped. Validate with json.tool."),
        para(f"Security wants the exact versions we pin. Read {src} and write {out}, {{\"<package>\": \"<version>\"}}, only for",
             "active `==` pins (commented-out lines and ranges don't count). Validate the JSON."),
    )
    return TaskDraft(instruction=instruction, files={src: lines(rows)}, check=json_check(out, want),
                     steps=_write_steps(out, want, f"{out} maps {len(want)} pinned packages.", read=src), tags=["json", "requirements"])


def l2_md_table(rng: random.Random) -> TaskDraft:
    kind = rng.randrange(3)
    if kind == 0:
        header, keys = ["Planet", "Moons", "Radius (km)", "Has rings"], ["name", "moons", "radius_km", "rings"]
        pool = [("Mercury", 0, 2439.7, "no"), ("Venus", 0, 6051.8, "no"), ("Earth", 1, 6371.0, "no"), ("Mars", 2, 3389.5, "no"),
                ("Jupiter", 95, 69911.0, "yes"), ("Saturn", 146, 58232.0, "yes"), ("Uranus", 28, 25362.0, "yes"), ("Neptune", 16, 24622.0, "yes")]
        rows = rng.sample(pool, rng.randint(4, 6))
        recs = [{"name": a, "moons": b, "radius_km": c, "rings": d == "yes"} for a, b, c, d in rows]
        src, out = "planets.md", pick(rng, "planets.json", "solar.json")
        desc = "name (string), moons (int), radius_km (number) and rings (boolean)"
    elif kind == 1:
        header, keys = ["Employee", "Team", "Start date", "Remote"], ["employee", "team", "start", "remote"]
        rows = []
        for p in rng.sample(PEOPLE, rng.randint(4, 6)):
            iso, _ = _date(rng)
            rows.append((p, pick(rng, "Platform", "Data", "Mobile", "Support"), iso, pick(rng, "yes", "no")))
        recs = [{"employee": a, "team": b, "start": c, "remote": d == "yes"} for a, b, c, d in rows]
        src, out = "team_roster.md", pick(rng, "roster.json", "staff.json")
        desc = "employee, team, start (YYYY-MM-DD string) and remote (boolean)"
    else:
        header, keys = ["SKU", "Product", "Price", "Stock"], ["sku", "product", "price", "stock"]
        rows = [(f"{pick(rng, 'A', 'B', 'C')}{rng.randint(100, 999)}", pick(rng, "lamp", "desk", "chair", "shelf", "rug", "mirror", "stool"),
                 round(rng.uniform(5, 400), 2), rng.randint(0, 80)) for _ in range(rng.randint(4, 6))]
        recs = [{"sku": a, "product": b, "price": c, "stock": d} for a, b, c, d in rows]
        src, out = "catalogue.md", pick(rng, "products.json", "catalogue.json")
        desc = "sku, product, price (number) and stock (int)"
    text = lines([f"# {src.split('.')[0].replace('_', ' ').title()}", "", "| " + " | ".join(header) + " |",
                  "|" + "---|" * len(header)] + ["| " + " | ".join(str(c) for c in r) + " |" for r in rows])
    instruction = pick(
        rng,
        para(f"Convert the table in {src} into {out}: a JSON list with one object per row, in table order, with keys {desc}.",
             f"Check it with python -m json.tool {out}."),
        para(f"I need the Markdown table of {src} as JSON records in {out} (same row order). Use the keys {desc}; then",
             "make sure the file parses."),
    )
    return TaskDraft(instruction=instruction, files={src: text}, check=json_check(out, recs, 1e-9),
                     steps=_write_steps(out, recs, f"{out}: {len(recs)} records.", read=src), tags=["json", "markdown-table"])


def l2_hosts(rng: random.Random) -> TaskDraft:
    names = rng.sample(["db-primary", "db-replica", "cache", "queue", "api", "web", "metrics", "search", "vault", "ldap"], 6)
    rows, want = ["127.0.0.1   localhost", "::1         localhost ip6-localhost"], {}
    for n in names:
        ip = f"10.{rng.randint(0, 9)}.{rng.randint(0, 255)}.{rng.randint(2, 254)}"
        if rng.random() < 0.25:
            rows.append(f"# {ip}   {n}.old.internal")
            continue
        alias = f" {n}" if rng.random() < 0.5 else ""
        rows.append(f"{ip}\t{n}.internal{alias}")
        want[f"{n}.internal"] = ip
    if not want:
        rows.append("10.0.0.9\tapi.internal")
        want["api.internal"] = "10.0.0.9"
    out = pick(rng, "hosts.json", "inventory.json")
    instruction = pick(
        rng,
        para(f"hosts.txt is a copy of /etc/hosts from a staging box. Write {out} mapping every active *.internal hostname (the",
             "first name on each line, not the aliases) to its IP address; ignore commented lines and localhost entries.",
             "Validate the file with python -m json.tool."),
        para(f"Build {out} from hosts.txt: {{\"<name>.internal\": \"<ip>\"}} for the live internal entries only (commented ones",
             "are decommissioned; short aliases are not keys). Then check it parses."),
    )
    return TaskDraft(instruction=instruction, files={"hosts.txt": lines(rows)}, check=json_check(out, want),
                     steps=_write_steps(out, want, f"{out}: {len(want)} hosts.", read="hosts.txt"), tags=["json", "hosts"])


def l2_ini(rng: random.Random) -> TaskDraft:
    sect = pick(rng, "database", "cache", "mailer", "worker")
    other = pick(rng, "logging", "metrics", "ui")
    vals = {"host": pick(rng, "db.internal", "10.1.2.3", "localhost"), "port": rng.randint(1000, 9999),
            "timeout_s": round(rng.uniform(0.5, 30), 1), "retries": rng.randint(0, 9), "tls": rng.random() < 0.5}
    text = lines([f"[{other}]", f"level = {pick(rng, 'info', 'debug')}", f"port = {rng.randint(1000, 9999)}", "",
                  f"[{sect}]", f"host = {vals['host']}", f"port = {vals['port']}", f"timeout_s = {vals['timeout_s']}",
                  f"; retries = {rng.randint(10, 20)}", f"retries = {vals['retries']}", f"tls = {'on' if vals['tls'] else 'off'}"])
    src = pick(rng, "app.ini", "service.cfg", "settings.ini")
    out = pick(rng, f"{sect}.json", "section.json")
    instruction = pick(
        rng,
        para(f"Extract the [{sect}] section of {src} into {out}: host (str), port (int), timeout_s (float), retries (int),",
             "tls (bool; on/off). Only that section. Run python -m json.tool on the result."),
        para(f"Our new loader reads JSON. Write {out} with the settings of section [{sect}] in {src}, typed: port and retries",
             "integers, timeout_s a number, tls true/false, host a string. Ignore the other section and comments; validate the file."),
    )
    return TaskDraft(instruction=instruction, files={src: text}, check=json_check(out, vals, 1e-9),
                     steps=_write_steps(out, vals, f"{out}: [{sect}] settings.", read=src), tags=["json", "ini"])


def l2_todo(rng: random.Random) -> TaskDraft:
    pool = ["renew TLS certificate", "rotate API keys", "update onboarding doc", "archive Q2 dashboards", "fix flaky login test",
            "migrate cron jobs", "review vendor contract", "clean up S3 bucket", "book team offsite", "upgrade Postgres",
            "write incident report", "tag release 4.2"]
    items = rng.sample(pool, rng.randint(5, 8))
    done = {it: rng.random() < 0.45 for it in items}
    owners = {it: rng.choice(PEOPLE).split()[0] for it in items}
    style = rng.randrange(2)
    if style == 0:
        text = lines(["# Ops TODO", ""] + [f"- [{'x' if done[i] else ' '}] {i} (@{owners[i]})" for i in items])
    else:
        text = lines(["TODO"] + [f"{'DONE' if done[i] else 'OPEN'}  {i} -- {owners[i]}" for i in items])
    want = {"done": [i for i in items if done[i]], "open": [i for i in items if not done[i]]}
    out = pick(rng, "tasks.json", "todo.json")
    instruction = pick(
        rng,
        para(f"Split todo.md into {out}: {{\"done\": [...], \"open\": [...]}}, each a list of task texts (without the owner)",
             "in file order. Check the file with python -m json.tool."),
        para(f"What's finished and what isn't? From todo.md write {out} with two lists of task descriptions, done and open,",
             "keeping the original order and leaving out the assignee. Validate it."),
    )
    check = json_check(out, want)
    return TaskDraft(instruction=instruction, files={"todo.md": text}, check=check,
                     steps=_write_steps(out, want, f"{len(want['done'])} done, {len(want['open'])} open.", read="todo.md"),
                     tags=["json", "checklist"])


# ---------------------------------------------------------------- level 3

def l3_invoice(rng: random.Random) -> TaskDraft:
    seller, buyer = rng.sample(COMPANIES, 2)
    iso, human = _date(rng)
    num = f"INV-{rng.randint(2023, 2025)}-{rng.randint(100, 9999):04d}"
    items = []
    for _ in range(rng.randint(3, 5)):
        desc = pick(rng, "Consulting (hours)", "Cloud hosting - monthly", "Support plan", "Laptop stand", "Training workshop",
                    "Data migration", "USB-C dock", "Licence seat")
        q = rng.randint(1, 40)
        up = round(rng.uniform(9, 1800), 2)
        items.append({"description": desc, "quantity": q, "unit_price": up, "amount": round(q * up, 2)})
    sub = round(sum(i["amount"] for i in items), 2)
    rate = pick(rng, 0.2, 0.21, 0.23, 0.19)
    tax = round(sub * rate, 2)
    total = round(sub + tax, 2)
    cur = pick(rng, "€", "£", "$")

    def money(x: float) -> str:
        return f"{cur}{x:,.2f}"
    rows = [f"{seller}", f"{rng.randint(1, 200)} Market Street, {rng.choice(CITIES)}", "", f"INVOICE {num}", f"Date: {human}",
            f"Bill to: {buyer}, attn. {rng.choice(PEOPLE)}", "", f"{'Description':<26}{'Qty':>5}{'Unit':>14}{'Amount':>14}"]
    rows += [f"{i['description']:<26}{i['quantity']:>5}{money(i['unit_price']):>14}{money(i['amount']):>14}" for i in items]
    rows += ["", f"{'Subtotal':<45}{money(sub):>14}", f"{f'VAT {rate:.0%}':<45}{money(tax):>14}", f"{'TOTAL DUE':<45}{money(total):>14}",
             "", "Payment within 30 days. Thank you for your business."]
    want = {"invoice_number": num, "date": iso, "seller": seller, "customer": buyer, "items": items, "subtotal": sub, "tax": tax, "total": total}
    out = pick(rng, "invoice.json", "bill.json")
    instruction = pick(
        rng,
        para(f"Our payables robot reads JSON only. Transcribe the bill in invoice.txt to {out}: its number, the ISO date, who",
             "sent it (seller) and who pays (customer, company only), every line (description, integer quantity, unit_price,",
             "amount) and subtotal, tax and total, all money as bare numbers. Confirm with Python that the lines sum to the subtotal."),
        para(f"Bookkeeping needs invoice.txt as structured data: write {out} with invoice_number, date as ISO YYYY-MM-DD,",
             "seller, customer (just the company), the line items in order (description, integer quantity, unit_price,",
             "amount) and the subtotal/tax/total figures as numbers. Check afterwards that quantity x unit price matches each amount."),
        para(f"{seller} sent us the bill in invoice.txt and our ERP only takes JSON. Create {out} (keys invoice_number, date,",
             "seller, customer, items, subtotal, tax, total; each item has description, quantity, unit_price and amount).",
             "Dates in ISO form, money without symbols or commas. Run a Python sanity check on the totals."),
    )
    verify = f"python -c \"import json; d = json.load(open('{out}')); assert abs(sum(i['amount'] for i in d['items']) - d['subtotal']) < 0.01; print(d['total'])\""
    steps = [step("read_file", path="invoice.txt"),
             step("write_file", "Transcribe, stripping symbols and separators.", path=out, content=json.dumps(want, indent=2) + "\n"),
             step("run", command=verify), submit(f"{out}: {num}, {len(items)} items, total {total}.")]
    return TaskDraft(instruction=instruction, files={"invoice.txt": lines(rows)}, check=json_check(out, want, 0.0051),
                     steps=steps, tags=["json", "extraction", "invoice"])


def l3_meeting(rng: random.Random) -> TaskDraft:
    iso, human = _date(rng)
    people = rng.sample(PEOPLE, 6)
    present, apologies = people[:rng.randint(3, 4)], people[4:]
    topic = pick(rng, "Q3 roadmap", "data platform sync", "incident review", "hiring plan", "launch readiness")
    decisions = rng.sample(["Move the launch to the second week", "Drop support for Python 3.8", "Adopt the new on-call rota",
                            "Freeze the schema until the audit", "Use Parquet for the raw zone", "Hire two contractors"], 2)
    tasks = rng.sample(["draft the migration plan", "email the vendor", "update the runbook", "book the load test",
                        "collect latency numbers", "write the FAQ", "clean the backlog"], rng.randint(3, 4))
    acts = []
    for t in tasks:
        owner = rng.choice(present).split()[0]
        due = _date(rng)[0] if rng.random() < 0.6 else None
        acts.append({"owner": owner, "task": t, "due": due, "done": rng.random() < 0.35})
    body = [f"# {topic.title()} - {human}", "", f"Present: {', '.join(present)}", f"Apologies: {', '.join(apologies)}", "",
            "## Discussion", f"- {pick(rng, 'Long debate about scope.', 'Numbers look ok.', 'Still blocked on legal.')}", "",
            "## Decisions"] + [f"- {d}" for d in decisions] + ["", "## Actions"]
    for a in acts:
        due = f" (due {a['due']})" if a["due"] else ""
        body.append(f"- [{'x' if a['done'] else ' '}] {a['owner']}: {a['task']}{due}")
    want = {"date": iso, "attendees": present, "decisions": decisions, "action_items": acts}
    out = pick(rng, "meeting.json", "minutes.json")
    instruction = pick(
        rng,
        para(f"Convert the {topic} notes (meeting.md) into {out}. Fields: date in ISO form; attendees, only the people who",
             "came; decisions, copied word for word; action_items, each {owner, task, due, done} with due null when no date is",
             "given and done true for ticked boxes, keeping the notes' order and including completed items. Load it back to check."),
        para(f"Minutes need to go into the tracker: from meeting.md write {out} holding the meeting date (ISO), the attendees",
             "who were actually there (full names, in order), the decisions verbatim, and each action as owner (as written),",
             "task, due date (ISO or null when none is given) and done (ticked box). Load it in Python to check."),
        para(f"Who promised what at the {topic}? Parse meeting.md into {out}: date, attendees (present only), decisions and",
             "action_items, where each action has owner, task, due (null if the notes give no date) and done. Keep the order",
             "of the notes and verify the JSON afterwards."),
    )
    check = json_check(out, want)
    steps = [step("read_file", path="meeting.md"), step("write_file", path=out, content=json.dumps(want, indent=2) + "\n"),
             step("run", command=f"python -c \"import json; d = json.load(open('{out}')); print(len(d['attendees']), len(d['action_items']))\""),
             submit(f"{out}: {len(present)} attendees, {len(decisions)} decisions, {len(acts)} actions.")]
    return TaskDraft(instruction=instruction, files={"meeting.md": lines(body)}, check=check, steps=steps,
                     tags=["json", "extraction", "meeting-notes"])


def l3_pytest_log(rng: random.Random) -> TaskDraft:
    mods = rng.sample(["test_api", "test_models", "test_cli", "test_export", "test_auth", "test_cache"], 3)
    tests = []
    for m in mods:
        for _ in range(rng.randint(2, 4)):
            tests.append((f"tests/{m}.py::test_{pick(rng, 'create', 'delete', 'update', 'list', 'parse', 'render', 'retry', 'timeout')}_{rng.randint(1, 99)}",
                          pick(rng, "passed", "passed", "passed", "failed", "skipped")))
    tests = list(dict(tests).items())
    if not any(s == "failed" for _, s in tests):
        tests[-1] = (tests[-1][0], "failed")
    errs = {}
    for t, s in tests:
        if s == "failed":
            errs[t] = pick(rng, "AssertionError", "KeyError", "TimeoutError", "ValueError", "TypeError")
    dur = round(rng.uniform(1.5, 90), 2)
    pyv = f"3.{rng.randint(9, 12)}.{rng.randint(0, 9)}"
    counts = {s: sum(1 for _, x in tests if x == s) for s in ("passed", "failed", "skipped")}
    out_lines = ["============================= test session starts ==============================",
                 f"platform linux -- Python {pyv}, pytest-8.{rng.randint(0, 3)}.{rng.randint(0, 2)}, pluggy-1.5.0",
                 "rootdir: /builds/app", f"collected {len(tests)} items", ""]
    out_lines += [f"{t} {s.upper()}" for t, s in tests]
    out_lines += ["", "=================================== FAILURES ==================================="]
    for t, e in errs.items():
        out_lines += [f"____ {t.split('::')[1]} ____", "    def test():", ">       run()", f"E       {e}: boom", ""]
    out_lines += ["=========================== short test summary info ============================"]
    out_lines += [f"FAILED {t} - {e}: boom" for t, e in errs.items()]
    parts = [f"{counts['failed']} failed", f"{counts['passed']} passed"] + ([f"{counts['skipped']} skipped"] if counts["skipped"] else [])
    out_lines += [f"=================== {', '.join(parts)} in {dur}s ==================="]
    run_id = rng.randint(1000, 9999)
    files = {f"logs/ci_{run_id}_pytest.txt": lines(out_lines),
             f"logs/ci_{run_id}_lint.txt": lines(["ruff check .", f"src/app.py:{rng.randint(1, 200)}:1: F401 unused import", "Found 1 error."])}
    want = {"collected": len(tests), **counts, "duration_s": dur, "python_version": pyv,
            "failures": [{"test": t, "error": e} for t, e in errs.items()]}
    out = pick(rng, "test_summary.json", "ci_summary.json")
    instruction = pick(
        rng,
        para(f"Build {out} from the test session of pipeline {run_id} (its log is among the files in logs/, next to unrelated",
             "ones). I want the integer totals collected, passed, failed and skipped, duration_s as a float, python_version as",
             "printed on the platform line, and failures: one {test, error} object per failing node id with its exception class."),
        para(f"CI run {run_id} went red. Find its test log in logs/ and record the outcome in {out}: the numbers of collected,",
             "passed, failed and skipped tests, the total duration in seconds, the Python version, and for every failing test",
             "its node id and the exception type (keys test and error), in the order the log lists them."),
        para(f"Flaky-test tracking: under logs/ there are several CI artefacts; only the pytest one matters. Produce {out} with",
             "integer counts collected/passed/failed/skipped, duration_s, python_version and a failures list of {test, error}",
             "objects (node id and exception class), in log order."),
    )
    script = dedent(f"""
        import json, re
        log = open("logs/ci_{run_id}_pytest.txt").read()
        summary = log.strip().splitlines()[-1]
        count = lambda w: int(m[1]) if (m := re.search(r"(\\d+) " + w, summary)) else 0
        out = {{"collected": int(re.search(r"collected (\\d+)", log)[1]), "passed": count("passed"), "failed": count("failed"),
               "skipped": count("skipped"), "duration_s": float(re.search(r"in ([\\d.]+)s", summary)[1]),
               "python_version": re.search(r"Python (\\S+),", log)[1],
               "failures": [{{"test": t, "error": e}} for t, e in re.findall(r"^FAILED (\\S+) - (\\w+):", log, re.M)]}}
        json.dump(out, open("{out}", "w"), indent=2)
        print(out)
        """)
    return TaskDraft(instruction=instruction, files=files, check=json_check(out, want, 1e-6),
                     steps=[step("run", command="ls logs"), step("read_file", path=f"logs/ci_{run_id}_pytest.txt"),
                            step("write_file", path="summ.py", content=script), step("run", command="python summ.py"),
                            submit(f"{out}: {counts['passed']} passed, {counts['failed']} failed.")],
                     tags=["json", "extraction", "ci-log"])


def l3_changelog(rng: random.Random) -> TaskDraft:
    major = rng.randint(1, 4)
    n = rng.randint(3, 4)
    versions = []
    minor = rng.randint(4, 9)
    dates = sorted((_date(rng)[0] for _ in range(n)), reverse=True)
    for _ in range(n):
        versions.append(f"{major}.{minor}.{rng.randint(0, 3)}")
        minor -= 1
    body = ["# Changelog", "", "## [Unreleased]", "### Added", "- draft: dark mode", ""]
    want = []
    for v, iso in zip(versions, dates):
        body.append(f"## [{v}] - {iso}")
        rec = {"version": v, "date": iso}
        breaking = False
        for sec in ("Added", "Changed", "Fixed", "Removed"):
            k = rng.randint(0, 3) if sec != "Removed" else rng.choice([0, 0, 1])
            rec[sec.lower()] = k
            if k:
                body.append(f"### {sec}")
                for _ in range(k):
                    br = rng.random() < 0.12
                    breaking |= br
                    body.append(f"- {'**Breaking:** ' if br else ''}{pick(rng, 'export to CSV', 'retry on 503', 'new CLI flag --dry-run', 'faster startup', 'typo in help text', 'old v1 endpoint', 'config reload')}")
        rec["breaking"] = breaking
        body.append("")
        want.append(rec)
    out = pick(rng, "releases.json", "changelog.json")
    instruction = pick(
        rng,
        para(f"Index the project history for the docs: read CHANGELOG.md and emit {out}, one record per shipped version in",
             "file order (drafts under Unreleased are excluded) with version, date, how many bullets sit under each of",
             "Added/Changed/Fixed/Removed (keys added, changed, fixed, removed; 0 when a heading is missing) and breaking, true",
             "when some bullet of that version is flagged Breaking."),
        para(f"Release stats for the docs site: for every released version in CHANGELOG.md (not the Unreleased block) count",
             "the bullets under Added, Changed, Fixed and Removed, and flag whether any bullet is marked Breaking. Write",
             f"{out} as a list in the changelog's order with keys version, date, added, changed, fixed, removed, breaking."),
        para("Which releases broke the API, and how big was each one? Go through CHANGELOG.md, ignoring the Unreleased part,",
             f"and write {out}: one object per version (newest first) with its date, the number of entries in each of the",
             "added/changed/fixed/removed sections (0 when missing) and breaking (true when an entry says Breaking)."),
    )
    script = dedent(f"""
        import json, re
        out, cur, sec = [], None, None
        for line in open("CHANGELOG.md"):
            if m := re.match(r"## \\[(.+?)\\](?: - (\\S+))?", line):
                cur = None
                if m[1] != "Unreleased":
                    cur = {{"version": m[1], "date": m[2], "added": 0, "changed": 0, "fixed": 0, "removed": 0, "breaking": False}}
                    out.append(cur)
            elif m := re.match(r"### (\\w+)", line):
                sec = m[1].lower()
            elif line.startswith("- ") and cur is not None:
                cur[sec] += 1
                cur["breaking"] |= "breaking" in line.lower()
        json.dump(out, open("{out}", "w"), indent=2)
        print(out)
        """)
    return TaskDraft(instruction=instruction, files={"CHANGELOG.md": lines(body)}, check=json_check(out, want),
                     steps=[step("read_file", path="CHANGELOG.md"), step("write_file", path="cl.py", content=script),
                            step("run", command="python cl.py"), submit(f"{out}: {len(want)} releases.")],
                     tags=["json", "extraction", "changelog"])


def l3_support_email(rng: random.Random) -> TaskDraft:
    cust = rng.choice(PEOPLE)
    shop = pick(rng, "gearbox", "homenest", "bikeshed", "leafandloom")
    email = _email(rng, cust, "example.org")
    oid = f"{shop[:2].upper()}-{rng.randint(10000, 99999)}"
    iso, human = _date(rng)
    goods = rng.sample([("Trail backpack 35L", "BP-35"), ("Insulated bottle", "IB-750"), ("Camping stove", "CS-200"),
                        ("Head torch", "HT-300"), ("Rain jacket M", "RJ-M"), ("Bike lock", "BL-9"), ("Desk lamp", "DL-40")], 3)
    damaged = goods[:2]
    qty = {g[1]: rng.randint(1, 3) for g in damaged}
    price = {g[1]: round(rng.uniform(9, 120), 2) for g in goods}
    res = pick(rng, "refund", "replacement")
    body = [f"From: {cust} <{email}>", f"To: support@{shop}.example", f"Subject: Problem with order {oid}", "", "Hello,", "",
            f"My order {oid} (placed {human}) arrived yesterday. Some items are damaged:"]
    for name, sku in damaged:
        body.append(f"  - {qty[sku]} x {name} (SKU {sku}), {pick(rng, 'cracked', 'torn', 'dented', 'does not switch on')}")
    body.append(f"The {goods[2][0].lower()} (SKU {goods[2][1]}) from the same order is fine and I'm keeping it.")
    body.append("")
    body.append("I'd like a refund for the damaged items rather than replacements." if res == "refund"
                else "Could you send replacements for the damaged items? I don't want my money back, I need them for a trip.")
    body.append("I paid " + " and ".join(f"{price[s]:.2f} per {n.lower()}" for n, s in damaged) + ".")
    body += ["", "Thanks,", cust.split()[0]]
    value = round(sum(qty[s] * price[s] for _, s in damaged), 2)
    want = {"customer_name": cust, "customer_email": email, "order_id": oid, "order_date": iso,
            "damaged_items": [{"sku": s, "quantity": qty[s]} for _, s in damaged], "resolution": res, "damaged_value": value}
    out = pick(rng, "ticket.json", "case.json")
    instruction = pick(
        rng,
        para(f"Log the complaint from support_email.txt as {out} so the warehouse can act: who wrote (customer_name,",
             "customer_email), which order (order_id, order_date in ISO), which SKUs broke and how many of each (damaged_items,",
             "a list of {sku, quantity}; intact goods excluded), what they want (resolution: refund or replacement) and the",
             "damaged_value, i.e. price times quantity over the broken lines. Verify it in Python."),
        para(f"Open a case from support_email.txt: write {out} with the customer's name and email, the order id and order date",
             "(ISO format), the damaged SKUs with quantities (items the customer keeps are excluded), whether they want a refund",
             'or a replacement (resolution), and damaged_value, the money value of the damaged goods. Verify the sum in Python.'),
        para(f"Complaint triage: read the message in support_email.txt and fill {out} for the returns desk. Keys:",
             "customer_name, customer_email, order_id, order_date (YYYY-MM-DD), damaged_items [{sku, quantity}],",
             'resolution ("refund" or "replacement") and damaged_value (sum of price x quantity of the damaged lines).'),
    )
    verify = f"python -c \"import json; d = json.load(open('{out}')); print(d['resolution'], d['damaged_value'])\""
    return TaskDraft(instruction=instruction, files={"support_email.txt": lines(body)}, check=json_check(out, want, 0.0051),
                     steps=[step("read_file", path="support_email.txt"),
                            step("write_file", f"Damaged value {value}.", path=out, content=json.dumps(want, indent=2) + "\n"),
                            step("run", command=verify), submit(f"{out}: {oid}, {res}, damaged value {value}.")],
                     tags=["json", "extraction", "email"])


def l3_containers(rng: random.Random) -> TaskDraft:
    n = rng.randint(3, 5)
    names = rng.sample(["api", "worker", "scheduler", "redis", "postgres", "nginx", "metrics", "mailer"], n)
    rows, want = [], []
    for nm in names:
        img = f"{pick(rng, 'registry.example.com/', '', 'ghcr.io/acme/')}{nm}"
        tag = pick(rng, f"{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}", "latest", f"{rng.randint(10, 17)}-alpine")
        up = rng.random() < 0.7
        restarts = rng.randint(0, 12) if up else rng.randint(3, 30)
        port = rng.choice([80, 443, 5432, 6379, 8000, 9090, None])
        mem = rng.randint(32, 2048)
        status = f"Up {rng.randint(2, 59)} minutes" if up else f"Exited ({pick(rng, 1, 137, 143)}) {rng.randint(2, 50)} minutes ago"
        ports = f"0.0.0.0:{port}->{port}/tcp" if port else ""
        rows.append((f"{rng.getrandbits(48):012x}", f"{img}:{tag}", status, ports, nm, restarts, f"{mem}MiB"))
        want.append({"name": nm, "image": img, "tag": tag, "running": up, "restarts": restarts, "host_port": port, "mem_mib": mem})
    header = f"{'CONTAINER ID':<14}{'IMAGE':<44}{'STATUS':<30}{'PORTS':<26}{'NAMES':<12}{'RESTARTS':<10}MEM"
    text = lines([header] + [f"{a:<14}{b:<44}{c:<30}{d:<26}{e:<12}{str(f):<10}{g}" for a, b, c, d, e, f, g in rows])
    out = pick(rng, "containers.json", "stack.json")
    instruction = pick(
        rng,
        para(f"docker_ps.txt is a (widened) `docker ps -a` listing of a host. Extract {out}: a list, in listing order, of",
             '{"name", "image" (without the tag), "tag", "running" (bool, status Up), "restarts" (int), "host_port" (int or null),',
             '"mem_mib" (int)}. Validate the JSON with Python before finishing.'),
        para(f"Inventory the containers of docker_ps.txt into {out}. One object per row, same order: name, image (registry/path",
             "without the :tag), tag, running (true if Up), restarts, host_port (the published host port as an int, null if",
             "none) and mem_mib (number only). Check the file loads."),
        para(f"Which containers on this host are down or restarting a lot? Start by turning docker_ps.txt into {out}, a JSON",
             "list with name, image, tag, running, restarts, host_port (null if unpublished) and mem_mib for each row, in order."),
    )
    script = dedent(f"""
        import json, re
        out = []
        for line in open("docker_ps.txt").read().splitlines()[1:]:
            image = line[14:58].strip()
            status, ports, name = line[58:88].strip(), line[88:114].strip(), line[114:126].strip()
            restarts, mem = line[126:136].strip(), line[136:].strip()
            img, tag = image.rsplit(":", 1)
            m = re.match(r"[\\d.]+:(\\d+)->", ports)
            out.append({{"name": name, "image": img, "tag": tag, "running": status.startswith("Up"), "restarts": int(restarts),
                        "host_port": int(m[1]) if m else None, "mem_mib": int(mem.removesuffix("MiB"))}})
        json.dump(out, open("{out}", "w"), indent=2)
        print(out)
        """)
    return TaskDraft(instruction=instruction, files={"docker_ps.txt": text}, check=json_check(out, want),
                     steps=[step("read_file", path="docker_ps.txt"), step("write_file", "Fixed-width columns.", path="ps.py", content=script),
                            step("run", command="python ps.py"), submit(f"{out}: {n} containers.")],
                     tags=["json", "extraction", "docker"])


def l3_training_log(rng: random.Random) -> TaskDraft:
    model = pick(rng, "bert-small", "roberta-base", "t5-small", "distilgpt2", "deberta-v3-xs", "vit-tiny")
    lr = pick(rng, "3e-05", "1e-04", "5e-05", "2e-04")
    bs, epochs, seed = pick(rng, 16, 32, 64), rng.randint(6, 10), rng.randint(0, 99)
    opt = pick(rng, "adamw", "sgd", "lion", "adafactor")
    ran = rng.randint(4, epochs - 1)
    pts, loss, vl = [], rng.uniform(0.6, 0.9), rng.uniform(0.6, 0.7)
    for e in range(1, ran + 1):
        loss *= rng.uniform(0.8, 0.92)
        vl = vl * rng.uniform(0.9, 0.99) if e <= ran - 2 else vl * rng.uniform(1.005, 1.04)
        pts.append((e, round(loss, 4), round(vl, 4), round(rng.uniform(0.7, 0.8) + 0.01 * e, 3)))
    best = min(pts, key=lambda p: p[2])
    ckpt = f"ckpt/{model}-s{seed}-e{best[0]}.pt"
    body = [f"[config] model={model} lr={lr} batch_size={bs} epochs={epochs} seed={seed} optimizer={opt}",
            f"[data] train={rng.randint(5, 50) * 1000} val={rng.randint(5, 30) * 100}"]
    body += [f"epoch {e} | train_loss {a:.4f} | val_loss {b:.4f} | val_f1 {c:.3f}" for e, a, b, c in pts]
    body += [f"[early-stop] no improvement in val_loss for 2 epochs; restoring epoch {best[0]}", f"saved checkpoint to {ckpt}"]
    want = {"model": model, "hyperparameters": {"lr": float(lr), "batch_size": bs, "epochs": epochs, "seed": seed, "optimizer": opt},
            "epochs_run": ran, "best_epoch": best[0], "best_val_loss": best[2], "best_val_f1": best[3],
            "final_train_loss": pts[-1][1], "checkpoint": ckpt}
    out = pick(rng, "run.json", "run_facts.json")
    instruction = pick(
        rng,
        para(f"Card for the experiment tracker: distil train.log into {out}. It needs the model name, a hyperparameters",
             "object (lr float, batch_size/epochs/seed int, optimizer), epochs_run (how many epochs really ran before the stop),",
             "the epoch with the smallest val_loss as best_epoch together with its best_val_loss and best_val_f1, the",
             "final_train_loss and the checkpoint path. Check it loads."),
        para(f"I'm registering the run of train.log in the model registry and need {out}. Fields: model; hyperparameters",
             "(lr as a float, batch_size, epochs, seed as ints, optimizer); epochs_run; best_epoch by val_loss plus its",
             "best_val_loss and best_val_f1; final_train_loss; checkpoint path. Verify it loads."),
    )
    return TaskDraft(instruction=instruction, files={"train.log": lines(body)}, check=json_check(out, want, 1e-9),
                     steps=[step("read_file", path="train.log"),
                            step("write_file", "Best epoch by val_loss, not by F1.", path=out, content=json.dumps(want, indent=2) + "\n"),
                            step("run", command=f"python -c \"import json; d = json.load(open('{out}')); print(d['best_epoch'], d['epochs_run'])\""),
                            submit(f"{out}: {model}, {ran} epochs run, best epoch {best[0]}.")],
                     tags=["json", "extraction", "training-log"])


SCENARIOS = {
    1: [l1_card, l1_env, l1_event, l1_receipt, l1_citation],
    2: [l2_pins, l2_md_table, l2_hosts, l2_ini, l2_todo],
    3: [l3_invoice, l3_meeting, l3_pytest_log, l3_changelog, l3_support_email, l3_containers, l3_training_log],
}


# Alternative vocabularies for scenarios whose default wording sits close to a hand-written task.
RENAMES = {
    "l3_support_email": [
        {"support_email.txt": "complaint.txt", "customer_name": "client_name", "customer_email": "client_email",
         "damaged_items": "broken_items", "damaged_value": "claim_value", "ticket.json": "claim.json"},
        {"support_email.txt": "inbox_message.txt", "damaged_items": "faulty_lines", "damaged_value": "faulty_total",
         "resolution": "remedy"}],
    "l3_changelog": [{"CHANGELOG.md": "HISTORY.md", "releases.json": "versions.json"}, {"CHANGELOG.md": "NEWS.md"}],
    "l3_pytest_log": [{}, {"test_summary.json": "pytest_facts.json", "duration_s": "wall_s"}],
}

def generate(rng: random.Random, level: int) -> TaskDraft:
    return draw(rng, SCENARIOS[level], RENAMES)
