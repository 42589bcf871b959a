"""FilterTable: a DataTable that keeps all its rows and shows those matching a filter text,
sorted by a column the operator picks (`>` next column, `<` reverse, or a click on a header)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from sloth_tui.display import sort_key

BLANK = sort_key("-")
"""Empty cells: last whichever way a column is sorted."""

MAX_WIDTH = 60
"""Widest a column grows (longer cells are cut)."""


class FilterTable(DataTable[Any]):
    """Rows are given whole (`show`); the filter (`/` on a screen) hides the others.

    The cursor stays on the same row (by key) across updates, so a live table does not
    jump under the operator's feet.
    """

    DEFAULT_CSS = """
    FilterTable { height: 1fr; }
    """
    BINDINGS = [
        Binding(
            "greater_than_sign",
            "sort_next",
            "Sort",
            key_display=">",
            tooltip="sort by the next column (or click a column's header)",
        ),
        Binding(
            "less_than_sign",
            "sort_reverse",
            "Reverse",
            key_display="<",
            tooltip="reverse the sort (or click the sorted column's header again)",
        ),
    ]

    def __init__(self, *columns: str, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.column_names = columns
        """Column labels (added at mount)."""
        self.all_rows: list[tuple[str, Sequence[Any]]] = []
        """Every row as (key, cells), filtered or not."""
        self.filter_text = ""
        self._shown: list[tuple[str, Sequence[Any]]] | None = None
        self._widths: list[int] = []
        self.sort_column: int | None = None
        """The column the rows are sorted by; None: in the order given (the screen's own)."""
        self.sort_reverse = False

    def on_mount(self) -> None:
        self._set_columns([len(c) for c in self.column_names])

    def _set_columns(self, widths: list[int]) -> None:
        """Columns as wide as their widest cell: set here, not measured later when idle, so a
        table that changes often never draws with stale widths."""
        self._widths = widths
        self.clear(columns=True)
        for index, (label, width) in enumerate(zip(self.column_names, widths, strict=True)):
            if index == self.sort_column:
                label = f"{label} {'▼' if self.sort_reverse else '▲'}"
            self.add_column(label, width=width)

    def show(self, rows: Sequence[tuple[str, Sequence[Any]]]) -> None:
        """Replace the rows (a no-op when nothing changed)."""
        self.all_rows = list(rows)
        self._apply()

    def sort_by(self, column: int | None, reverse: bool = False) -> None:
        """Sort by `column` (None: the order the rows were given in)."""
        self.sort_column, self.sort_reverse = column, reverse
        self._shown = None
        self._widths = []  # the header's arrow moved: lay the columns out again
        self._apply()

    def action_sort_next(self) -> None:
        """The next column (after the last: the screen's own order again)."""
        following = 0 if self.sort_column is None else self.sort_column + 1
        self.sort_by(following if following < len(self.column_names) else None)

    def action_sort_reverse(self) -> None:
        self.sort_by(self.sort_column if self.sort_column is not None else 0, not self.sort_reverse)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        """A click on a header sorts by its column; a second click reverses the order."""
        event.stop()
        column = event.column_index
        self.sort_by(column, not self.sort_reverse if column == self.sort_column else False)

    def set_filter(self, text: str) -> None:
        self.filter_text = text.strip().lower()
        self._apply()

    @property
    def selected_key(self) -> str | None:
        """The key of the row under the cursor, None when the table is empty."""
        if not self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return str(row_key.value) if row_key.value is not None else None

    def select_key(self, key: str) -> None:
        for index, (row_key, _cells) in enumerate(self._shown or ()):
            if row_key == key:
                self.move_cursor(row=index)
                return

    def matches(self, cells: Sequence[Any]) -> bool:
        if not self.filter_text:
            return True
        return any(self.filter_text in _plain(c).lower() for c in cells)

    def _apply(self) -> None:
        shown = [(k, c) for k, c in self.all_rows if self.matches(c)]
        if self.sort_column is not None:
            keyed = [(sort_key(_plain(cells[self.sort_column])), (k, cells)) for k, cells in shown]
            valued = [x for x in keyed if x[0] != BLANK]
            valued.sort(key=lambda x: x[0], reverse=self.sort_reverse)
            shown = [row for _, row in valued] + [row for key, row in keyed if key == BLANK]
        if shown == self._shown:
            return
        keep = self.selected_key
        self._shown = shown
        widths = [len(c) + (2 if i == self.sort_column else 0) for i, c in enumerate(self.column_names)]
        for _key, cells in shown:
            for i, cell in enumerate(cells):
                widths[i] = max(widths[i], min(MAX_WIDTH, cell_len(_plain(cell))))
        if widths != self._widths:
            self._set_columns(widths)
        else:
            self.clear()
        for key, cells in shown:
            self.add_row(*cells, key=key)
        if keep is not None:
            self.select_key(keep)


def _plain(value: Any) -> str:
    return value.plain if isinstance(value, Text) else str(value)
