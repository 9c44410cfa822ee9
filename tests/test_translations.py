"""Norwegian (bokmål) everywhere (issue 15, item 2).

- The catalog: every message the code and templates use has a non-empty nb translation with the
  same placeholders, and the committed ``.mo`` is the compiled ``.po`` (nobody forgot to compile).
- Every page, crawled as an admin, a manager, a rep and the TV in an org whose default is nb,
  shows no English message that has a Norwegian translation: a text node (or title, aria-label,
  placeholder, alt) equal to such a msgid, or matching one with its placeholders filled in, fails.
- One page in nb and en, with Babel-formatted numbers checked by hand.
"""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from demo_org_app import ADMIN, PASSWORD, login_session, seeded_org
from sqlmodel import Session, select

from scoreboard import db
from scoreboard.models import Board, Playlist, User
from scoreboard.tokens import create_token

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "scoreboard" / "translations" / "nb" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%%")


def _catalog():
    with PO.open("rb") as f:
        return read_po(f, locale="nb")


def _used_msgids() -> set[str]:
    """Every msgid the templates and Python code use, extracted as ``pybabel extract`` does."""
    method_map = [
        ("scoreboard/**.py", "python"),
        ("metrics/**.py", "python"),
        ("templates/**.html", "jinja2"),
    ]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "Text": None, "Plural": (1, 2)}
    found = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(
        str(ROOT), method_map, keywords=keywords, options_map={"templates/**.html": {}}
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_message_used_has_a_norwegian_translation():
    catalog = _catalog()
    assert not catalog.fuzzy, "a fuzzy catalog is skipped by pybabel compile"
    used = _used_msgids()
    missing = sorted(m for m in used if not catalog.get(m) or not catalog.get(m).string)
    assert not missing, f"{len(missing)} messages without nb translation (run pybabel update): {missing[:20]}"
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for msgid, msgstr in zip(ids, strings, strict=False):
            assert msgstr, msgid
            assert sorted(PLACEHOLDER.findall(msgid)) == sorted(PLACEHOLDER.findall(msgstr)), (msgid, msgstr)
        assert not message.fuzzy, message.id


def test_labels_shown_from_python_tables_are_listed_for_translation():
    """The English labels the templates translate with ``|tr`` come from Python tables: each one is
    in :mod:`scoreboard.data_messages` (so it is extracted and translated)."""
    from metrics.catalogue import CATALOGUE
    from metrics.goals import GOAL_METRICS
    from metrics.quota import FORM_RULE
    from metrics.risk.settings import FLAGS
    from scoreboard import boards, cards, window
    from scoreboard.data_messages import MESSAGES
    from scoreboard.web import competitions

    listed = {m for group in MESSAGES.values() for m in group}
    stats = list(CATALOGUE.values()) if hasattr(CATALOGUE, "values") else list(CATALOGUE)
    shown = (
        {s.label for s in stats}
        | {s.sample_label for s in stats if s.sample_label}
        | {s.no_value for s in stats if s.no_value}
        | {m.label for m in GOAL_METRICS.values()}
        | {f.label for f in FLAGS}
        | {f.action for f in FLAGS}
        | set(boards.PERIODS.values())
        | {label for _, label in window.PICKER_CHOICES}
        | set(cards.FACE_LABELS.values())
        | {label for _, label in cards.SPARKS}
        | set(competitions.FORMAT_LABELS.values())
        | {FORM_RULE}
    )
    assert not shown - listed, sorted(shown - listed)


def test_the_committed_mo_is_the_compiled_po():
    buf = io.BytesIO()
    write_mo(buf, _catalog())
    buf.seek(0)
    with MO.open("rb") as f:
        committed = read_mo(f)

    def pairs(catalog):
        return {_key(m.id): _key(m.string) for m in catalog if m.id}

    assert pairs(read_mo(buf)) == pairs(committed), "run: pybabel compile -d scoreboard/translations"


def _key(value):
    return tuple(value) if isinstance(value, list | tuple) else value


# ------------------------------------------------------------------------------------ crawling


class _Text(HTMLParser):
    """Visible text nodes, the translatable attributes, and the links of a page."""

    SKIP = {"script", "style", "code", "pre"}
    ATTRS = {"title", "aria-label", "placeholder", "alt"}

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self.links: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self._skip += 1
        for name, value in attrs:
            if name in self.ATTRS and value:
                self.texts.append(value)
            if name == "href" and tag == "a" and value:
                self.links.append(value)

    def handle_endtag(self, tag):
        if tag in self.SKIP and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.texts.append(data)


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s.replace("\xa0", " ")).strip()


def _english_patterns():
    """(msgid, exact text or regex) of every message whose nb translation differs from it."""
    exact: dict[str, str] = {}
    patterns: list[tuple[str, re.Pattern[str]]] = []
    for message in _catalog():
        if not message.id or isinstance(message.id, tuple):
            continue
        if _norm(message.string) == _norm(message.id):
            continue
        english = _norm(message.id.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))
        if not PLACEHOLDER.search(english):
            exact[english] = message.id
            continue
        literal = PLACEHOLDER.sub("", english)
        if len(re.findall(r"[A-Za-z]{3,}", literal)) < 2:
            continue  # "%(a)s of %(b)s": too little text to tell English from a name
        parts = PLACEHOLDER.split(english)
        marks = PLACEHOLDER.findall(english)
        rx = "".join(
            re.escape(p) + ("%" if m == "%%" else ".+?") if m is not None else re.escape(p)
            for p, m in zip(parts, [*marks, None], strict=True)
        )
        patterns.append((message.id, re.compile(rx + r"\Z")))
    return exact, patterns


SKIP_LINK = re.compile(r"^/(static|api|socket\.io)/|\.(json|csv|svg|png|toml)$|/(logout|download)|format=csv")


def _crawl(client, start: str, limit: int = 120, per_endpoint: int = 2):
    """GET pages reachable from ``start`` by links (same site), at most ``per_endpoint`` URLs per
    route shape (digits stand for ids); yields (url, status, html)."""
    seen, shapes, queue = set(), {}, [start]
    while queue and len(seen) < limit:
        url = queue.pop(0)
        parts = urlsplit(url)
        path = parts.path + (("?" + parts.query) if parts.query else "")
        if path in seen or SKIP_LINK.search(parts.path) or "format=" in parts.query:
            continue
        shape = re.sub(r"\d+", "N", parts.path)
        if shapes.get(shape, 0) >= per_endpoint:
            continue
        shapes[shape] = shapes.get(shape, 0) + 1
        seen.add(path)
        resp = client.get(path)
        html = resp.get_data(as_text=True)
        yield path, resp.status_code, html
        if resp.status_code == 200 and "text/html" in resp.content_type:
            parser = _Text()
            parser.feed(html)
            for link in parser.links:
                target = urljoin(path, link)
                if urlsplit(target).netloc == "" and target.startswith("/"):
                    queue.append(target.split("#")[0])


@pytest.fixture(scope="module")
def nb_org(tmp_path_factory):
    org = seeded_org(tmp_path_factory, "i18n")
    org.app.config["LOCALE"] = "nb"  # the org's default language
    return org


def _untranslated(html: str, exact, patterns, stored: set[str]) -> list[str]:
    parser = _Text()
    parser.feed(html)
    found = []
    for raw in parser.texts:
        text = _norm(raw)
        if text in stored:
            continue  # a name someone stored (a board's title): data, not the UI
        if text in exact:
            found.append(text)
            continue
        for msgid, rx in patterns:
            if rx.match(text):
                found.append(f"{text!r} (msgid {msgid!r})")
                break
    return found


@pytest.mark.parametrize("who", ["admin", "manager", "rep", "tv"])
def test_every_page_in_nb_is_translated(nb_org, who):
    exact, patterns = _english_patterns()
    client = nb_org.app.test_client()
    if who == "tv":
        with Session(db.engine_for(nb_org.app)) as s:
            playlist = s.exec(select(Playlist)).first()
        secret = create_token(db.engine_for(nb_org.app), "display", "tv", playlist_id=playlist.id)[1]
        start = f"/tv/{secret}"
    else:
        email = ADMIN if who == "admin" else nb_org.by_role(who)[0][0]
        login_session(client, email, PASSWORD)
        start = "/"
    with Session(db.engine_for(nb_org.app)) as s:
        stored = {b.title for b in s.exec(select(Board))} | {p.name for p in s.exec(select(Playlist))}
    problems, pages = {}, 0
    for url, status, html in _crawl(client, start):
        assert status < 500, f"{url} answered {status}"
        if status != 200:
            continue
        pages += 1
        assert '<html lang="nb"' in html or "<html" not in html, url
        bad = _untranslated(html, exact, patterns, stored)
        if bad:
            problems[url] = sorted(set(bad))
    assert pages >= (1 if who == "tv" else 5), pages
    assert not problems, "English left in nb pages:\n" + "\n".join(f"{u}: {b}" for u, b in problems.items())


# ------------------------------------------------------------------------ one page, nb and en


def test_the_language_switch_and_numbers_on_the_home_page(nb_org):
    """The same page in nb (the org's default) and in en (the person's choice), numbers by Babel."""
    client = nb_org.app.test_client()
    login_session(client, ADMIN, PASSWORD)
    nb = client.get("/").get_data(as_text=True)
    assert '<html lang="nb"' in nb and "I dag på gulvet" in nb and "Logg ut" in nb
    token = re.search(r'name="csrf_token" value="([^"]+)"', nb).group(1)
    resp = client.post("/account/language", data={"locale": "en", "next": "/", "csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/")
    with Session(db.engine_for(nb_org.app)) as s:
        assert s.exec(select(User).where(User.email == ADMIN)).one().locale == "en"
    en = client.get("/").get_data(as_text=True)
    assert '<html lang="en"' in en and "Today on the floor" in en and "Log out" in en
    bad = client.post("/account/language", data={"locale": "xx", "csrf_token": token})
    assert bad.status_code == 400 and "locale" in bad.get_data(as_text=True)
    client.post("/account/language", data={"locale": "nb", "csrf_token": token})
    # the page's numbers in each language: the reps tile and the date line by Babel
    assert re.search(r"(mandag|tirsdag|onsdag|torsdag|fredag|lørdag|søndag) \d{1,2}\. \w+ 20\d\d", nb)
    assert re.search(r"(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), \w+ \d{1,2}, 20\d\d", en)


# ------------------------------------------------------- sentences made in Python (metrics.text)

#: English that a finding or an agenda point of the drilldown says when it is not translated.
ENGLISH_FRAGMENTS = (
    "clear over",
    "looks higher",
    "looks lower",
    "cannot tell yet",
    "about the same as",
    "nothing to compare",
    "working day",
    "closed deal",
    "percentile",
    "the rest of the team",
    "Opportunities per activity",
    "Win rate",
    "Keep the focus",
    "Review two lost deals",
    "Early warning",
    "baseline",
    "At risk:",
    "business days",
    "won deals rarely stay",
    "adjusted for",
    "interval ",
    "not tested",
    "Fisher's exact test",
    "power at Holm",
)


def _drilldown_texts(html: str) -> tuple[dict[str, str], list[str]]:
    """(finding key → its sentence and its statistics line, the agenda's lines) of a drilldown page."""
    findings = {
        key: _norm(re.sub(r"<[^>]+>", " ", text + " " + stats))
        for key, text, stats in re.findall(
            r'data-finding="([^"]+)"[^>]*>(.*?)\n.*?<span class="small muted">(.*?)</span>', html, re.S
        )
    }
    agenda = re.search(r"data-agenda>(.*?)</ol>", html, re.S)
    lines = re.findall(r"<li>(.*?)</li>", agenda.group(1), re.S) if agenda else []
    return findings, [_norm(re.sub(r"<[^>]+>", " ", line)) for line in lines]


def test_the_drilldown_findings_and_agenda_are_said_in_norwegian(nb_org):
    """Every finding and agenda line of a manager's drilldowns in nb is Norwegian (no English
    fragment left), and the same page in en says the English sentences of metrics.coaching."""
    import html as html_lib

    client = nb_org.app.test_client()
    email, _team = nb_org.by_role("manager")[0]
    login_session(client, email, PASSWORD)
    team = client.get("/coach").get_data(as_text=True)
    reps = sorted(set(re.findall(r'href="/coach/(\d+)"', team)))[:3]
    assert reps, "the manager's team page links no drilldown"
    seen_findings, seen_agenda = 0, 0
    pages = {}
    for rep in reps:
        nb = html_lib.unescape(client.get(f"/coach/{rep}").get_data(as_text=True))
        findings, agenda = _drilldown_texts(nb)
        pages[rep] = findings
        seen_findings += len(findings)
        seen_agenda += len(agenda)
        for text in [*findings.values(), *agenda]:
            left = [frag for frag in ENGLISH_FRAGMENTS if frag in text]
            assert not left, (rep, text, left)
    assert seen_findings >= 5 and seen_agenda >= 1, (seen_findings, seen_agenda)
    joined = " ".join(s for f in pages.values() for s in f.values())
    assert re.search(r"\d+ (arbeidsdager|lukkede avtaler|muligheter|aktiviteter|vunne avtaler)", joined), (
        joined
    )
    # the same drilldown in English: the sentences differ and read as before
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").get_data(as_text=True)).group(1)
    client.post("/account/language", data={"locale": "en", "next": "/", "csrf_token": token})
    try:
        en = html_lib.unescape(client.get(f"/coach/{reps[0]}").get_data(as_text=True))
        en_findings, _ = _drilldown_texts(en)
        assert en_findings.keys() == pages[reps[0]].keys()
        for key, text in en_findings.items():
            assert text != pages[reps[0]][key], key
            assert re.search(r"clear over|cannot tell yet|about the same|nothing to compare", text), text
    finally:
        client.post("/account/language", data={"locale": "nb", "csrf_token": token})


def test_a_text_is_english_as_a_str_and_norwegian_when_rendered_even_after_pickling():
    """metrics.text: the ``str`` is the English byte for byte; rendering with the nb catalog
    translates the sentence, its nested values and its counts (numbers in nb)."""
    import pickle

    from babel.support import Translations

    from metrics.coaching.findings import _clear
    from metrics.text import Text

    with MO.open("rb") as f:
        catalog = Translations(f)

    class Nb:
        locale = "nb"
        gettext = staticmethod(catalog.ugettext)
        ngettext = staticmethod(catalog.ungettext)

    verb = Text(
        "%(a)s logs activities at %(times)s %(poss)s rate", {"a": "Thea", "times": "1.50×", "poss": "x"}
    )
    sentence = _clear(verb, 1234, "working days")
    assert sentence == "Thea logs activities at 1.50× x rate — clear over 1\u202f234 working days."
    said = pickle.loads(pickle.dumps(sentence)).render(Nb())
    assert said == "Thea logger aktiviteter med 1.50× x tempo — tydelig over 1\xa0234 arbeidsdager."
    assert _clear(verb, 1, "working days").render(Nb()).endswith("over 1 arbeidsdag.")


RISK_ENGLISH = (
    "business days",
    "calls or emails to the buyer",
    "No meeting booked",
    "won deals rarely stay",
    "Expected to close on",
    "Close date pushed",
    "far above a typical",
    "Amount cut",
    "involved on a deal",
    "no senior contact",
    "changed owner",
    "At risk:",
)


def test_the_deal_warnings_say_why_in_norwegian(nb_org):
    """The at-risk list, a deal's page and the 1:1 agenda's deals say each warning's reason in nb
    (no English reason left), and the English list still says the English reasons."""
    import html as html_lib

    client = nb_org.app.test_client()
    login_session(client, ADMIN, PASSWORD)
    listing = html_lib.unescape(client.get("/risk?all=1").get_data(as_text=True))
    reasons = [_norm(t) for t in re.findall(r'<div class="small muted">([^<]+)</div>', listing)]
    reasons += [_norm(t) for t in re.findall(r'class="tag tag--stale" title="([^"]+)"', listing)]
    assert len(reasons) >= 3, reasons
    deals = sorted(set(re.findall(r'href="/risk/deals/(\d+)"', listing)))[:3]
    for deal in deals:
        page = html_lib.unescape(client.get(f"/risk/deals/{deal}").get_data(as_text=True))
        reasons += [_norm(t) for t in re.findall(r"<li><strong>[^<]+</strong>: ([^<]+) <em>", page)]
    for text in reasons:
        left = [frag for frag in RISK_ENGLISH if frag in text]
        assert not left, (text, left)
    said = " ".join(reasons)
    assert re.search(r"virkedager|vunne avtaler|Lukkedatoen|kontakt|eier|Beløpet|Ingen møter", said), said
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").get_data(as_text=True)).group(1)
    client.post("/account/language", data={"locale": "en", "next": "/", "csrf_token": token})
    try:
        en = html_lib.unescape(client.get("/risk?all=1").get_data(as_text=True))
        en_reasons = [_norm(t) for t in re.findall(r'<div class="small muted">([^<]+)</div>', en)]
        assert en_reasons and all(any(f in t for f in RISK_ENGLISH) for t in en_reasons), en_reasons
    finally:
        client.post("/account/language", data={"locale": "nb", "csrf_token": token})


def _spec_texts(spec) -> list[str]:
    """The titles, subtitles and axis or legend titles of a Vega-Lite spec (nested anywhere)."""
    found: list[str] = []

    def walk(node, key=None):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, k)
        elif isinstance(node, list):
            for v in node:
                walk(v, key)
        elif isinstance(node, str) and key in ("title", "text", "subtitle"):
            found.append(node)

    walk(spec)
    return found


CARD_CHARTS = ("pizza", "quota", "sparks", "peers")
DRILL_CHARTS = ("decomposition", "stages", "sources", "personas", "control", "shots", "content")


def test_chart_titles_and_axes_are_norwegian_in_nb(nb_org):
    """Every card and drilldown chart spec in nb: no title, subtitle or axis title is an English
    message that has a Norwegian translation (exact or with its values filled in), the main
    titles differ from the English ones, and the pizza's is the catalog's translation."""
    exact, patterns = _english_patterns()
    catalog = _catalog()
    client = nb_org.app.test_client()
    email, _team = nb_org.by_role("manager")[0]
    login_session(client, email, PASSWORD)
    rep = sorted(set(re.findall(r'href="/coach/(\d+)"', client.get("/coach").get_data(as_text=True))))[0]
    urls = [f"/reps/{rep}/charts/{n}.json" for n in CARD_CHARTS]
    urls += [f"/coach/{rep}/charts/{n}.json" for n in DRILL_CHARTS]
    nb_titles, problems = {}, {}
    for url in urls:
        resp = client.get(url)
        assert resp.status_code == 200, url
        texts = [_norm(t) for t in _spec_texts(resp.get_json())]
        bad = [t for t in texts if t in exact or any(rx.match(t) for _m, rx in patterns)]
        if bad:
            problems[url] = bad
        nb_titles[url] = resp.get_json()["title"]
    assert not problems, problems
    assert nb_titles[f"/reps/{rep}/charts/pizza.json"]["text"] == catalog.get("Percentile vs peers").string
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").get_data(as_text=True)).group(1)
    client.post("/account/language", data={"locale": "en", "next": "/", "csrf_token": token})
    try:
        for url in urls:
            en = client.get(url).get_json()["title"]
            assert en != nb_titles[url], url
        assert (
            client.get(f"/reps/{rep}/charts/pizza.json").get_json()["title"]["text"] == "Percentile vs peers"
        )
    finally:
        client.post("/account/language", data={"locale": "nb", "csrf_token": token})


def test_goal_sentences_are_norwegian_in_nb(nb_org):
    """The goals page's off-track sentence and each derived target's reason (metrics.goals) in nb."""
    from babel.support import Translations

    from metrics.goals import derive

    client = nb_org.app.test_client()
    login_session(client, ADMIN, PASSWORD)
    page = client.get("/goals").get_data(as_text=True)
    said = re.search(r"data-off-track>([^<]+)<", page)
    assert said, "the goals page shows no off-track sentence"
    assert not re.search(r"behind since|will follow|followed in|on pace", said.group(1)), said.group(1)
    assert re.search(r"siden uke \d+|i rute", said.group(1)), said.group(1)

    with MO.open("rb") as f:
        catalog = Translations(f)

    class Nb:
        locale = "nb"
        gettext = staticmethod(catalog.ugettext)
        ngettext = staticmethod(catalog.ungettext)

    steps = derive("revenue_won", 1_200_000_000, {"avg_deal_size": 50_000_000, "win_rate": 0.24})
    assert [str(s.why) for s in steps[1:]] == ["12,000,000 ÷ average deal 500,000", "24 wins ÷ 24% win rate"]
    assert [s.why.render(Nb()) for s in steps[1:]] == [
        "12,000,000 ÷ snittavtale 500,000",
        "24 vunne avtaler ÷ 24\xa0% vinnerrate",
    ]


def test_call_next_reasons_are_norwegian_in_nb(nb_org):
    """The "Call next" list's reasons (metrics.qualification.scoring's sentence) in nb on a rep's
    card: no English rule phrase left, Norwegian ones present."""
    import html as html_lib

    client = nb_org.app.test_client()
    email, _team = nb_org.by_role("rep")[0]
    login_session(client, email, PASSWORD)
    rep = nb_org.rep(email).id
    page = html_lib.unescape(client.get(f"/reps/{rep}/call-next").get_data(as_text=True))
    reasons = [_norm(t) for t in re.findall(r'<p class="scout__why">([^<]+)</p>', page)]
    ranked = reasons[len(re.findall(r"explanation", page)) :] or reasons
    assert ranked, page[:500]
    english = re.compile(
        r"\b(this week|this month|in the last \d+ days|once|twice|\d+ times|-person company)\b"
    )
    live = [t for t in ranked if english.search(t)]
    assert not live, live
    assert any(re.search(r"denne uken|denne måneden|siste \d+ dagene|gang|ansatte", t) for t in ranked), (
        ranked
    )
