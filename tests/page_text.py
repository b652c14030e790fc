"""What a person reads on an HTML page, for tests: the text of each <section id=...>, its
tables (caption, header rows, rows of cells with their text and whether they are
highlighted), the links, and the tags used. Parsed with the standard library's html.parser,
so tests assert content and numbers, not markup."""

from dataclasses import dataclass, field
from html.parser import HTMLParser

SKIPPED = ("style", "script")  # their content is not read
# elements that separate words; inline ones (strong, code, em, span, mark) do not
BLOCKS = {"p", "div", "li", "ul", "ol", "td", "th", "tr", "table", "caption", "h1", "h2", "h3", "h4", "section", "nav"}
BLOCKS |= {"figure", "svg", "text", "title", "br", "main"}


def squash(text: str) -> str:
    return " ".join(text.split())


@dataclass
class Cell:
    text: str
    header: bool
    highlighted: bool  # the page highlights it (the best score in its column)


@dataclass
class Table:
    caption: str = ""
    head: list[list[str]] = field(default_factory=list)
    rows: list[list[Cell]] = field(default_factory=list)

    def row(self, name: str) -> list[str]:
        """The texts of the row whose first cell is `name`."""
        return [cell.text for cell in self.row_cells(name)]

    def row_cells(self, name: str) -> list[Cell]:
        found = [row for row in self.rows if row and row[0].text == name]
        assert len(found) == 1, f"{len(found)} rows named {name!r} in table {self.caption!r}: {self.rows}"
        return found[0]

    def highlighted(self) -> list[tuple[str, int, str]]:
        """(row name, column index, text) of every highlighted cell."""
        return [(row[0].text, i, cell.text) for row in self.rows for i, cell in enumerate(row) if cell.highlighted]


@dataclass
class Section:
    key: str
    parts: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return squash("".join(self.parts))

    def table(self, caption: str) -> Table:
        """The one table whose caption starts with `caption`."""
        found = [t for t in self.tables if t.caption.startswith(caption)]
        assert len(found) == 1, f"{len(found)} tables with a caption starting {caption!r} in {self.key}"
        return found[0]


class Page(HTMLParser):
    def __init__(self, markup: str):
        super().__init__(convert_charrefs=True)
        self.top: list[str] = []  # text before the first section
        self.sections: dict[str, Section] = {}
        self.tags: list[str] = []
        self.links: list[str] = []  # every href, xlink:href and src
        self._section: Section | None = None
        self._table: Table | None = None
        self._cell: list | None = None  # [texts, header, highlighted]
        self._in_head = self._in_caption = False
        self._skip = 0
        self.feed(markup)
        self.close()

    @property
    def text(self) -> str:
        return squash(" ".join(["".join(self.top)] + [s.text for s in self.sections.values()]))

    @property
    def top_text(self) -> str:
        return squash("".join(self.top))

    def _space(self, tag):
        if tag in BLOCKS:
            (self._section.parts if self._section is not None else self.top).append(" ")

    def handle_starttag(self, tag, attrs):
        self._space(tag)
        attrs = dict(attrs)
        self.tags.append(tag)
        self.links += [value for key, value in attrs.items() if key in ("href", "xlink:href", "src")]
        if tag in SKIPPED:
            self._skip += 1
        elif tag == "section":
            self._section = self.sections[attrs["id"]] = Section(attrs["id"])
        elif self._section is not None:
            self._section.tags.append(tag)
            self._start_in_section(tag, attrs)

    def _start_in_section(self, tag, attrs):
        if tag == "table":
            self._table = Table()
            self._section.tables.append(self._table)
        elif tag == "thead":
            self._in_head = True
        elif tag == "caption":
            self._in_caption = True
        elif tag == "tr" and self._table is not None:
            (self._table.head if self._in_head else self._table.rows).append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = [[], tag == "th", "best" in (attrs.get("class") or "").split()]

    def handle_endtag(self, tag):
        self._space(tag)
        if tag in SKIPPED:
            self._skip -= 1
        elif tag == "section":
            self._section = None
        elif tag == "table":
            self._table = None
        elif tag == "thead":
            self._in_head = False
        elif tag == "caption":
            self._in_caption = False
        elif tag in ("td", "th") and self._cell is not None and self._table is not None:
            texts, header, best = self._cell
            text = squash("".join(texts))
            target = self._table.head if self._in_head else self._table.rows
            target[-1].append(text if self._in_head else Cell(text, header, best))
            self._cell = None

    def handle_data(self, data):
        if self._skip:
            return
        (self._section.parts if self._section is not None else self.top).append(data)
        if self._cell is not None:
            self._cell[0].append(data)
        elif self._in_caption and self._table is not None:
            self._table.caption = squash(self._table.caption + " " + data)
