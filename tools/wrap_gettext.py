"""Wrap the user-visible text of Jinja templates in gettext, in place (used once for issue 15).

Mechanical on purpose (another change may touch the same templates; the markup stays as it is):

- a run of text between two HTML tags or Jinja statements becomes ``{{ _('text') }}``; a run that
  mixes text and ``{{ expr }}`` becomes ``{{ _('text %(name)s', name=(expr)) }}``;
- the text of ``title``, ``aria-label``, ``placeholder``, ``alt`` and ``hx-confirm`` attributes;
- string literals inside ``{{ ... }}`` that read as words (a space or a capital), not compared
  with ``==``/``!=``/``in`` and not arguments of ``url_for``.

Text inside ``<code>``, ``<pre>``, ``<script>`` and ``<style>`` is left alone. A ``%`` in text is
doubled (Jinja's new-style gettext always %-formats). Run: ``python tools/wrap_gettext.py templates/*.html``.
"""

from __future__ import annotations

import re
import sys

ATTRS = ("title", "aria-label", "placeholder", "alt", "hx-confirm")
SKIP_INSIDE = ("code", "pre", "script", "style", "kbd", "samp")


def tokenize(src: str) -> list[tuple[str, str]]:
    """(kind, text): kind is "expr" {{ }}, "stmt" {% %}, "comment" {# #}, "tag" <...>, "text"."""
    out: list[tuple[str, str]] = []
    i, n, buf = 0, len(src), []

    def flush() -> None:
        if buf:
            out.append(("text", "".join(buf)))
            buf.clear()

    while i < n:
        two = src[i : i + 2]
        if two in ("{{", "{%", "{#"):
            close = {"{{": "}}", "{%": "%}", "{#": "#}"}[two]
            j = src.index(close, i + 2) + 2
            flush()
            out.append(({"{{": "expr", "{%": "stmt", "{#": "comment"}[two], src[i:j]))
            i = j
        elif src[i] == "<" and i + 1 < n and (src[i + 1].isalpha() or src[i + 1] in "/!"):
            j, quote = i + 1, None
            while j < n:
                if src[j : j + 2] in ("{{", "{%"):
                    j = src.index("}}" if src[j + 1] == "{" else "%}", j + 2) + 2
                    continue
                ch = src[j]
                if quote:
                    if ch == quote:
                        quote = None
                elif ch in "\"'":
                    quote = ch
                elif ch == ">":
                    break
                j += 1
            flush()
            out.append(("tag", src[i : j + 1]))
            i = j + 1
        else:
            buf.append(src[i])
            i += 1
    flush()
    return out


_WORDS = re.compile(r"[A-Za-zÆØÅæøå]{2,}")


def _literal(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _name(expr: str, used: set[str]) -> str:
    body = expr.strip()
    m = re.fullmatch(r"[\w.]+", body) or re.match(r"([\w.]+)\s*\|", body)
    base = (m.group(0) if m and m.re.pattern == r"[\w.]+" else (m.group(1) if m else "")).split(".")[-1]
    base = re.sub(r"\W", "", base) or "value"
    if base[0].isdigit():
        base = "v" + base
    name, k = base, 2
    while name in used:
        name, k = f"{base}{k}", k + 1
    used.add(name)
    return name


def gettext_call(parts: list[tuple[str, str]]) -> str | None:
    """``{{ _(...) }}`` for a run of text and expressions, or None when it has no words."""
    text = "".join(t for k, t in parts if k == "text")
    if not _WORDS.search(text):
        return None
    msg, kwargs, used = [], [], set()
    for kind, t in parts:
        if kind == "text":
            msg.append(t.replace("%", "%%"))
        else:
            inner = t[2:-2].strip("-").strip()
            name = _name(inner, used)
            msg.append(f"%({name})s")
            kwargs.append(f"{name}=({inner})" if not re.fullmatch(r"[\w.]+", inner) else f"{name}={inner}")
    msgid = re.sub(r"\s+", " ", "".join(msg)).strip()
    args = ", ".join([_literal(msgid), *kwargs])
    return "{{ _(" + args + ") }}"


def wrap_run(parts: list[tuple[str, str]]) -> str:
    raw = "".join(t for _, t in parts)
    lead = re.match(r"\s*", parts[0][1]).group(0) if parts[0][0] == "text" else ""  # type: ignore[union-attr]
    trail = re.search(r"\s*$", parts[-1][1]).group(0) if parts[-1][0] == "text" else ""  # type: ignore[union-attr]
    call = gettext_call(parts)
    if call is None:
        return raw
    return lead + call + trail


_STR = re.compile(r"(?P<q>['\"])(?P<s>(?:\\.|(?!(?P=q)).)*)(?P=q)")


def wrap_literals(expr: str) -> str:
    """Wrap word-like string literals inside a ``{{ }}`` expression."""
    if "_(" in expr:
        return expr
    out, last = [], 0
    for m in _STR.finditer(expr):
        s = m.group("s")
        before = expr[: m.start()].rstrip()
        after = expr[m.end() :].lstrip()
        wordy = _WORDS.search(s) and (" " in s.strip() or s[:1].isupper())
        technical = (
            any(x in s for x in ("--", "%", "{", "/", "_", "=", "#", "<"))
            or re.fullmatch(r"[\w.-]+", s) is not None
            and not s[:1].isupper()
        )
        compared = (
            before.endswith(("==", "!=", " in", "(", "["))
            or after.startswith(("==", "!=", " in ", "in ", ":"))
            or re.search(r"url_for\([^)]*$", expr[: m.start()])
            or re.search(r"\b(format|join|replace|default|attr|map|selectattr|get)\($", before)
        )
        if wordy and not technical and not compared:
            out.append(expr[last : m.start()] + "_(" + m.group(0) + ")")
            last = m.end()
    out.append(expr[last:])
    return "".join(out)


def wrap_attrs(tag: str) -> str:
    def repl(m: re.Match[str]) -> str:
        name, q, value = m.group(1), m.group(2), m.group(3)
        if "_(" in value:
            return m.group(0)
        parts = [(k, t) for k, t in tokenize(value)]
        if any(k in ("stmt", "tag") for k, _ in parts):
            return m.group(0)
        call = gettext_call(parts)
        if call is None:
            return m.group(0)
        return f"{name}={q}{call}{q}"

    pattern = r"\b(" + "|".join(re.escape(a) for a in ATTRS) + r")=([\"'])(.*?)\2"
    return re.sub(pattern, repl, tag, flags=re.S)


def wrap(src: str) -> str:
    tokens = tokenize(src)
    out: list[str] = []
    run: list[tuple[str, str]] = []
    skip_depth = 0

    def flush() -> None:
        if run:
            out.append("".join(t for _, t in run) if skip_depth else wrap_run(list(run)))
            run.clear()

    for kind, t in tokens:
        if kind in ("text", "expr"):
            if kind == "expr" and not skip_depth:
                t = wrap_literals(t)
            run.append((kind, t))
            continue
        flush()
        if kind == "tag":
            m = re.match(r"<(/?)([a-zA-Z0-9-]+)", t)
            if m and m.group(2).lower() in SKIP_INSIDE:
                skip_depth += -1 if m.group(1) else (0 if t.endswith("/>") else 1)
                skip_depth = max(skip_depth, 0)
            t = wrap_attrs(t)
        out.append(t)
    flush()
    return "".join(out)


if __name__ == "__main__":
    for path in sys.argv[1:]:
        with open(path, encoding="utf-8") as f:
            src = f.read()
        new = wrap(src)
        if new != src:
            with open(path, "w", encoding="utf-8") as f:
                f.write(new)
