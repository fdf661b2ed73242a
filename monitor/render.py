"""Terminal rendering of facts with rich. Page text is always shown as text, never as markup."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from monitor.facts import Facts


def print_facts(facts: Facts, title: str, console: Console | None = None) -> None:
    """Print one page's facts: operator, copyright lines, entities, registrations."""
    console = console or Console()
    operator = facts.operator or "(not named)"
    console.print(Text.assemble(("Operator: ", "bold"), (operator, "bold green")))
    console.print(Text(f"Source: {title}", style="dim"))
    if not facts.readable:
        console.print(Text("Unreadable: " + "; ".join(facts.warnings), style="yellow"))
        return
    for line in facts.copyright:
        years = f" [{line.years[0]}-{line.years[1]}]" if line.years else ""
        console.print(Text(f"© ({line.source.value}) {line.text}{years}"))
    if facts.entities:
        table = Table("entity", "legal form", "place", "role", "source", title="Entities")
        for entity in facts.entities:
            table.add_row(
                Text(entity.name),
                Text(entity.legal_form or ""),
                Text(entity.place or ""),
                entity.role.value,
                entity.source.value,
            )
        console.print(table)
    if facts.registrations:
        table = Table("kind", "number", "region", title="Registrations")
        for reg in facts.registrations:
            table.add_row(reg.kind.value, Text(reg.number), Text(reg.region or ""))
        console.print(table)
    for conflict in facts.conflicts:
        console.print(Text(f"Conflict: {conflict}", style="yellow"))
