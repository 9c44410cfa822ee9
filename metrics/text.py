"""Sentences that can be said in another language: English text that remembers how it was made.

``metrics/`` knows no Flask and no request language, yet its sentences ("Thea books meetings at
1.5× the team's rate — clear over 60 working days.") end up on pages in bokmål. So a sentence is
a :class:`Text`: a ``str`` holding the English (callers, tests and the read API see plain English,
byte for byte as before) that also keeps its gettext ``msgid`` and its values. The web layer says
it in the request's language with :meth:`Text.render` and a translator (``gettext``,
``ngettext`` and a ``locale``). A value may itself be a :class:`Text`, a :class:`Plural` or a
:class:`Number` (a number formatted again in the target locale); anything else is shown as it is.

Msgids use gettext's ``%(name)s`` placeholders. ``pybabel extract -k Text -k Plural:1,2`` finds
them (``babel.cfg`` lists ``metrics/**.py``).

Examples
--------
>>> from functools import partial
>>> from metrics import formatting
>>> t = Text("%(who)s wins %(rate)s", {"who": "Ada", "rate": Number(formatting.percent, 0.256)})
>>> t, t.msgid
('Ada wins 26%', '%(who)s wins %(rate)s')
>>> class Nb:
...     locale = "nb"
...     def gettext(self, s): return {"%(who)s wins %(rate)s": "%(who)s vinner %(rate)s"}.get(s, s)
...     def ngettext(self, s, p, n): return s if n == 1 else p
>>> t.render(Nb())
'Ada vinner 26\\xa0%'
>>> Plural("%(n)s win", "%(n)s wins", 1, {"n": 1}), Plural("%(n)s win", "%(n)s wins", 3, {"n": 3})
('1 win', '3 wins')
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

__all__ = ["JOIN", "Capital", "Listed", "Number", "Plural", "Text", "Translator", "render"]

#: Two sentences side by side (not a message: nothing to translate).
JOIN = "%(first)s %(second)s"


class Translator(Protocol):
    """What :meth:`Text.render` needs: a catalog and the locale numbers are formatted in."""

    locale: str

    def gettext(self, message: str) -> str: ...

    def ngettext(self, singular: str, plural: str, n: int) -> str: ...


def render(value: Any, translator: Translator) -> Any:
    """``value`` said through ``translator`` if it knows how (a :class:`Text`, :class:`Plural` or
    :class:`Number`), else ``value`` itself."""
    method = getattr(value, "render", None)
    return method(translator) if callable(method) else value


def _values(values: Mapping[str, Any], translator: Translator) -> dict[str, Any]:
    return {k: render(v, translator) for k, v in values.items()}


class Text(str):
    """English text (the ``str``) made from ``msgid % values``, sayable in another language."""

    msgid: str
    values: dict[str, Any]

    def __new__(cls, msgid: str, values: Mapping[str, Any] | None = None) -> Text:
        vals = dict(values or {})
        self = super().__new__(cls, msgid % vals if vals else msgid)
        self.msgid, self.values = msgid, vals
        return self

    def render(self, translator: Translator) -> str:
        """This text in ``translator``'s language, its values too."""
        template = translator.gettext(self.msgid)
        return template % _values(self.values, translator) if self.values else template

    def __reduce__(self) -> tuple[Any, ...]:
        return (Text, (self.msgid, self.values))


class Plural(str):
    """English text of a count: ``singular`` when ``n == 1`` else ``plural``, ``% values``."""

    singular: str
    plural: str
    n: int
    values: dict[str, Any]

    def __new__(cls, singular: str, plural: str, n: int, values: Mapping[str, Any] | None = None) -> Plural:
        vals = dict(values or {})
        self = super().__new__(cls, (singular if n == 1 else plural) % vals)
        self.singular, self.plural, self.n, self.values = singular, plural, n, vals
        return self

    def render(self, translator: Translator) -> str:
        return translator.ngettext(self.singular, self.plural, self.n) % _values(self.values, translator)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Plural, (self.singular, self.plural, self.n, self.values))


class Number(str):
    """A number as ``format(*args, locale)`` writes it: English in the ``str``, again in the
    translator's locale on :meth:`render` (``format`` is one of :mod:`metrics.formatting`'s, or
    any function taking the locale last)."""

    format: Callable[..., str]
    args: tuple[Any, ...]

    def __new__(cls, format: Callable[..., str], *args: Any) -> Number:
        self = super().__new__(cls, format(*args, "en"))
        self.format, self.args = format, args
        return self

    def render(self, translator: Translator) -> str:
        return self.format(*self.args, translator.locale)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Number, (self.format, *self.args))


class Capital(str):
    """``value`` with its first letter capitalised, in English and in the translator's language."""

    value: Any

    def __new__(cls, value: Any) -> Capital:
        text = str(value)
        self = super().__new__(cls, text[:1].upper() + text[1:])
        self.value = value
        return self

    def render(self, translator: Translator) -> str:
        text = str(render(self.value, translator))
        return text[:1].upper() + text[1:]

    def __reduce__(self) -> tuple[Any, ...]:
        return (Capital, (self.value,))


class Listed(str):
    """``items`` joined by ``sep`` (each item said in the translator's language)."""

    items: tuple[Any, ...]
    sep: str

    def __new__(cls, items: Any, sep: str = ", ") -> Listed:
        items = tuple(items)
        self = super().__new__(cls, sep.join(str(i) for i in items))
        self.items, self.sep = items, sep
        return self

    def render(self, translator: Translator) -> str:
        return self.sep.join(str(render(i, translator)) for i in self.items)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Listed, (self.items, self.sep))
